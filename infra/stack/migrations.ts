/** Every Postgres migration of the project, in the order they apply (TypeORM sorts by timestamp). */
import { authMigrations } from '@access/platform-auth';
import { ledgerMigrations } from '@access/credit-ledger-adapters';

export const postgresMigrations = [...authMigrations, ...ledgerMigrations];

/** Every Postgres migration of the project, in the order they apply (TypeORM sorts by timestamp). */
import { authMigrations } from '@access/platform-auth';

export const postgresMigrations = [...authMigrations];

/** The ledger's Nest module: the shared service shell (health, metrics, docs, scope guard) and the accounts API. */
import { Module, type DynamicModule } from '@nestjs/common';
import { AccountUseCases } from '@access/credit-ledger-application';
import { ServiceShellModule, openApiDocument, type ShellOptions } from '@access/platform-http';
import { AccountsController } from './accounts.controller';
import { operations } from './schemas';

export const ledgerOpenApi = () => openApiDocument('credit-ledger', '1', operations);

@Module({})
export class LedgerHttpModule {
  static forRoot(shell: ShellOptions, api: AccountUseCases): DynamicModule {
    return {
      module: LedgerHttpModule,
      imports: [ServiceShellModule.forRoot(shell)],
      controllers: [AccountsController],
      providers: [{ provide: AccountUseCases, useValue: api }],
    };
  }
}

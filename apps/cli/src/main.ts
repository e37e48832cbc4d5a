/**
 * `access`: the SRE command line (run as `npx access …` from the repo root).
 * Each command group lives in commands/<group>.ts and registers itself on the program.
 */
import { Command } from 'commander';
import { registerDeadletterCommands } from './commands/deadletters';
import { registerLedgerCommands } from './commands/ledger';
import { registerReconcileCommand } from './commands/reconcile';
import { registerTokenCommands } from './commands/tokens';

const program = new Command('access')
  .description('Access management: tokens, ledger verification, replay and balances, reconciliation, dead letters')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

registerTokenCommands(program);
registerLedgerCommands(program);
registerReconcileCommand(program);
registerDeadletterCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`access: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import { Command, InvalidArgumentError } from 'commander';
import { SCOPES, TokenStore, isScope, type Scope } from '@access/platform-auth';
import { commonEnvSchema, loadEnvOrExit } from '@access/platform-config';
import { createDataSource } from '@access/platform-postgres';

function scopeList(value: string, previous: Scope[] = []): Scope[] {
  const scopes = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of scopes) {
    if (!isScope(s)) throw new InvalidArgumentError(`unknown scope ${s}; one of: ${SCOPES.join(', ')}`);
  }
  return [...previous, ...(scopes as Scope[])];
}

export async function withTokenStore<T>(fn: (store: TokenStore) => Promise<T>): Promise<T> {
  const env = loadEnvOrExit(commonEnvSchema);
  const db = createDataSource({ url: env.DATABASE_URL, poolSizeMax: 1, applicationName: 'access-cli' });
  await db.initialize();
  try {
    return await fn(new TokenStore(db));
  } finally {
    await db.destroy();
  }
}

export function registerTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('Service tokens (stored hashed in Postgres)');
  tokens
    .command('create')
    .description('Create a service token and print it once')
    .requiredOption('--scope <scopes...>', `one or more of: ${SCOPES.join(', ')} (repeat or comma-separate)`, (v: string, p: Scope[]) => scopeList(v, p))
    .option('--name <name>', 'who the token is for', 'service')
    .option('--json', 'print {id, token, scopes} as JSON')
    .action(async (options: { scope: Scope[]; name: string; json?: boolean }) => {
      const scopes = [...new Set(options.scope)];
      const created = await withTokenStore((store) => store.create(options.name, scopes));
      if (options.json) process.stdout.write(`${JSON.stringify({ id: created.id, token: created.token, scopes })}\n`);
      else {
        process.stdout.write(`${created.token}\n`);
        process.stderr.write(`token ${created.id} (${options.name}) with scopes ${scopes.join(', ')}; it is shown only this once\n`);
      }
    });
  tokens
    .command('list')
    .description('List tokens (id, name, scopes, created; never the secret)')
    .option('--all', 'include revoked tokens')
    .option('--json', 'print one JSON object per token')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const listed = await withTokenStore((store) => store.list({ includeRevoked: options.all === true }));
      if (options.json) {
        for (const t of listed) process.stdout.write(`${JSON.stringify(t)}\n`);
        return;
      }
      for (const t of listed) {
        const revoked = t.revokedAt === null ? '' : `  revoked ${t.revokedAt}`;
        process.stdout.write(`${t.id}  ${t.createdAt}  ${t.name}  ${t.scopes.join(',')}${revoked}\n`);
      }
      process.stderr.write(`${listed.length} token(s)${options.all ? '' : ' (active; --all for revoked too)'}\n`);
    });
  tokens
    .command('revoke <id>')
    .description('Revoke a token by id (services stop accepting it within TOKEN_REFRESH_MS)')
    .action(async (id: string) => {
      const revoked = await withTokenStore((store) => store.revoke(id));
      if (!revoked) {
        process.stderr.write(`no active token ${id}\n`);
        process.exitCode = 1;
      }
    });
}

/**
 * @access/client against the running services (`npm start`): open an account, grant credits, run one request
 * and print what the ledger settled. `npx tsx libs/client/examples/quickstart.ts`
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessClient } from '../src';

const tokenFile = join(__dirname, '..', '..', '..', '.local', 'dev-token');
const token = process.env.ACCESS_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : '');
if (token === '') throw new Error(`set ACCESS_TOKEN, or run npm start once (it writes ${tokenFile})`);

const client = new AccessClient({
  admissionUrl: process.env.ADMISSION_URL ?? 'http://127.0.0.1:7100',
  ledgerUrl: process.env.LEDGER_URL ?? 'http://127.0.0.1:7200',
  token,
});

async function main(): Promise<void> {
  const accountId = `quickstart-${Date.now().toString(36)}`;
  await client.openAccount(accountId, 'payg');
  await client.grant(accountId, { grantId: 'welcome', credits: 1_000, source: 'promo' });
  console.log(`opened ${accountId} with 1,000 credits`);

  const request = { accountId, userId: 'u-1', model: 'codex-1', endpoint: 'code.complete', estimate: { meters: { input_tokens: 10_000, output_tokens: 10_000 } } };
  // Admission learns balances from the ledger over Kafka, within a second or so; until then the account has nothing.
  for (let attempt = 1; ; attempt++) {
    const result = await client.run(request, async ({ admission }) => {
      console.log(`admitted ${admission.admissionId}: ${admission.estimatedCredits} credits held, funded by ${JSON.stringify(admission.fundedBy)}`);
      console.log(`rate limit: ${JSON.stringify(admission.rateLimit)}`);
      return { meters: { input_tokens: 10_000, output_tokens: 4_000 }, value: 'print("hello")' };
    });
    if (result.decision === 'admitted') break;
    if (attempt >= 20) throw new Error(`still rejected: ${result.reason} (${result.detail})`);
    await new Promise((r) => setTimeout(r, 500));
  }

  for (let i = 0; i < 50; i++) {
    const events = [];
    for await (const event of client.allEvents(accountId)) events.push(event);
    const settled = events.find((e) => e.type === 'ledger.reservation_settled');
    if (settled !== undefined) {
      console.log(`settled: ${JSON.stringify(settled.data)}`);
      console.log(`balance: ${JSON.stringify(await client.balance(accountId))}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('no settlement within 10 s');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * The operator commands against the real stack: `access tokens list`, `access deadletters list | show | redrive`
 * (the credit ledger running, dead-lettering a poison message it consumes) and `access ledger republish-balances`,
 * each run as the `access` process an SRE runs, with the environment of a system of this test's own.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUDEVENTS_CONTENT_TYPE, parseEvent } from '@access/contracts';
import { EventProducer, createKafka, type ConsumedMessage, type Kafka } from '@access/platform-kafka';
import { requireStack, testName } from '@access/testing';
import { startSystem, type TestSystem } from '@access/testing-system';
import { readWholeTopic } from '../deadletters/read-topic';

const root = join(__dirname, '..', '..', '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('operator commands', () => {
  let system: TestSystem;
  let kafka: Kafka;

  function access(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(process.execPath, [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(root, 'apps', 'cli', 'src', 'main.ts'), ...args], {
        cwd: root,
        env: { ...process.env, ...system.env, LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 120_000,
      }, (error, stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }));
    });
  }

  async function messages(topic: string): Promise<ConsumedMessage[]> {
    const out: ConsumedMessage[] = [];
    await readWholeTopic(kafka, topic, (m) => out.push(m));
    return out;
  }

  beforeAll(async () => {
    const stack = await requireStack(['kafka', 'postgres']);
    system = await startSystem(stack, ['credit-ledger']);
    kafka = createKafka({ brokers: stack.kafkaBrokers, clientId: 'access-cli-test' });
  }, 300_000);

  afterAll(async () => {
    await system?.close();
  });

  it('tokens list shows a new token (never its secret), and only with --all once revoked', async () => {
    const name = testName('cli-token');
    const created = await access('tokens', 'create', '--scope', 'ledger:read', '--scope', 'ledger:write', '--name', name, '--json');
    expect(created.code).toBe(0);
    const { id, token } = JSON.parse(created.stdout) as { id: string; token: string };

    const listed = await access('tokens', 'list');
    expect(listed.code).toBe(0);
    const line = listed.stdout.split('\n').find((l) => l.startsWith(id));
    expect(line).toMatch(new RegExp(`^${id}  \\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z  ${name}  ledger:read,ledger:write$`));
    expect(listed.stdout).not.toContain(token);

    expect((await access('tokens', 'revoke', id)).code).toBe(0);
    expect((await access('tokens', 'list')).stdout).not.toContain(id);
    const all = await access('tokens', 'list', '--all', '--json');
    const revoked = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; revokedAt: string | null }).find((t) => t.id === id);
    expect(revoked?.revokedAt).toMatch(/^\d{4}-/);
  }, 120_000);

  it('deadletters: a poison message the ledger refused is listed, shown, and redriven with its key, value and headers', async () => {
    const dl = system.topics.deadletter;
    const poison = { topic: system.topics.usage, key: testName('acct'), value: Buffer.from('{"this is":"not a CloudEvent"'), headers: { 'content-type': CLOUDEVENTS_CONTENT_TYPE, 'x-origin': 'operators-e2e' } };
    const producer = new EventProducer(kafka, { lingerMs: 0 });
    await producer.connect();
    await producer.send(poison);

    let list: Run | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      list = await access('deadletters', 'list', '--topic', dl);
      if (list.code === 0 && list.stdout.trim() !== '') break;
      await sleep(1_000);
    }
    expect(list?.code).toBe(0);
    const lines = list!.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^[0-9a-f-]{36}  \\S+  credit-ledger\\S*  ${poison.topic.replaceAll('.', '\\.')}/\\d+@\\d+  `));
    const id = lines[0]!.split('  ')[0]!;

    const shown = await access('deadletters', 'show', id, '--topic', dl);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, topic: poison.topic, key: poison.key, value: poison.value.toString(), headers: poison.headers });

    const before = (await messages(poison.topic)).length;
    const redriven = await access('deadletters', 'redrive', id, '--topic', dl);
    expect(redriven.code).toBe(0);
    expect(redriven.stdout).toContain(`redriven ${id} to ${poison.topic}`);
    const after = await messages(poison.topic);
    expect(after).toHaveLength(before + 1);
    const again = after[after.length - 1]!;
    expect({ key: again.key, value: again.value?.toString(), headers: again.headers }).toEqual({ key: poison.key, value: poison.value.toString(), headers: poison.headers });

    // Still poison: the ledger refuses it again, which shows it really went back to its topic.
    for (let attempt = 0; attempt < 20; attempt++) {
      if ((await access('deadletters', 'list', '--topic', dl)).stdout.trim().split('\n').length === 2) break;
      await sleep(1_000);
    }
    expect((await access('deadletters', 'list', '--topic', dl, '--json')).stdout.trim().split('\n').map((l) => (JSON.parse(l) as { key: string }).key)).toEqual([poison.key, poison.key]);
    expect((await access('deadletters', 'show', '01a241bf-0000-7000-8000-000000000000', '--topic', dl)).code).toBe(1);
    await producer.disconnect();
  }, 180_000);

  it('ledger republish-balances publishes the balance recomputed from the event log, for one account or all', async () => {
    const accountId = testName('acct');
    for (const [method, path, body] of [
      ['PUT', `/v1/accounts/${accountId}`, { plan: 'payg' }],
      ['POST', `/v1/accounts/${accountId}/grants`, { grantId: 'g-1', credits: 700, source: 'purchase' }],
    ] as const) {
      const r = await fetch(`${system.urls['credit-ledger']}${path}`, { method, headers: { authorization: `Bearer ${system.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect([200, 201]).toContain(r.status);
    }
    const balancesOf = async () =>
      (await messages(system.topics.balances))
        .filter((m) => m.key === accountId)
        .map((m) => parseEvent(JSON.parse(m.value!.toString())))
        .flatMap((p) => (p.ok ? [p.event] : []));
    // The ledger's own outbox publishes the balance first; wait for it so the count below is the republished one.
    let published = await balancesOf();
    for (let attempt = 0; attempt < 30 && !published.some((e) => (e.data as { version: number }).version === 2); attempt++) {
      await sleep(500);
      published = await balancesOf();
    }
    const one = await access('ledger', 'republish-balances', '--account', accountId);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(`republished 1 balance(s) to ${system.topics.balances}\n`);
    const now = await balancesOf();
    expect(now).toHaveLength(published.length + 1);
    expect(now[now.length - 1]).toMatchObject({ type: 'io.access.ledger.balance_changed.v1', data: { accountId, version: 2, balanceCredits: 700, heldCredits: 0, availableCredits: 700, plan: 'payg' } });

    const all = await access('ledger', 'republish-balances');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^republished [1-9]\d* balance\(s\) to /);
    expect(await balancesOf()).toHaveLength(published.length + 2);

    const nobody = await access('ledger', 'republish-balances', '--account', testName('nobody'));
    expect(nobody.code).toBe(1);
  }, 180_000);
});

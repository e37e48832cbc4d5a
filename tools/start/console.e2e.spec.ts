/**
 * The console in a real browser (Debian's chromium driven by playwright-core) against the whole system running
 * on topics of its own, with the demo's fleet and traffic: sign in, see the overview chart draw the traffic's
 * decisions, open an account, look at the limits, redrive a dead letter and find it back on its original topic.
 * No request leaves 127.0.0.1. A screenshot of each page is written to CONSOLE_SCREENSHOTS_DIR (default
 * .local/screenshots; docs/images holds the committed ones, written with CONSOLE_SCREENSHOTS_DIR=docs/images).
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, SOURCES, deadletterData, makeEvent, newEventId } from '@access/contracts';
import { TokenStore } from '@access/platform-auth';
import { EventProducer, REDRIVEN_FROM_HEADER, RawBatchConsumer, encodeEvent, type ConsumedMessage } from '@access/platform-kafka';
import { parsePrometheus, type Sample } from '@access/platform-observability';
import { createDataSource } from '@access/platform-postgres';
import { repoRoot, requireStack, testName } from '@access/testing';
import { startSystem, type RunningSystem } from './system';
import { ensureChromium } from './browser';

const chromiumPath = ensureChromium();
const screenshots = join(repoRoot, process.env['CONSOLE_SCREENSHOTS_DIR'] ?? '.local/screenshots');
/** The demo's fleet (tools/start/demo.ts): small enough for sora-2 batch to be shed. */
const fleetModels = 'codex-1:400,sora-2:20';

describe.skipIf(chromiumPath === null)('the operator console in a browser', () => {
  let system: RunningSystem;
  let browser: Browser;
  let page: Page;
  let runId: string | undefined;
  let readOnlyToken: string;
  const offsite: string[] = [];
  const usageSeen: ConsumedMessage[] = [];
  let usageWatch: RawBatchConsumer;
  let producer: EventProducer;
  const deadKey = testName('acct-redrive');
  const deadValue = JSON.stringify({ specversion: '1.0', id: newEventId(), type: 'io.access.usage.request_completed.v1', note: 'refused by a consumer bug since fixed' });
  let deadLetterId: string;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    const stack = await requireStack();
    const db = createDataSource({ url: stack.databaseUrl, poolSizeMax: 1 });
    await db.initialize();
    readOnlyToken = (await new TokenStore(db).create(testName('console-reader'), ['ledger:read'])).token;
    await db.destroy();
    system = await startSystem(stack, { console: true, fleetModels, logDir: join(repoRoot, '.local', 'logs', 'console-e2e') });
    system.startTraffic(180, (line) => {
      if (runId === undefined && line.startsWith('{')) runId = (JSON.parse(line) as { runId?: string }).runId;
    });

    // A dead letter as credit-ledger would record it, of a message on the run's usage topic.
    producer = new EventProducer(system.kafka, { lingerMs: 1 });
    await producer.connect();
    const data = deadletterData({ topic: system.topics.usage, partition: 2, offset: '17', key: deadKey, value: Buffer.from(deadValue), error: 'usage.request_completed: meters: required', consumer: 'credit-ledger' });
    await producer.send(encodeEvent(makeEvent(EVENTS.deadletterRecorded, { id: newEventId(), source: SOURCES.creditLedger, time: new Date().toISOString(), data }), system.topics.deadletter));
    deadLetterId = `${system.topics.deadletter}/0/0`;
    usageWatch = new RawBatchConsumer(system.kafka, { groupId: testName('watch'), topics: [system.topics.usage], fromBeginning: true, commitOffsets: false, maxWaitMs: 50 });
    await usageWatch.start(async (messages) => {
      for (const m of messages) if (m.key === deadKey) usageSeen.push(m);
    });

    browser = await chromium.launch({ executablePath: chromiumPath!, args: ['--no-sandbox', '--disable-background-networking'], headless: true });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('request', (request) => {
      const host = new URL(request.url()).hostname;
      if (host !== '127.0.0.1' && request.url() !== 'about:blank') offsite.push(request.url());
    });
  }, 480_000);

  afterAll(async () => {
    await browser?.close();
    await usageWatch?.stop();
    await producer?.disconnect();
    await system?.stop();
  });

  const url = () => `http://127.0.0.1:${system.ports.console}/`;
  const shot = async (name: string) => {
    const path = join(screenshots, `console-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  };
  /** Waits until `selector`'s data-points attribute counts at least `min` values drawn. */
  const chartPoints = (selector: string, min: number, timeout: number) =>
    page.waitForFunction(
      ([s, n]) => Number((globalThis as unknown as { document: { querySelector(q: string): { getAttribute(a: string): string | null } | null } }).document.querySelector(s)?.getAttribute('data-points') ?? 0) >= n,
      [selector, min] as const,
      { timeout, polling: 500 },
    );

  it('refuses a wrong token and signs in with a right one, showing its scopes', async () => {
    await page.goto(url());
    await page.fill('input[name=token]', 'access_not-a-real-token-000000000000000000000');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('form .error')).toContain('Sign-in failed');
    await page.fill('input[name=token]', system.token);
    await page.click('button[type=submit]');
    await page.waitForSelector('#nav:not([hidden])');
    expect(await page.textContent('#who')).toContain('ledger:admin');
  });

  it('draws the decisions of the traffic on the overview chart, live', async () => {
    await page.waitForSelector('[data-chart=decisions]');
    await chartPoints('[data-chart=decisions]', 1, 120_000);
    const first = Number(await page.getAttribute('[data-chart=decisions]', 'data-points'));
    expect(await page.locator('[data-chart=decisions] canvas').count()).toBeGreaterThan(0);
    // Refreshed without a page load: more points arrive while the page stays.
    await chartPoints('[data-chart=decisions]', first + 1, 60_000);
    await chartPoints('[data-chart=multipliers]', 1, 60_000);
    await chartPoints('[data-chart=lag]', 1, 60_000);
    expect(await page.locator('[data-totals] [data-outcome]').count()).toBeGreaterThan(0);
    await shot('overview');
  });

  it('finds an account of the traffic and shows its balance, decisions and ledger events', async () => {
    expect(runId).toBeDefined();
    const accountId = `sim-${runId}-creator`;
    await page.click('#nav a[data-page=accounts]');
    await page.fill('input[name=q]', accountId);
    await page.click(`a[data-account="${accountId}"]`, { timeout: 60_000 });
    await page.waitForSelector('[data-balance]', { timeout: 30_000 });
    expect(await page.textContent('[data-balance]')).toContain('plan plus');
    await page.waitForSelector('table[data-table=decisions] tbody tr', { timeout: 30_000 });
    await page.waitForSelector('table[data-table=grants] tbody tr', { timeout: 30_000 });
    await page.waitForSelector('table[data-table=events] tbody tr', { timeout: 30_000 });
    expect(await page.textContent('table[data-table=events]')).toContain('ledger.account_opened');
    await shot('account');
  });

  it('shows the plans, the multipliers in force with their reasons, and the most active users', async () => {
    await page.click('#nav a[data-page=limits]');
    await page.waitForSelector('table[data-table=plans] tbody tr');
    expect(await page.textContent('table[data-table=plans]')).toContain('enterprise');
    await page.waitForSelector('table[data-table=samples] tbody tr', { timeout: 60_000 });
    await page.waitForSelector('table[data-table=multipliers] tbody tr', { timeout: 90_000 });
    await shot('limits');
  });

  it('redrives a dead letter to its original topic (ledger:admin), and a read-only token may not', async () => {
    const refused = await fetch(`${url()}v1/console/deadletters/redrive`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOnlyToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: deadLetterId }),
    });
    expect(refused.status).toBe(403);

    await page.click('#nav a[data-page=deadletters]');
    const button = page.locator(`button[data-redrive="${deadLetterId}"]`);
    await button.waitFor({ timeout: 30_000 });
    expect(await page.textContent('table[data-table=deadletters]')).toContain('meters: required');
    await button.click();
    await expect.poll(() => button.textContent(), { timeout: 15_000 }).toBe('Redriven');
    await expect.poll(() => usageSeen.length, { timeout: 15_000 }).toBe(1);
    expect(usageSeen[0]!.value?.toString()).toBe(deadValue);
    expect(usageSeen[0]!.headers[REDRIVEN_FROM_HEADER]).toBe(deadLetterId);
    expect(usageSeen[0]!.headers['content-type']).toBe('application/cloudevents+json');
    await shot('deadletters');
  });

  it('the services expose request counts and durations per route, consumer lag per group and partition, and the outbox depth', async () => {
    const metrics = async (port: number) => parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    /** The value of the first series named `name` whose labels include `labels` (a label given as a RegExp must match). */
    const value = (samples: Sample[], name: string, labels: Record<string, string | RegExp>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? ''))))?.value;
    const admission = await metrics(system.ports.admission);
    expect(value(admission, 'http_requests_total', { method: 'POST', route: '/v1/admissions', status: '200' })).toBeGreaterThan(0);
    expect(value(admission, 'http_requests_total', { method: 'POST', route: '/v1/admissions', status: /^4\d\d$/ })).toBeGreaterThan(0);
    expect(value(admission, 'http_request_duration_seconds_count', { method: 'POST', route: '/v1/admissions', status: '200' })).toBeGreaterThan(0);
    const ledger = await metrics(system.ports.ledger);
    expect(value(ledger, 'kafka_consumer_lag_messages', { group: /.+/, topic: system.topics.admissions, partition: '0' })).toBeGreaterThanOrEqual(0);
    expect(value(ledger, 'ledger_outbox_depth_messages', {})).toBeGreaterThanOrEqual(0);
    const ingest = await metrics(system.ports.ingest);
    expect(value(ingest, 'usage_ingest_lag_messages', { group: /.+/, topic: system.topics.usage, partition: '0' })).toBeGreaterThanOrEqual(0);
  });

  it('fetched nothing from outside 127.0.0.1', () => {
    expect(offsite).toEqual([]);
  });
});

/**
 * The fault suite (`npm run test:faults`): the whole system under simulated load, one fault at a time: each
 * service SIGKILLed and restarted, the Kafka broker restarted, Postgres crashed and restarted, ClickHouse stopped
 * for 30 s. After each fault, with the load stopped and everything caught up:
 * - `access ledger verify` and `access reconcile` exit 0;
 * - every event on the run's admissions, usage and ledger topics is in ClickHouse, and none twice; nothing was
 *   dead-lettered (the suite sends no poison, so a dead letter is an event a fault made a service give up on);
 * - no admission is settled twice in the ledger;
 * - every service is ready again, and admission decided again within 10 s of the fault being cleared (the
 *   restarted process spawned, or the server answering again).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionProbe, accessCli, deadLetters, doubledSettlements, eventIdsOnKafka, everyEventInClickhouse, ledgerCaughtUp, startTraffic, stopTraffic } from './checks';
import { FaultSystem, serviceNames, type ServiceName } from './system';

const admissionRecoveryMsMax = 10_000;
const loadBeforeMs = Number(process.env['FAULTS_LOAD_BEFORE_MS'] ?? 8_000);
const loadAfterMs = Number(process.env['FAULTS_LOAD_AFTER_MS'] ?? 8_000);
const clickhouseDownMs = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fault {
  readonly name: string;
  /** Injects the fault and clears it; resolves with the time it was cleared. */
  inject(system: FaultSystem): Promise<number>;
}

const killAndRestart = (service: ServiceName): Fault => ({
  name: `SIGKILL ${service}`,
  inject: async (system) => {
    await system.kill(service);
    return Date.now();
  },
});

const faults: Fault[] = [
  ...serviceNames.map(killAndRestart),
  { name: 'restart the Kafka broker', inject: async (system) => (await system.restartKafka(), Date.now()) },
  { name: 'crash and restart Postgres', inject: async (system) => (await system.restartPostgres(), Date.now()) },
  { name: `stop ClickHouse for ${clickhouseDownMs / 1000} s`, inject: async (system) => (await system.stopClickhouse(clickhouseDownMs), Date.now()) },
];

describe('the whole system under faults', () => {
  const system = new FaultSystem();
  const probe = new AdmissionProbe(system);
  const report: { fault: string; seconds: number; admissionRecoveryMs: number; decisions: number; completions: number; ledgerEntries: number }[] = [];
  let failed = false;
  let decisionsBefore = 0;

  beforeAll(async () => {
    await system.setUp();
    await probe.open();
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    console.log(
      [
        `fault suite run ${system.id}${failed ? ' (FAILED: topics and databases kept)' : ''}; logs in ${system.logDir}`,
        ...report.map(
          (r) =>
            `  ${r.fault.padEnd(34)} ${r.seconds.toFixed(0).padStart(4)} s  admission decided again after ${String(r.admissionRecoveryMs).padStart(5)} ms  ` +
            `ClickHouse: ${r.decisions} decisions, ${r.completions} completions, ${r.ledgerEntries} ledger entries`,
        ),
      ].join('\n'),
    );
    await system.tearDown(failed);
  });

  faults.forEach((fault, i) => {
    it(`${fault.name}: audits clean, nothing lost or doubled, admission back within ${admissionRecoveryMsMax / 1000} s`, async () => {
      const t0 = Date.now();
      const traffic = startTraffic(system, `f${i}${system.id.slice(-6)}`, 1_000 + i);
      await sleep(loadBeforeMs);
      const clearedAtMs = await fault.inject(system);
      const admissionRecoveryMs = await probe.recoveredAfter(clearedAtMs);
      // Every service rides the fault out (or, the killed one, comes back) by itself.
      for (const name of serviceNames) await system.ready(name);
      await sleep(loadAfterMs);
      const trafficOutput = await stopTraffic(traffic);

      await ledgerCaughtUp(system);
      const onKafka = await eventIdsOnKafka(system);
      const rows = await everyEventInClickhouse(system, onKafka);
      expect(await doubledSettlements(system)).toEqual([]);
      expect(await deadLetters(system), 'dead letters (the suite sends no poison)').toEqual([]);

      const verify = await accessCli(system, ['ledger', 'verify']);
      expect(verify.code, `access ledger verify:\n${verify.output}`).toBe(0);
      // The ledger's own jobs (expiries) may publish while reconcile reads: a discrepancy must be gone within a few
      // seconds of everything being ingested, or it is real.
      let reconcile = { code: null as number | null, output: '' };
      for (let attempt = 1; attempt <= 3; attempt++) {
        if (attempt > 1) await everyEventInClickhouse(system, await eventIdsOnKafka(system));
        reconcile = await accessCli(system, ['reconcile', '--since', new Date(system.startedAt.getTime() - 60_000).toISOString(), '--until', new Date().toISOString()]);
        if (reconcile.code === 0) break;
      }
      expect(reconcile.code, `access reconcile:\n${reconcile.output}`).toBe(0);

      // The load was real: this phase added decisions, and the simulator saw admissions.
      const decisions = rows['admission_decisions'] ?? 0;
      expect(decisions - decisionsBefore, `decisions this phase; traffic said:\n${trafficOutput.slice(-2_000)}`).toBeGreaterThan(50);
      decisionsBefore = decisions;
      expect(admissionRecoveryMs, `admission decided again ${admissionRecoveryMs} ms after the fault was cleared`).toBeLessThanOrEqual(admissionRecoveryMsMax);
      report.push({
        fault: fault.name,
        seconds: (Date.now() - t0) / 1000,
        admissionRecoveryMs,
        decisions,
        completions: rows['request_usage'] ?? 0,
        ledgerEntries: rows['ledger_entries'] ?? 0,
      });
    });
  });
});

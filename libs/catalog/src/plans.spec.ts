import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseDurationMs } from './duration';
import { allowsPriority, parsePlans, type PlansConfig } from './plans';
import { withValue, without } from './spec-helpers';

/** A valid plans file as an object; each case below breaks one thing. */
function validFile(): Record<string, unknown> {
  return {
    defaults: { reservationTimeout: '30m', idempotencyTtl: '24h', unknownAccountPlan: 'payg' },
    plans: {
      free: {
        requestsPerMinute: 10,
        concurrentRequests: 1,
        creditsPerMinute: 300,
        priorities: ['standard', 'batch'],
        allowance: [
          { family: 'video', window: '5h', credits: 100 },
          { family: 'video', window: '7d', credits: 300 },
          { family: 'code', window: '5h', credits: 200 },
        ],
        grant: { creditsPerPeriod: 0, period: 'monthly', rolloverCapCredits: 0 },
      },
      payg: {
        requestsPerMinute: 120,
        concurrentRequests: 5,
        creditsPerMinute: 10000,
        priorities: ['critical', 'standard'],
        grant: { creditsPerPeriod: 10, period: 'monthly', rolloverCapCredits: 20 },
        reservationTimeout: '1h',
      },
    },
  };
}

function parsed(file: unknown): PlansConfig {
  const result = parsePlans(stringify(file));
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

const set = (path: (string | number)[], value: unknown) => withValue(validFile(), path, value);
const unset = (path: (string | number)[]) => without(validFile(), path);

describe('parseDurationMs', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['5h', 18_000_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
  ])('given %s, then %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '5', '0h', '05h', '1.5h', '-1h', '5 h', '5H', '5y', 'h', '99999999999999d'])('given %j, then null', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });
});

describe('parsePlans', () => {
  it('given a valid file, then plans carry their limits, windows in ms and grouped by family', () => {
    const config = parsed(validFile());
    const free = config.plans.get('free');
    expect(free).toMatchObject({ name: 'free', requestsPerMinute: 10, concurrentRequests: 1, creditsPerMinute: 300 });
    expect(free?.allowance.map((w) => [w.family, w.window, w.windowMs, w.credits])).toEqual([
      ['video', '5h', 18_000_000, 100],
      ['video', '7d', 604_800_000, 300],
      ['code', '5h', 18_000_000, 200],
    ]);
    expect(free?.allowanceByFamily.get('video')?.map((w) => w.window)).toEqual(['5h', '7d']);
    expect(free?.allowanceByFamily.get('code')?.map((w) => w.window)).toEqual(['5h']);
    expect(config.defaults).toEqual({ reservationTimeoutMs: 1_800_000, idempotencyTtlMs: 86_400_000, unknownAccountPlan: 'payg' });
  });

  it('given a plan without reservationTimeout, then it inherits the default; with one, then its own', () => {
    const config = parsed(validFile());
    expect(config.plans.get('free')?.reservationTimeoutMs).toBe(1_800_000);
    expect(config.plans.get('payg')?.reservationTimeoutMs).toBe(3_600_000);
  });

  it('given no allowance, then the plan has none', () => {
    const payg = parsed(validFile()).plans.get('payg');
    expect(payg?.allowance).toEqual([]);
    expect(payg?.allowanceByFamily.size).toBe(0);
  });

  it('given no unknownAccountPlan, then it is null (unknown accounts are invalid)', () => {
    const result = parsePlans(unset(['defaults', 'unknownAccountPlan']));
    expect(result.ok && result.value.defaults.unknownAccountPlan).toBeNull();
  });

  it('allowsPriority follows the plan list', () => {
    const config = parsed(validFile());
    const free = config.plans.get('free');
    const payg = config.plans.get('payg');
    if (free === undefined || payg === undefined) throw new Error('plans missing');
    expect([allowsPriority(free, 'critical'), allowsPriority(free, 'standard'), allowsPriority(free, 'batch')]).toEqual([false, true, true]);
    expect([allowsPriority(payg, 'critical'), allowsPriority(payg, 'batch')]).toEqual([true, false]);
  });

  type Case = [label: string, yaml: string, path: string, message: RegExp];
  const cases: Case[] = [
    ['YAML syntax', 'plans: [\n', '', /YAML syntax error: line \d+, column \d+/],
    ['duplicate key', 'defaults: {}\ndefaults: {}\n', '', /YAML syntax error.*unique/],
    ['not a mapping', '- 1\n', '', /expected object/],
    ['unknown top-level field', set(['extra'], 1), 'extra', /unknown field/],
    ['typo in a plan field', set(['plans', 'free', 'requestPerMinute'], 3), 'plans.free.requestPerMinute', /unknown field/],
    ['missing limit', unset(['plans', 'free', 'requestsPerMinute']), 'plans.free.requestsPerMinute', /expected number/],
    ['zero requests per minute', set(['plans', 'free', 'requestsPerMinute'], 0), 'plans.free.requestsPerMinute', />=1/],
    ['fractional concurrency', set(['plans', 'free', 'concurrentRequests'], 1.5), 'plans.free.concurrentRequests', /int/],
    ['credits per minute above max', set(['plans', 'free', 'creditsPerMinute'], 2e9), 'plans.free.creditsPerMinute', /<=1000000000/],
    ['bad plan name', set(['plans', 'Free Plan'], validFile()['plans']), 'plans.Free Plan', /invalid name/],
    ['unknown priority', set(['plans', 'free', 'priorities'], ['urgent']), 'plans.free.priorities[0]', /critical.*standard.*batch/],
    ['no priority', set(['plans', 'free', 'priorities'], []), 'plans.free.priorities', />=1/],
    ['duplicate priority', set(['plans', 'free', 'priorities'], ['batch', 'batch']), 'plans.free.priorities[1]', /duplicate priority batch/],
    ['window without unit', set(['plans', 'free', 'allowance', 0, 'window'], '5'), 'plans.free.allowance[0].window', /duration/],
    ['window over a month', set(['plans', 'free', 'allowance', 0, 'window'], '32d'), 'plans.free.allowance[0].window', /at most/],
    ['negative allowance', set(['plans', 'free', 'allowance', 1, 'credits'], -1), 'plans.free.allowance[1].credits', />=0/],
    [
      'same window twice for a family',
      set(['plans', 'free', 'allowance', 1, 'window'], '300m'),
      'plans.free.allowance[1].window',
      /duplicate 300m window for family video/,
    ],
    [
      'too many windows for a family',
      set(['plans', 'free', 'allowance'], ['1h', '2h', '3h', '4h', '5h'].map((window) => ({ family: 'video', window, credits: 1 }))),
      'plans.free.allowance[4]',
      /at most 4 windows per family/,
    ],
    ['bad family name', set(['plans', 'free', 'allowance', 0, 'family'], 'Video'), 'plans.free.allowance[0].family', /lowercase/],
    ['grant period', set(['plans', 'free', 'grant', 'period'], 'weekly'), 'plans.free.grant.period', /monthly/],
    ['missing grant', unset(['plans', 'free', 'grant']), 'plans.free.grant', /expected object/],
    ['reservation timeout over a day', set(['plans', 'payg', 'reservationTimeout'], '2d'), 'plans.payg.reservationTimeout', /at most/],
    ['missing default', unset(['defaults', 'idempotencyTtl']), 'defaults.idempotencyTtl', /expected string/],
    ['unknownAccountPlan not a plan', set(['defaults', 'unknownAccountPlan'], 'gold'), 'defaults.unknownAccountPlan', /no plan named gold/],
    ['no plans', set(['plans'], {}), 'plans', /at least one plan/],
  ];

  it.each(cases)('given %s, then an error at its path', (_label, yaml, path, message) => {
    const result = parsePlans(yaml);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  it('given several problems, then every one is reported', () => {
    const file = validFile();
    const plans = file['plans'] as Record<string, Record<string, unknown>>;
    Object.assign(plans['free'] ?? {}, { requestsPerMinute: 0 });
    Object.assign(plans['payg'] ?? {}, { concurrentRequests: 'five' });
    const result = parsePlans(stringify(file));
    expect(result.ok ? [] : result.errors.map((e) => e.path)).toEqual(['plans.free.requestsPerMinute', 'plans.payg.concurrentRequests']);
  });
});

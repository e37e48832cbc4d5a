import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCatalog, type Catalog } from './catalog';
import { PRIORITIES } from './plans';
import { priceRequest } from './pricing';

// The files the services boot with (config/ at the repo root). CONTRACTS.md fixes what they must ship.
function shipped(): Catalog {
  const read = (name: string) => readFileSync(new URL(`../../../config/${name}`, import.meta.url), 'utf8');
  const result = parseCatalog(read('plans.yaml'), read('price-book.yaml'));
  if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return result.value;
}

describe('shipped config/', () => {
  const { plans, priceBook } = shipped();

  it('ships free, plus, pro, enterprise and payg', () => {
    expect([...plans.plans.keys()].sort()).toEqual(['enterprise', 'free', 'payg', 'plus', 'pro']);
  });

  it('gives every plan but payg included allowance windows for both families, and payg none', () => {
    for (const plan of plans.plans.values()) {
      if (plan.name === 'payg') expect(plan.allowance).toEqual([]);
      else expect([...plan.allowanceByFamily.keys()].sort()).toEqual(['code', 'video']);
    }
  });

  it('lets only enterprise send critical requests', () => {
    const critical = [...plans.plans.values()].filter((p) => p.priorities.includes('critical')).map((p) => p.name);
    expect(critical).toEqual(['enterprise']);
    expect(plans.plans.get('enterprise')?.priorities).toEqual([...PRIORITIES]);
  });

  it('orders plans from small to large', () => {
    const order = ['free', 'plus', 'pro', 'enterprise'].map((name) => plans.plans.get(name));
    for (let i = 1; i < order.length; i++) {
      const [smaller, larger] = [order[i - 1], order[i]];
      expect(larger?.requestsPerMinute).toBeGreaterThan(smaller?.requestsPerMinute ?? Infinity);
      expect(larger?.concurrentRequests).toBeGreaterThan(smaller?.concurrentRequests ?? Infinity);
      expect(larger?.creditsPerMinute).toBeGreaterThan(smaller?.creditsPerMinute ?? Infinity);
      expect(larger?.grant.creditsPerPeriod).toBeGreaterThanOrEqual(smaller?.grant.creditsPerPeriod ?? Infinity);
    }
  });

  it('holds reservations long enough for minutes-long video jobs and keeps idempotency for 24 hours', () => {
    expect(plans.defaults.reservationTimeoutMs).toBeGreaterThanOrEqual(15 * 60_000);
    expect(plans.defaults.idempotencyTtlMs).toBeGreaterThanOrEqual(24 * 3_600_000);
    for (const plan of plans.plans.values()) expect(plan.reservationTimeoutMs).toBeGreaterThanOrEqual(plans.defaults.reservationTimeoutMs);
  });

  it('treats accounts unknown to admission as payg (no free usage for made-up accounts)', () => {
    expect(plans.defaults.unknownAccountPlan).toBe('payg');
  });

  it('prices sora-2 per video second by resolution, and codex-1 per input and output token', () => {
    expect(priceBook.version).toBe('2026-11-01');
    expect(priceBook.models.get('sora-2')?.family).toBe('video');
    expect([...(priceBook.models.get('sora-2')?.meters.keys() ?? [])]).toEqual(['video_seconds']);
    expect([...(priceBook.models.get('sora-2')?.dimensionsByName.get('resolution')?.values.keys() ?? [])]).toEqual(['480p', '720p', '1080p']);
    expect(priceBook.models.get('codex-1')?.family).toBe('code');
    expect([...(priceBook.models.get('codex-1')?.meters.keys() ?? [])]).toEqual(['input_tokens', 'output_tokens']);
    expect(priceRequest(priceBook, 'sora-2', { video_seconds: 10 }, { resolution: '1080p' })).toEqual({ ok: true, credits: 200 });
    expect(priceRequest(priceBook, 'codex-1', { input_tokens: 100_000, output_tokens: 10_000 }, {})).toEqual({ ok: true, credits: 28 });
  });
});

describe('parseCatalog', () => {
  it('given an allowance family the price book does not price, then an error names the plan file and path', () => {
    const plansYaml = `
defaults: { reservationTimeout: 30m, idempotencyTtl: 24h }
plans:
  free:
    requestsPerMinute: 1
    concurrentRequests: 1
    creditsPerMinute: 1
    priorities: [standard]
    allowance: [{ family: vidoe, window: 5h, credits: 1 }]
    grant: { creditsPerPeriod: 0, period: monthly, rolloverCapCredits: 0 }
`;
    const priceBookYaml = 'version: "1"\nmodels:\n  m: { family: video, meters: { s: { credits: 1 } } }\n';
    const result = parseCatalog(plansYaml, priceBookYaml);
    expect(result.ok ? [] : result.errors).toEqual([
      { path: 'plans.yaml: plans.free.allowance[0].family', message: 'no model in the price book has family vidoe (known: video)' },
    ]);
  });

  it('given errors in both files, then both are reported with their file', () => {
    const result = parseCatalog('plans: 1\n', 'models: 1\n');
    const paths = result.ok ? [] : result.errors.map((e) => e.path);
    expect(paths).toContain('plans.yaml: defaults');
    expect(paths).toContain('price-book.yaml: version');
  });
});

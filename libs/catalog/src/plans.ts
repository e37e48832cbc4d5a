import { z } from 'zod';
import { parseDurationMs } from './duration';
import { parseYamlWith } from './issues';
import { catalogLimits } from './limits';
import type { ParseResult } from './result';

/** Request priorities, most important first. Only plans that list `critical` may send it. */
export const PRIORITIES = ['critical', 'standard', 'batch'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** One rolling window of included usage: `credits` worth of `family` usage per `window` per account. */
export interface AllowanceWindow {
  readonly family: string;
  /** The window as written (`5h`, `7d`); also its name in decisions (`fundedBy[].window`). */
  readonly window: string;
  readonly windowMs: number;
  readonly credits: number;
}

/** The credits a plan grants every period (the ledger issues them as grants with source `plan`). */
export interface PlanGrant {
  readonly creditsPerPeriod: number;
  readonly period: 'monthly';
  /** Unused plan credits carried into the next period are capped at this. */
  readonly rolloverCapCredits: number;
}

export interface Plan {
  readonly name: string;
  readonly description: string;
  /** Per user. */
  readonly requestsPerMinute: number;
  /** Per user. */
  readonly concurrentRequests: number;
  /** Per account. */
  readonly creditsPerMinute: number;
  readonly priorities: readonly Priority[];
  /** In file order. */
  readonly allowance: readonly AllowanceWindow[];
  /** The same windows grouped by model family, each group in file order. */
  readonly allowanceByFamily: ReadonlyMap<string, readonly AllowanceWindow[]>;
  readonly grant: PlanGrant;
  readonly reservationTimeoutMs: number;
}

export interface PlanDefaults {
  /** How long a hold and a concurrency slot last when the request never completes. */
  readonly reservationTimeoutMs: number;
  /** How long a requestId keeps answering with its first decision. */
  readonly idempotencyTtlMs: number;
  /**
   * The plan of an account admission has not heard of from the ledger yet (its balance is zero), or
   * null to reject requests for such accounts as invalid.
   */
  readonly unknownAccountPlan: string | null;
}

export interface PlansConfig {
  readonly defaults: PlanDefaults;
  readonly plans: ReadonlyMap<string, Plan>;
}

export function allowsPriority(plan: Plan, priority: Priority): boolean {
  return plan.priorities.includes(priority);
}

const namePattern = /^[a-z][a-z0-9_-]{0,63}$/;
const nameMessage = 'must be lowercase letters, digits, _ or -, starting with a letter (at most 64)';
const planName = z.string().regex(namePattern, nameMessage);
const familyName = z.string().regex(namePattern, nameMessage);

function duration(maxMs: number) {
  return z.string().superRefine((text, ctx) => {
    const ms = parseDurationMs(text);
    if (ms === null) ctx.addIssue({ code: 'custom', message: 'must be a duration such as 250ms, 90s, 30m, 5h, 7d or 1w' });
    else if (ms > maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${maxMs} ms` });
  });
}

function count(max: number, min = 1) {
  return z.number().int().min(min).max(max);
}

const allowanceSchema = z.strictObject({
  family: familyName,
  window: duration(catalogLimits.allowanceWindowMsMax),
  credits: count(catalogLimits.allowanceCreditsMax, 0),
});

const planSchema = z
  .strictObject({
    description: z.string().max(200).optional(),
    requestsPerMinute: count(catalogLimits.requestsPerMinuteMax),
    concurrentRequests: count(catalogLimits.concurrentRequestsMax),
    creditsPerMinute: count(catalogLimits.creditsPerMinuteMax),
    priorities: z.array(z.enum(PRIORITIES)).min(1).max(PRIORITIES.length),
    allowance: z.array(allowanceSchema).max(catalogLimits.allowanceWindowsPerFamilyMax * 16).default([]),
    grant: z.strictObject({
      creditsPerPeriod: count(catalogLimits.planGrantCreditsMax, 0),
      period: z.literal('monthly'),
      rolloverCapCredits: count(catalogLimits.planGrantCreditsMax, 0),
    }),
    reservationTimeout: duration(catalogLimits.reservationTimeoutMsMax).optional(),
  })
  .superRefine((plan, ctx) => {
    plan.priorities.forEach((p, i) => {
      if (plan.priorities.indexOf(p) !== i) ctx.addIssue({ code: 'custom', path: ['priorities', i], message: `duplicate priority ${p}` });
    });
    const perFamily = new Map<string, string[]>();
    plan.allowance.forEach((w, i) => {
      const windows = perFamily.get(w.family) ?? [];
      const ms = parseDurationMs(w.window);
      if (windows.some((other) => parseDurationMs(other) === ms)) {
        ctx.addIssue({ code: 'custom', path: ['allowance', i, 'window'], message: `duplicate ${w.window} window for family ${w.family}` });
      }
      windows.push(w.window);
      if (windows.length > catalogLimits.allowanceWindowsPerFamilyMax) {
        ctx.addIssue({
          code: 'custom',
          path: ['allowance', i],
          message: `at most ${catalogLimits.allowanceWindowsPerFamilyMax} windows per family`,
        });
      }
      perFamily.set(w.family, windows);
    });
  });

const plansFileSchema = z
  .strictObject({
    defaults: z.strictObject({
      reservationTimeout: duration(catalogLimits.reservationTimeoutMsMax),
      idempotencyTtl: duration(catalogLimits.idempotencyTtlMsMax),
      unknownAccountPlan: planName.nullable().default(null),
    }),
    plans: z.record(planName, planSchema),
  })
  .superRefine((file, ctx) => {
    const names = Object.keys(file.plans);
    if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['plans'], message: 'at least one plan is required' });
    if (names.length > catalogLimits.plansMax) ctx.addIssue({ code: 'custom', path: ['plans'], message: `at most ${catalogLimits.plansMax} plans` });
    const fallback = file.defaults.unknownAccountPlan;
    if (fallback !== null && !(fallback in file.plans)) {
      ctx.addIssue({ code: 'custom', path: ['defaults', 'unknownAccountPlan'], message: `no plan named ${fallback}` });
    }
  });

type PlansFile = z.infer<typeof plansFileSchema>;

/** Durations were validated by the schema, so a null here is a bug in this file, not bad input. */
function ms(text: string): number {
  const value = parseDurationMs(text);
  if (value === null) throw new Error(`unvalidated duration ${text}`);
  return value;
}

function compile(file: PlansFile): PlansConfig {
  const defaults: PlanDefaults = {
    reservationTimeoutMs: ms(file.defaults.reservationTimeout),
    idempotencyTtlMs: ms(file.defaults.idempotencyTtl),
    unknownAccountPlan: file.defaults.unknownAccountPlan,
  };
  const plans = new Map<string, Plan>();
  for (const [name, raw] of Object.entries(file.plans)) {
    const allowance: AllowanceWindow[] = raw.allowance.map((w) => ({
      family: w.family,
      window: w.window,
      windowMs: ms(w.window),
      credits: w.credits,
    }));
    const allowanceByFamily = new Map<string, AllowanceWindow[]>();
    for (const w of allowance) allowanceByFamily.set(w.family, [...(allowanceByFamily.get(w.family) ?? []), w]);
    plans.set(name, {
      name,
      description: raw.description ?? '',
      requestsPerMinute: raw.requestsPerMinute,
      concurrentRequests: raw.concurrentRequests,
      creditsPerMinute: raw.creditsPerMinute,
      priorities: raw.priorities,
      allowance,
      allowanceByFamily,
      grant: raw.grant,
      reservationTimeoutMs: raw.reservationTimeout === undefined ? defaults.reservationTimeoutMs : ms(raw.reservationTimeout),
    });
  }
  return { defaults, plans };
}

/** Parses `plans.yaml`. Every problem is reported with its path, for a boot-time message. */
export function parsePlans(yamlText: string): ParseResult<PlansConfig> {
  const parsed = parseYamlWith(yamlText, plansFileSchema);
  return parsed.ok ? { ok: true, value: compile(parsed.value) } : parsed;
}

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { priorities, type Priority } from './classes';
import { feedbackLimits } from './limits';

const identifier = z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'must match ^[A-Za-z0-9_.:-]{1,128}$');
const fraction = z.number().min(0).max(1);
const durationMs = z.int().min(0).max(feedbackLimits.staleMsMax);
const halfLifeMs = z.int().min(1).max(feedbackLimits.reputationHalfLifeMsMax);

function perPriority<T extends z.ZodType>(value: T) {
  return z.strictObject({ critical: value, standard: value, batch: value });
}

const planSchema = z.strictObject({
  /** Share of a tier's capacity this plan gets when the tier is cut (weighted max-min fairness). */
  weight: z.number().gt(0).max(1000),
  /** Priorities the plan may send; only these classes get a multiplier. */
  priorities: z
    .array(z.enum(priorities))
    .min(1)
    .refine((list) => new Set(list).size === list.length, 'priorities must be unique'),
});

const controllerSchema = z
  .strictObject({
    targetUtilization: z.number().gt(0).lt(1),
    hysteresisBand: z.number().min(0).max(0.25),
    criticalReserve: fraction,
    stepDownMax: z.number().gt(0).max(1),
    stepUpMax: z.number().gt(0).max(1),
    /** Weight of the newest tick in the smoothed load that sizes moves (1: no smoothing). */
    loadSmoothing: z.number().gt(0).max(1),
    /**
     * Burst a raised limit lets through at once, as time at the new rate: admission's limits are per
     * minute with a minute of burst, so 60000. A raise is paid for at the price of its first tick.
     */
    raiseBurstMs: z.int().min(0).max(feedbackLimits.staleMsMax),
    /** Consecutive ticks below the band before any multiplier is raised (1: at once). */
    restoreAfterTicks: z.int().min(1).max(feedbackLimits.restoreAfterTicksMax),
    borrowCap: z.number().min(1).max(feedbackLimits.multiplierMax),
    borrowBelowUtilization: fraction,
    floors: perPriority(fraction),
  })
  .superRefine((c, ctx) => {
    // The reserve is capacity critical traffic can take at once, on top of a fleet held at target.
    if (c.targetUtilization + c.criticalReserve > 1) {
      ctx.addIssue({ code: 'custom', path: ['criticalReserve'], message: 'targetUtilization + criticalReserve must be at most 1' });
    }
    if (c.targetUtilization - c.hysteresisBand <= 0 || c.targetUtilization + c.hysteresisBand >= 1) {
      ctx.addIssue({ code: 'custom', path: ['hysteresisBand'], message: 'the band around targetUtilization must stay inside (0, 1)' });
    }
    // Borrowing starts only well below the band, or the controller would borrow and cut in turn.
    if (c.borrowBelowUtilization > c.targetUtilization - c.hysteresisBand) {
      ctx.addIssue({ code: 'custom', path: ['borrowBelowUtilization'], message: 'must be at most targetUtilization - hysteresisBand' });
    }
  });

const staleSamplesSchema = z.strictObject({
  /** A region's sample older than this no longer counts. */
  staleAfterMs: durationMs.refine((v) => v > 0, 'must be positive'),
  /** With no fresh sample for a model, its multipliers are held this long before they decay. */
  holdMs: durationMs,
  /** Per tick, how far a multiplier above its safe default moves down towards it. */
  stepPerTick: z.number().gt(0).max(1),
  /** Where multipliers settle while a fleet is silent; below 1 so silence never opens the gates. */
  safeDefaults: perPriority(z.number().min(0).lt(1)),
});

const rampSchema = z
  .strictObject({ from: z.number().min(0), full: z.number().min(0), penaltyMax: fraction })
  .refine((r) => r.full > r.from, 'full must be greater than from');

const reputationSchema = z
  .strictObject({
    factorMin: z.number().gt(0).max(1),
    factorMax: z.number().min(1).max(feedbackLimits.multiplierMax),
    /** Fewer requests than this in the window is no evidence: the factor drifts back to 1. */
    minRequests: z.int().min(1),
    earn: z.strictObject({
      /** Success ratio from which steady usage starts to earn burst; full bonus at 1. */
      successRatioFrom: z.number().min(0).lt(1),
      /** Active days (of the last 7) needed for the full bonus. */
      activeDaysFull: z.number().gt(0).max(7),
      /** Burstiness (peak over mean per minute) at which steadiness no longer earns anything. */
      burstinessMax: z.number().gt(1),
    }),
    tighten: z.strictObject({
      rejectionRatio: rampSchema,
      failureRatio: rampSchema,
      burstiness: rampSchema,
      overshootCredits: rampSchema,
    }),
    /** Half-life of a move towards a lower factor: abuse tightens quickly. */
    tightenHalfLifeMs: halfLifeMs,
    /** Half-life of a move towards a higher factor: trust is earned slowly. */
    earnHalfLifeMs: halfLifeMs,
  })
  .refine((r) => r.factorMin < r.factorMax, { path: ['factorMax'], message: 'factorMax must exceed factorMin' });

export const feedbackConfigSchema = z
  .strictObject({
    tickIntervalMs: z.int().min(feedbackLimits.tickIntervalMsMin).max(feedbackLimits.tickIntervalMsMax),
    models: z
      .array(identifier)
      .min(1)
      .max(feedbackLimits.modelsMax)
      .refine((list) => new Set(list).size === list.length, 'models must be unique'),
    plans: z
      .record(identifier, planSchema)
      .refine((plans) => Object.keys(plans).length >= 1, 'at least one plan')
      .refine((plans) => Object.keys(plans).length <= feedbackLimits.plansMax, `at most ${feedbackLimits.plansMax} plans`),
    controller: controllerSchema,
    staleSamples: staleSamplesSchema,
    reputation: reputationSchema,
  })
  .superRefine((c, ctx) => {
    // A stale-data default below the floor would cut deeper than the controller itself ever may.
    for (const p of priorities) {
      if (c.staleSamples.safeDefaults[p] < c.controller.floors[p]) {
        ctx.addIssue({ code: 'custom', path: ['staleSamples', 'safeDefaults', p], message: `must be at least controller.floors.${p}` });
      }
    }
    if (c.staleSamples.staleAfterMs < c.tickIntervalMs) {
      ctx.addIssue({ code: 'custom', path: ['staleSamples', 'staleAfterMs'], message: 'must be at least tickIntervalMs' });
    }
  });

export type FeedbackConfig = z.infer<typeof feedbackConfigSchema>;
export type ControllerConfig = FeedbackConfig['controller'];
export type StaleSamplesConfig = FeedbackConfig['staleSamples'];
export type ReputationConfig = FeedbackConfig['reputation'];
export type PlanFeedbackConfig = FeedbackConfig['plans'][string];
export type PerPriority<T> = Readonly<Record<Priority, T>>;

export interface ConfigError {
  readonly path: string;
  readonly message: string;
}

/** The same shape as @access/catalog's ParseResult, so a service reports every config file alike. */
export type ParseFeedbackConfigResult =
  | { readonly ok: true; readonly value: FeedbackConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/**
 * Parses feedback.yaml. Invalid YAML and invalid values are both returned as errors with a path
 * (`controller.floors.batch`), in the `{path, message}` shape of problem responses, so that a
 * service refuses to boot with a message that names the line to fix.
 */
export function parseFeedbackConfig(yamlText: string): ParseFeedbackConfigResult {
  let raw: unknown;
  try {
    raw = parseYaml(yamlText);
  } catch (error) {
    // The yaml library reports syntax errors by throwing; this is the edge where they become values.
    return { ok: false, errors: [{ path: '', message: `invalid YAML: ${(error as Error).message}` }] };
  }
  const result = feedbackConfigSchema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
  };
}

/** What the controller proposes when the load is above the band (cuts) or below it (raises). */
import { restoreOrder, shedOrder } from '../classes';
import { weightedFairShare } from './fair-share';
import { creditsEpsilon, innerKey, sum } from './helpers';
import type { ClassView, ControllerContext, Observation, Proposal } from './types';

/**
 * Above the band: remove the excess load, batch first, then standard, then critical (only the part
 * of its demand above the reserve). A tier's cut is what the excess still needs, up to what the tier
 * would shed at its floors; within a tier the remaining budget is divided by plan weight, so the
 * class furthest above its fair share gives up most. The multiplier moves in proportion to the cut
 * (admitted ∝ multiplier once limits bind), bounded by stepDownMax.
 */
export function overload(ctx: ControllerContext, views: readonly ClassView[], o: Observation): Map<string, Proposal> {
  const { c } = ctx;
  const proposals = new Map<string, Proposal>();
  const reserveCredits = c.criticalReserve * o.capacity;
  // Aim for the upper half of the band rather than through it: admission keeps lowering the load for
  // up to a rate period after a cut (users drain their burst allowance), so a cut aimed at the target
  // itself lands below it.
  let excess = o.capacity > 0 ? o.cutLoad - (c.targetUtilization + c.hysteresisBand / 2) * o.capacity : o.admittedTotal;
  for (const priority of shedOrder) {
    const tier = views.filter((v) => v.priority === priority);
    const floor = c.floors[priority];
    const sheddable = tier.map((v) => (v.admitted > 0 && v.multiplier > floor ? v.admitted * (1 - floor / v.multiplier) : 0));
    const tierAdmitted = sum(tier.map((v) => v.admitted));
    let tierSheddable = sum(sheddable);
    // Critical keeps its reserve: only its demand above the reserve can ever be cut.
    if (priority === 'critical') tierSheddable = Math.min(tierSheddable, Math.max(0, tierAdmitted - reserveCredits));
    const cut = Math.min(excess, tierSheddable);
    if (cut <= creditsEpsilon) continue;
    const shares = weightedFairShare(
      tierAdmitted - cut,
      tier.map((v, i) => ({ weight: v.weight, min: v.admitted - (sheddable[i] ?? 0), max: v.admitted })),
    );
    tier.forEach((v, i) => {
      const share = shares[i] ?? v.admitted;
      if (v.admitted <= creditsEpsilon || share >= v.admitted) return;
      const wanted = v.multiplier * (share / v.admitted);
      proposals.set(innerKey(v.plan, v.priority), {
        multiplier: Math.max(wanted, v.multiplier - c.stepDownMax, floor),
        reason: 'overload',
        inputs: { excessCreditsPerSecond: excess, fairShareCreditsPerSecond: share, reserveCreditsPerSecond: reserveCredits },
      });
    });
    excess -= cut;
  }
  // Load that admitted demand does not explain (work admission never saw, or a demand feed that lags)
  // still has to go: step the lowest non-critical tier that is above its floor.
  const unexplained = o.utilization * o.capacity - o.admittedTotal;
  if (excess > creditsEpsilon && unexplained > creditsEpsilon) {
    for (const priority of shedOrder.filter((p) => p !== 'critical')) {
      const floor = c.floors[priority];
      const tier = views.filter((v) => v.priority === priority && v.multiplier > floor && !proposals.has(innerKey(v.plan, v.priority)));
      if (tier.length === 0) continue;
      for (const v of tier) {
        proposals.set(innerKey(v.plan, v.priority), {
          multiplier: Math.max(v.multiplier - c.stepDownMax, floor),
          reason: 'overload',
          inputs: { excessCreditsPerSecond: excess, unexplainedCreditsPerSecond: unexplained, reserveCreditsPerSecond: reserveCredits },
        });
      }
      break;
    }
  }
  return proposals;
}

/**
 * Below the band: additive increase, critical first, then standard, then batch, each raise paid for
 * out of the headroom by the load it is expected to let in (at most the class's unmet demand). A
 * class whose demand is all admitted costs nothing to raise. Above 1 only while the fleet is idle.
 */
export function underload(ctx: ControllerContext, views: readonly ClassView[], o: Observation): Map<string, Proposal> {
  const { config, c } = ctx;
  const proposals = new Map<string, Proposal>();
  const idle = o.loadRatio < c.borrowBelowUtilization;
  const ceiling = idle ? c.borrowCap : 1;
  // Symmetrically, fill only up to the lower half of the band.
  let headroom = (c.targetUtilization - c.hysteresisBand / 2) * o.capacity - o.raiseLoad;
  // A raised limit lets each limited user through at once the burst the extra limit allows (one
  // rate period's worth, raiseBurstMs), on top of the higher rate: the tick after a raise carries
  // that much more, and the raise is paid for at that price so that it cannot overshoot the target.
  const firstTickFactor = 1 + c.raiseBurstMs / config.tickIntervalMs;
  for (const priority of restoreOrder) {
    // The smoothed load can say there is no room even when this tick was quiet: then nothing rises.
    if (headroom <= creditsEpsilon) break;
    const raises = views
      .filter((v) => v.priority === priority && v.multiplier < ceiling)
      .map((v) => {
        const step = Math.min(c.stepUpMax, ceiling - v.multiplier);
        // Admitted load grows in proportion to the multiplier while limits bind. A shed class has no
        // admitted load to scale, and admission never tightens a limit below 1 per user, so its first
        // step lets in more than proportion says: assume the larger of its whole request rate and
        // the slope last measured before it was shed, per unit of multiplier. Either way the first
        // tick carries the burst, and never more than the demand the class is being refused.
        const shed = v.multiplier === 0;
        const slope = !shed && v.admitted > creditsEpsilon ? v.admitted / v.multiplier : Math.max(v.requested, v.slope);
        const cost = Math.min(Math.max(0, v.requested - v.admitted), slope * step * firstTickFactor);
        return { view: v, step, cost };
      });
    // Classes already admitting share the headroom in proportion (a partial step is a smaller step).
    const partial = raises.filter((r) => r.view.multiplier > 0);
    const partialCost = sum(partial.map((r) => r.cost));
    const scale = partialCost <= headroom ? 1 : headroom / partialCost;
    const raised = partial.map((r) => ({ ...r, step: r.step * scale, cost: r.cost * scale }));
    headroom -= partialCost * scale;
    // A shed class comes back by a whole step or not at all (a sliver of a step out of shedding lets
    // in about as much as a whole one), heavier plans first, while the headroom lasts.
    const shed = raises.filter((r) => r.view.multiplier === 0).sort((a, b) => b.view.weight - a.view.weight);
    for (const r of shed) {
      if (r.cost > headroom) continue;
      raised.push(r);
      headroom -= r.cost;
    }
    for (const { view: v, step } of raised) {
      if (step <= 0) continue;
      const multiplier = v.multiplier + step;
      proposals.set(innerKey(v.plan, v.priority), {
        multiplier,
        reason: multiplier > 1 ? 'borrow' : 'recovery',
        inputs: { headroomCreditsPerSecond: headroom },
      });
    }
    // Strict priority on the way up too: demand this tier still cannot get because of its own cuts
    // has first call on the headroom, so a lower tier waits until it is served.
    const held = views.filter((v) => v.priority === priority && v.multiplier < 1);
    headroom -= sum(held.map((v) => Math.max(0, v.requested - v.admitted)));
  }
  return proposals;
}

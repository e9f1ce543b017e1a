// The order in which a run's nodes drain (max-unavailable-nodes at a time). Default rule:
// fewest pods to move first, then by name. Nodes that empty quickly free their slot soon, so
// the pool makes progress while heavy nodes drain; and a node whose plan moves nothing costs
// nothing. The rule is stated in the report and the log.
import type { DrainPlan, NodeCount } from '../types.js';

export const NODE_ORDER_RULE = 'fewest pods to move first, then by name';

/** Pods the plan moves off the node (evicted or migrated). */
export function podsToMove(plan: DrainPlan | undefined): number {
  return plan?.groups.reduce((n, g) => n + g.length, 0) ?? 0;
}

/** Indexes of `plans` in drain order (a permutation; stable for equal keys). */
export function drainOrder(plans: { node: string; plan?: DrainPlan }[]): number[] {
  return plans
    .map((p, i) => ({ i, node: p.node, moves: podsToMove(p.plan) }))
    .sort((a, b) => a.moves - b.moves || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.i - b.i)
    .map((x) => x.i);
}

/**
 * How many of `selected` nodes a NodeCount allows at once: a percentage rounds down (as a
 * Deployment's maxUnavailable does) but is never below 1, so the drain always progresses.
 */
export function resolveNodeCount(value: NodeCount, selected: number): number {
  const n = 'count' in value ? value.count : Math.floor((selected * value.percent) / 100);
  return Math.max(1, Math.min(n, Math.max(1, selected)));
}

// Eviction order, Karpenter-style: groups run one after the other, so that critical pods
// (DNS, CNI, CSI...) keep serving while ordinary workloads move, and DaemonSet pods go last
// within each tier (they serve the pods still on the node).
import type { PodPlan } from '../types.js';

const CRITICAL_PRIORITY_CLASSES = new Set(['system-cluster-critical', 'system-node-critical']);

export function isCritical(priorityClassName: string | undefined): boolean {
  return priorityClassName !== undefined && CRITICAL_PRIORITY_CLASSES.has(priorityClassName);
}

/** 0 non-critical, 1 non-critical DaemonSet, 2 critical, 3 critical DaemonSet. */
export function evictionTier(p: Pick<PodPlan, 'owner' | 'priorityClassName'>): number {
  const daemonset = p.owner?.kind === 'DaemonSet';
  return (isCritical(p.priorityClassName) ? 2 : 0) + (daemonset ? 1 : 0);
}

// Plain code-unit comparison: the same order on every machine, whatever its locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byPriorityThenName(a: PodPlan, b: PodPlan): number {
  return a.priority - b.priority || compareText(a.namespace, b.namespace) || compareText(a.name, b.name);
}

/**
 * Pods to evict (action 'evict' or 'migrate'), grouped by tier, in the order to run them:
 * lower spec.priority first inside a group, then namespace/name. Empty tiers are dropped, and
 * each pod's `group` is set to its index in the result.
 */
export function evictionGroups(pods: PodPlan[]): PodPlan[][] {
  const tiers: PodPlan[][] = [[], [], [], []];
  for (const p of pods) {
    if (p.action === 'evict' || p.action === 'migrate') tiers[evictionTier(p)]?.push(p);
  }
  const groups = tiers.filter((tier) => tier.length > 0).map((tier) => [...tier].sort(byPriorityThenName));
  groups.forEach((group, index) => group.forEach((p) => (p.group = index)));
  return groups;
}

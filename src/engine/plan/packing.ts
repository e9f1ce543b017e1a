// Run-wide capacity: the replacements of every pod this run moves, placed TOGETHER on the nodes
// the run leaves schedulable. planDrain's fitPod judges each pod alone ("could some node take
// it?"); two pods that each fit alone may not fit together. A greedy bin-packing, in priority
// order (highest spec.priority first, as the scheduler's queue pops them; then drain order, then
// name), each pod on the fitting node with the most free cpu left (the scheduler's default
// least-allocated scoring, roughly). A pod that fits alone but finds no room once the pods
// before it are placed gets a no-capacity finding naming the pods that took the room.
// Not a scheduler simulation: the same filters as capacity.ts, and greedy, so "fits" is "probably".
import type { V1Pod } from '@kubernetes/client-node';
import type { DrainPlan, NodeCapacity } from '../types.js';
import { allocatableOf, podRequests, rejectReason } from './capacity.js';
import { podKey } from './pod.js';

export interface PackedNode {
  plan: DrainPlan;
  /** The node's pods as planned (the objects behind plan.fits). */
  pods: V1Pod[];
}

/** How many pods that took the room a message names. */
const MAX_NAMED = 5;

/**
 * Places every pod of `nodes` (in drain order) that needs a new home; sets `placedOn` on its fit
 * and adds a no-capacity blocker to its node's plan when it fits alone but not with the others.
 * `capacity`: every node of the cluster with what is requested on it now (the run's own nodes
 * marked unschedulable). Mutates the plans; returns nothing.
 */
export function packReplacements(nodes: PackedNode[], capacity: NodeCapacity[]): void {
  interface Item {
    pod: V1Pod;
    key: string;
    order: number;
    plan: DrainPlan;
  }
  const items: Item[] = [];
  nodes.forEach(({ plan, pods }, order) => {
    const byKey = new Map(pods.map((p) => [podKey(p), p]));
    for (const fit of plan.fits) {
      const pod = byKey.get(fit.pod);
      if (pod && fit.candidates.length > 0) items.push({ pod, key: fit.pod, order, plan });
    }
  });
  items.sort((a, b) => (b.pod.spec?.priority ?? 0) - (a.pod.spec?.priority ?? 0) || a.order - b.order || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  // Copies: the plan's inputs stay as observed.
  const bins = capacity.map((c) => ({ capacity: { node: c.node, requested: { ...c.requested } }, placed: [] as string[] }));
  for (const item of items) {
    const drained = item.pod.spec?.nodeName;
    let best: (typeof bins)[number] | undefined;
    let bestFree = -Infinity;
    for (const bin of bins) {
      if (rejectReason(item.pod, bin.capacity, drained) !== undefined) continue;
      const free = allocatableOf(bin.capacity.node).cpu - bin.capacity.requested.cpuMillis;
      if (free > bestFree) {
        best = bin;
        bestFree = free;
      }
    }
    const fit = item.plan.fits.find((f) => f.pod === item.key)!;
    if (best) {
      const r = podRequests(item.pod);
      best.capacity.requested.cpuMillis += r.cpuMillis;
      best.capacity.requested.memoryBytes += r.memoryBytes;
      best.capacity.requested.pods++;
      best.placed.push(item.key);
      fit.placedOn = best.capacity.node.metadata?.name ?? '';
      continue;
    }
    // It fitted alone: on the nodes that could take it, who took the room first?
    const alone = new Set(fit.candidates);
    const takers = bins.filter((b) => alone.has(b.capacity.node.metadata?.name ?? '')).flatMap((b) => b.placed.map((p) => `${p} on ${b.capacity.node.metadata?.name}`));
    const named = takers.slice(0, MAX_NAMED).join(', ') + (takers.length > MAX_NAMED ? `, and ${takers.length - MAX_NAMED} more` : '');
    const where = fit.candidates.join(', ') + (fit.candidateCount !== undefined ? ` and ${fit.candidateCount - fit.candidates.length} more` : '');
    item.plan.blockers.push({
      kind: 'no-capacity',
      pod: item.key,
      message:
        `pod ${item.key} would stay Pending: it fits alone on ${where}, but not together with the other pods this run moves ` +
        `(placed first, by priority: ${named || 'none'}); add capacity or drain fewer nodes at once`,
      fatal: false,
    });
  }
}

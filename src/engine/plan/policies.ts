// What other tools' annotations and labels ask of a drain, read the way those tools read them:
//   karpenter.sh/do-not-disrupt: "true"                  (pod or Node)  Karpenter
//   cluster-autoscaler.kubernetes.io/safe-to-evict: "false"  (pod)     Cluster Autoscaler
//   cluster.x-k8s.io/drain: skip | wait-completed        (pod label)   Cluster API
// Pure: the planner applies them (plan.ts), and every decision they make names the annotation or
// label that made it. Where none is present, nothing here changes a verdict (kubectl parity).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { PodDecision } from './classify.js';

export const DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';
export const SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
export const DRAIN_LABEL = 'cluster.x-k8s.io/drain';

/** What Cluster API's drain label asks for a pod (its MachineDrainRule behaviours Skip and WaitCompleted). */
export type DrainLabel = 'skip' | 'wait-completed';

/**
 * The annotation that forbids disrupting this pod, as `key=value` (the words a user greps for),
 * or undefined. Karpenter honours do-not-disrupt only when it is exactly "true"; Cluster
 * Autoscaler safe-to-evict only when it is exactly "false".
 */
export function podDoNotDisrupt(pod: V1Pod): string | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[DO_NOT_DISRUPT] === 'true') return `${DO_NOT_DISRUPT}=true`;
  if (annotations[SAFE_TO_EVICT] === 'false') return `${SAFE_TO_EVICT}=false`;
  return undefined;
}

/** The Node's do-not-disrupt annotation, as `key=value`, or undefined. */
export function nodeDoNotDisrupt(node: V1Node): string | undefined {
  return node.metadata?.annotations?.[DO_NOT_DISRUPT] === 'true' ? `${DO_NOT_DISRUPT}=true` : undefined;
}

/**
 * The pod's drain label as Cluster API reads it: "skip" in any case; "wait-completed" or
 * "WaitCompleted" in any case (its first "-" ignored). Any other value is Cluster API's plain
 * drain (it only logs a warning): undefined, with the value in `unknown`.
 */
export function drainLabelOf(pod: V1Pod): { label?: DrainLabel; unknown?: string } {
  const value = pod.metadata?.labels?.[DRAIN_LABEL];
  if (value === undefined) return {};
  if (value.toLowerCase() === 'skip') return { label: 'skip' };
  if (value.replace('-', '').toLowerCase() === 'waitcompleted') return { label: 'wait-completed' };
  return { unknown: value };
}

/** The drain label as it reads in a plan's reason: `cluster.x-k8s.io/drain=skip`. */
export function drainLabelText(pod: V1Pod): string {
  return `${DRAIN_LABEL}=${pod.metadata?.labels?.[DRAIN_LABEL] ?? ''}`;
}

/**
 * The decision once the pod's drain label is applied (Cluster API runs its label after kubectl's
 * filters, and a labelled pod is never evicted, so no option is needed for it): `skip` keeps the
 * pod on the node; `wait-completed` keeps it from eviction and makes the drain wait for it to
 * finish (a finished one has nothing left to wait for: it stays). Pods that already stay or are
 * already terminating are left as they are.
 */
export function applyDrainLabel(pod: V1Pod, d: PodDecision): PodDecision {
  const { label } = drainLabelOf(pod);
  if (label === undefined || d.action === 'skip' || d.action === 'wait') return d;
  const text = drainLabelText(pod);
  if (label === 'skip') return { podClass: d.podClass, action: 'skip', reason: `label ${text}: stays on the node (Cluster API's skip)`, missing: [] };
  if (d.podClass === 'finished') return { podClass: d.podClass, action: 'skip', reason: `label ${text}: completed, not evicted`, missing: [] };
  return { podClass: d.podClass, action: 'wait-completed', reason: `label ${text}: not evicted; the drain waits until it completes`, missing: [] };
}

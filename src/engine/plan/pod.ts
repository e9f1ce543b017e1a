// Small facts about a pod that several planner modules need.
import type { V1Node, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { OwnerRef, WorkloadInfo } from '../types.js';

/** `namespace/name`, the way pods are named in blockers and reports. */
export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** The owner reference marked controller: true, whole (apiVersion and uid included). */
export function controllerRefOf(pod: V1Pod): V1OwnerReference | undefined {
  return pod.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** The owner reference marked controller: true, if any. */
export function controllerOf(pod: V1Pod): OwnerRef | undefined {
  const ref = controllerRefOf(pod);
  return ref ? { kind: ref.kind, name: ref.name } : undefined;
}

/**
 * Key of the pod's controller in PlanInput.workloads: `Kind/namespace/name`. A DaemonSet kind of
 * another API group has none (see daemonSetKeyOf): no workload the drain knows.
 */
export function workloadKeyOf(pod: V1Pod): string | undefined {
  const owner = controllerOf(pod);
  if (owner?.kind === 'DaemonSet') return daemonSetKeyOf(pod);
  return owner ? `${owner.kind}/${pod.metadata?.namespace ?? ''}/${owner.name}` : undefined;
}

/** The workload itself, `Kind/namespace/name` (a ReplicaSet's pods share their Deployment's). */
export function workloadIdentity(w: WorkloadInfo): string {
  return `${w.kind}/${w.namespace}/${w.name}`;
}

// DaemonSets were served as extensions/v1beta1 before apps/v1: the same objects, so an old
// ownerReference in either group names the DaemonSet the DaemonSet controller runs.
const DAEMONSET_GROUPS = new Set(['apps', 'extensions']);

/**
 * PlanInput.workloads key under which the pod's DaemonSet is recorded when it exists, for a pod
 * whose controllerRef is a DaemonSet of the built-in API group; undefined otherwise. A DaemonSet
 * kind of another group (OpenKruise's apps.kruise.io...) is not one the drain knows: such a pod
 * has no key, so it is never taken for a DaemonSet pod.
 */
export function daemonSetKeyOf(pod: V1Pod): string | undefined {
  const ref = controllerRefOf(pod);
  if (ref?.kind !== 'DaemonSet') return undefined;
  const group = ref.apiVersion.includes('/') ? ref.apiVersion.split('/')[0] : '';
  return DAEMONSET_GROUPS.has(group ?? '') ? `DaemonSet/${pod.metadata?.namespace ?? ''}/${ref.name}` : undefined;
}

/** Pod condition Ready=True: the pod counts toward its workload's readyReplicas. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Node condition Ready=True. Unknown (unreachable) and False both count as not ready. */
export function isNodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** metadata.deletionTimestamp in epoch ms (a Date from typed calls, a string from watch events). */
export function deletionTime(pod: V1Pod): number | undefined {
  const ts = pod.metadata?.deletionTimestamp as Date | string | undefined;
  if (ts === undefined || ts === null) return undefined;
  const ms = new Date(ts).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * How long a deletion on a NotReady node is waited for when skip-wait-for-delete-timeout is 0:
 * no kubelet runs there to confirm it, so waiting longer only holds the drain.
 */
export const NOT_READY_NODE_DELETE_WAIT_MS = 20_000;

/**
 * Epoch ms after which the pod's deletion is no longer waited for; undefined: wait for it
 * (within the drain's timeout). It depends on the pod alone, so it is the same on every pass.
 *  - skip-wait-for-delete-timeout N > 0: deletionTimestamp + N s, as kubectl's skipDeletedFilter
 *    and waitForDelete (which compare the whole seconds elapsed since deletionTimestamp with N;
 *    this differs from that by under a second). deletionTimestamp is the end of the grace period
 *    the deletion was given, so N counts from there, not from when safe-drain started waiting.
 *  - N = 0 on a NotReady node: the deletion request (deletionTimestamp minus
 *    deletionGracePeriodSeconds) + NOT_READY_NODE_DELETE_WAIT_MS; no kubelet runs the grace period.
 *  - a pod not marked for deletion yet: undefined (ask again once its deletionTimestamp shows).
 */
export function deleteWaitDeadline(pod: V1Pod, skipWaitSeconds: number, nodeReady: boolean): number | undefined {
  const deletion = deletionTime(pod);
  if (deletion === undefined) return undefined;
  if (skipWaitSeconds > 0) return deletion + skipWaitSeconds * 1000;
  if (nodeReady) return undefined;
  const requested = deletion - (pod.metadata?.deletionGracePeriodSeconds ?? 0) * 1000;
  return requested + NOT_READY_NODE_DELETE_WAIT_MS;
}

// Small facts about a pod that several planner modules need.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { OwnerRef } from '../types.js';

/** `namespace/name`, the way pods are named in blockers and reports. */
export function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
}

/** The owner reference marked controller: true, if any. */
export function controllerOf(pod: V1Pod): OwnerRef | undefined {
  const ref = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  return ref ? { kind: ref.kind, name: ref.name } : undefined;
}

/** Key of the pod's controller in PlanInput.workloads: `Kind/namespace/name`. */
export function workloadKeyOf(pod: V1Pod): string | undefined {
  const owner = controllerOf(pod);
  return owner ? `${owner.kind}/${pod.metadata?.namespace ?? ''}/${owner.name}` : undefined;
}

/** Pod condition Ready=True: the pod counts toward its workload's readyReplicas. */
export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Node condition Ready=True. Unknown (unreachable) and False both count as not ready. */
export function isNodeReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

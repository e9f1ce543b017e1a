// Set-up placement shared by the fault harness and the integration tests' deployOn.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';

/**
 * The scheduler can place a pod before it has seen cordons made just before (under load, or with
 * its node watch relisting after a fault that cut watches): each live pod off `targets` is deleted,
 * so its ReplicaSet's next pod goes to a target node. Returns the live pods on `targets`.
 */
export async function deletePodsOffTargets(core: CoreV1Api, namespace: string, pods: V1Pod[], targets: string[]): Promise<V1Pod[]> {
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  for (const p of live.filter((x) => x.spec?.nodeName !== undefined && !targets.includes(x.spec.nodeName))) {
    // Already gone is fine: the ReplicaSet replaces it either way.
    await core.deleteNamespacedPod({ namespace, name: p.metadata!.name!, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
  return live.filter((p) => targets.includes(p.spec?.nodeName ?? ''));
}

// Waiting on one workload's status (replacement Ready, rollout complete), by watching that one
// object (field selector on its name) instead of polling it.
import type { KubernetesObject, V1Deployment, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { ResourceWatch } from '../kube/watch.js';
import type { WorkloadInfo } from '../types.js';
import { waitUntil } from './abort.js';

type Workload = V1Deployment | V1StatefulSet | V1ReplicaSet;

const PLURAL: Record<string, string> = { Deployment: 'deployments', StatefulSet: 'statefulsets', ReplicaSet: 'replicasets' };

export function canWatchWorkload(kind: string): boolean {
  return kind in PLURAL;
}

export function watchWorkload(client: KubeClient, kind: string, namespace: string, name: string): ResourceWatch<Workload> {
  const plural = PLURAL[kind];
  if (!plural) throw new Error(`cannot watch workload kind ${kind}`);
  const fieldSelector = `metadata.name=${name}`;
  return client.watch<Workload>({
    path: `/apis/apps/v1/namespaces/${namespace}/${plural}`,
    fieldSelector,
    list: async () => {
      client.requests++; // a list outside the client's typed calls
      const args = { namespace, fieldSelector };
      const res =
        kind === 'Deployment'
          ? await client.apps.listNamespacedDeployment(args)
          : kind === 'StatefulSet'
            ? await client.apps.listNamespacedStatefulSet(args)
            : await client.apps.listNamespacedReplicaSet(args);
      return { items: res.items as Workload[], resourceVersion: res.metadata?.resourceVersion ?? '' };
    },
  });
}

/** Waits until `predicate` holds for the workload; the watch is stopped afterwards. */
export async function waitForWorkload(
  client: KubeClient,
  w: Pick<WorkloadInfo, 'kind' | 'namespace' | 'name'>,
  predicate: (obj: Workload) => boolean,
  signal: AbortSignal,
): Promise<void> {
  const watch = watchWorkload(client, w.kind, w.namespace, w.name);
  await watch.start();
  try {
    const key = `${w.namespace}/${w.name}`;
    await waitUntil(
      () => {
        const obj = watch.get(key);
        return obj !== undefined && predicate(obj);
      },
      (onChange) => watch.subscribe(() => onChange()),
      signal,
    );
  } finally {
    watch.stop();
  }
}

/** All desired replicas are ready (and, for a Deployment, the controller has seen the latest spec). */
export function isWorkloadReady(obj: KubernetesObject & Workload): boolean {
  const desired = obj.spec?.replicas ?? 1;
  const observed = (obj.status?.observedGeneration ?? 0) >= (obj.metadata?.generation ?? 0);
  return observed && (obj.status?.readyReplicas ?? 0) >= desired;
}

/** `kubectl rollout status` for a Deployment: new ReplicaSet fully rolled out, old pods gone. */
export function isRolloutComplete(d: V1Deployment): boolean {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status;
  return (
    (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s?.updatedReplicas ?? 0) >= desired &&
    (s?.replicas ?? 0) <= desired &&
    (s?.availableReplicas ?? 0) >= desired
  );
}

// Waiting on one workload's status (replacement Ready, rollout complete), by watching that one
// object (field selector on its name) instead of polling it.
import type {
  KubernetesObject,
  V1Deployment,
  V1DeploymentCondition,
  V1LabelSelector,
  V1Pod,
  V1PodCondition,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { ResourceWatch } from '../kube/watch.js';
import type { WorkloadInfo } from '../types.js';
import { WaitAborted, abortReason, waitUntil } from './abort.js';

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
    list: () => client.listAt<Workload>(`/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${plural}`, { fieldSelector }),
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

// ---- Waiting on a Deployment that safe-drain changed: ends on its own evidence ----

export { MigrationStuck } from '../errors.js';
import { MigrationStuck } from '../errors.js';

/**
 * How long a new pod of the Deployment may stay Unschedulable before the wait gives up. The
 * scheduler retries, and room may appear (a pod terminating elsewhere, a node autoscaler adding
 * a node, which takes minutes: such clusters want a larger grace), but a drain with `timeout: 0`
 * must not wait forever with replicas raised. Long enough for a transient first attempt.
 */
export const UNSCHEDULABLE_GRACE_MS = 30_000;

/** The Deployment's selector as a label selector string (for a pod list/watch). */
export function formatLabelSelector(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** A workload's pods (its selector: Deployment, ReplicaSet, StatefulSet), as a watched cache; lists count as client requests. */
export function watchDeploymentPods(client: KubeClient, d: { metadata?: { namespace?: string }; spec?: { selector?: V1LabelSelector } }): ResourceWatch<V1Pod> {
  const namespace = d.metadata?.namespace ?? '';
  const labelSelector = formatLabelSelector(d.spec?.selector);
  return client.watch<V1Pod>({
    path: `/api/v1/namespaces/${namespace}/pods`,
    labelSelector,
    list: () => client.listAt<V1Pod>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`, { labelSelector }),
  });
}

/** The Progressing condition when it says the rollout is stuck (the controller's own deadline). */
export function progressDeadlineExceeded(d: V1Deployment): V1DeploymentCondition | undefined {
  return d.status?.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded');
}

/**
 * Whether a paused Deployment's rollout can still finish: a paused Deployment is still scaled,
 * and once its new ReplicaSet (the one whose template carries `restartedAt`) is full size and
 * available the controller scales the old ones down; but the new one never grows while paused.
 * To be asked only once the controller has seen the paused spec (observedGeneration), so no
 * ReplicaSet it was creating before the pause is missed.
 */
export async function pausedRolloutCanFinish(client: KubeClient, d: V1Deployment, restartedAt: string): Promise<boolean> {
  const { items } = await client.listAt<V1ReplicaSet>(`/apis/apps/v1/namespaces/${encodeURIComponent(d.metadata?.namespace ?? '')}/replicasets`, {
    labelSelector: formatLabelSelector(d.spec?.selector),
  });
  const created = items.find(
    (rs) =>
      rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid) &&
      rs.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] === restartedAt,
  );
  return created !== undefined && (created.spec?.replicas ?? 0) >= (d.spec?.replicas ?? 1);
}

/** PodScheduled=False with reason Unschedulable: the scheduler found no node (its message says why). */
export function unschedulableCondition(pod: V1Pod): V1PodCondition | undefined {
  if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return undefined;
  return pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

export interface DeploymentWait {
  /** `Deployment/ns/name`, for messages. */
  id: string;
  /** The wait is over. */
  done: (d: V1Deployment) => boolean;
  /** Why the wait can never end (a promise when it takes a read to tell); undefined while it can. */
  stuck: (d: V1Deployment) => string | undefined | Promise<string | undefined>;
  /** The Deployment's pods, watched since before the change; pods it held then are not new. */
  pods: ResourceWatch<V1Pod>;
  podsBefore: ReadonlySet<string>;
  unschedulableGraceMs?: number;
  /** A bound of the wait's own, with the reason given when it passes (see scaleUp in migrate.ts). */
  deadline?: { ms: number; why: string };
}

/**
 * Waits until `done`, watching the Deployment (and its pods), with no polling. Rejects with
 * MigrationStuck as soon as there is evidence the wait can never end: `stuck` says so, the
 * Deployment is deleted, a pod created since the change stays Unschedulable for the grace, or
 * the wait's own deadline passes.
 * Rejects with WaitAborted when `signal` fires (timeout, cancellation).
 */
export async function waitForDeployment(client: KubeClient, w: Pick<WorkloadInfo, 'namespace' | 'name'>, spec: DeploymentWait, signal: AbortSignal): Promise<void> {
  const watch = watchWorkload(client, 'Deployment', w.namespace, w.name);
  await watch.start();
  const grace = spec.unschedulableGraceMs ?? UNSCHEDULABLE_GRACE_MS;
  const timers = new Map<string, NodeJS.Timeout>();
  const unsubscribe: (() => void)[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve();
      };
      const trackUnschedulableNewPods = (): void => {
        for (const pod of spec.pods.items()) {
          const uid = pod.metadata?.uid ?? '';
          const cond = spec.podsBefore.has(uid) ? undefined : unschedulableCondition(pod);
          if (!cond) {
            clearTimeout(timers.get(uid));
            timers.delete(uid);
            continue;
          }
          if (timers.has(uid)) continue;
          // Re-judged once the grace has passed (a timer per pending pod, not a polling loop).
          timers.set(
            uid,
            setTimeout(() => {
              const now = spec.pods.items().find((p) => p.metadata?.uid === uid);
              const still = now ? unschedulableCondition(now) : undefined;
              if (still) {
                finish(
                  new MigrationStuck(
                    `${spec.id}: its new pod ${pod.metadata?.namespace}/${pod.metadata?.name} stayed Unschedulable for ${grace / 1000}s ` +
                      `(scheduler: "${still.message ?? 'no message'}"): no node can take the replacement. ` +
                      `Make room, or relax the pod's affinity/nodeSelector/topology constraints, then run the drain again`,
                  ),
                );
              }
            }, grace),
          );
        }
      };
      const check = () => {
        if (settled) return;
        const d = watch.get(`${w.namespace}/${w.name}`) as V1Deployment | undefined;
        if (!d) return finish(new MigrationStuck(`${spec.id} was deleted while safe-drain waited for it`));
        if (spec.done(d)) return finish();
        const why = spec.stuck(d);
        if (typeof why === 'string') return finish(new MigrationStuck(`${spec.id}: ${why}`));
        if (why) {
          why.then(
            (reason) => reason && finish(new MigrationStuck(`${spec.id}: ${reason}`)),
            (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
          );
        }
        trackUnschedulableNewPods();
      };
      if (spec.deadline) {
        const { ms, why } = spec.deadline;
        const timer = setTimeout(() => finish(new MigrationStuck(`${spec.id}: ${why}`)), ms);
        unsubscribe.push(() => clearTimeout(timer));
      }
      const onAbort = () => finish(new WaitAborted(abortReason(signal)));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      unsubscribe.push(() => signal.removeEventListener('abort', onAbort));
      unsubscribe.push(watch.subscribe(check));
      unsubscribe.push(spec.pods.subscribe(check));
      check();
    });
  } finally {
    for (const u of unsubscribe) u();
    for (const t of timers.values()) clearTimeout(t);
    watch.stop();
  }
}

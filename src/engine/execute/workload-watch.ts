// Waiting on a Deployment that safe-drain changed (replacement Ready, rollout complete), by
// watching that one object and its pods instead of polling. Every such wait ends on its own
// evidence (MigrationStuck, naming the workload and what to do), never only on the run's timeout.
import type { V1Deployment, V1DeploymentCondition, V1LabelSelector, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { MigrationStuck } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { Watch } from '../kube/watch.js';
import type { WorkloadInfo } from '../types.js';
import { waitFor } from '../wait.js';

export { MigrationStuck } from '../errors.js';

/** What waitForDeployment needs of the API. */
export type DeploymentWatchApi = Pick<KubeClient, 'watchWorkload' | 'watchPodsMatching' | 'listReplicaSetsMatching'>;

/**
 * How long a new pod of the Deployment may stay Unschedulable before the wait gives up. The
 * scheduler retries, and room may appear (a pod terminating elsewhere, a node autoscaler adding
 * a node, which takes minutes: such clusters want a larger grace), but a drain with `timeout: 0`
 * must not wait forever with replicas raised. Long enough for a transient first attempt.
 */
export const UNSCHEDULABLE_GRACE_MS = 30_000;

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

/** A workload's pods (its selector), as a watched cache. */
export function watchWorkloadPods(api: Pick<KubeClient, 'watchPodsMatching'>, w: { metadata?: { namespace?: string }; spec?: { selector?: V1LabelSelector } }): Watch<V1Pod> {
  return api.watchPodsMatching(w.metadata?.namespace ?? '', formatLabelSelector(w.spec?.selector));
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
export async function pausedRolloutCanFinish(api: Pick<KubeClient, 'listReplicaSetsMatching'>, d: V1Deployment, restartedAt: string): Promise<boolean> {
  const items = await api.listReplicaSetsMatching(d.metadata?.namespace ?? '', formatLabelSelector(d.spec?.selector));
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
  pods: Watch<V1Pod>;
  podsBefore: ReadonlySet<string>;
  unschedulableGraceMs?: number;
  /** A bound of the wait's own, with the reason given when it passes. */
  deadline?: { ms: number; why: string };
}

/** New pods (not in `before`) the scheduler cannot place, with when each was first seen so. */
class UnschedulableNewPods {
  private readonly since = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly graceMs: number,
  ) {}

  /** The pod stuck for the whole grace, if any; updates what it has seen. */
  overdue(pods: V1Pod[], before: ReadonlySet<string>): { pod: V1Pod; message: string } | undefined {
    const now = this.clock.now();
    const seen = new Set<string>();
    let found: { pod: V1Pod; message: string } | undefined;
    for (const pod of pods) {
      const uid = pod.metadata?.uid ?? '';
      const cond = before.has(uid) ? undefined : unschedulableCondition(pod);
      if (!cond) continue;
      seen.add(uid);
      const first = this.since.get(uid) ?? now;
      this.since.set(uid, first);
      if (now - first >= this.graceMs) found ??= { pod, message: cond.message ?? 'no message' };
    }
    for (const uid of [...this.since.keys()]) if (!seen.has(uid)) this.since.delete(uid);
    return found;
  }

  /** When the earliest pod seen unschedulable reaches the grace. */
  nextDue(): number | undefined {
    const first = Math.min(...this.since.values());
    return Number.isFinite(first) ? first + this.graceMs : undefined;
  }
}

/**
 * Waits until `done`, watching the Deployment (and its pods). Rejects with MigrationStuck as soon
 * as there is evidence the wait can never end: `stuck` says so, the Deployment is deleted, a pod
 * created since the change stays Unschedulable for the grace, or the wait's own deadline passes.
 * Rejects with WaitAborted when `signal` fires (timeout, cancellation).
 */
export async function waitForDeployment(api: DeploymentWatchApi, clock: Clock, w: Pick<WorkloadInfo, 'namespace' | 'name'>, spec: DeploymentWait, signal: AbortSignal): Promise<void> {
  const watch = api.watchWorkload<V1Deployment>('Deployment', w.namespace, w.name);
  await watch.start();
  const grace = spec.unschedulableGraceMs ?? UNSCHEDULABLE_GRACE_MS;
  const unschedulable = new UnschedulableNewPods(clock, grace);
  const deadlineAt = spec.deadline ? clock.now() + spec.deadline.ms : undefined;
  // A reason found by a read (`stuck` returning a promise) ends the wait at the next look.
  let foundStuck: string | undefined;
  let recheck: (() => void) | undefined;
  const stuck = (why: string) => new MigrationStuck(`${spec.id}: ${why}`);
  try {
    await waitFor<true>({
      signal,
      clock,
      subscribe: (changed) => {
        recheck = changed;
        const a = watch.subscribe(changed);
        const b = spec.pods.subscribe(changed);
        return () => {
          a();
          b();
        };
      },
      check: () => {
        if (foundStuck !== undefined) throw stuck(foundStuck);
        const d = watch.get(`${w.namespace}/${w.name}`);
        if (!d) throw new MigrationStuck(`${spec.id} was deleted while safe-drain waited for it`);
        if (spec.done(d)) return true;
        const why = spec.stuck(d);
        if (typeof why === 'string') throw stuck(why);
        why?.then(
          (reason) => {
            if (reason === undefined) return;
            foundStuck = reason;
            recheck?.();
          },
          (err: unknown) => {
            foundStuck = `could not be judged: ${(err as Error).message}`;
            recheck?.();
          },
        );
        const late = unschedulable.overdue(spec.pods.items(), spec.podsBefore);
        if (late) {
          throw stuck(
            `its new pod ${late.pod.metadata?.namespace}/${late.pod.metadata?.name} stayed Unschedulable for ${grace / 1000}s (scheduler: "${late.message}"): ` +
              "no node can take the replacement. Make room, or relax the pod's affinity/nodeSelector/topology constraints, then run the drain again",
          );
        }
        if (deadlineAt !== undefined && clock.now() >= deadlineAt) throw stuck(spec.deadline!.why);
        return undefined;
      },
      recheckAt: () => {
        const times = [unschedulable.nextDue(), deadlineAt].filter((t): t is number => t !== undefined);
        return times.length ? Math.min(...times) : undefined;
      },
    });
  } finally {
    watch.stop();
  }
}

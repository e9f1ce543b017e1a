// Zero-downtime migration of a Deployment whose eviction would leave it with no ready replica
// (one replica, or a PDB with no disruption to spare): bring the replacement up elsewhere first.
// The method is chosen by plan/migration.ts on the live object (the plan used the same rules):
//
//  - rollout restart (kubectl rollout restart's pod-template annotation) when the strategy adds
//    a pod before removing one: the Deployment controller replaces the pods, new first, old
//    second, with the node cordoned;
//  - otherwise a temporary scale-up by the number of pods moved, wait until as many more pods
//    are Ready as were Ready among the moved ones, evict the old pods (the budget now allows it),
//    and restore `replicas` exactly (restore.ts), also on failure, timeout or cancellation. The
//    raise carries a marker on the object, so a crash leaves something the next run restores;
//  - an HPA-managed Deployment is never scaled by hand (the HPA would undo it).
//
// Every write carries the resourceVersion it was computed from (optimistic concurrency), and
// every wait ends on its own evidence (waitForDeployment): never forever with replicas raised.
import type { V1Deployment, V1DeploymentCondition, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { statusCode } from '../kube/errors.js';
import type { ResourceWatch } from '../kube/watch.js';
import { chooseMigrationFor, rolloutStrategy, type MigrationChoice } from '../plan/migration.js';
import type { Logger, WorkloadChange, WorkloadInfo } from '../types.js';
import { ANNOTATION_MIGRATION, MAX_CONFLICT_RETRIES, raiseMetadata, raiseOf, restoreRaise, type TemporaryRaise } from './restore.js';
import { MigrationStuck, isRolloutComplete, pausedRolloutCanFinish, progressDeadlineExceeded, waitForDeployment, watchDeploymentPods } from './workload-watch.js';

export { chooseMigration, resolveIntOrPercent, type MigrationMethod } from '../plan/migration.js';
export { ANNOTATION_MIGRATION, ANNOTATION_ORIGINAL_REPLICAS } from './restore.js';
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** The API server's default for spec.progressDeadlineSeconds. */
const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

export interface MigrationContext {
  client: KubeClient;
  logger: Logger;
  node: string;
  dryRun: boolean;
  signal: AbortSignal;
  /** Evicts the old pods of the workload (with budget waits) once the replacement is up. */
  evictOldPods: () => Promise<void>;
  /** Called as soon as the workload is changed, so a failure later still reports the change. */
  record: (change: WorkloadChange) => void;
  /** How long a new pod may stay Unschedulable before the migration gives up (default UNSCHEDULABLE_GRACE_MS). */
  unschedulableGraceMs?: number;
}

/** Pods of the Deployment being moved off the node, and how many of them are Ready. */
export interface MovingPods {
  total: number;
  ready: number;
}

/**
 * Migrates `w` off the node. Returns the change made to the workload (for the report); the
 * old pods are gone or evicted when it resolves. A change with restored:false means a
 * temporary raise could not be undone: the caller must fail the run.
 */
export async function migrateDeployment(ctx: MigrationContext, w: WorkloadInfo, moving: MovingPods): Promise<WorkloadChange> {
  const { client, logger } = ctx;
  const id = `Deployment/${w.namespace}/${w.name}`;
  const d = await client.getDeployment(w.namespace, w.name);
  const choice = chooseMigrationFor(rolloutStrategy(d), w.hpa);
  logger.info(`${id}: ${choice.method} (${choice.why})`);

  if (choice.method === 'evict') {
    const change: WorkloadChange = { workload: id, change: 'none: plain eviction', restored: true, message: choice.why };
    ctx.record(change);
    await ctx.evictOldPods();
    return change;
  }
  // The Deployment's pods, watched from before the change: pods that appear later are the new
  // ones, whose scheduling is evidence for the wait. A dry run waits for nothing.
  const pods = ctx.dryRun ? undefined : watchDeploymentPods(client, d);
  try {
    await pods?.start();
    const podsBefore = new Set((pods?.items() ?? []).map((p) => p.metadata?.uid ?? ''));
    return choice.method === 'rollout-restart'
      ? await rolloutRestart(ctx, w, choice, moving, pods, podsBefore)
      : await scaleUp(ctx, w, choice, moving, pods, podsBefore);
  } finally {
    pods?.stop();
  }
}

/** Runs `write` on a fresh read of the Deployment, again on conflict (409), a bounded number of times. */
async function withFreshDeployment<T>(client: KubeClient, w: WorkloadInfo, write: (d: V1Deployment) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const d = await client.getDeployment(w.namespace, w.name);
    try {
      return await write(d);
    } catch (err) {
      if (statusCode(err) !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw err;
    }
  }
}

/** A ProgressDeadlineExceeded that was not there before the change (an old one says nothing about ours). */
function newDeadlineExceeded(d: V1Deployment, before: V1DeploymentCondition | undefined): V1DeploymentCondition | undefined {
  const now = progressDeadlineExceeded(d);
  if (!now) return undefined;
  const same = before && String(before.lastUpdateTime) === String(now.lastUpdateTime) && String(before.lastTransitionTime) === String(now.lastTransitionTime);
  return same ? undefined : now;
}

async function rolloutRestart(
  ctx: MigrationContext,
  w: WorkloadInfo,
  choice: MigrationChoice,
  moving: MovingPods,
  pods: ResourceWatch<V1Pod> | undefined,
  podsBefore: ReadonlySet<string>,
): Promise<WorkloadChange> {
  const { client, node, dryRun, signal } = ctx;
  const id = `Deployment/${w.namespace}/${w.name}`;
  const stamp = new Date().toISOString();
  const note = `rollout restart by safe-drain to move ${moving.total} pod(s) off node ${node} at ${stamp}`;
  let deadlineBefore: V1DeploymentCondition | undefined;
  const d = await withFreshDeployment(client, w, async (fresh) => {
    // Decided again on what is written against: a Deployment paused meanwhile would never roll.
    const again = chooseMigrationFor(rolloutStrategy(fresh), w.hpa);
    if (again.method !== 'rollout-restart') throw new MigrationStuck(`${id}: cannot be moved by a rollout restart any more (${again.why}); run the drain again`);
    deadlineBefore = progressDeadlineExceeded(fresh);
    return client.patchDeployment(
      w.namespace,
      w.name,
      {
        metadata: { resourceVersion: fresh.metadata?.resourceVersion, annotations: { [ANNOTATION_MIGRATION]: note } },
        spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: stamp } } } },
      },
      dryRun,
    );
  });
  const change: WorkloadChange = dryRun
    ? { workload: id, change: 'rollout restart (dry run)', restored: true, message: choice.why }
    : { workload: id, change: 'rollout restart', restored: true, message: `${choice.why}; nothing to undo (the pod template carries ${ANNOTATION_RESTARTED_AT}=${stamp})` };
  ctx.record(change);
  if (dryRun || !pods) return change;
  await event(ctx, d, 'SafeDrainRolloutRestart', note);
  // The rollout removes the old pods itself; any still terminating are waited for by the caller.
  let pausedJudged: number | undefined;
  await waitForDeployment(
    client,
    w,
    {
      id,
      done: (obj) => isRolloutComplete(obj),
      stuck: (obj) => {
        const deadline = newDeadlineExceeded(obj, deadlineBefore);
        if (deadline) return `its rollout restart stopped progressing (ProgressDeadlineExceeded: ${deadline.message ?? 'no message'}); see kubectl -n ${w.namespace} rollout status deployment/${w.name}`;
        // Paused mid-rollout: once the controller has seen the pause, one read per generation
        // tells whether the rollout can still finish (see pausedRolloutCanFinish).
        const generation = obj.metadata?.generation ?? 0;
        if (!obj.spec?.paused || (obj.status?.observedGeneration ?? 0) < generation || pausedJudged === generation) return undefined;
        pausedJudged = generation;
        return pausedRolloutCanFinish(client, obj, stamp).then((canFinish) => {
          return canFinish
            ? undefined
            : `was paused while its rollout restart was under way: a paused Deployment never rolls further, so its old pods stay on node ${node}. Resume it (kubectl -n ${w.namespace} rollout resume deployment/${w.name}) and run the drain again`;
        });
      },
      pods,
      podsBefore,
      unschedulableGraceMs: ctx.unschedulableGraceMs,
    },
    signal,
  );
  return change;
}

async function scaleUp(
  ctx: MigrationContext,
  w: WorkloadInfo,
  choice: MigrationChoice,
  moving: MovingPods,
  pods: ResourceWatch<V1Pod> | undefined,
  podsBefore: ReadonlySet<string>,
): Promise<WorkloadChange> {
  const { client, logger, node, dryRun, signal } = ctx;
  const id = `Deployment/${w.namespace}/${w.name}`;
  let raise: TemporaryRaise | undefined;
  let readyBefore = 0;
  let deadlineBefore: V1DeploymentCondition | undefined;
  let note = '';
  const d = await withFreshDeployment(client, w, async (fresh) => {
    const current = fresh.spec?.replicas ?? 1;
    raise = undefined;
    const leftover = raiseOf(fresh);
    if (leftover && current !== leftover.raised) {
      throw new MigrationStuck(
        `${id}: carries safe-drain's marker of a temporary raise (original ${leftover.original}, raised to ${leftover.raised} for node ${leftover.node}) ` +
          `but replicas is now ${current}: someone changed it since, so safe-drain will not guess the original. ` +
          `Set the replicas you want, remove the marker (kubectl -n ${w.namespace} label deployment/${w.name} safe-drain.io/scaled-), then run the drain again`,
      );
    }
    // A raise still in effect (a run for another node was interrupted): its original stays the
    // original, so a rerun never ratchets replicas up.
    if (leftover) logger.warn(`${id}: already raised by safe-drain from ${leftover.original} to ${current} for node ${leftover.node}; raising on top, restoring to ${leftover.original}`);
    raise = { original: leftover?.original ?? current, raised: current + moving.total, node };
    readyBefore = fresh.status?.readyReplicas ?? 0;
    deadlineBefore = progressDeadlineExceeded(fresh);
    note = `replicas ${current} → ${raise.raised} by safe-drain to move ${moving.total} pod(s) off node ${node}; restored to ${raise.original} when done`;
    return client.patchDeployment(
      w.namespace,
      w.name,
      { metadata: raiseMetadata(raise, note, fresh.metadata?.resourceVersion), spec: { replicas: raise.raised } },
      dryRun,
    );
  }).catch(async (err: unknown) => {
    // The write may have landed though its answer was lost: undo it if the object says so.
    if (raise && !dryRun && statusCode(err) !== 409) await restoreRaise(client, logger, w.namespace, w.name, { dryRun: false, expected: raise });
    throw err;
  });
  const { original, raised } = raise!;
  if (dryRun || !pods) {
    const change: WorkloadChange = { workload: id, change: `replicas ${original} → ${raised} (dry run)`, restored: true, message: choice.why };
    ctx.record(change);
    return change;
  }
  const change: WorkloadChange = { workload: id, change: `replicas ${original} → ${raised} → ${original}`, restored: false, message: choice.why };
  ctx.record(change);
  await event(ctx, d, 'SafeDrainScaleUp', note);
  // Enough when as many more pods are Ready as were Ready among the moved ones: other replicas
  // may be Pending or crash-looping, and the moved pods themselves may not be Ready.
  const readyNeeded = readyBefore + moving.ready;
  const progressDeadlineSeconds = d.spec?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  try {
    await waitForDeployment(
      client,
      w,
      {
        id,
        done: (obj) => (obj.status?.readyReplicas ?? 0) >= readyNeeded,
        stuck: (obj) => {
          const replicas = obj.spec?.replicas ?? 1;
          if (replicas !== raised) {
            return `replicas was changed to ${replicas} by someone else while safe-drain waited for its ${raised} (a GitOps controller or an HPA reverting it?); safe-drain stopped its migration`;
          }
          const deadline = newDeadlineExceeded(obj, deadlineBefore);
          if (deadline) return `stopped progressing while scaled up to ${raised} (ProgressDeadlineExceeded: ${deadline.message ?? 'no message'})`;
          return undefined;
        },
        pods,
        podsBefore,
        unschedulableGraceMs: ctx.unschedulableGraceMs,
        // The controller reports ProgressDeadlineExceeded, but not for a paused Deployment (which
        // it still scales): its own progressDeadlineSeconds bounds every scale-up wait here too.
        deadline: {
          ms: progressDeadlineSeconds * 1000,
          why: `its new pods were not Ready within its progressDeadlineSeconds (${progressDeadlineSeconds}s) after replicas was raised to ${raised}; see kubectl -n ${w.namespace} get pods`,
        },
      },
      signal,
    );
    await ctx.evictOldPods();
  } finally {
    const restored = await restoreRaise(client, logger, w.namespace, w.name, { dryRun: false, expected: raise });
    change.restored = restored.ok;
    change.message = `${choice.why}; ${restored.message}`;
  }
  return change;
}

async function event(ctx: MigrationContext, d: V1Deployment, reason: string, message: string): Promise<void> {
  try {
    await ctx.client.workloadEvent('Deployment', d.metadata?.namespace ?? '', d.metadata?.name ?? '', d.metadata?.uid, reason, message);
  } catch (err) {
    ctx.logger.debug(`event on Deployment ${d.metadata?.name} not recorded: ${(err as Error).message}`);
  }
}

// Zero-downtime migration of a Deployment whose eviction would leave it with no ready replica
// (one replica, or a PDB with no disruption to spare): bring the replacement up elsewhere first.
//
//  - rollout restart (kubectl rollout restart's pod-template annotation) when the strategy adds
//    a pod before removing one (maxSurge >= 1 and maxUnavailable resolving to 0): the Deployment
//    controller replaces the pod, new first, old second, with the node cordoned;
//  - otherwise scale up by the number of pods on the node, wait for them to be Ready, evict the
//    old pods (the budget now allows it), and restore `replicas` exactly, also on failure,
//    timeout or cancellation.
// An HPA-managed Deployment is never scaled by hand (the HPA would undo it): it gets the rollout
// path when it can surge and a plain eviction otherwise, and the plan says which.
import type { V1Deployment } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import type { Logger, WorkloadChange, WorkloadInfo } from '../types.js';
import { isRolloutComplete, isWorkloadReady, waitForWorkload } from './workload-watch.js';

export const ANNOTATION_MIGRATION = 'safe-drain.io/migration';
export const ANNOTATION_ORIGINAL_REPLICAS = 'safe-drain.io/original-replicas';
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';

export type MigrationMethod = 'rollout-restart' | 'scale-up' | 'evict';

/** Resolves an int-or-percent rollout parameter against `replicas` (surge rounds up, unavailable down). */
export function resolveIntOrPercent(value: number | string | undefined, fallback: string, replicas: number, roundUp: boolean): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const pct = /^(\d+)%$/.exec(v);
  if (!pct) return Number(v) || 0;
  const exact = (Number(pct[1]) * replicas) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function chooseMigration(d: V1Deployment, hpa: string | undefined): { method: MigrationMethod; why: string } {
  const replicas = d.spec?.replicas ?? 1;
  const strategy = d.spec?.strategy;
  let surge = 0;
  let unavailable = 0;
  if (strategy?.type !== 'Recreate') {
    surge = resolveIntOrPercent(strategy?.rollingUpdate?.maxSurge, '25%', replicas, true);
    unavailable = resolveIntOrPercent(strategy?.rollingUpdate?.maxUnavailable, '25%', replicas, false);
    if (surge === 0 && unavailable === 0) unavailable = 1; // what the Deployment controller does
  }
  if (surge >= 1 && unavailable === 0) {
    return { method: 'rollout-restart', why: `strategy surges (maxSurge ${surge}, maxUnavailable 0): a rollout brings the new pod up before removing the old` };
  }
  if (hpa) {
    return {
      method: 'evict',
      why: `HPA ${hpa} manages the replicas and the strategy cannot surge without unavailability; scaling by hand would fight the HPA, so the pod is evicted (expect downtime unless another replica is ready)`,
    };
  }
  return { method: 'scale-up', why: `strategy cannot surge safely (${strategy?.type === 'Recreate' ? 'Recreate' : `maxSurge ${surge}, maxUnavailable ${unavailable}`}): replicas are raised temporarily, then restored` };
}

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
}

/**
 * Migrates `w` off the node. Returns the change made to the workload (for the report); the
 * old pods are gone or evicted when it resolves.
 */
export async function migrateDeployment(ctx: MigrationContext, w: WorkloadInfo, podsOnNode: number): Promise<WorkloadChange> {
  const { client, logger, node, dryRun, signal } = ctx;
  const id = `Deployment/${w.namespace}/${w.name}`;
  const d = await client.getDeployment(w.namespace, w.name);
  const { method, why } = chooseMigration(d, w.hpa);
  logger.info(`${id}: ${method} (${why})`);
  const stamp = new Date().toISOString();

  if (method === 'evict') {
    const change: WorkloadChange = { workload: id, change: 'none: plain eviction', restored: true, message: why };
    ctx.record(change);
    await ctx.evictOldPods();
    return change;
  }

  if (method === 'rollout-restart') {
    const note = `rollout restart by safe-drain to move ${podsOnNode} pod(s) off node ${node} at ${stamp}`;
    await client.patchDeployment(
      w.namespace,
      w.name,
      {
        metadata: { annotations: { [ANNOTATION_MIGRATION]: note } },
        spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: stamp } } } },
      },
      dryRun,
    );
    const change: WorkloadChange = dryRun
      ? { workload: id, change: 'rollout restart (dry run)', restored: true, message: why }
      : { workload: id, change: 'rollout restart', restored: true, message: `${why}; nothing to undo (the pod template carries ${ANNOTATION_RESTARTED_AT}=${stamp})` };
    ctx.record(change);
    if (dryRun) return change;
    await event(ctx, d, 'SafeDrainRolloutRestart', note);
    // The rollout removes the old pods itself; any still terminating are waited for by the caller.
    await waitForWorkload(client, w, (obj) => isRolloutComplete(obj as V1Deployment), signal);
    return change;
  }

  // scale-up
  const original = d.spec?.replicas ?? 1;
  const raised = original + podsOnNode;
  const note = `replicas ${original} → ${raised} by safe-drain to move ${podsOnNode} pod(s) off node ${node}; restored to ${original} when done`;
  await client.patchDeployment(
    w.namespace,
    w.name,
    { metadata: { annotations: { [ANNOTATION_MIGRATION]: note, [ANNOTATION_ORIGINAL_REPLICAS]: String(original) } }, spec: { replicas: raised } },
    dryRun,
  );
  if (dryRun) {
    const change: WorkloadChange = { workload: id, change: `replicas ${original} → ${raised} (dry run)`, restored: true, message: why };
    ctx.record(change);
    return change;
  }
  const change: WorkloadChange = { workload: id, change: `replicas ${original} → ${raised} → ${original}`, restored: false, message: why };
  ctx.record(change);
  await event(ctx, d, 'SafeDrainScaleUp', note);
  try {
    await waitForWorkload(client, w, (obj) => isWorkloadReady(obj as V1Deployment) && (obj.status?.readyReplicas ?? 0) >= raised, signal);
    await ctx.evictOldPods();
  } finally {
    // Restore even when the wait failed, timed out or was cancelled: a fresh request, not tied to `signal`.
    const restored = await restoreReplicas(ctx, w, raised, original);
    change.restored = restored.ok;
    change.message = `${why}; ${restored.message}`;
  }
  return change;
}

async function restoreReplicas(
  ctx: MigrationContext,
  w: WorkloadInfo,
  raised: number,
  original: number,
): Promise<{ ok: boolean; message: string }> {
  const { client, logger } = ctx;
  const id = `Deployment/${w.namespace}/${w.name}`;
  // The Deployment controller writes status all the time, so the optimistic lock below can
  // conflict; re-read and retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      const current = await client.getDeployment(w.namespace, w.name);
      if ((current.spec?.replicas ?? 1) !== raised) {
        const msg = `replicas is now ${current.spec?.replicas}, not the ${raised} safe-drain set: someone else changed it, so it was left as is (original was ${original})`;
        logger.warn(`${id}: ${msg}`);
        return { ok: false, message: msg };
      }
      await client.patchDeployment(
        w.namespace,
        w.name,
        {
          metadata: {
            resourceVersion: current.metadata?.resourceVersion, // optimistic lock: never clobber a concurrent change of replicas
            annotations: { [ANNOTATION_MIGRATION]: `replicas restored to ${original} by safe-drain at ${new Date().toISOString()}`, [ANNOTATION_ORIGINAL_REPLICAS]: null },
          },
          spec: { replicas: original },
        },
        false,
      );
      await event(ctx, current, 'SafeDrainScaleRestored', `replicas restored to ${original} by safe-drain`);
      return { ok: true, message: `replicas restored to ${original}` };
    } catch (err) {
      if (statusCode(err) === 409 && attempt < 10) continue;
      const msg = `could not restore replicas to ${original}: ${describeApiError(err)}. Restore it by hand: kubectl -n ${w.namespace} scale deployment/${w.name} --replicas=${original}`;
      logger.error(`${id}: ${msg}`);
      return { ok: false, message: msg };
    }
  }
}

async function event(ctx: MigrationContext, d: V1Deployment, reason: string, message: string): Promise<void> {
  try {
    await ctx.client.workloadEvent('Deployment', d.metadata?.namespace ?? '', d.metadata?.name ?? '', d.metadata?.uid, reason, message);
  } catch (err) {
    ctx.logger.debug(`event on Deployment ${d.metadata?.name} not recorded: ${(err as Error).message}`);
  }
}

// A temporary replica raise (surge migration by scale-up) is written to the Deployment together
// with a marker: label safe-drain.io/scaled=true (cheap to find with a label selector) and
// annotations with the original replicas, the raised value, the nodes it serves and the run
// that made it (so a write retried after a lost answer knows its own raise). Whatever ends the run
// (success, failure, timeout, cancel, SIGKILL), the marker stays until the raise is undone, so
// the next run (drain, uncordon, the Action's post step) finds and restores it exactly.
//
// One restore for every caller (migration's finally, restoreLeftoverChanges): replicas go back
// to the original only while they still hold the raised value, with optimistic concurrency;
// a value someone else set is never overwritten, and its marker is never removed silently.
import type { V1Deployment } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';

/** What restoring a raise needs of the API. */
export type RestoreApi = Pick<KubeClient, 'getDeployment' | 'patchDeployment' | 'workloadEvent' | 'listDeploymentsLabelled' | 'unbounded'>;
import { describeApiError, statusCode } from '../kube/errors.js';
import type { Logger, WorkloadChange } from '../types.js';

export const LABEL_SCALED = 'safe-drain.io/scaled';
export const ANNOTATION_ORIGINAL_REPLICAS = 'safe-drain.io/original-replicas';
export const ANNOTATION_RAISED_REPLICAS = 'safe-drain.io/raised-replicas';
/** The nodes the raise serves, comma-separated (one run's pods of the Deployment on several nodes share it). */
export const ANNOTATION_SCALED_FOR_NODE = 'safe-drain.io/scaled-for-node';
/** The run that made the raise (its drain-lock holder id). */
export const ANNOTATION_SCALED_BY_RUN = 'safe-drain.io/scaled-by-run';
/** Human note of the last change safe-drain made (kept after a restore, as history). */
export const ANNOTATION_MIGRATION = 'safe-drain.io/migration';

/** Conflicts (409) retried by re-reading: the Deployment controller writes status all the time. */
export const MAX_CONFLICT_RETRIES = 10;

/** A temporary raise as recorded on the Deployment. */
export interface TemporaryRaise {
  original: number;
  raised: number;
  /** The nodes whose pods it moves (empty when an old marker names none). */
  nodes: string[];
  /** The run that made it; absent on markers written before runs were recorded. */
  run?: string;
}

/** The raise recorded on `d`, or undefined (no marker, or a marker that does not parse). */
export function raiseOf(d: V1Deployment): TemporaryRaise | undefined {
  const a = d.metadata?.annotations ?? {};
  const original = Number(a[ANNOTATION_ORIGINAL_REPLICAS]);
  const raised = Number(a[ANNOTATION_RAISED_REPLICAS]);
  if (a[ANNOTATION_ORIGINAL_REPLICAS] === undefined || !Number.isInteger(original) || original < 0) return undefined;
  const nodes = (a[ANNOTATION_SCALED_FOR_NODE] ?? '').split(',').filter((n) => n !== '');
  return { original, raised: Number.isInteger(raised) ? raised : NaN, nodes, ...(a[ANNOTATION_SCALED_BY_RUN] && { run: a[ANNOTATION_SCALED_BY_RUN] }) };
}

/** Whether `d` carries any part of safe-drain's marker (label or original-replicas annotation). */
export function hasRaiseMarker(d: V1Deployment): boolean {
  return d.metadata?.labels?.[LABEL_SCALED] !== undefined || d.metadata?.annotations?.[ANNOTATION_ORIGINAL_REPLICAS] !== undefined;
}

/** The metadata written with the raise, in the same write as spec.replicas. */
export function raiseMetadata(r: TemporaryRaise, note: string, resourceVersion: string | undefined): object {
  return {
    resourceVersion, // optimistic lock: a concurrent change of replicas makes this write fail (409), never lost
    labels: { [LABEL_SCALED]: 'true' },
    annotations: {
      [ANNOTATION_ORIGINAL_REPLICAS]: String(r.original),
      [ANNOTATION_RAISED_REPLICAS]: String(r.raised),
      [ANNOTATION_SCALED_FOR_NODE]: r.nodes.join(','),
      [ANNOTATION_SCALED_BY_RUN]: r.run ?? null,
      [ANNOTATION_MIGRATION]: note,
    },
  };
}

function clearedMarker(note: string, resourceVersion: string | undefined): object {
  return {
    resourceVersion,
    labels: { [LABEL_SCALED]: null },
    annotations: {
      [ANNOTATION_ORIGINAL_REPLICAS]: null,
      [ANNOTATION_RAISED_REPLICAS]: null,
      [ANNOTATION_SCALED_FOR_NODE]: null,
      [ANNOTATION_SCALED_BY_RUN]: null,
      [ANNOTATION_MIGRATION]: note,
    },
  };
}

export type RestoreDecision =
  | { action: 'restore'; raise: TemporaryRaise } // replicas still at the raised value: set the original
  | { action: 'clear-marker'; raise: TemporaryRaise } // replicas already back at the original: only the marker is left
  | { action: 'leave'; why: string } // someone else's value, or not our raise: touch nothing
  | { action: 'nothing' }; // no marker: nothing to restore

/**
 * What to do with `d` (pure). `expected` is the raise this process made, when it made one: a
 * marker with another raised value belongs to someone else (another run re-raised it).
 */
export function decideRestore(d: V1Deployment, expected?: TemporaryRaise): RestoreDecision {
  const marker = raiseOf(d);
  const replicas = d.spec?.replicas ?? 1;
  if (!marker) {
    if (hasRaiseMarker(d)) return { action: 'leave', why: `its safe-drain marker cannot be read (replicas is ${replicas})` };
    if (expected && replicas === expected.raised) {
      return { action: 'leave', why: `its safe-drain marker was removed by someone else while replicas is still the raised ${replicas} (original ${expected.original})` };
    }
    return { action: 'nothing' };
  }
  if (expected && marker.raised !== expected.raised) {
    return { action: 'leave', why: `its marker now records a raise to ${marker.raised}, not the ${expected.raised} this run set (another run raised it again)` };
  }
  if (replicas === marker.raised) return { action: 'restore', raise: marker };
  if (replicas === marker.original) return { action: 'clear-marker', raise: marker };
  return {
    action: 'leave',
    why: `replicas is now ${replicas}, not the ${marker.raised} safe-drain set (original ${marker.original}): someone else changed it`,
  };
}

/** How to undo by hand what `decideRestore` left. */
function manualFix(namespace: string, name: string, original: number | undefined): string {
  const scale = original !== undefined ? `set the replicas you want (the original was ${original}: kubectl -n ${namespace} scale deployment/${name} --replicas=${original}), then ` : '';
  return (
    `Check Deployment ${namespace}/${name}: ${scale}remove safe-drain's marker: ` +
    `kubectl -n ${namespace} label deployment/${name} ${LABEL_SCALED}- && ` +
    `kubectl -n ${namespace} annotate deployment/${name} ${ANNOTATION_ORIGINAL_REPLICAS}- ${ANNOTATION_RAISED_REPLICAS}- ${ANNOTATION_SCALED_FOR_NODE}- ${ANNOTATION_SCALED_BY_RUN}-`
  );
}

export interface RestoreResult {
  ok: boolean;
  /** e.g. "replicas 2 → 1" */
  change: string;
  message: string;
}

/**
 * Undoes the temporary raise on Deployment `namespace/name` (see decideRestore), retrying on
 * conflict. Never throws: a failure is returned with what is left and what to do. Not tied to
 * the run's signal: it runs after a timeout or a cancellation too.
 */
export async function restoreRaise(
  client: RestoreApi,
  logger: Logger,
  namespace: string,
  name: string,
  opts: { dryRun: boolean; expected?: TemporaryRaise },
): Promise<RestoreResult> {
  // An undo: its reads are not cut short by the drain's deadline (it runs after it, too).
  return client.unbounded(() => restoreRaiseNow(client, logger, namespace, name, opts));
}

async function restoreRaiseNow(
  client: RestoreApi,
  logger: Logger,
  namespace: string,
  name: string,
  opts: { dryRun: boolean; expected?: TemporaryRaise },
): Promise<RestoreResult> {
  const id = `Deployment/${namespace}/${name}`;
  let original = opts.expected?.original;
  for (let attempt = 1; ; attempt++) {
    try {
      let d: V1Deployment;
      try {
        d = await client.getDeployment(namespace, name);
      } catch (err) {
        if (statusCode(err) === 404) return { ok: true, change: 'none', message: `${id} no longer exists: nothing to restore` };
        throw err;
      }
      const decision = decideRestore(d, opts.expected);
      const rv = d.metadata?.resourceVersion;
      const stamp = new Date().toISOString();
      switch (decision.action) {
        case 'nothing':
          return { ok: true, change: 'none', message: 'no temporary raise to restore' };
        case 'leave': {
          const message = `${id}: ${decision.why}; safe-drain left it as it is. ${manualFix(namespace, name, raiseOf(d)?.original ?? original)}`;
          logger.error(message);
          return { ok: false, change: `replicas left at ${d.spec?.replicas ?? 1}`, message };
        }
        case 'restore':
        case 'clear-marker': {
          const { raise } = decision;
          original = raise.original;
          const restoring = decision.action === 'restore';
          const note = restoring
            ? `replicas restored to ${raise.original} by safe-drain at ${stamp}`
            : `replicas found back at ${raise.original} (set by someone else); safe-drain removed its marker at ${stamp}`;
          await client.patchDeployment(
            namespace,
            name,
            { metadata: clearedMarker(note, rv), ...(restoring ? { spec: { replicas: raise.original } } : {}) },
            opts.dryRun,
          );
          const dry = opts.dryRun ? ' (dry run: not restored)' : '';
          if (!opts.dryRun) await event(client, logger, d, 'SafeDrainScaleRestored', note);
          const change = `replicas ${restoring ? `${raise.raised} → ` : ''}${raise.original}${dry}`;
          return { ok: true, change, message: restoring ? `replicas restored to ${raise.original}${dry}` : note };
        }
      }
    } catch (err) {
      if (statusCode(err) === 409 && attempt < MAX_CONFLICT_RETRIES) continue;
      const message = `${id}: could not restore replicas${original !== undefined ? ` to ${original}` : ''}: ${describeApiError(err)}. ${manualFix(namespace, name, original)}`;
      logger.error(message);
      return { ok: false, change: 'restore failed', message };
    }
  }
}

/**
 * Finds Deployments still carrying safe-drain's temporary raise for one of `scope.nodes` (left by
 * a run that was killed or failed to restore) and restores each exactly. One list with a label
 * selector, cluster-wide. A change with restored:false means something is left: the run must fail.
 */
export async function restoreLeftoverChanges(
  client: RestoreApi,
  logger: Logger,
  scope: { nodes: string[]; dryRun: boolean },
): Promise<WorkloadChange[]> {
  return (await restoreLeftoverChangesByNode(client, logger, scope)).map(({ change }) => change);
}

/** restoreLeftoverChanges, with the node each raise was made for ('' when its marker names none). */
export async function restoreLeftoverChangesByNode(
  client: RestoreApi,
  logger: Logger,
  scope: { nodes: string[]; dryRun: boolean },
): Promise<{ node: string; change: WorkloadChange }[]> {
  // A restore is never cut short by a deadline: its outcome must be known.
  return client.unbounded(() => restoreLeftoversNow(client, logger, scope));
}

async function restoreLeftoversNow(
  client: RestoreApi,
  logger: Logger,
  scope: { nodes: string[]; dryRun: boolean },
): Promise<{ node: string; change: WorkloadChange }[]> {
  const items = await client.listDeploymentsLabelled(`${LABEL_SCALED}=true`);
  const changes: { node: string; change: WorkloadChange }[] = [];
  for (const d of items) {
    const namespace = d.metadata?.namespace ?? '';
    const name = d.metadata?.name ?? '';
    const named = raiseOf(d)?.nodes ?? (d.metadata?.annotations?.[ANNOTATION_SCALED_FOR_NODE] ?? '').split(',').filter(Boolean);
    // A marker without a node is reported rather than skipped: it cannot be told apart from ours.
    const node = named.find((n) => scope.nodes.includes(n)) ?? '';
    if (named.length > 0 && node === '') continue;
    const forNodes = named.join(', ') || '(unknown)';
    logger.warn(`Deployment ${namespace}/${name} still carries a temporary replica raise by safe-drain for node ${forNodes} (an earlier run was interrupted): restoring it`);
    const r = await restoreRaise(client, logger, namespace, name, { dryRun: scope.dryRun });
    changes.push({
      node,
      change: {
        workload: `Deployment/${namespace}/${name}`,
        change: r.change,
        restored: r.ok,
        message: `temporary raise for node ${forNodes} left by an interrupted run: ${r.message}`,
      },
    });
  }
  return changes;
}

async function event(client: RestoreApi, logger: Logger, d: V1Deployment, reason: string, message: string): Promise<void> {
  try {
    await client.workloadEvent('Deployment', d.metadata?.namespace ?? '', d.metadata?.name ?? '', d.metadata?.uid, reason, message);
  } catch (err) {
    logger.debug(`event on Deployment ${d.metadata?.name} not recorded: ${describeApiError(err)}`);
  }
}

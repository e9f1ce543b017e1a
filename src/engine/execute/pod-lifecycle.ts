// What happens to a pod during a drain, in one place. The reconcile loop (reconcile.ts) decides
// WHEN a pod is worked on; this module says WHAT is done to it and what is recorded:
//
//   evict     Eviction API (waiting on its PDB) → wait until it is gone → optionally wait
//             until its workload is back to the ready count it had before
//   migrate   (a Deployment's pods, together) replacement first (migrate.ts), then evict the
//             old pods → wait until they are gone
//   wait      already terminating: only waited for
//
// Every outcome goes through the PodLedger, which never turns a pod that left the node into a
// failure because of something that went wrong later.
import type { V1Deployment, V1LabelSelector, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { describeApiError } from '../kube/errors.js';
import type { WatchListener } from '../kube/watch.js';
import type { DrainOptions, Logger, NodeReport, PodOutcome, PodPlan, PodResult } from '../types.js';
import { WaitAborted, abortReason, waitUntil } from './abort.js';
import type { BudgetWaiter } from './budget.js';
import type { EvictionSlots } from './semaphore.js';
import type { Mark } from './cordon.js';
import { waitForDeletion } from './deletion.js';
import { PodFailure, SurgeInstead, evictWithBudget, type EvictionDeps } from './evict-with-budget.js';
import { migrateDeployment } from './migrate.js';
import { canWatchWorkload, watchDeploymentPods } from './workload-watch.js';
import type { ResourceWatch } from '../kube/watch.js';
import { isPodReady } from '../plan/pod.js';

/** The node's pods as the engine sees them: a watch in a real drain, a fixed list in a dry run. */
export interface PodSource {
  get(key: string): V1Pod | undefined;
  items(): V1Pod[];
  subscribe(listener: WatchListener<V1Pod>): () => void;
}

/** A dry run's pods: listed once; nothing changes, so nothing is ever announced. */
export function fixedPods(pods: V1Pod[]): PodSource {
  const byKey = new Map(pods.map((p) => [`${p.metadata?.namespace}/${p.metadata?.name}`, p]));
  return { get: (key) => byKey.get(key), items: () => [...byKey.values()], subscribe: () => () => undefined };
}

export interface PodWorkContext {
  client: KubeClient;
  options: DrainOptions;
  logger: Logger;
  node: string;
  /** The node was Ready when its drain started: its kubelet can confirm deletions. */
  nodeReady: boolean;
  pods: PodSource;
  pdbWatch: ResourceWatch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  /** The run's limit on evictions in flight, shared by every node draining at once. */
  slots: EvictionSlots;
  ledger: PodLedger;
  report: NodeReport;
  /** Ends every wait of the pod's work: the drain's deadline, cancellation, or the loop stopping. */
  signal: AbortSignal;
  mark: Mark;
}

// ---- The ledger --------------------------------------------------------------------------------

/** Outcomes that say the pod left the node (or was meant to, in a dry run). */
const LEFT: readonly PodOutcome[] = ['evicted', 'evicted-not-confirmed', 'migrated', 'deleted', 'would-evict'];

/**
 * One PodResult per pod UID this run worked on. 'blocked' is the state of a pod not (yet) off
 * the node; only such a pod can be marked failed: a pod that left is never relabelled.
 */
export class PodLedger {
  private readonly byUid = new Map<string, PodResult>();

  constructor(
    private readonly results: PodResult[],
    /** ms since the run started, for startedAt/endedAt. */
    private readonly clock: () => number,
  ) {}

  has(uid: string): boolean {
    return this.byUid.has(uid);
  }

  /** The pod's result, created the first time (work on the pod starts now). */
  open(p: PodPlan): PodResult {
    let r = this.byUid.get(p.uid);
    if (!r) {
      r = { pod: `${p.namespace}/${p.name}`, outcome: 'blocked', budgetWaits: 0, startedAt: this.clock() };
      this.byUid.set(p.uid, r);
      this.results.push(r);
    }
    return r;
  }

  result(p: PodPlan): PodResult | undefined {
    return this.byUid.get(p.uid);
  }

  /**
   * Drops the result of a pod still on the node whose work stopped so that it can start again
   * another way (an eviction given up for a surge): the next round opens a new one.
   */
  reopen(p: PodPlan): void {
    const r = this.byUid.get(p.uid);
    if (!r || r.outcome !== 'blocked') return;
    this.byUid.delete(p.uid);
    const i = this.results.indexOf(r);
    if (i >= 0) this.results.splice(i, 1);
  }

  /** Records a failure the user must act on, unless the pod already left the node. */
  fail(p: PodPlan, message: string): boolean {
    const r = this.open(p);
    if (r.outcome !== 'blocked') return false;
    r.outcome = 'failed';
    r.message = message;
    r.endedAt = this.clock();
    return true;
  }

  /** Sets the outcome once the pod left the node (or definitely will not). */
  settle(p: PodPlan, outcome: PodOutcome, message?: string): void {
    const r = this.open(p);
    if (r.outcome === 'failed') return;
    r.outcome = outcome;
    if (message !== undefined) r.message = message;
    r.endedAt = this.clock();
  }

  left(p: PodPlan): boolean {
    const r = this.byUid.get(p.uid);
    return r !== undefined && LEFT.includes(r.outcome);
  }
}

// ---- The work on a pod -------------------------------------------------------------------------

function evictionDeps(c: PodWorkContext): EvictionDeps {
  return {
    client: c.client,
    logger: c.logger,
    pdbWatch: c.pdbWatch,
    budgets: c.budgets,
    gracePeriodSeconds: c.options.gracePeriodSeconds,
    dryRun: c.options.dryRun,
    mark: c.mark,
    // A not-Ready pod may be evicted while the budget allows nothing (the API server's rule).
    podReady: (p) => {
      const pod = c.pods.get(`${p.namespace}/${p.name}`);
      return pod?.metadata?.uid === p.uid ? isPodReady(pod) : undefined;
    },
    podLabels: (p) => {
      const pod = c.pods.get(`${p.namespace}/${p.name}`);
      return pod?.metadata?.uid === p.uid ? (pod.metadata?.labels ?? {}) : undefined;
    },
  };
}

/**
 * evict: Eviction API with budget waits, then until gone, then (optionally) until replaced.
 * `surgeInstead` fires when the loop's plan of the live state migrates the pod after all (its
 * budget can no longer allow the eviction): a budget wait then ends, the pod's result is dropped
 * and the loop starts the migration; an eviction the API server already accepted goes on.
 */
export async function evictPod(c: PodWorkContext, p: PodPlan, surgeInstead?: AbortSignal): Promise<void> {
  const r = c.ledger.open(p);
  try {
    const replacement = await watchForReplacement(c, p);
    try {
      await evictWithBudget({ ...evictionDeps(c), surgeInstead }, p, r, c.signal);
      if (c.options.dryRun) return;
      await awaitGone(c, p, p.podClass === 'finished' ? 'deleted' : 'evicted');
      if (replacement) await waitForReplacement(c, p, replacement);
    } finally {
      replacement?.pods.stop();
    }
  } catch (err) {
    if (err instanceof SurgeInstead && !c.signal.aborted) {
      c.mark('plan', `${p.namespace}/${p.name}`, `eviction given up after ${r.budgetWaits} budget wait(s): ${err.message}`);
      c.logger.info(`${p.namespace}/${p.name}: no longer waiting for its PDB: ${err.message}`);
      c.ledger.reopen(p);
      return;
    }
    recordError(c, [p], err);
  }
}

/** migrate: the Deployment's pods on this node, together: replacement first, then the old pods. */
export async function migratePods(c: PodWorkContext, group: PodPlan[], readyCount: number): Promise<void> {
  const w = group[0]?.workload;
  if (!w) return;
  const id = `Deployment/${w.namespace}/${w.name}`;
  const results = group.map((p) => c.ledger.open(p));
  c.mark('migrate', id, `migrating ${group.length} pod(s)`);
  try {
    const change = await migrateDeployment(
      {
        client: c.client,
        logger: c.logger,
        node: c.node,
        dryRun: c.options.dryRun,
        signal: c.signal,
        evictOldPods: async () => {
          await Promise.all(group.map((p, i) => evictWithBudget(evictionDeps(c), p, results[i]!, c.signal)));
        },
        record: (change) => c.report.workloadChanges.push(change),
      },
      w,
      { total: group.length, ready: readyCount },
    );
    for (const p of group) {
      if (c.options.dryRun) c.ledger.settle(p, 'would-evict');
      else await awaitGone(c, p, 'migrated');
    }
    c.mark('migrate', id, change.change);
  } catch (err) {
    recordError(c, group, err);
  }
}

/** wait: a pod already terminating when the drain met it. */
export async function awaitTerminating(c: PodWorkContext, p: PodPlan): Promise<void> {
  c.ledger.open(p);
  try {
    await awaitGone(c, p, 'evicted', 'was already terminating: waited until it was gone');
  } catch (err) {
    recordError(c, [p], err);
  }
}

/** After an accepted eviction: until the pod is gone, or its deletion is not to be waited for. */
async function awaitGone(c: PodWorkContext, p: PodPlan, outcome: PodOutcome, message?: string): Promise<void> {
  const key = `${p.namespace}/${p.name}`;
  const gone = await waitForDeletion(c.pods, key, p.uid, c.signal, {
    skipWaitSeconds: c.options.skipWaitForDeleteTimeoutSeconds,
    nodeReady: c.nodeReady,
  });
  if (gone === 'deleted') {
    c.ledger.settle(p, outcome, message);
  } else {
    c.ledger.settle(
      p,
      'evicted-not-confirmed',
      c.nodeReady
        ? `deletion not confirmed within skip-wait-for-delete-timeout (${c.options.skipWaitForDeleteTimeoutSeconds}s after its deletionTimestamp)`
        : `node ${c.node} is NotReady: its kubelet cannot confirm the deletion; the pod stays Terminating until the node returns or is deleted`,
    );
  }
  c.mark('evict', key, gone === 'deleted' ? 'gone' : 'deletion not confirmed');
}

/** wait-for-replacements: the workload's pods, watched, and how many were Ready before the eviction. */
interface ReplacementWatch {
  pods: ResourceWatch<V1Pod>;
  readyBefore: number;
}

/**
 * wait-for-replacements: counts the workload's Ready pods itself (its selector, watched), or
 * undefined when not asked for (or the kind cannot be watched). The workload's own
 * status.readyReplicas was read before: right after an eviction it still counted the evicted pod
 * until its controller caught up, so the wait ended at once, before any replacement existed.
 * Counting Ready pods other than the evicted one cannot see that stale count. Waiting for
 * spec.replicas instead would hang on a workload that was already degraded before the drain.
 */
async function watchForReplacement(c: PodWorkContext, p: PodPlan): Promise<ReplacementWatch | undefined> {
  const w = p.workload;
  if (!c.options.waitForReplacements || c.options.dryRun || !w || !canWatchWorkload(w.kind)) return undefined;
  const workload = await readWorkload(c.client, w.kind, w.namespace, w.name);
  if (!workload?.spec?.selector) return undefined;
  const pods = watchDeploymentPods(c.client, workload);
  try {
    await pods.start();
  } catch (err) {
    pods.stop();
    throw err;
  }
  return { pods, readyBefore: readyPods(pods).length };
}

/** Ready pods not being deleted. */
function readyPods(pods: ResourceWatch<V1Pod>, except?: string): V1Pod[] {
  return pods.items().filter((pod) => pod.metadata?.uid !== except && !pod.metadata?.deletionTimestamp && isPodReady(pod));
}

async function waitForReplacement(c: PodWorkContext, p: PodPlan, r: ReplacementWatch): Promise<void> {
  const w = p.workload!;
  const id = `${w.kind}/${w.namespace}/${w.name}`;
  await waitUntil(
    () => readyPods(r.pods, p.uid).length >= r.readyBefore,
    (onChange) => r.pods.subscribe(() => onChange()),
    c.signal,
  );
  c.mark('wait', id, `replacement Ready: back to ${r.readyBefore} ready`);
}

async function readWorkload(client: KubeClient, kind: string, namespace: string, name: string): Promise<{ metadata?: { namespace?: string }; spec?: { selector?: V1LabelSelector } } | undefined> {
  switch (kind) {
    case 'Deployment':
      return (await client.getDeployment(namespace, name)) as V1Deployment;
    case 'StatefulSet':
      return client.getStatefulSet(namespace, name);
    case 'ReplicaSet':
      return client.getReplicaSet(namespace, name);
    default:
      return undefined;
  }
}

/**
 * What an error means for the pods of one task. A wait cut short by the deadline leaves a pod
 * not yet evicted 'blocked' and an accepted eviction 'evicted-not-confirmed'; any other error
 * fails the pods still on the node, naming the pod.
 */
function recordError(c: PodWorkContext, pods: PodPlan[], err: unknown): void {
  if (err instanceof WaitAborted || c.signal.aborted) {
    const why = err instanceof WaitAborted ? err.why : abortReason(c.signal);
    for (const p of pods) {
      const r = c.ledger.result(p);
      if (r?.outcome === 'evicted') c.ledger.settle(p, 'evicted-not-confirmed', `eviction accepted; the run ended (${why}) before the deletion was confirmed`);
    }
    return;
  }
  const message = err instanceof PodFailure ? err.message : describeApiError(err);
  for (const p of pods) {
    const key = `${p.namespace}/${p.name}`;
    if (c.ledger.fail(p, message)) c.logger.error(`${key}: ${message}`, { node: c.node, pod: key });
    else c.logger.error(`${key} left the node, but then: ${message}`, { node: c.node, pod: key });
  }
  if (pods.every((p) => c.ledger.left(p))) {
    // The pods left, but what came after (replacement wait, migration restore) did not go well.
    c.report.error = [c.report.error, message].filter(Boolean).join('; ');
  }
}

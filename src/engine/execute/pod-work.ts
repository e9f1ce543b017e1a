// What happens to a pod during a drain, in one place. The node's loop (drain-node.ts, with the
// pure selectWork) decides WHEN a pod is worked on; this module says WHAT is done to it and
// what is recorded:
//
//   evict     Eviction API (waiting on its PDB) → wait until it is gone → optionally wait
//             until its workload is back to the ready count it had before
//   migrate   (a Deployment's pods, together) through the run's one migration of that
//             Deployment (migrate.ts): replacement first, then evict the old pods → until gone
//   wait      already terminating: only waited for
//
// From the moment work on a pod starts, it no longer counts as a ready replica of its workload
// for any node of the run (LiveWorkloads.takeOff). Every outcome goes through the PodLedger, which
// never turns a pod that left the node into a failure because of something that went wrong later.
import type { V1LabelSelector, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { PodFailure, WaitAborted } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { describeApiError } from '../kube/errors.js';
import type { Watch, WatchListener } from '../kube/watch.js';
import { deleteWaitDeadline, isPodReady } from '../plan/pod.js';
import type { DrainOptions, Logger, PodOutcome, PodPlan, PodResult } from '../types.js';
import { abortReason, waitFor } from '../wait.js';
import type { BudgetWaiter } from './budget.js';
import type { Mark } from './cordon.js';
import { SurgeInstead, evictWithBudget, type EvictionApi, type EvictionEnv } from './eviction.js';
import type { LiveWorkloads } from './live-workloads.js';
import type { WorkloadMigrations } from './migrate.js';
import { watchWorkloadPods } from './workload-watch.js';

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

export type PodWorkApi = EvictionApi & Pick<KubeClient, 'getDeployment' | 'getStatefulSet' | 'getReplicaSet' | 'watchPodsMatching'>;

/** What the work on one node's pods needs: the run's services and the node's own state. */
export interface PodWorkContext {
  api: PodWorkApi;
  clock: Clock;
  options: DrainOptions;
  logger: Logger;
  pdbs: Watch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  workloads: LiveWorkloads;
  migrations: WorkloadMigrations;
  node: string;
  /** The node was Ready when its drain started: its kubelet can confirm deletions. */
  nodeReady: boolean;
  pods: PodSource;
  ledger: PodLedger;
  /** What went wrong after pods left (a replacement never came, a raise not restored): the node fails. */
  problems: string[];
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
    private readonly sinceStart: () => number,
  ) {}

  has(uid: string): boolean {
    return this.byUid.has(uid);
  }

  /** The pod's result, created the first time (work on the pod starts now). */
  open(p: PodPlan): PodResult {
    let r = this.byUid.get(p.uid);
    if (!r) {
      r = { pod: `${p.namespace}/${p.name}`, outcome: 'blocked', budgetWaits: 0, startedAt: this.sinceStart() };
      this.byUid.set(p.uid, r);
      this.results.push(r);
    }
    return r;
  }

  result(p: Pick<PodPlan, 'uid'>): PodResult | undefined {
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
    r.endedAt = this.sinceStart();
    return true;
  }

  /** Sets the outcome once the pod left the node (or definitely will not). */
  settle(p: PodPlan, outcome: PodOutcome, message?: string): void {
    const r = this.open(p);
    if (r.outcome === 'failed') return;
    r.outcome = outcome;
    if (message !== undefined) r.message = message;
    r.endedAt = this.sinceStart();
  }

  left(p: PodPlan): boolean {
    const r = this.byUid.get(p.uid);
    return r !== undefined && LEFT.includes(r.outcome);
  }
}

// ---- The work on a pod -------------------------------------------------------------------------

function evictionEnv(c: PodWorkContext, surgeInstead?: AbortSignal): EvictionEnv {
  return {
    api: c.api,
    clock: c.clock,
    logger: c.logger,
    pdbs: c.pdbs,
    budgets: c.budgets,
    gracePeriodSeconds: c.options.gracePeriodSeconds,
    dryRun: c.options.dryRun,
    mark: c.mark,
    podNow: (p) => c.pods.get(`${p.namespace}/${p.name}`),
    surgeInstead,
  };
}

/**
 * evict: Eviction API with budget waits, then until gone, then (optionally) until replaced.
 * `surgeInstead` fires when the loop's plan of the live state migrates the pod after all (its
 * budget can no longer allow the eviction): a budget wait then ends, the pod's result is dropped
 * and the loop starts the migration; an eviction the API server already accepted goes on.
 * Must be called in the same synchronous step that decided it (takeOff is its first act).
 */
export async function evictPod(c: PodWorkContext, p: PodPlan, surgeInstead?: AbortSignal): Promise<void> {
  const putBack = c.workloads.takeOff(p.workload, p.uid);
  const r = c.ledger.open(p);
  try {
    const replacement = await watchForReplacement(c, p);
    try {
      await evictWithBudget(evictionEnv(c, surgeInstead), p, r, c.signal);
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
  } finally {
    putBack();
  }
}

/** migrate: the Deployment's pods on this node, together, through the run's migration of it. */
export async function migratePods(c: PodWorkContext, group: PodPlan[], readyCount: number): Promise<void> {
  const w = group[0]?.workload;
  if (!w) return;
  const putBack = group.map((p) => c.workloads.takeOff(p.workload, p.uid));
  const id = `Deployment/${w.namespace}/${w.name}`;
  const results = group.map((p) => c.ledger.open(p));
  c.mark('migrate', id, `migrating ${group.length} pod(s)`);
  try {
    await c.migrations.migrate({
      node: c.node,
      workload: w,
      moving: { total: group.length, ready: readyCount },
      signal: c.signal,
      evictOldPods: async () => {
        await Promise.all(group.map((p, i) => evictWithBudget(evictionEnv(c), p, results[i]!, c.signal)));
      },
    });
    for (const p of group) {
      if (c.options.dryRun) c.ledger.settle(p, 'would-evict');
      else await awaitGone(c, p, 'migrated');
    }
    c.mark('migrate', id, 'old pods gone');
  } catch (err) {
    recordError(c, group, err);
  } finally {
    for (const undo of putBack) undo();
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

/**
 * Until the pod is gone (no pod of that name with that UID), or its deletion is no longer to be
 * waited for (plan/pod.ts deleteWaitDeadline: skip-wait-for-delete-timeout, a NotReady node).
 */
async function awaitGone(c: PodWorkContext, p: PodPlan, outcome: PodOutcome, message?: string): Promise<void> {
  const key = `${p.namespace}/${p.name}`;
  const here = () => {
    const pod = c.pods.get(key);
    return pod?.metadata?.uid === p.uid ? pod : undefined;
  };
  const endsAt = () => mapPod(here(), (pod) => deleteWaitDeadline(pod, c.options.skipWaitForDeleteTimeoutSeconds, c.nodeReady));
  const gone = await waitFor<'deleted' | 'not-confirmed'>({
    check: () => {
      if (!here()) return 'deleted';
      const end = endsAt();
      return end !== undefined && c.clock.now() >= end ? 'not-confirmed' : undefined;
    },
    subscribe: (changed) => c.pods.subscribe(() => changed()),
    recheckAt: endsAt,
    signal: c.signal,
    clock: c.clock,
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

function mapPod<T>(pod: V1Pod | undefined, f: (pod: V1Pod) => T | undefined): T | undefined {
  return pod === undefined ? undefined : f(pod);
}

/** wait-for-replacements: the workload's pods, watched, and how many were Ready before the eviction. */
interface ReplacementWatch {
  pods: Watch<V1Pod>;
  readyBefore: number;
}

/**
 * wait-for-replacements: counts the workload's Ready pods itself (its selector, watched), or
 * undefined when not asked for (or the kind cannot be watched). The workload's own
 * status.readyReplicas trails its pods: right after an eviction it still counts the evicted pod.
 * Waiting for spec.replicas instead would hang on a workload that was already degraded.
 */
async function watchForReplacement(c: PodWorkContext, p: PodPlan): Promise<ReplacementWatch | undefined> {
  const w = p.workload;
  if (!c.options.waitForReplacements || c.options.dryRun || !w) return undefined;
  const selector = await workloadSelector(c.api, w.kind, w.namespace, w.name);
  if (!selector) return undefined;
  const pods = watchWorkloadPods(c.api, { metadata: { namespace: w.namespace }, spec: { selector } });
  try {
    await pods.start();
  } catch (err) {
    pods.stop();
    throw err;
  }
  return { pods, readyBefore: readyPods(pods).length };
}

async function workloadSelector(api: PodWorkApi, kind: string, namespace: string, name: string): Promise<V1LabelSelector | undefined> {
  if (kind === 'Deployment') return (await api.getDeployment(namespace, name)).spec?.selector;
  if (kind === 'StatefulSet') return (await api.getStatefulSet(namespace, name)).spec?.selector;
  if (kind === 'ReplicaSet') return (await api.getReplicaSet(namespace, name)).spec?.selector;
  return undefined;
}

/** Ready pods not being deleted. */
function readyPods(pods: Watch<V1Pod>, except?: string): V1Pod[] {
  return pods.items().filter((pod) => pod.metadata?.uid !== except && !pod.metadata?.deletionTimestamp && isPodReady(pod));
}

async function waitForReplacement(c: PodWorkContext, p: PodPlan, r: ReplacementWatch): Promise<void> {
  const w = p.workload!;
  await waitFor<true>({
    check: () => (readyPods(r.pods, p.uid).length >= r.readyBefore ? true : undefined),
    subscribe: (changed) => r.pods.subscribe(() => changed()),
    signal: c.signal,
    clock: c.clock,
  });
  c.mark('wait', `${w.kind}/${w.namespace}/${w.name}`, `replacement Ready: back to ${r.readyBefore} ready`);
}

/**
 * What an error means for the pods of one task. A wait cut short by the deadline leaves a pod
 * not yet evicted 'blocked' and an accepted eviction 'evicted-not-confirmed'; any other error
 * fails the pods still on the node, naming the pod; for pods that left, what came after failed.
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
  if (pods.every((p) => c.ledger.left(p))) c.problems.push(message);
}

// The per-node drain as a reconcile loop over the node's live pod set (Karpenter's terminator
// in spirit): each round re-plans from the pods the watch holds NOW (a pure function of the
// current state), starts the work the plan calls for, and waits for the next change — a pod
// event, a finished task, or the deadline. It ends only when the node holds nothing but what
// the plan says stays (DaemonSet, mirror, unselected pods), pods that failed (named), or when
// the deadline fires. Pods that arrive mid-drain are planned and moved like the others.
//
// Order is data (plan/order.ts): a pod of a later tier starts only when every pod of the earlier
// tiers has left the node; max-concurrent-evictions bounds the tasks in flight across the whole
// run (EvictionSlots, shared by the nodes that drain at once).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { fetchWorkloads } from '../kube/plan-input.js';
import { planDrain } from '../plan/plan.js';
import { evictionTier } from '../plan/order.js';
import { budgetStatus } from '../plan/pdb.js';
import { isPodReady, workloadKeyOf } from '../plan/pod.js';
import type { DrainPlan, PodPlan, WorkloadInfo } from '../types.js';
import { describeApiError } from '../kube/errors.js';
import { awaitTerminating, evictPod, migratePods, type PodWorkContext } from './pod-lifecycle.js';
import type { EvictionSlots } from './semaphore.js';

export interface ReconcileInput {
  node: V1Node;
  /** Workload info already fetched for the plan; new workloads are fetched as their pods appear. */
  workloads: Record<string, WorkloadInfo>;
  /** UIDs the first plan knew: any other pod arrived during the drain (said in the timeline). */
  knownUids: Set<string>;
}

/** Wakes the loop: set by pod events and finished tasks; one pending wake is kept, never lost. */
class Wakeup {
  private pending = false;
  private resolve?: () => void;

  notify(): void {
    this.pending = true;
    this.resolve?.();
  }

  next(signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      this.resolve = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

interface Task {
  tier: number;
  /** Counts against max-concurrent-evictions (waiting on a terminating pod does not). */
  evicts: boolean;
  done: Promise<void>;
}

function needsWork(p: PodPlan): boolean {
  return p.action === 'evict' || p.action === 'migrate' || p.action === 'wait';
}

/** Returns the last plan made (what the node held when the loop ended). */
export async function reconcileNode(c: PodWorkContext, input: ReconcileInput): Promise<DrainPlan | undefined> {
  // Tasks listen to `stop` as well as the deadline: if the loop itself fails, nothing goes on.
  const stop = new AbortController();
  const work: PodWorkContext = { ...c, signal: AbortSignal.any([c.signal, stop.signal]) };
  const wake = new Wakeup();
  const unsubscribe = c.pods.subscribe(() => {
    // A pod turning not-Ready may now be admitted by its PDB while its waiter still sleeps.
    c.budgets.podReadinessChanged();
    wake.notify();
  });
  // Another node's task ending frees a run-wide slot this node may be waiting for.
  const unsubscribeSlots = c.slots.onFree(() => wake.notify());
  // Evictions in flight, by pod UID: one waiting for a budget that can no longer allow it (its
  // workload scaled down, its PDB tightened, a restore the PDB status had not caught up with) is
  // given up for a surge when the plan of the live state says so.
  const evictions = new Map<string, { pod: PodPlan; surge: AbortController }>();
  const waitingForBudget = (pod: PodPlan) => {
    const r = c.ledger.result(pod);
    return r !== undefined && r.outcome === 'blocked' && r.budgetWaits > 0;
  };
  const unsubscribePdbs = c.pdbWatch.subscribe((_type, pdb) => {
    const key = `${pdb.metadata?.namespace}/${pdb.metadata?.name}`;
    for (const { pod } of evictions.values()) {
      if (waitingForBudget(pod) && c.ledger.result(pod)?.pdb === key) return wake.notify();
    }
  });
  const tasks = new Set<Task>();
  const attemptedWorkloads = new Set(Object.keys(input.workloads));
  let plan: DrainPlan | undefined;
  // An evicting task holds one run-wide slot (taken by the caller, under the pod's PDB) from its
  // start to its end; `budget` null: a task that takes no slot (waiting on a terminating pod).
  const start = (tier: number, budget: string | undefined | null, run: () => Promise<void>) => {
    const evicts = budget !== null;
    const task: Task = { tier, evicts, done: Promise.resolve() };
    task.done = run().finally(() => {
      tasks.delete(task);
      if (evicts) c.slots.give(budget);
      wake.notify();
    });
    tasks.add(task);
  };

  try {
    for (;;) {
      if (work.signal.aborted) break;
      const live = c.pods.items();
      plan = await replan(c, input, live, attemptedWorkloads);
      const podsByUid = new Map(live.map((p) => [p.metadata?.uid ?? '', p]));
      for (const p of plan.pods) {
        const eviction = evictions.get(p.uid);
        if (p.action !== 'migrate' || !eviction || eviction.surge.signal.aborted || !waitingForBudget(eviction.pod)) continue;
        c.mark('plan', `${p.namespace}/${p.name}`, `migrate instead: ${p.reason}`);
        eviction.surge.abort(new Error(p.reason));
      }
      const todo: PodPlan[] = [];
      for (const p of plan.pods) {
        if (!needsWork(p) && p.action !== 'refuse') continue;
        if (c.ledger.has(p.uid)) continue;
        if (!input.knownUids.has(p.uid)) {
          input.knownUids.add(p.uid);
          c.mark('plan', `${p.namespace}/${p.name}`, `arrived on the node during the drain: ${p.action} (${p.reason})`);
          c.logger.info(`${p.namespace}/${p.name} arrived on node ${c.node} during the drain: ${p.action} (${p.reason})`);
        }
        const refusal = refusalOf(plan, p);
        if (refusal !== undefined) {
          c.ledger.fail(p, refusal);
          c.logger.error(refusal, { node: c.node, pod: `${p.namespace}/${p.name}` });
          continue;
        }
        todo.push(p);
      }
      if (todo.length === 0 && tasks.size === 0) break;

      // Pods already terminating are only waited for: no order, no eviction slot.
      for (const p of todo.filter((x) => x.action === 'wait')) start(-1, null, () => awaitTerminating(work, p));

      const movers = todo.filter((p) => p.action === 'evict' || p.action === 'migrate');
      const tier = Math.min(...movers.map(evictionTier), ...[...tasks].filter((t) => t.evicts).map((t) => t.tier));
      const ready = movers.filter((p) => evictionTier(p) === tier);
      // Spread the slots across budgets: the next pod is one whose PDB allows a disruption now
      // (as cached, minus this run's evictions in flight under it, on any node), else one whose
      // PDB has the fewest of them; so pods waiting on a budget that allows one disruption at a
      // time do not hold every slot while other budgets could proceed.
      const allowed = (pdb: string) => {
        const cached = c.pdbWatch.get(pdb);
        return cached ? budgetStatus(cached).allowed : undefined;
      };
      while (ready.length > 0) {
        const p = ready.splice(nextToStart(ready, c.slots, allowed), 1)[0]!;
        if (c.ledger.has(p.uid)) continue;
        const budget = p.pdbs[0];
        // Pods of the same Deployment still giving up their budget waits join this migration once
        // they have: one migration per Deployment and node, never two raising it at once.
        if (p.action === 'migrate' && [...evictions.values()].some((e) => e.surge.signal.aborted && sameWorkload(e.pod, p))) continue;
        if (!c.slots.take(budget)) break;
        if (p.action === 'migrate' && p.workload?.kind === 'Deployment') {
          const group = movers.filter((x) => x.action === 'migrate' && sameWorkload(x, p) && evictionTier(x) === tier && !c.ledger.has(x.uid));
          const readyCount = group.filter((x) => isPodReadyByUid(podsByUid, x.uid)).length;
          for (const x of group) c.ledger.open(x);
          start(tier, budget, () => migratePods(work, group, readyCount));
        } else {
          c.ledger.open(p);
          const surge = new AbortController();
          evictions.set(p.uid, { pod: p, surge });
          start(tier, budget, () => evictPod(work, p, surge.signal).finally(() => evictions.delete(p.uid)));
        }
      }
      await wake.next(work.signal);
    }
  } catch (err) {
    stop.abort(new Error(`the drain loop failed: ${describeApiError(err)}`));
    throw err;
  } finally {
    unsubscribe();
    unsubscribeSlots();
    unsubscribePdbs();
    // Every wait inside a task ends on the signal; let them record their outcome first.
    await Promise.allSettled([...tasks].map((t) => t.done));
  }
  return plan;
}

/**
 * Index in `candidates` of the pod to start next: one whose PDB allows a disruption now (the
 * cached disruptionsAllowed minus this run's evictions in flight under it; no PDB, or a PDB not
 * in the cache, counts as allowing), else the one whose PDB has the fewest of the run's
 * evictions in flight; the first such in `candidates` order.
 */
export function nextToStart(candidates: PodPlan[], slots: Pick<EvictionSlots, 'inFlightUnder'>, allowed: (pdb: string) => number | undefined): number {
  const rank = (p: PodPlan): number => {
    const pdb = p.pdbs[0];
    const inFlight = slots.inFlightUnder(pdb);
    const room = pdb === undefined ? undefined : allowed(pdb);
    return (room === undefined || room - inFlight > 0 ? 0 : 1_000_000) + inFlight;
  };
  let pick = 0;
  let best = Infinity;
  candidates.forEach((p, i) => {
    const r = rank(p);
    if (r < best) {
      pick = i;
      best = r;
    }
  });
  return pick;
}

/** The plan for the pods on the node right now (capacity is judged once, in the first plan). */
async function replan(c: PodWorkContext, input: ReconcileInput, live: V1Pod[], attempted: Set<string>): Promise<DrainPlan> {
  const unknown = live.filter((p) => {
    const key = workloadKeyOf(p);
    return key !== undefined && !attempted.has(key);
  });
  if (unknown.length > 0) {
    for (const p of unknown) attempted.add(workloadKeyOf(p)!);
    Object.assign(input.workloads, await fetchWorkloads(c.client, unknown));
  }
  const namespaces = new Set(live.map((p) => p.metadata?.namespace));
  return planDrain(
    {
      node: input.node,
      pods: live,
      pdbs: c.pdbWatch.items().filter((p) => namespaces.has(p.metadata?.namespace)),
      workloads: input.workloads,
      now: Date.now(),
      otherNodes: [],
    },
    c.options,
  );
}

/** Why a pod cannot be worked on (an option it needs, or a fatal finding), if it cannot. */
function refusalOf(plan: DrainPlan, p: PodPlan): string | undefined {
  const key = `${p.namespace}/${p.name}`;
  const fatal = plan.blockers.filter((b) => b.fatal && b.pod === key && b.kind !== 'no-capacity');
  if (fatal.length > 0) return fatal.map((b) => b.message).join('; ');
  if (p.action === 'refuse') return `pod ${key}: ${p.reason}`;
  return undefined;
}

function sameWorkload(a: PodPlan, b: PodPlan): boolean {
  return a.workload?.kind === b.workload?.kind && a.workload?.namespace === b.workload?.namespace && a.workload?.name === b.workload?.name;
}

function isPodReadyByUid(pods: Map<string, V1Pod>, uid: string): boolean {
  const pod = pods.get(uid);
  return pod !== undefined && isPodReady(pod);
}


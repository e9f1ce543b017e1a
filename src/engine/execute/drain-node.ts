// One node's drain, once the node is cordoned: a loop over the node's live pod set (Karpenter's
// terminator in spirit). Each round re-plans from the pods the watch holds NOW (a pure function
// of the current state, with the run-wide live readiness), asks selectWork what to start, starts
// it, and waits for the next change — a pod event, a finished task, a freed slot, a PDB a waiting
// pod depends on, or the deadline. It ends when the node holds nothing but what stays, when
// what is left failed (named), or at the deadline. Pods that arrive mid-drain are planned too.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { fetchWorkloads } from '../kube/plan-input.js';
import { describeApiError } from '../kube/errors.js';
import { budgetStatus } from '../plan/pdb.js';
import { isNodeReady, isPodReady, NOT_READY_NODE_DELETE_WAIT_MS, podKey } from '../plan/pod.js';
import { planDrain } from '../plan/plan.js';
import type { DrainPlan, PodPlan } from '../types.js';
import { Wakeup, abortReason, afterPendingIo, deadlineSignal, waitFor } from '../wait.js';
import { nodeEvent } from './cordon.js';
import { withForcedDeletions } from './bypass.js';
import { PodLedger, awaitCompletion, awaitTerminating, evictPod, fixedPods, migratePods, type PodSource, type PodWorkContext } from './pod-work.js';
import type { NodeEnd, NodeRun, Run } from './run-state.js';
import { selectWork, type Work, type WorkView } from './select-work.js';
import { trackVolumes } from './volume-detach.js';

/**
 * How long a node that goes NotReady during its drain may stay so before the drain stops: its
 * pods are no longer Ready, so their PDBs refuse to evict them while the budget is not met, and
 * no kubelet confirms deletions; waiting on would hang until the taint-based eviction (300 s).
 * A kubelet restart takes seconds.
 */
export const NODE_LOST_GRACE_MS = 30_000;

/** The bound of one node's drain: aborts with the reason (timeout, cancellation, node lost). */
export type Deadline = ReturnType<typeof deadlineSignal>;

/**
 * Drains a cordoned node within `deadline`; returns how its work ended. What happened to each
 * pod is in `n.results` (every pod the plan had to move is there, also when the drain ended first).
 */
export async function drainNode(run: Run, n: NodeRun, deadline: Deadline): Promise<NodeEnd> {
  const { env } = run;
  const started = env.clock.now();
  const pool = env.options.dryRun ? undefined : run.services.pool;
  const pods: PodSource = pool ? pool.podsOn(n.name) : fixedPods(n.plannedPods);
  const ledger = new PodLedger(n.results, () => run.sinceStart());
  let lastPlan: DrainPlan | undefined;
  let stopWatchingNode = () => {};
  try {
    const node = pool ? (pool.node(n.name) ?? (await env.api.getNode(n.name))) : n.node;
    const nodeReady = isNodeReady(node);
    if (pool && nodeReady) stopWatchingNode = stopIfNodeLost(run, n.name, deadline);
    if (!nodeReady) {
      const waitS = (env.options.skipWaitForDeleteTimeoutSeconds * 1000 || NOT_READY_NODE_DELETE_WAIT_MS) / 1000;
      env.logger.warn(`node ${n.name} is NotReady: its kubelet may never confirm deletions, so each deletion is waited for at most ${waitS}s after it was requested and reported as not confirmed`, { node: n.name });
    }
    const dry = env.options.dryRun ? ' (dry run: nothing persisted)' : '';
    nodeEvent(run, n.name, 'Normal', 'SafeDrainStarted', `Draining node${dry}: ${n.plan?.groups.flat().length ?? 0} pods to move. ${env.origin}`);
    const volumes = await trackVolumes(run, n);
    const work = podWork(run, n, { pods, ledger, nodeReady, signal: deadline.signal });
    lastPlan = await env.logger.group(`Draining node ${n.name}`, () => loop(run, work, node, new Set(n.plannedPods.map((p) => p.metadata?.uid ?? ''))));
    if (volumes && !deadline.signal.aborted) n.volumeDetach = await volumes.awaitDetached(n.results, pods.items(), deadline.signal);
    return deadline.signal.aborted ? { kind: 'stopped', why: abortReason(deadline.signal) } : { kind: 'done' };
  } catch (err) {
    return deadline.signal.aborted ? { kind: 'stopped', why: abortReason(deadline.signal) } : { kind: 'failed', why: describeApiError(err) };
  } finally {
    stopWatchingNode();
    recordUnworkedPods(n, ledger, lastPlan ?? n.plan, deadline.signal);
    n.durationMs += env.clock.now() - started;
  }
}

function podWork(run: Run, n: NodeRun, o: Pick<PodWorkContext, 'pods' | 'ledger' | 'nodeReady' | 'signal'>): PodWorkContext {
  const { env, services } = run;
  return {
    api: env.api,
    clock: env.clock,
    options: env.options,
    logger: env.logger,
    pdbs: services.pdbs!,
    budgets: services.budgets!,
    workloads: services.workloads!,
    migrations: services.migrations!,
    node: n.name,
    problems: n.problems,
    mark: (phase, subject, message) => run.mark(n.name, phase, subject, message),
    ...withForcedDeletions(run, n.name),
    ...o,
  };
}

/** Pods the plan had to move that the drain never got to, and pods that stay: named, never dropped. */
function recordUnworkedPods(n: NodeRun, ledger: PodLedger, plan: DrainPlan | undefined, signal: AbortSignal): void {
  const why = signal.aborted ? abortReason(signal) : 'stopped';
  for (const p of plan?.pods ?? []) {
    if ((p.action === 'evict' || p.action === 'migrate') && !ledger.has(p.uid)) ledger.open(p).message = `not evicted: the drain ended (${why}) before its turn`;
  }
  for (const p of plan?.pods ?? []) {
    if (p.action === 'skip' && !ledger.has(p.uid)) n.results.push({ pod: podKey({ metadata: { namespace: p.namespace, name: p.name } }), outcome: 'skipped', message: p.reason, budgetWaits: 0 });
  }
}

interface Task {
  tier: number;
  /** Holds a run-wide eviction slot, under this budget (null: waits on a terminating pod, no slot). */
  budget: string | undefined | null;
  done: Promise<void>;
}

/** The reconcile loop; returns the last plan made (what the node held when it ended). */
async function loop(run: Run, c: PodWorkContext, node: V1Node, knownUids: Set<string>): Promise<DrainPlan | undefined> {
  // Tasks listen to `stop` as well as the deadline: if the loop itself fails, nothing goes on.
  const stop = new AbortController();
  const work: PodWorkContext = { ...c, signal: AbortSignal.any([c.signal, stop.signal]) };
  const wake = new Wakeup();
  const tasks = new Set<Task>();
  /** Evictions in flight by pod UID, each with the switch that gives its budget wait up for a migration. */
  const evictions = new Map<string, { pod: PodPlan; surge: AbortController }>();
  const unsubscribe = subscribeToChanges(run, c, evictions, wake);
  let plan: DrainPlan | undefined;
  try {
    for (;;) {
      if (work.signal.aborted) break;
      await resolveNewWorkloads(run, c.pods.items());
      // From here to the wait below is one synchronous step: the plan is of the live state now and
      // its work starts now, so no other node of the run decides on the same state in between.
      plan = replan(run, c, node);
      const { work: next, pending } = selectWork(workView(run, c, plan, tasks, evictions));
      for (const w of next) startWork(run, work, w, { tasks, evictions, wake, knownUids });
      if (pending === 0 && tasks.size === 0) break;
      await wake.next(work.signal);
      // What woke the loop may also have woken a budget wait: its eviction goes out first, the
      // next plan (milliseconds of CPU on a full node) after the requests already under way.
      await afterPendingIo();
    }
  } catch (err) {
    stop.abort(new Error(`the drain loop failed: ${describeApiError(err)}`));
    throw err;
  } finally {
    unsubscribe();
    // Every wait inside a task ends on the signal; let them record their outcome first.
    await Promise.allSettled([...tasks].map((t) => t.done));
  }
  return plan;
}

/** What wakes the loop: the node's pods, a freed run-wide slot, a PDB a waiting eviction depends on. */
function subscribeToChanges(run: Run, c: PodWorkContext, evictions: Map<string, { pod: PodPlan }>, wake: Wakeup): () => void {
  const offPods = c.pods.subscribe(() => {
    // A pod turning not-Ready may now be admitted by its PDB while its waiter still sleeps.
    c.budgets.podReadinessChanged();
    wake.notify();
  });
  const offSlots = run.slots.onFree(wake.notify);
  const offPdbs = c.pdbs.subscribe((_type, pdb) => {
    const key = `${pdb.metadata?.namespace}/${pdb.metadata?.name}`;
    for (const { pod } of evictions.values()) if (waitingForBudget(c, pod) && c.ledger.result(pod)?.pdb === key) return wake.notify();
  });
  return () => {
    offPods();
    offSlots();
    offPdbs();
  };
}

function waitingForBudget(c: PodWorkContext, pod: PodPlan): boolean {
  const r = c.ledger.result(pod);
  return r !== undefined && r.outcome === 'blocked' && r.budgetWaits > 0;
}

/** Owners of pods not seen before (pods that arrived mid-drain), resolved before the next plan. */
async function resolveNewWorkloads(run: Run, pods: V1Pod[]): Promise<void> {
  const workloads = run.services.workloads!;
  const unknown = workloads.unresolved(pods);
  if (unknown.length > 0) workloads.add(await fetchWorkloads(run.env.api, unknown));
}

/** The plan for the pods on the node right now (capacity is judged once, in the first plan). */
function replan(run: Run, c: PodWorkContext, node: V1Node): DrainPlan {
  const live = c.pods.items();
  const namespaces = new Set(live.map((p) => p.metadata?.namespace));
  return planDrain(
    {
      node,
      pods: live,
      pdbs: c.pdbs.items().filter((p) => namespaces.has(p.metadata?.namespace)),
      workloads: run.services.workloads!.snapshotFor(live),
      now: run.env.clock.now(),
      otherNodes: [],
    },
    run.env.options,
  );
}

function workView(run: Run, c: PodWorkContext, plan: DrainPlan, tasks: Set<Task>, evictions: Map<string, { pod: PodPlan; surge: AbortController }>): WorkView {
  const budgetWaits = new Map<string, { givingUp: boolean }>();
  for (const [uid, e] of evictions) if (waitingForBudget(c, e.pod)) budgetWaits.set(uid, { givingUp: e.surge.signal.aborted });
  return {
    plan,
    started: (uid) => c.ledger.has(uid),
    budgetWaits,
    tiersInFlight: [...tasks].filter((t) => t.budget !== null).map((t) => t.tier),
    freeSlots: run.slots.limit - run.slots.inFlight,
    inFlightUnder: (pdb) => run.slots.inFlightUnder(pdb),
    allowedNow: (pdb) => {
      const cached = c.pdbs.get(pdb);
      return cached ? budgetStatus(cached).allowed : undefined;
    },
    ready: (p) => {
      const pod = c.pods.get(`${p.namespace}/${p.name}`);
      return pod?.metadata?.uid === p.uid && isPodReady(pod);
    },
  };
}

interface LoopState {
  tasks: Set<Task>;
  evictions: Map<string, { pod: PodPlan; surge: AbortController }>;
  wake: Wakeup;
  knownUids: Set<string>;
}

/** Starts one piece of work selectWork chose; synchronous up to each task's first wait. */
function startWork(run: Run, c: PodWorkContext, w: Work, s: LoopState): void {
  const pods = w.kind === 'migrate' ? w.pods : [w.pod];
  for (const p of pods) noteArrival(run, c, p, s.knownUids);
  const start = (tier: number, budget: string | undefined | null, body: () => Promise<void>) => {
    if (budget !== null) run.slots.take(budget);
    const task: Task = { tier, budget, done: Promise.resolve() };
    task.done = body().finally(() => {
      s.tasks.delete(task);
      if (budget !== null) run.slots.give(budget);
      s.wake.notify();
    });
    s.tasks.add(task);
  };
  switch (w.kind) {
    case 'refuse':
      c.ledger.fail(w.pod, w.why);
      c.logger.error(w.why, { node: c.node, pod: `${w.pod.namespace}/${w.pod.name}` });
      return;
    case 'await-terminating':
      return start(-1, null, () => awaitTerminating(c, w.pod));
    case 'await-completion':
      return start(-1, null, () => awaitCompletion(c, w.pod));
    case 'give-up-wait':
      c.mark('plan', `${w.pod.namespace}/${w.pod.name}`, `migrate instead: ${w.why}`);
      s.evictions.get(w.pod.uid)?.surge.abort(new Error(w.why));
      return;
    case 'evict': {
      const surge = new AbortController();
      s.evictions.set(w.pod.uid, { pod: w.pod, surge });
      return start(w.tier, w.budget, () => evictPod(c, w.pod, surge.signal).finally(() => s.evictions.delete(w.pod.uid)));
    }
    case 'migrate':
      return start(w.tier, w.budget, () => migratePods(c, w.pods, w.ready));
  }
}

/** A pod the first plan did not know arrived during the drain: said in the timeline and the log. */
function noteArrival(run: Run, c: PodWorkContext, p: PodPlan, known: Set<string>): void {
  if (known.has(p.uid)) return;
  known.add(p.uid);
  c.mark('plan', `${p.namespace}/${p.name}`, `arrived on the node during the drain: ${p.action} (${p.reason})`);
  c.logger.info(`${p.namespace}/${p.name} arrived on node ${c.node} during the drain: ${p.action} (${p.reason})`);
}

/**
 * Watches the node while it drains: NotReady for NODE_LOST_GRACE_MS ends the drain with the
 * reason (the report then names every pod left). Returns the function that stops watching.
 */
function stopIfNodeLost(run: Run, name: string, deadline: Deadline): () => void {
  const { clock, logger } = run.env;
  const nodes = run.services.pool!.nodeWatch;
  const lost = new AbortController();
  let notReadySince: { at: number; why: string } | undefined;
  const readiness = () => nodes.get(name)?.status?.conditions?.find((c) => c.type === 'Ready');
  void waitFor<string>({
    signal: AbortSignal.any([deadline.signal, lost.signal]),
    clock,
    subscribe: (changed) => nodes.subscribe((_t, node) => node.metadata?.name === name && changed()),
    check: () => {
      const ready = readiness();
      if (ready?.status === 'True') {
        if (notReadySince) {
          notReadySince = undefined;
          run.mark(name, 'wait', name, 'node Ready again');
          logger.info(`node ${name} is Ready again`);
        }
        return undefined;
      }
      if (!notReadySince) {
        const since = ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).toISOString() : 'now';
        notReadySince = { at: clock.now(), why: `Ready=${ready?.status ?? 'missing'}${ready?.reason ? ` (${ready.reason})` : ''} since ${since}` };
        run.mark(name, 'wait', name, `node NotReady: ${notReadySince.why}`);
        logger.warn(`node ${name} went NotReady during the drain (${notReadySince.why}); the drain stops in ${NODE_LOST_GRACE_MS / 1000}s unless it is Ready again`, { node: name });
      }
      return clock.now() - notReadySince.at >= NODE_LOST_GRACE_MS ? notReadySince.why : undefined;
    },
    recheckAt: () => (notReadySince ? notReadySince.at + NODE_LOST_GRACE_MS : undefined),
  }).then(
    (why) =>
      deadline.abort(
        new Error(
          `node ${name} went NotReady during the drain (${why}) and stayed so for ${NODE_LOST_GRACE_MS / 1000}s: its pods are not Ready, ` +
            'so their PDBs refuse to evict them while the budget is not met, and no kubelet confirms deletions. The node is left cordoned; ' +
            'Kubernetes deletes its pods when their not-ready/unreachable tolerations expire (300 s by default), or bring the node back and drain again',
        ),
      ),
    () => undefined, // the drain ended first
  );
  return () => lost.abort(new Error('the drain ended'));
}

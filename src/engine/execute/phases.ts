// The run as data: for each operation, the list of phases it goes through, each a function of
// the run that returns whether the run goes on. A phase records what it did on the run's nodes
// (facts, and how a node's part ended); nothing here builds the report (report/build.ts reads
// the facts once, at the end). After the phases, FINISH always runs, whatever happened.
//
//   drain     lock → restore leftovers → plan → refuse → cordon → drain
//   plan      plan
//   cordon    cordon
//   uncordon  lock → restore leftovers → uncordon
//   finish    stop watching → end nodes (Events, uncordon-on-failure) → restore-after → release locks
import type { V1Node } from '@kubernetes/client-node';
import { planClusterPods, type ClusterPods } from '../kube/cluster-pods.js';
import { describeApiError } from '../kube/errors.js';
import { fetchWorkloads, nodeCapacities, planInputFor } from '../kube/plan-input.js';
import { resolveNodeCount } from '../options.js';
import { NODE_ORDER_RULE, drainOrder, podsToMove } from '../plan/node-order.js';
import { packReplacements } from '../plan/packing.js';
import { planDrain } from '../plan/plan.js';
import { renderPlanText } from '../report/text.js';
import type { Operation, WorkloadChange } from '../types.js';
import { abortReason, deadlineSignal, runBounded } from '../wait.js';
import { BudgetWaiter } from './budget.js';
import { nodeEvent, setCordon } from './cordon.js';
import { DrainLocks } from './drain-lock.js';
import { drainNode, type Deadline } from './drain-node.js';
import { LiveWorkloads } from './live-workloads.js';
import { WorkloadMigrations } from './migrate.js';
import { PoolWatch } from './pool-watch.js';
import { restoreLeftoverChangesByNode } from './restore.js';
import type { NodeRun, Run } from './run-state.js';
import { fatalFindings, nodeDrained } from './verdict.js';

export type Phase = (run: Run) => Promise<'next' | 'stop'>;

/** Cordon patches in flight at once. */
const CORDONS_AT_ONCE = 10;

export const PHASES: Record<Operation, Phase[]> = {
  drain: [takeLocks, restoreLeftovers, planNodes, refuseFatalPlans, cordonNodes, drainNodes],
  plan: [planNodes],
  cordon: [cordonNodes],
  uncordon: [takeLocks, restoreLeftovers, uncordonNodes],
};

export const FINISH: ((run: Run) => Promise<void>)[] = [stopWatching, endNodes, restoreAfter, releaseLocks];

/**
 * The bound of the phases before the drains and of the first node's drain: `timeout` counts from
 * the run's start (plan and cordon included); each later node has its own. Carries the run's stop.
 */
export function firstDeadline(run: Run): Deadline {
  const ms = run.env.options.timeoutMs;
  return deadlineSignal(run.signal, ms > 0 ? ms - run.sinceStart() : undefined, run.env.clock, () => new Error(`timeout of ${ms / 1000}s expired`));
}

/** When the run must stop before `what`, every node not yet ended says why; true then. */
function stoppedBefore(run: Run, deadline: AbortSignal, what: string): boolean {
  if (!deadline.aborted) return false;
  const why = `${abortReason(deadline)} before ${what}`;
  for (const n of run.nodes) n.endWith({ kind: 'stopped', why });
  run.env.logger.warn(`stopping: ${why}`);
  return true;
}

// ---- lock ------------------------------------------------------------------------------------

async function takeLocks(run: Run): Promise<'next' | 'stop'> {
  const { api, logger, clock, options, identity } = run.env;
  if (options.dryRun) return 'next';
  const taken = await DrainLocks.acquire(api, logger, clock, run.nodes.map((n) => n.name), identity, run.nodes.map((n) => n.node));
  if (Array.isArray(taken)) {
    for (const t of taken) logger.error(t.message, { node: t.node });
    const held = taken.map((t) => t.node).join(', ');
    for (const n of run.nodes) n.endWith({ kind: 'held-back', why: taken.find((t) => t.node === n.name)?.message ?? `node ${n.name}: nothing was changed, because another run holds the drain lock of ${held}` });
    return 'stop';
  }
  run.services.locks = taken;
  taken.lost.addEventListener('abort', () => run.stop(taken.lost.reason as Error), { once: true });
  for (const a of taken.acquired) {
    if (a.previous) run.mark(a.node, 'plan', a.node, `took over the drain lock of an earlier run (host ${a.previous.holder.host}, pid ${a.previous.holder.pid}): ${a.previous.why}`);
  }
  return 'next';
}

// ---- restore leftovers -------------------------------------------------------------------------

/** Temporary changes an earlier, killed run left on these nodes' workloads go back first. */
async function restoreLeftovers(run: Run): Promise<'next' | 'stop'> {
  const { api, logger, options } = run.env;
  if (stoppedBefore(run, run.signal, "restoring earlier runs' changes")) return 'stop';
  const left = await restoreLeftoverChangesByNode(api, logger, { nodes: run.nodes.map((n) => n.name), dryRun: options.dryRun });
  for (const { node, change } of left) {
    const n = run.node(node) ?? run.nodes[0]!;
    n.changes.push({ ...change, change: `left by an earlier run: ${change.change}` });
    run.mark(n.name, 'migrate', change.workload, change.restored ? 'restored what an earlier run left' : 'could not restore what an earlier run left');
    if (change.restored && !options.dryRun) run.restoredWorkloads.add(change.workload);
  }
  return 'next';
}

// ---- plan ------------------------------------------------------------------------------------

/**
 * Every node planned from one paged list of the cluster's pods (a drain keeps it as its one
 * watch of the drained nodes' pods; a plan or a dry run needs only a snapshot), with capacity
 * judged as the run will leave the cluster and the run's replacements packed together.
 */
async function planNodes(run: Run): Promise<'next' | 'stop'> {
  const { api, logger, options, clock } = run.env;
  if (stoppedBefore(run, run.signal, 'planning: nothing was changed')) return 'stop';
  const names = run.nodes.map((n) => n.name);
  const watchPods = options.operation === 'drain' && !options.dryRun;
  const pool = watchPods ? new PoolWatch(api, names, (m) => logger.debug(m)) : undefined;
  run.services.pool = pool;
  const [footprints, scanned] = await Promise.all([api.listNodeFootprints(), pool ? pool.start() : planClusterPods(api, names)]);
  const selected = new Set(names);
  // Replacements can only go to nodes this run keeps: its own nodes count as cordoned.
  const capacity = nodeCapacities(
    footprints.map((n: V1Node) => (selected.has(n.metadata?.name ?? '') ? { ...n, spec: { ...n.spec, unschedulable: true } } : n)),
    scanned.requested,
  );
  const workloads = new LiveWorkloads(pool?.readiness);
  workloads.add(await fetchWorkloads(api, names.flatMap((name) => podsOf(scanned, name))));
  workloads.markRestored(run.restoredWorkloads);
  run.services.workloads = workloads;
  for (const n of run.nodes) {
    const started = clock.now();
    n.plannedPods = podsOf(scanned, n.name);
    n.plan = planDrain(planInputFor(n.node, n.plannedPods, capacity, run.services.pdbs!.items(), workloads.snapshotFor(n.plannedPods), clock.now()), options);
    n.durationMs += clock.now() - started;
    run.mark(n.name, 'plan', n.name, `${n.plan.pods.length} pods: ${n.plan.groups.flat().length} to move, ${n.plan.blockers.length} findings`);
  }
  scanned.onDrainedNodes.clear();
  orderNodes(run);
  packReplacements(run.nodes.map((n) => ({ plan: n.plan!, pods: n.plannedPods })), capacity);
  for (const n of run.nodes) await logger.group(`Plan for node ${n.name}`, async () => showPlan(run, n));
  if (options.operation === 'drain') startDrainServices(run);
  else for (const n of run.nodes) n.endWith({ kind: 'done' }); // a plan is all there is to do
  return 'next';
}

function podsOf(scanned: ClusterPods, node: string) {
  return scanned.onDrainedNodes.get(node) ?? [];
}

/** Drain order is data (plan/node-order.ts); the run's nodes follow it, so the report shows it. */
function orderNodes(run: Run): void {
  const order = drainOrder(run.nodes.map((n) => ({ node: n.name, plan: n.plan })));
  const before = [...run.nodes];
  order.forEach((from, to) => (run.nodes[to] = before[from]!));
  const width = resolveNodeCount(run.env.options.maxUnavailableNodes, run.nodes.length);
  run.drainOrder = { nodes: run.nodes.map((n) => n.name), rule: NODE_ORDER_RULE };
  if (run.nodes.length > 1) {
    run.env.logger.info(`drain order (${NODE_ORDER_RULE}; ${width} at a time): ${run.nodes.map((n) => `${n.name} (${podsToMove(n.plan)} to move)`).join(', ')}`);
  }
}

/** The plan for the log: the shell's own view when it has one, else the table as one message. */
function showPlan(run: Run, n: NodeRun): void {
  const { logger, onPlan } = run.env;
  const plan = n.plan!;
  run.services.gate?.notePlan(plan);
  if (onPlan) onPlan(plan);
  else logger.info(renderPlanText({ ...plan, blockers: [] }));
  for (const b of plan.blockers) {
    const line = `${b.fatal ? 'BLOCKS' : 'warning'} [${b.kind}] ${b.message}`;
    if (b.fatal) logger.error(line, { node: plan.node, pod: b.pod });
    else logger.warn(line, { node: plan.node, pod: b.pod });
  }
}

/** What only a drain needs: budget waits and the run-wide migrations. */
function startDrainServices(run: Run): void {
  const { api, logger, clock, options, identity } = run.env;
  run.services.budgets = new BudgetWaiter(run.services.pdbs!, clock);
  run.services.migrations = new WorkloadMigrations({
    api,
    clock,
    logger,
    dryRun: options.dryRun,
    run: identity.holder,
    mayWrite: (node) => run.mayWrite(node),
    record: (node, change: WorkloadChange) => {
      const n = run.node(node);
      if (n && !n.changes.includes(change)) n.changes.push(change);
    },
  });
}

// ---- refuse ------------------------------------------------------------------------------------

/** Refusals the API server or kubectl would also make: stop before changing anything. */
async function refuseFatalPlans(run: Run): Promise<'next' | 'stop'> {
  const refused = run.nodes.filter((n) => fatalFindings(n).length > 0);
  if (refused.length === 0) return 'next';
  for (const n of run.nodes) {
    n.endWith(fatalFindings(n).length > 0 ? { kind: 'refused' } : { kind: 'held-back', why: `node ${n.name}: nothing was changed, because the drain of ${refused.map((r) => r.name).join(', ')} cannot proceed` });
  }
  return 'stop';
}

// ---- cordon / uncordon -------------------------------------------------------------------------

/** Every selected node cordoned before the first eviction (as `kubectl drain -l`), a few patches at a time. */
async function cordonNodes(run: Run): Promise<'next' | 'stop'> {
  const deadline = run.firstDeadline!.signal;
  let failed: { node: string; why: string } | undefined;
  await runBounded(
    CORDONS_AT_ONCE,
    run.nodes.map((n) => async () => {
      if (failed || stoppedBefore(run, deadline, `cordoning node ${n.name}`)) return;
      try {
        if (n.wasCordoned) run.env.logger.info(`node ${n.name} was already cordoned`);
        else await setCordon(run, n, true);
        if (run.env.options.operation === 'cordon') n.endWith({ kind: 'done' });
      } catch (err) {
        failed ??= { node: n.name, why: `node ${n.name}: the cordon failed: ${describeApiError(err)}` };
        n.endWith({ kind: 'failed', why: failed.why });
      }
    }),
  );
  if (failed) for (const n of run.nodes) n.endWith({ kind: 'held-back', why: `not drained: the cordon of node ${failed.node} failed` });
  return failed || deadline.aborted ? 'stop' : 'next';
}

async function uncordonNodes(run: Run): Promise<'next' | 'stop'> {
  for (const n of run.nodes) {
    if (stoppedBefore(run, run.firstDeadline!.signal, `uncordon of node ${n.name}`)) return 'stop';
    await setCordon(run, n, false);
    n.endWith({ kind: 'done' });
  }
  return 'next';
}

// ---- drain -------------------------------------------------------------------------------------

/**
 * max-unavailable-nodes at a time, in drain order; the first node that does not drain starts no
 * further node (those in flight finish: their evictions are under way).
 */
async function drainNodes(run: Run): Promise<'next' | 'stop'> {
  const { options, clock } = run.env;
  const width = resolveNodeCount(options.maxUnavailableNodes, run.nodes.length);
  let failedNode: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < run.nodes.length && failedNode === undefined) {
      const i = next++;
      const n = run.nodes[i]!;
      // The first node's bound counts from the run's start; each later node's from its own.
      const deadline = i === 0 ? run.firstDeadline! : deadlineSignal(run.signal, options.timeoutMs > 0 ? options.timeoutMs : undefined, clock, () => new Error(`timeout of ${options.timeoutMs / 1000}s expired`));
      if (stoppedBefore(run, deadline.signal, `draining node ${n.name}`)) {
        failedNode ??= n.name;
        return;
      }
      try {
        n.endWith(await run.env.api.readsBoundBy(deadline.signal, () => drainNode(run, n, deadline)));
      } finally {
        deadline.dispose();
      }
      if (!nodeDrained(n)) failedNode ??= n.name;
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, run.nodes.length) }, worker));
  if (failedNode !== undefined) {
    const rest = run.nodes.filter((n) => n.end === undefined);
    for (const n of rest) n.endWith({ kind: 'held-back', why: `not drained: the run stopped after node ${failedNode} failed${n.cordoned && !n.wasCordoned ? ' (cordoned by this run)' : ''}` });
    if (rest.length) run.env.logger.warn(`stopping after node ${failedNode} failed; not drained: ${rest.map((n) => n.name).join(', ')}`);
  }
  return 'next';
}

// ---- finish ------------------------------------------------------------------------------------

async function stopWatching(run: Run): Promise<void> {
  const { budgets, pdbs, pool } = run.services;
  budgets?.close();
  pdbs?.stop();
  pool?.stop();
}

/**
 * Each node's end: an Event saying how it went; for a node this run cordoned and did not drain,
 * uncordon-on-failure — unless its drain lock is no longer this run's (nothing more is done then).
 */
async function endNodes(run: Run): Promise<void> {
  const { options, logger, origin } = run.env;
  for (const n of run.nodes) {
    n.endWith({ kind: 'held-back', why: 'not processed: the run stopped before this node' });
    if (options.operation !== 'drain' && options.operation !== 'cordon') continue;
    if (nodeDrained(n)) {
      if (options.operation === 'drain') nodeEvent(run, n.name, 'Normal', 'SafeDrainSucceeded', `Node drained by safe-drain${options.dryRun ? ' (dry run)' : ''}. ${origin}`);
      continue;
    }
    nodeEvent(run, n.name, 'Warning', 'SafeDrainFailed', `Drain failed: ${n.end?.kind === 'refused' ? 'refused by its plan' : 'see the run\'s report'}. ${origin}`);
    if (!n.cordoned || n.wasCordoned || !options.uncordonOnFailure || !run.mayWrite(n.name)) continue;
    try {
      await setCordon(run, n, false);
    } catch (err) {
      logger.error(`node ${n.name}: uncordon-on-failure failed: ${describeApiError(err)}; the node is left cordoned`, { node: n.name });
    }
  }
  // Best effort, bounded by the client's own retry bound; never a reason to fail the run.
  await Promise.all(run.background);
}

/** restore-after: the nodes this run cordoned are made schedulable again, whatever the outcome (still under the locks). */
async function restoreAfter(run: Run): Promise<void> {
  const { options, logger } = run.env;
  if (options.operation !== 'drain' || options.dryRun || !options.availability.restoreAfter) return;
  for (const n of run.nodes) {
    if (!n.cordoned || n.wasCordoned || !run.mayWrite(n.name)) continue;
    try {
      await setCordon(run, n, false);
    } catch (err) {
      logger.error(`node ${n.name}: restore-after could not uncordon it: ${describeApiError(err)}; the node is left cordoned`, { node: n.name });
    }
  }
  await Promise.all(run.background);
}

/** The locks go last: until then, no other run can start on these nodes. A failed release is a warning. */
async function releaseLocks(run: Run): Promise<void> {
  const locks = run.services.locks;
  if (!locks) return;
  for (const node of locks.lostLocks) {
    run.warn(`node ${node}: the drain lock was taken over mid-run (${abortReason(locks.lost)}); this run made no further change for the node (no uncordon-on-failure, restore-after or restore of its raises): the run that holds the lock now owns them`);
  }
  for (const failure of await locks.release()) {
    const node = run.nodes.find((n) => failure.startsWith(`node ${n.name}:`));
    if (node) run.mark(node.name, 'error', node.name, failure);
    run.warn(failure);
  }
}

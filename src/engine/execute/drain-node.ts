// One node's part of a run, in the phases run.ts drives:
//   planNode          change nothing: plan from the pods the run listed once (run.ts shows it)
//   (run.ts cordons every selected node once all plans pass their checks)
//   drainCordonedNode watch the node's pods and reconcile until only what stays is left
//   finishNode        Events, and uncordon-on-failure for a node this run cordoned
// Whatever happens, the NodeReport says exactly what was cordoned, evicted and left.
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { planInputFor } from '../kube/plan-input.js';
import type { ResourceWatch } from '../kube/watch.js';
import { planDrain } from '../plan/plan.js';
import { NOT_READY_NODE_DELETE_WAIT_MS, isNodeReady, podKey } from '../plan/pod.js';
import { renderPlanText } from '../report/text.js';
import { blockerLogLine, groupBlockers } from '../report/labels.js';
import type { BlockedPod, DrainOptions, DrainPlan, NodeCapacity, NodeReport, PodResult, WorkloadInfo } from '../types.js';
import type { EvictionSlots } from './semaphore.js';
import type { PoolWatch } from './pool-watch.js';
import { WaitAborted, abortReason } from './abort.js';
import { describeBudget, type BudgetWaiter } from './budget.js';
import { nodeEvent, setCordon, type Mark, type NodeActionContext } from './cordon.js';
import { drainDeadline, type Deadline } from './deadline.js';
import { PodLedger, fixedPods, type PodSource } from './pod-lifecycle.js';
import { reconcileNode } from './reconcile.js';
import { describeApiError } from '../kube/errors.js';

export interface NodeDrainContext extends NodeActionContext {
  options: DrainOptions;
  /** Cancellation of the whole run. */
  signal: AbortSignal;
  pdbWatch: ResourceWatch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  /** The run's one limit on evictions in flight (max-concurrent-evictions), across its nodes. */
  slots: EvictionSlots;
  /** The run's one watch of the drained nodes and their pods (set by run.ts for a real drain). */
  pool?: PoolWatch;
  /** Epoch ms the run started; timeline entries are relative to it. */
  runStart: number;
  /** Shows a node's plan (the shells decide where); default: the plan table as one log message. */
  onPlan?: (plan: DrainPlan) => void;
}

export function newNodeReport(node: V1Node, options: DrainOptions): NodeReport {
  const cordoned = node.spec?.unschedulable === true;
  return {
    node: node.metadata?.name ?? '',
    operation: options.operation,
    dryRun: options.dryRun,
    wasCordoned: cordoned,
    cordoned,
    uncordoned: false,
    results: [],
    workloadChanges: [],
    blocked: [],
    timeline: [],
    success: false,
    durationMs: 0,
  };
}

export function marker(report: NodeReport, runStart: number): Mark {
  return (phase, subject, message) => report.timeline.push({ at: Date.now() - runStart, phase, subject, message });
}

/** What phase 1 learnt, for phase 3. */
export interface PlannedNode {
  node: V1Node;
  pods: V1Pod[];
  workloads: Record<string, WorkloadInfo>;
}

/**
 * Phase 1, changes nothing: the node's plan, from what the run gathered once for all its nodes
 * (`pods` on this node, `capacity` of every node as the run will leave them, `workloads`).
 * Shown by showPlan once the run-wide capacity check (plan/packing.ts) has added its findings.
 */
export function planNode(ctx: NodeDrainContext, node: V1Node, report: NodeReport, pods: V1Pod[], capacity: NodeCapacity[], workloads: Record<string, WorkloadInfo>): PlannedNode {
  const name = report.node;
  const started = Date.now();
  const plan = planDrain(planInputFor(node, pods, capacity, ctx.pdbWatch.items(), workloads), ctx.options);
  report.plan = plan;
  report.durationMs += Date.now() - started;
  marker(report, ctx.runStart)('plan', name, `${plan.pods.length} pods: ${plan.groups.flat().length} to move, ${plan.blockers.length} findings`);
  return { node, pods, workloads };
}

/** Findings that stop the drain before any change. */
export function fatalFindings(report: NodeReport): BlockedPod[] {
  return (report.plan?.blockers ?? []).filter((b) => b.fatal).map((b) => ({ pod: b.pod, ...(b.pdbs && { pdb: b.pdbs.join(', ') }), message: b.message }));
}

/**
 * How long a node that goes NotReady during its drain may stay so before the drain stops: its
 * pods are no longer Ready, so their PDBs refuse to evict them while the budget is not met, and
 * no kubelet confirms deletions; waiting on would hang until the taint-based eviction (300 s).
 * A kubelet restart takes seconds.
 */
export const NODE_LOST_GRACE_MS = 30_000;

/**
 * Phase 3: the node is cordoned; move its pods until only what stays is left, or the deadline.
 * `deadline` (the run's, for the first node) bounds it; without one, `timeout` counts from now.
 */
export async function drainCordonedNode(ctx: NodeDrainContext, planned: PlannedNode, report: NodeReport, given?: Deadline): Promise<void> {
  const { client, options, logger } = ctx;
  const name = report.node;
  const started = Date.now();
  const mark = marker(report, ctx.runStart);
  const deadline = given ?? drainDeadline(ctx.signal, options.timeoutMs);
  let stopWatchingNode = () => {};
  const ledger = new PodLedger(report.results, () => Date.now() - ctx.runStart);
  let lastPlan: DrainPlan | undefined;
  try {
    // The run's pod watch, started before the cordon: a pod bound before the cordon took effect is seen.
    const pool = options.dryRun ? undefined : ctx.pool;
    if (!options.dryRun && !pool) throw new Error('internal: a drain without the run\'s pod watch');
    const pods: PodSource = pool ? pool.podsOn(name) : fixedPods(planned.pods);
    const node = pool ? (pool.node(name) ?? (await client.getNode(name))) : planned.node;
    const nodeReady = isNodeReady(node);
    if (pool && nodeReady) stopWatchingNode = stopIfNodeLost(ctx, pool, name, deadline, mark);
    if (!nodeReady) {
      logger.warn(
        `node ${name} is NotReady: its kubelet may never confirm deletions, so each deletion is waited for at most ${(options.skipWaitForDeleteTimeoutSeconds * 1000 || NOT_READY_NODE_DELETE_WAIT_MS) / 1000}s after it was requested and reported as not confirmed`,
        { node: name },
      );
    }
    const dry = options.dryRun ? ' (dry run: nothing persisted)' : '';
    await nodeEvent(ctx, node, 'Normal', 'SafeDrainStarted', `Draining node${dry}: ${report.plan?.groups.flat().length ?? 0} pods to move. ${ctx.origin}`);
    lastPlan = await logger.group(`Draining node ${name}`, () =>
      reconcileNode(
        { client, options, logger, node: name, nodeReady, pods, pdbWatch: ctx.pdbWatch, budgets: ctx.budgets, slots: ctx.slots, ledger, report, signal: deadline.signal, mark },
        { node, workloads: planned.workloads, knownUids: new Set(planned.pods.map((p) => p.metadata?.uid ?? '')) },
      ),
    );
    if (deadline.signal.aborted) report.error = `node ${name}: ${abortReason(deadline.signal)}`;
  } catch (err) {
    report.error = err instanceof WaitAborted ? `node ${name}: ${err.why}` : `node ${name}: ${describeApiError(err)}`;
  } finally {
    if (!given) deadline.dispose();
    stopWatchingNode();
    const plan = lastPlan ?? report.plan;
    // Pods the plan still had to move when the drain ended: named, never silently dropped.
    for (const p of plan?.pods ?? []) {
      if ((p.action === 'evict' || p.action === 'migrate') && !ledger.has(p.uid)) {
        ledger.open(p).message = `not evicted: the drain ended (${report.error ?? 'stopped'}) before its turn`;
      }
    }
    for (const p of plan?.pods ?? []) {
      if (p.action === 'skip' && !ledger.has(p.uid)) report.results.push({ pod: podKey({ metadata: { namespace: p.namespace, name: p.name } }), outcome: 'skipped', message: p.reason, budgetWaits: 0 });
    }
    report.blocked = blockedPods(ctx, report.results);
    const unfinished = report.results.filter((r) => r.outcome === 'failed' || r.outcome === 'blocked');
    const restoreFailed = report.workloadChanges.filter((c) => !c.restored);
    report.success = !report.error && unfinished.length === 0 && restoreFailed.length === 0;
    if (!report.success) {
      const pods = unfinished.map((r) => `${r.pod} (${r.outcome === 'blocked' ? (report.blocked.find((b) => b.pod === r.pod)?.message ?? r.message) : r.message})`);
      report.error = [
        report.error,
        unfinished.length ? `${unfinished.length} pod(s) not evicted: ${pods.join('; ')}` : undefined,
        restoreFailed.length ? `not restored: ${restoreFailed.map((c) => `${c.workload} (${c.message ?? c.change})`).join('; ')}` : undefined,
      ]
        .filter(Boolean)
        .join('; ');
    }
    mark(report.success ? 'done' : 'error', name, report.success ? 'done' : (report.error ?? 'failed'));
    report.durationMs += Date.now() - started;
  }
}

/**
 * Watches the node while it drains: NotReady for NODE_LOST_GRACE_MS ends the drain with the
 * reason (the report then names every pod left). Returns the function that stops watching.
 */
function stopIfNodeLost(ctx: NodeDrainContext, pool: PoolWatch, name: string, deadline: Deadline, mark: Mark): () => void {
  let timer: NodeJS.Timeout | undefined;
  const unsubscribe = pool.nodeWatch.subscribe((_type, node) => {
    if (node.metadata?.name !== name) return;
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') {
      if (timer) {
        clearTimeout(timer);
        timer = undefined;
        mark('wait', name, 'node Ready again');
        ctx.logger.info(`node ${name} is Ready again`);
      }
      return;
    }
    if (timer) return;
    const since = ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).toISOString() : 'now';
    const why = `Ready=${ready?.status ?? 'missing'}${ready?.reason ? ` (${ready.reason})` : ''} since ${since}`;
    mark('wait', name, `node NotReady: ${why}`);
    ctx.logger.warn(`node ${name} went NotReady during the drain (${why}); the drain stops in ${NODE_LOST_GRACE_MS / 1000}s unless it is Ready again`, { node: name });
    timer = setTimeout(() => {
      deadline.stop(
        new Error(
          `node ${name} went NotReady during the drain (${why}) and stayed so for ${NODE_LOST_GRACE_MS / 1000}s: its pods are not Ready, ` +
            'so their PDBs refuse to evict them while the budget is not met, and no kubelet confirms deletions. The node is left cordoned; ' +
            'Kubernetes deletes its pods when their not-ready/unreachable tolerations expire (300 s by default), or bring the node back and drain again',
        ),
      );
    }, NODE_LOST_GRACE_MS);
  });
  return () => {
    if (timer) clearTimeout(timer);
    unsubscribe();
  };
}

/**
 * The end of a node's part: an Event saying how it went, and for a failed node this run
 * cordoned, uncordon-on-failure. Never throws: the report says what could not be done.
 */
export async function finishNode(ctx: NodeDrainContext, report: NodeReport): Promise<void> {
  const node: V1Node = { metadata: { name: report.node }, spec: { unschedulable: report.cordoned } };
  const mark = marker(report, ctx.runStart);
  if (report.success) {
    if (report.operation === 'drain') await nodeEvent(ctx, node, 'Normal', 'SafeDrainSucceeded', `Node drained by safe-drain${ctx.dryRun ? ' (dry run)' : ''}. ${ctx.origin}`);
    return;
  }
  if (report.operation !== 'drain' && report.operation !== 'cordon') return;
  ctx.logger.error(report.error ?? `drain of node ${report.node} failed`, { node: report.node });
  await nodeEvent(ctx, node, 'Warning', 'SafeDrainFailed', `Drain failed: ${report.error ?? ''}. ${ctx.origin}`);
  if (report.cordoned && !report.wasCordoned && ctx.options.uncordonOnFailure) {
    try {
      await setCordon(ctx, node, false, report, mark);
    } catch (err) {
      ctx.logger.error(`node ${report.node}: uncordon-on-failure failed: ${describeApiError(err)}; the node is left cordoned`, { node: report.node });
    }
  }
}

/** The plan for the log: the shell's own view when it has one, else the table as one message. */
export function showPlan(ctx: NodeDrainContext, plan: DrainPlan): void {
  if (ctx.onPlan) ctx.onPlan(plan);
  else ctx.logger.info(renderPlanText({ ...plan, blockers: [] }));
  // One line per distinct cause (report/labels.ts groupBlockers), its pods counted and named.
  for (const cause of groupBlockers(plan.blockers)) {
    const where = { node: plan.node, ...(cause.pods.length === 1 && { pod: cause.pods[0] }) };
    if (cause.fatal) ctx.logger.error(blockerLogLine(cause), where);
    else ctx.logger.warn(blockerLogLine(cause), where);
  }
}

/** Pods still waiting when the drain ended, with the PDB and its numbers. */
function blockedPods(ctx: NodeDrainContext, results: PodResult[]): BlockedPod[] {
  return results
    .filter((r) => r.outcome === 'blocked')
    .map((r) => {
      const pdb = r.pdb ? ctx.pdbWatch.get(r.pdb) : undefined;
      const budget = describeBudget(pdb);
      return {
        pod: r.pod,
        ...(r.pdb && { pdb: r.pdb }),
        ...(budget && { budget }),
        message: r.pdb ? `waiting for PDB ${r.pdb} (${budget ?? 'status unknown'}) when the drain ended` : (r.message ?? 'not evicted when the drain ended'),
      };
    });
}

// The engine's entry point, shared by the GitHub Action and the CLI. Knows nothing of Actions.
//
//   checks     permissions, nodes                                     (throws: nothing changed)
//   lock       each node's drain lock (drain, uncordon): a node another live run holds is
//              refused, nothing changed; so what "restore" finds next is no live run's
//   restore    temporary changes an earlier, killed run left on these nodes' workloads
//   plan       every node from one paged list of the cluster's pods, with capacity judged as
//              the run will leave the cluster, the run's pods packed together (plan/packing.ts)
//   refuse     if any plan has a fatal finding: stop, nothing changed
//   cordon     every selected node up front (as `kubectl drain -l`), so nothing evicted from
//              one lands on another that is about to be drained
//   order      fewest pods to move first (plan/node-order.ts); the reports follow that order
//   drain      max-unavailable-nodes at a time, each a reconcile loop (execute/reconcile.ts),
//              max-concurrent-evictions in flight across all of them (EvictionSlots)
//   finish     Events; uncordon-on-failure for the nodes this run cordoned and did not drain
// A cancellation stops the run before its next change, whatever the phase. Once past the
// checks, runSafeDrain always returns a report (it does not throw): what was done and left.
import type { V1Node, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { AvailabilityMonitor, monitorsAvailability } from './availability/monitor.js';
import { availabilityAccess, describeAccess, missingAccess, PermissionError, RBAC_FILE, requiredAccess } from './kube/access.js';
import { API_OUTAGE_BOUND_MS, KubeClient } from './kube/client.js';
import { loadKubeConfig } from './kube/config.js';
import { describeApiError, statusCode } from './kube/errors.js';
import { abortReason, holdProcessAlive } from './execute/abort.js';
import { BudgetWaiter } from './execute/budget.js';
import { setCordon } from './execute/cordon.js';
import { drainDeadline, type Deadline } from './execute/deadline.js';
import {
  drainCordonedNode,
  fatalFindings,
  finishNode,
  marker,
  newNodeReport,
  planNode,
  showPlan,
  type NodeDrainContext,
} from './execute/drain-node.js';
import { DrainLocks, localIdentity } from './execute/drain-lock.js';
import { restoreLeftoverChanges, restoreLeftoverChangesByNode } from './execute/restore.js';
import { EvictionSlots, runBounded } from './execute/semaphore.js';
import { planClusterPods, type ClusterPods } from './kube/cluster-pods.js';
import { PoolWatch } from './execute/pool-watch.js';
import { fetchWorkloads, nodeCapacities } from './kube/plan-input.js';
import { resolveNodeCount } from './options.js';
import { NODE_ORDER_RULE, drainOrder, podsToMove } from './plan/node-order.js';
import { packReplacements } from './plan/packing.js';
import { renderPlanText } from './report/text.js';
import { describeFinalState } from './report/state.js';
import type { AvailabilityReport } from './availability/types.js';
import { CancelledBeforeChange, ClusterUnreachable } from './errors.js';
import { InputError, type DrainOptions, type DrainPlan, type Logger, type NodeReport, type RunReport, type WorkloadChange } from './types.js';

/** Cordon patches in flight at once. */
const CORDONS_AT_ONCE = 10;

/** How long the permission check and node lookup wait out a cluster that does not answer. */
const CHECKS_OUTAGE_BOUND_MS = 20_000;

export interface RunContext {
  /** Path of a kubeconfig file; default KUBECONFIG / ~/.kube/config. */
  kubeconfigPath?: string;
  context?: string;
  logger: Logger;
  /** Who runs the drain (workflow run URL, CLI user@host): goes into Events on the node. */
  origin?: string;
  signal?: AbortSignal;
  /** Identifies this run's drain locks (default: a new random id); the Action's post step reuses it. */
  lockHolder?: string;
  /** Shows each node's plan as soon as it is made; default: the plan table in the log. */
  onPlan?: (plan: DrainPlan) => void;
  /** How long the checks wait out a cluster that does not answer; default CHECKS_OUTAGE_BOUND_MS (tests shorten it). */
  checksOutageBoundMs?: number;
}

export { CancelledBeforeChange } from './errors.js';

export async function runSafeDrain(options: DrainOptions, ctx: RunContext): Promise<RunReport> {
  const release = holdProcessAlive();
  try {
    return await drainRun(options, ctx);
  } finally {
    release();
  }
}

async function drainRun(options: DrainOptions, ctx: RunContext): Promise<RunReport> {
  const started = Date.now();
  const { logger } = ctx;
  const signal = ctx.signal ?? new AbortController().signal;
  const stopIfCancelled = (phase: string) => {
    if (signal.aborted) throw new CancelledBeforeChange(abortReason(signal), phase);
  };
  stopIfCancelled('before the permission check');
  const kc = loadKubeConfig({ path: ctx.kubeconfigPath, context: ctx.context });
  const client = new KubeClient(kc);
  const server = kc.getCurrentCluster()?.server ?? '(unknown server)';
  client.onRetry = (m) => logger.info(`API server: ${m}`);
  // Before any change, a cluster that does not answer is reported soon; once the run has changed
  // something, it rides out an API server restart or stall (KubeClient.outageBoundMs).
  client.outageBoundMs = ctx.checksOutageBoundMs ?? CHECKS_OUTAGE_BOUND_MS;

  let watchAvailability = monitorsAvailability(options.operation, options.availability);
  // The nodes are read while the permissions are reviewed (a read changes nothing); the answer
  // is used only once the check has passed, so a missing permission is still what is reported.
  const checkFailed = new AbortController();
  const nodesRead = client.readsBoundBy(AbortSignal.any([checkFailed.signal, signal]), () => resolveNodes(client, options));
  nodesRead.catch(() => undefined); // awaited below, unless the check fails first
  await logger.group('Checking permissions', async () => {
    try {
      watchAvailability = await checkPermissions(client, options, watchAvailability, logger);
    } catch (err) {
      checkFailed.abort(new Error('the permission check failed'));
      if (statusCode(err) === undefined && !(err instanceof PermissionError)) throw new ClusterUnreachable(server, describeApiError(err));
      throw err;
    }
    logger.info(`permissions for "${options.operation}" verified on ${server}`);
  });
  stopIfCancelled('after the permission check');
  const nodes = await nodesRead;
  logger.info(`nodes: ${nodes.map((n) => n.metadata?.name).join(', ')}`);
  stopIfCancelled('after resolving the nodes');
  // Before any change: the Services the gate watches (one named that does not exist is bad input).
  // abort-on-downtime ends the drain through the same signal as a cancellation: evictions stop,
  // temporary changes are restored, the report says why.
  const gateStop = new AbortController();
  const startGate = () =>
    logger.group('Availability gate', () =>
      AvailabilityMonitor.start({
        client,
        logger,
        options: options.availability,
        operation: options.operation,
        dryRun: options.dryRun,
        nodes: nodes.map((n) => n.metadata?.name ?? ''),
        runStart: started,
        ...(options.availability.abortOnDowntime && {
          onBreach: (failure: string) => gateStop.abort(new Error(`availability gate broken (abort-on-downtime): ${failure}`)),
        }),
      }),
    );
  // `auto` names no Service, so it has no bad input to refuse: its watch starts (a read) while
  // the drain locks are taken. Services the user named are checked first, before any change.
  const gateResolved = watchAvailability && options.availability.selection.mode !== 'auto' ? await startGate() : undefined;
  stopIfCancelled('after resolving the Services to watch');
  const gateStarted = watchAvailability && !gateResolved ? startGate() : Promise.resolve(gateResolved);
  gateStarted.catch(() => undefined); // awaited below
  const stopGate = () => gateStarted.then((g) => g?.stopWatching(), () => undefined);
  client.outageBoundMs = API_OUTAGE_BOUND_MS;
  const reports = nodes.map((n) => newNodeReport(n, options));

  // The budgets are listed while the drain locks are taken: a read, which the locks do not guard.
  const pdbWatch = client.watch<V1PodDisruptionBudget>({
    path: '/apis/policy/v1/poddisruptionbudgets',
    list: () => client.listPdbs(),
    onError: (m) => logger.debug(m),
  });
  const pdbStarted = options.operation === 'drain' || options.operation === 'plan' ? pdbWatch.start() : Promise.resolve();
  pdbStarted.catch(() => undefined); // awaited below
  /** Ends the budget watch once its start has settled (a watch stopped mid-start could stay open). */
  const stopPdbWatch = () => pdbStarted.catch(() => undefined).then(() => pdbWatch.stop());

  // Each node's drain lock, before restoring leftovers: a raise found then is no live run's.
  let locks: DrainLocks | undefined;
  if ((options.operation === 'drain' || options.operation === 'uncordon') && !options.dryRun) {
    let taken: Awaited<ReturnType<typeof DrainLocks.acquire>>;
    try {
      taken = await DrainLocks.acquire(client, logger, reports.map((r) => r.node), localIdentity(ctx.lockHolder, ctx.origin), nodes);
    } catch (err) {
      await Promise.all([stopGate(), stopPdbWatch()]);
      throw err;
    }
    if (Array.isArray(taken)) {
      for (const t of taken) logger.error(t.message, { node: t.node });
      for (const r of reports) {
        r.error = taken.find((t) => t.node === r.node)?.message ?? `node ${r.node}: nothing was changed, because another run holds the drain lock of ${taken.map((t) => t.node).join(', ')}`;
      }
      await Promise.all([stopGate(), stopPdbWatch()]);
      return runReport(started, options, reports, client, {});
    }
    locks = taken;
    for (const a of locks.acquired) {
      const report = reports.find((r) => r.node === a.node);
      if (report && a.previous) marker(report, started)('plan', a.node, `took over the drain lock of an earlier run (host ${a.previous.holder.host}, pid ${a.previous.holder.pid}): ${a.previous.why}`);
    }
  }

  let availability: AvailabilityMonitor | undefined;
  try {
    [availability] = await Promise.all([gateStarted, pdbStarted]);
  } catch (err) {
    await Promise.all([stopGate(), stopPdbWatch()]);
    await locks?.release();
    throw err;
  }
  const budgets = new BudgetWaiter(pdbWatch);
  const nodeCtx: NodeDrainContext = {
    client,
    logger,
    dryRun: options.dryRun,
    origin: ctx.origin ?? 'safe-drain',
    options,
    // A lock another run took over (it judged this run dead) stops this run before its next change.
    signal: AbortSignal.any([signal, gateStop.signal, ...(locks ? [locks.lost] : [])]),
    pdbWatch,
    budgets,
    slots: new EvictionSlots(options.maxConcurrentEvictions),
    background: [],
    runStart: started,
    ...((ctx.onPlan || availability) && {
      onPlan: (plan: DrainPlan) => {
        availability?.notePlan(plan);
        if (ctx.onPlan) ctx.onPlan(plan);
        else logger.info(renderPlanText({ ...plan, blockers: [] }));
      },
    }),
  };
  const facts: RunFacts = {};
  try {
    await runPhases(nodeCtx, nodes, reports, facts);
  } catch (err) {
    // An API error between phases: the reports say what was done before it.
    const current = reports.find((r) => !r.success && !r.error) ?? reports[reports.length - 1];
    if (current) current.error = `${err instanceof CancelledBeforeChange ? err.message : describeApiError(err)}`;
    logger.error(`safe-drain stopped: ${describeApiError(err)}`);
  } finally {
    for (const report of reports) {
      if (!report.success) report.error ??= 'not processed: the run stopped before this node';
      await finishNode(nodeCtx, report);
    }
    budgets.close();
    pdbWatch.stop();
    nodeCtx.pool?.stop();
    // Best effort, bounded by the client's own retry bound; never a reason to fail the run.
    await Promise.all(nodeCtx.background ?? []);
    // Still under the drain locks: the uncordon is this run's last change.
    if (options.availability.restoreAfter) await restoreAfter(nodeCtx, reports);
    for (const failure of (await locks?.release()) ?? []) {
      const report = reports.find((r) => failure.startsWith(`node ${r.node}:`));
      if (report) marker(report, started)('error', report.node, failure);
    }
  }
  const gate = await finishAvailability(availability, signal, logger, removedPods(reports));
  client.close();
  return runReport(started, options, reports, client, facts, gate);
}

function runReport(
  started: number,
  options: DrainOptions,
  reports: NodeReport[],
  client: KubeClient,
  facts: RunFacts,
  gate?: AvailabilityReport,
): RunReport {
  const drained = reports.length > 0 && reports.every((r) => r.success);
  const run: RunReport = {
    version: 1,
    outcome: !drained ? 'incomplete' : gate && !gate.passed ? 'gate-failed' : 'ok',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    options,
    nodes: reports,
    success: reports.length > 0 && reports.every((r) => r.success) && (gate?.passed ?? true),
    summary: '',
    ...(facts.drainOrder && { drainOrder: facts.drainOrder }),
    apiRequests: client.requests,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(gate && { availability: gate }),
  };
  run.summary = describeFinalState(run);
  return run;
}

/** What the phases learn for the run's report. */
interface RunFacts {
  drainOrder?: RunReport['drainOrder'];
}

async function runPhases(ctx: NodeDrainContext, nodes: V1Node[], reports: NodeReport[], run: RunFacts): Promise<void> {
  // `timeout` bounds the first node from the start of the run (its plan and cordon included),
  // each later node from the start of its own drain; this deadline also carries cancellation.
  const first = drainDeadline(ctx.signal, ctx.options.timeoutMs, ctx.runStart);
  try {
    // A read still in flight (or retried) when the deadline fires ends then, not when it answers.
    await ctx.client.readsBoundBy(first.signal, () => runPhasesWithin(ctx, nodes, reports, first, run));
  } finally {
    first.dispose();
  }
}

async function runPhasesWithin(ctx: NodeDrainContext, nodes: V1Node[], reports: NodeReport[], first: Deadline, run: RunFacts): Promise<void> {
  const { options, logger } = ctx;
  // Until the first node is drained, its deadline; then the run's cancellation.
  let guard = first.signal;
  const cancelled = (phase: string) => {
    if (!guard.aborted) return false;
    const why = `${abortReason(guard)} ${phase}`;
    for (const r of reports) if (!r.success) r.error ??= why;
    logger.warn(`stopping: ${why}`);
    return true;
  };

  if (options.operation === 'cordon' || options.operation === 'uncordon') {
    for (const [i, node] of nodes.entries()) {
      const report = reports[i]!;
      if (cancelled(`before ${options.operation} of node ${report.node}`)) return;
      if (options.operation === 'uncordon') await restoreLeftovers(ctx, report);
      await setCordon(ctx, node, options.operation === 'cordon', report, marker(report, ctx.runStart));
      report.success = report.workloadChanges.every((c) => c.restored);
      if (!report.success) report.error = `left behind by an earlier run and not restored: ${report.workloadChanges.filter((c) => !c.restored).map((c) => `${c.workload} (${c.message ?? c.change})`).join('; ')}`;
    }
    return;
  }

  // The cluster's nodes (the capacity check's targets, reduced to what it reads: protobuf, as
  // the pods' footprints) are read while leftovers are restored: a restore changes workloads, not nodes.
  const nodesListed = ctx.client.listNodeFootprints();
  nodesListed.catch(() => undefined); // awaited below, unless the run stops first

  // Restore what an earlier run that was killed left behind, before planning on top of it.
  // One list for all the run's nodes; a raise whose marker names no node goes to the first.
  // The pods are listed after it, so the plan does not see the pods a scale-down is removing.
  // The PDBs' status may still count them for a moment: restoredNow marks those workloads, whose
  // budgets are then judged on their replicas (plan/pdb.ts pdbNeverAllows).
  const restoredNow = new Set<string>();
  if (options.operation === 'drain') {
    if (cancelled('before restoring earlier runs\' changes')) return;
    const left = await restoreLeftoverChangesByNode(ctx.client, logger, { nodes: reports.map((r) => r.node), dryRun: options.dryRun });
    for (const { node, change } of left) {
      recordLeftover(ctx, reports.find((r) => r.node === node) ?? reports[0]!, change);
      if (change.restored && !options.dryRun) restoredNow.add(change.workload);
    }
  }

  // One paged list of the cluster's pods serves every node's plan and the capacity check; it is
  // read while the node list still arrives (at 1,000 nodes each takes a good part of a second).
  // A drain keeps the list as its one watch of the drained nodes' pods (and one of the nodes);
  // a plan or a dry run only needs a snapshot: the pods' footprints in protobuf, and the drained
  // nodes' pods whole (kube/cluster-pods.ts planClusterPods).
  const selected = new Set(reports.map((r) => r.node));
  let podsListed: Promise<ClusterPods>;
  if (options.operation === 'drain' && !options.dryRun) {
    ctx.pool = new PoolWatch(ctx.client, [...selected], (m) => logger.debug(m));
    podsListed = ctx.pool.start(); // the run's end stops the pool, whatever happens first
  } else {
    podsListed = planClusterPods(ctx.client, [...selected]);
  }
  podsListed.catch(() => undefined); // awaited below, unless the node list fails first

  // Plan every node first; nothing changes yet. Replacements can only go to nodes this run keeps.
  if (cancelled('before planning: nothing was changed')) return;
  const targets = (await nodesListed).map((n) =>
    selected.has(n.metadata?.name ?? '') ? { ...n, spec: { ...n.spec, unschedulable: true } } : n,
  );
  const scanned = await podsListed;
  const capacity = nodeCapacities(targets, scanned.requested);
  const podsOf = (name: string) => scanned.onDrainedNodes.get(name) ?? [];
  // Shared by every node's plan and reconcile loop: a workload is fetched once per run.
  const workloads = await fetchWorkloads(ctx.client, reports.flatMap((r) => podsOf(r.node)));
  // Budgets of a workload just scaled back are judged on its replicas (plan/pdb.ts pdbNeverAllows).
  for (const w of Object.values(workloads)) if (restoredNow.has(`${w.kind}/${w.namespace}/${w.name}`)) w.restoredThisRun = true;
  if (cancelled('before planning: nothing was changed')) return;
  const planned = nodes.map((node, i) => planNode(ctx, node, reports[i]!, podsOf(reports[i]!.node), capacity, workloads));
  scanned.onDrainedNodes.clear();

  // Drain order is data (plan/node-order.ts); the reports follow it, so the summary shows it.
  const order = drainOrder(reports.map((r) => ({ node: r.node, plan: r.plan })));
  for (const list of [nodes, reports, planned] as unknown[][]) {
    const copy = [...list];
    order.forEach((from, to) => (list[to] = copy[from]));
  }
  packReplacements(planned.map((p, i) => ({ plan: reports[i]!.plan!, pods: p.pods })), capacity);
  for (const report of reports) await logger.group(`Plan for node ${report.node}`, async () => showPlan(ctx, report.plan!));
  const width = resolveNodeCount(options.maxUnavailableNodes, nodes.length);
  run.drainOrder = { nodes: reports.map((r) => r.node), rule: NODE_ORDER_RULE };
  if (nodes.length > 1) {
    logger.info(`drain order (${NODE_ORDER_RULE}; ${width} at a time): ${reports.map((r) => `${r.node} (${podsToMove(r.plan)} to move)`).join(', ')}`);
  }

  if (options.operation === 'plan') {
    for (const report of reports) {
      report.blocked = fatalFindings(report);
      report.success = report.blocked.length === 0;
      if (!report.success) report.error = `node ${report.node}: the drain would be refused: ${report.blocked.map((b) => b.message).join('; ')}`;
    }
    return;
  }
  const refused = reports.filter((r) => fatalFindings(r).length > 0);
  if (refused.length > 0) {
    // Refusals the API server or kubectl would also make: stop before changing anything.
    for (const report of reports) {
      report.blocked = fatalFindings(report);
      report.error = report.blocked.length
        ? `node ${report.node}: nothing was changed; the drain cannot proceed: ${report.blocked.map((b) => b.message).join('; ')}`
        : `node ${report.node}: nothing was changed, because the drain of ${refused.map((r) => r.node).join(', ')} cannot proceed`;
    }
    return;
  }

  // Cordon every selected node before the first eviction (a few patches at a time: a pool of
  // 50 nodes is not 50 round trips in a row). A cancel stops the cordons not yet sent.
  let stopped = false;
  const cordons = await runBounded(
    CORDONS_AT_ONCE,
    nodes.map((node, i) => async () => {
      const report = reports[i]!;
      if (stopped || cancelled(`before cordoning node ${report.node}`)) {
        stopped = true;
        return;
      }
      if (report.wasCordoned) logger.info(`node ${report.node} was already cordoned`);
      else await setCordon(ctx, node, true, report, marker(report, ctx.runStart));
    }),
  );
  const cordonFailed = cordons.find((c) => c.status === 'rejected');
  if (cordonFailed) throw cordonFailed.reason;
  if (stopped) return;

  // `width` nodes drain at once, in drain order; the first failure starts no further node
  // (those in flight finish: their evictions are under way).
  let failedNode: string | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < reports.length && failedNode === undefined) {
      const i = next++;
      const report = reports[i]!;
      if (cancelled(`before draining node ${report.node}`)) {
        failedNode ??= report.node;
        return;
      }
      // Each node its own deadline (the first node's counts from the run's start); a read in
      // flight when it fires ends then.
      const deadline = i === 0 ? first : drainDeadline(ctx.signal, options.timeoutMs);
      try {
        await ctx.client.readsBoundBy(deadline.signal, () => drainCordonedNode(ctx, planned[i]!, report, deadline));
      } finally {
        if (i > 0) deadline.dispose();
      }
      if (i === 0) {
        first.dispose();
        guard = ctx.signal;
      }
      if (!report.success) failedNode ??= report.node;
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, reports.length) }, worker));
  if (failedNode !== undefined) {
    const rest = reports.slice(next).filter((r) => !r.success && !r.error);
    for (const r of rest) r.error = `not drained: the run stopped after node ${failedNode} failed${r.cordoned && !r.wasCordoned ? ' (cordoned by this run)' : ''}`;
    if (rest.length) logger.warn(`stopping after node ${failedNode} failed; not drained: ${rest.map((r) => r.node).join(', ')}`);
  }
}

/**
 * Every review the run needs, asked at once in one round: the operation's, and with them the
 * gate's own when the gate only reports. `availability: auto` with no gate only reports, so an
 * identity bound to an older ClusterRole (no Service/EndpointSlice reads) still drains,
 * unmeasured and told so, instead of refused. Returns whether the gate watches; throws
 * PermissionError naming what the operation lacks.
 */
async function checkPermissions(client: KubeClient, options: DrainOptions, watchAvailability: boolean, logger: Logger): Promise<boolean> {
  const reportOnly = watchAvailability && isReportOnly(options.availability);
  const gate = reportOnly ? availabilityAccess(options.operation) : [];
  const required = requiredAccess(options.operation, options.migration === 'surge', options.waitForReplacements, watchAvailability && !reportOnly);
  const missing = new Set(await missingAccess(client, [...required, ...gate]));
  const gateMissing = [...new Set(gate.map(describeAccess))].filter((p) => missing.has(p));
  if (gateMissing.length > 0) {
    logger.warn(`availability: not measured in this run: missing ${gateMissing.join(', ')}. Grant them (${RBAC_FILE}) or set availability: off to silence this.`);
  }
  const requiredMissing = [...new Set(required.map(describeAccess))].filter((p) => missing.has(p));
  if (requiredMissing.length > 0) throw new PermissionError(requiredMissing, RBAC_FILE);
  return watchAvailability && gateMissing.length === 0;
}

/** No gate to judge: the measurement is a report only (what `auto` does by default). */
function isReportOnly(o: DrainOptions['availability']): boolean {
  return o.selection.mode === 'auto' && o.maxDowntimeMs === undefined && o.minReadyRatio === undefined && o.probeUrls.length === 0;
}

/** restore-after: the nodes this run cordoned are made schedulable again, whatever the outcome. */
async function restoreAfter(ctx: NodeDrainContext, reports: NodeReport[]): Promise<void> {
  if (ctx.options.operation !== 'drain' || ctx.options.dryRun) return;
  for (const report of reports) {
    if (!report.cordoned || report.wasCordoned) continue;
    try {
      await setCordon(ctx, { metadata: { name: report.node }, spec: { unschedulable: true } }, false, report, marker(report, ctx.runStart));
    } catch (err) {
      ctx.logger.error(`node ${report.node}: restore-after could not uncordon it: ${describeApiError(err)}; the node is left cordoned`, { node: report.node });
    }
  }
}

/** The gate's report; a failure to finish it is logged, never hides the drain's own report. */
/** The pods the run took off its nodes, confirmed gone (namespace/name): the gate waits for the slices to show it. */
function removedPods(reports: NodeReport[]): string[] {
  const gone = new Set(['evicted', 'migrated', 'deleted']);
  return reports.flatMap((r) => r.results.filter((p) => gone.has(p.outcome)).map((p) => p.pod));
}

async function finishAvailability(monitor: AvailabilityMonitor | undefined, signal: AbortSignal, logger: Logger, removed: string[]): Promise<AvailabilityReport | undefined> {
  if (!monitor) return undefined;
  try {
    const report = await monitor.finish(signal, removed);
    if (report.failures.length > 0) logger.error(`availability gate failed: ${report.failures.join('; ')}`);
    else logger.info(`availability gate passed (${report.services.length} Service(s), ${report.probes.length} probe(s))`);
    return report;
  } catch (err) {
    monitor.stopWatching();
    logger.error(`availability: could not finish the measurement: ${describeApiError(err)}`);
    return undefined;
  }
}

/** A temporary change an earlier run left on this node's workloads goes back first. */
async function restoreLeftovers(ctx: NodeDrainContext, report: NodeReport): Promise<void> {
  const changes = await restoreLeftoverChanges(ctx.client, ctx.logger, { nodes: [report.node], dryRun: ctx.options.dryRun });
  for (const change of changes) recordLeftover(ctx, report, change);
}

function recordLeftover(ctx: NodeDrainContext, report: NodeReport, change: WorkloadChange): void {
  report.workloadChanges.push({ ...change, change: `left by an earlier run: ${change.change}` });
  marker(report, ctx.runStart)('migrate', change.workload, change.restored ? 'restored what an earlier run left' : 'could not restore what an earlier run left');
}

/** Nodes named by `node` must all exist; a `selector` must match at least one. */
export async function resolveNodes(client: KubeClient, options: DrainOptions): Promise<V1Node[]> {
  if (options.selector) {
    let nodes: V1Node[];
    try {
      nodes = await client.listNodes(options.selector);
    } catch (err) {
      if (statusCode(err) === 400) {
        throw new InputError('selector', `"${options.selector}" is not a valid label selector (${describeApiError(err)})`, 'Use the kubectl -l syntax, e.g. "pool=blue,zone in (a,b)".');
      }
      throw err;
    }
    if (nodes.length === 0) {
      throw new InputError('selector', `"${options.selector}" matches no node`, 'Check the labels with `kubectl get nodes --show-labels`.');
    }
    return nodes.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }
  const found: V1Node[] = [];
  const missing: string[] = [];
  for (const name of options.nodes) {
    try {
      found.push(await client.getNode(name));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      missing.push(name);
    }
  }
  if (missing.length > 0) {
    const known = (await client.listNodes()).map((n) => n.metadata?.name ?? '');
    throw new InputError(
      'node',
      `no node named ${missing.map((m) => `"${m}"`).join(', ')} in the cluster`,
      `Known nodes: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}.`,
    );
  }
  return found;
}

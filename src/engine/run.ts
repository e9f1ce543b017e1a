// The engine's entry point, shared by the GitHub Action and the CLI. Knows nothing of Actions.
// It reads like a table of contents:
//   checks   permissions, nodes, the budgets' watch, the gate's Services: throws, nothing changed
//   phases   the operation's list (execute/phases.ts PHASES), each phase a function of the run
//   finish   always (execute/phases.ts FINISH): stop watching, end nodes, restore-after, locks
//   gate     the availability verdict
//   report   built once from what the run recorded (report/build.ts)
// A cancellation stops the run before its next change, whatever the phase. Once past the checks,
// runSafeDrain always returns a report (it does not throw): what was done and left.
import { randomUUID } from 'node:crypto';
import type { V1Node, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { AvailabilityMonitor, monitorsAvailability } from './availability/monitor.js';
import type { AvailabilityReport } from './availability/types.js';
import { systemClock, type Clock } from './clock.js';
import { CancelledBeforeChange, ClusterUnreachable, CredentialsRefused, InputError, PermissionError, UnsupportedCluster } from './errors.js';
import { localIdentity } from './execute/drain-lock.js';
import { FINISH, PHASES, firstDeadline } from './execute/phases.js';
import { Run, type RunEnv } from './execute/run-state.js';
import { availabilityAccess, describeAccess, missingAccess, RBAC_FILE, requiredAccess } from './kube/access.js';
import { API_OUTAGE_BOUND_MS, KubeClient } from './kube/client.js';
import { kubeconfigOrigin, loadKubeConfig, type Shell } from './kube/config.js';
import { describeApiError, statusCode } from './kube/errors.js';
import { judgeVersionRead, SUPPORTED_RANGE_TEXT, type VersionVerdict } from './kube/server-version.js';
import type { ResourceWatch } from './kube/watch.js';
import { buildReport } from './report/build.js';
import type { DrainOptions, DrainPlan, Logger, RunReport } from './types.js';
import { abortReason, holdProcessAlive } from './wait.js';

export { CancelledBeforeChange } from './errors.js';

/** How long the permission check and node lookup wait out a cluster that does not answer. */
const CHECKS_OUTAGE_BOUND_MS = 20_000;

export interface RunContext {
  /** Path of a kubeconfig file; default KUBECONFIG / ~/.kube/config. */
  kubeconfigPath?: string;
  context?: string;
  /** Which shell runs the engine: its errors speak of flags (CLI) or inputs (Action). Default: cli. */
  shell?: Shell;
  logger: Logger;
  /** Who runs the drain (workflow run URL, CLI user@host): goes into Events on the node. */
  origin?: string;
  signal?: AbortSignal;
  /** Identifies this run's drain locks (default: a new random id); the Action's post step reuses it. */
  lockHolder?: string;
  /** Shows each node's plan as soon as it is made; default: the plan table in the log. */
  onPlan?: (plan: DrainPlan) => void;
  /** Time for the run's loops and timers (tests replace it). */
  clock?: Clock;
  /** How long the checks wait out a cluster that does not answer; default CHECKS_OUTAGE_BOUND_MS (tests shorten it). */
  checksOutageBoundMs?: number;
}

export async function runSafeDrain(options: DrainOptions, ctx: RunContext): Promise<RunReport> {
  const release = holdProcessAlive();
  try {
    const signal = ctx.signal ?? new AbortController().signal;
    const env = environment(options, ctx);
    const checked = await checks(env, signal, ctx.checksOutageBoundMs);
    const run = new Run(env, checked.nodes, checked.started);
    const stopOn = (s: AbortSignal) => s.addEventListener('abort', () => run.stop(new Error(abortReason(s))), { once: true });
    stopOn(signal);
    stopOn(checked.gateStop.signal);
    Object.assign(run.services, { pdbs: checked.pdbs, gate: checked.gate });
    for (const w of checked.warnings ?? []) run.warn(w);
    await runPhases(run);
    const gate = await finishGate(run, signal);
    env.api.close();
    return buildReport(run, gate);
  } finally {
    release();
  }
}

function environment(options: DrainOptions, ctx: RunContext): RunEnv {
  const clock = ctx.clock ?? systemClock;
  const api = new KubeClient(loadKubeConfig({ path: ctx.kubeconfigPath, context: ctx.context, shell: ctx.shell }), clock);
  api.onRetry = (m) => ctx.logger.info(`API server: ${m}`);
  const origin = ctx.origin ?? 'safe-drain';
  return { api, clock, logger: ctx.logger, options, origin, identity: localIdentity(ctx.lockHolder ?? randomUUID(), ctx.origin), ...(ctx.onPlan && { onPlan: ctx.onPlan }) };
}

/** The operation's phases, then FINISH whatever happened; an error between phases is the current node's. */
async function runPhases(run: Run): Promise<void> {
  run.firstDeadline = firstDeadline(run);
  try {
    // A read still in flight (or retried) when the first deadline fires ends then, not when it answers.
    await run.env.api.readsBoundBy(run.firstDeadline.signal, async () => {
      for (const phase of PHASES[run.env.options.operation]) if ((await phase(run)) === 'stop') return;
    });
  } catch (err) {
    const why = err instanceof CancelledBeforeChange ? err.message : describeApiError(err);
    const current = run.nodes.find((n) => n.end === undefined);
    current?.endWith({ kind: 'failed', why });
    run.env.logger.error(`safe-drain stopped: ${why}`);
  } finally {
    run.firstDeadline.dispose();
    for (const step of FINISH) await step(run);
  }
}

interface Checked {
  started: number;
  nodes: V1Node[];
  pdbs?: ResourceWatch<V1PodDisruptionBudget>;
  gate?: AvailabilityMonitor;
  /** abort-on-downtime: the gate stops the run through it. */
  gateStop: AbortController;
  /** Said once in the report (a server outside the supported range). */
  warnings?: string[];
}

/** Refuses a server the engine cannot work with; returns the warning for one outside the tested range. */
function judgedVersion(verdict: VersionVerdict, logger: Logger): string | undefined {
  if (verdict.kind === 'unusable') throw new UnsupportedCluster(verdict.message);
  if (verdict.kind === 'untested') {
    logger.warn(verdict.message);
    return verdict.message;
  }
  logger.info(`Kubernetes ${verdict.version}: supported (safe-drain supports ${SUPPORTED_RANGE_TEXT})`);
  return undefined;
}

/**
 * Everything judged before any change, reads only: the permissions, the nodes, the budgets'
 * watch (a drain or plan), the Services the gate watches. Throws, having changed nothing: a
 * missing permission or an unreachable cluster first, then bad input.
 */
async function checks(env: RunEnv, signal: AbortSignal, outageBoundMs = CHECKS_OUTAGE_BOUND_MS): Promise<Checked> {
  const { api, logger, options, clock } = env;
  const started = clock.now();
  const stopIfCancelled = (phase: string) => {
    if (signal.aborted) throw new CancelledBeforeChange(abortReason(signal), phase);
  };
  stopIfCancelled('before the permission check');
  // Before any change, a cluster that does not answer is reported soon; once the run has changed
  // something, it rides out an API server restart or stall (KubeClient.outageBoundMs).
  api.outageBoundMs = outageBoundMs;
  const server = api.kubeConfig.getCurrentCluster()?.server ?? '(unknown server)';
  const pdbs = options.operation === 'drain' || options.operation === 'plan' ? api.watchPdbs((m) => logger.debug(m)) : undefined;
  let gate: AvailabilityMonitor | undefined;
  const [access, nodes, watched, version] = await Promise.allSettled([
    logger.group('Checking permissions', () => checkPermissions(api, options, logger)),
    resolveNodes(api, options),
    pdbs?.start(),
    // The server's Kubernetes version, judged against the supported range (never rejects).
    judgeVersionRead(api.serverVersion()),
  ]);
  try {
    if (access.status === 'rejected') {
      const err = access.reason as unknown;
      if (statusCode(err) === undefined && !(err instanceof PermissionError)) throw new ClusterUnreachable(server, describeApiError(err), kubeconfigOrigin(api.kubeConfig));
      if (statusCode(err) === 401) throw new CredentialsRefused(server, kubeconfigOrigin(api.kubeConfig));
      throw err;
    }
    logger.info(`permissions for "${options.operation}" verified on ${server}`);
    stopIfCancelled('after the permission check');
    const versionWarning = judgedVersion((version as PromiseFulfilledResult<VersionVerdict>).value, logger);
    if (nodes.status === 'rejected') throw nodes.reason;
    if (watched.status === 'rejected') throw watched.reason;
    logger.info(`nodes: ${nodes.value.map((n) => n.metadata?.name).join(', ')}`);
    const gateStop = new AbortController();
    gate = access.value ? await startGate(env, nodes.value, started, gateStop) : undefined;
    stopIfCancelled('after resolving the Services to watch');
    api.outageBoundMs = API_OUTAGE_BOUND_MS;
    return { started, nodes: nodes.value, pdbs, gate, gateStop, ...(versionWarning && { warnings: [versionWarning] }) };
  } catch (err) {
    // Nothing was changed; nothing may keep watching (an open watch holds the process).
    pdbs?.stop();
    gate?.stopWatching();
    api.close();
    throw err;
  }
}

/**
 * The availability gate's watch: a Service named that does not exist is bad input, refused
 * before any change. abort-on-downtime stops the run through `gateStop` (as a cancellation does).
 */
function startGate(env: RunEnv, nodes: V1Node[], started: number, gateStop: AbortController): Promise<AvailabilityMonitor> {
  const { api, logger, options } = env;
  return logger.group('Availability gate', () =>
    AvailabilityMonitor.start({
      client: api,
      logger,
      options: options.availability,
      operation: options.operation,
      dryRun: options.dryRun,
      nodes: nodes.map((n) => n.metadata?.name ?? ''),
      runStart: started,
      clock: env.clock,
      watchPdbs: () => api.watchPdbs((m) => logger.debug(m)),
      ...(options.availability.abortOnDowntime && {
        onBreach: (failure: string) => gateStop.abort(new Error(`availability gate broken (abort-on-downtime): ${failure}`)),
      }),
    }),
  );
}

/**
 * Every review the run needs, asked at once in one round: the operation's, and with them the
 * gate's own when the gate only reports. `availability: auto` with no gate only reports, so an
 * identity bound to an older ClusterRole (no Service/EndpointSlice reads) still drains,
 * unmeasured and told so, instead of refused. Returns whether the gate watches; throws
 * PermissionError naming what the operation lacks.
 */
async function checkPermissions(client: KubeClient, options: DrainOptions, logger: Logger): Promise<boolean> {
  const watchAvailability = monitorsAvailability(options.operation, options.availability);
  const reportOnly = watchAvailability && isReportOnly(options.availability);
  const gate = reportOnly ? availabilityAccess(options.operation) : [];
  const extras = { volumeDetach: options.volumeDetachTimeoutMs !== 'off' && !options.dryRun, forcedDeletion: options.disableEviction || options.forceAfterMs > 0 };
  const required = requiredAccess(options.operation, options.migration === 'surge', options.waitForReplacements, watchAvailability && !reportOnly, extras);
  const missing = new Set(await missingAccess(client, [...required, ...gate]));
  const gateMissing = [...new Set(gate.map(describeAccess))].filter((p) => missing.has(p));
  if (gateMissing.length > 0) {
    logger.warn(`availability: not measured in this run: missing ${gateMissing.join(', ')}. Grant them (${RBAC_FILE}) or set availability: off to silence this.`);
  }
  const requiredMissing = [...new Set(required.map(describeAccess))].filter((p) => missing.has(p));
  if (requiredMissing.length > 0) throw new PermissionError(requiredMissing, RBAC_FILE, permissionHint(requiredMissing));
  return watchAvailability && gateMissing.length === 0;
}

/** What the user can do instead of granting a missing permission an option asked for. */
function permissionHint(missing: string[]): string | undefined {
  const hints = [
    ...(missing.some((p) => /volumeattachments|persistentvolume/.test(p)) ? ['The volume permissions are for the wait until the drained pods\' volumes detach; volume-detach-timeout: off drains without it.'] : []),
    ...(missing.includes('delete pods') ? ['delete pods is for disable-eviction / force-after; unset them to only evict.'] : []),
  ];
  return hints.length > 0 ? hints.join(' ') : undefined;
}

/** No gate to judge: the measurement is a report only (what `auto` does by default). */
function isReportOnly(o: DrainOptions['availability']): boolean {
  return o.selection.mode === 'auto' && o.maxDowntimeMs === undefined && o.minReadyRatio === undefined && o.probeUrls.length === 0;
}

/** The gate's report; a failure to finish it is logged, never hides the drain's own report. */
async function finishGate(run: Run, signal: AbortSignal): Promise<AvailabilityReport | undefined> {
  const monitor = run.services.gate;
  if (!monitor) return undefined;
  const { logger } = run.env;
  // The pods the run took off its nodes, confirmed gone: the gate waits for the slices to show it.
  const gone = new Set(['evicted', 'migrated', 'deleted', 'force-deleted']);
  const removed = run.nodes.flatMap((n) => n.results.filter((p) => gone.has(p.outcome)).map((p) => p.pod));
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

/** Nodes named by `node` must all exist; a `selector` must match at least one. */
export async function resolveNodes(client: Pick<KubeClient, 'listNodes' | 'getNode'>, options: DrainOptions): Promise<V1Node[]> {
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
    if (nodes.length === 0) throw new InputError('selector', `"${options.selector}" matches no node`, 'Check the labels with `kubectl get nodes --show-labels`.');
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
    throw new InputError('node', `no node named ${missing.map((m) => `"${m}"`).join(', ')} in the cluster`, `Known nodes: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}.`);
  }
  return found;
}

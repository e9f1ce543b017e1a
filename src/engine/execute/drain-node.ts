// Drains (or cordons, uncordons, plans) one node: plan → fail fast on refusals → cordon →
// eviction groups in order, each pod waiting for its budget → wait for deletion → report.
// Whatever happens, the NodeReport says exactly what was cordoned, evicted and left.
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { describeApiError } from '../kube/errors.js';
import { fetchPlanInput } from '../kube/plan-input.js';
import { ResourceWatch } from '../kube/watch.js';
import { planDrain } from '../plan/plan.js';
import { renderPlanText } from '../report/text.js';
import type {
  BlockedPod,
  DrainOptions,
  DrainPlan,
  Logger,
  NodeReport,
  PodPlan,
  PodResult,
  TimelineEvent,
} from '../types.js';
import { WaitAborted, throwIfAborted } from './abort.js';
import { BudgetWaiter, describeBudget } from './budget.js';
import { waitForDeletion } from './deletion.js';
import { PodFailure, evictWithBudget, type EvictionDeps } from './evict-with-budget.js';
import { migrateDeployment } from './migrate.js';
import { runBounded } from './semaphore.js';
import { canWatchWorkload, isWorkloadReady, waitForWorkload } from './workload-watch.js';

/** How long to wait for a deletion the kubelet of a NotReady node may never confirm. */
export const UNREACHABLE_SKIP_WAIT_MS = 20_000;

export interface NodeDrainContext {
  client: KubeClient;
  options: DrainOptions;
  logger: Logger;
  /** Who asked (workflow run URL, CLI user@host), for Events on the node. */
  origin: string;
  /** Cancellation of the whole run. */
  signal: AbortSignal;
  pdbWatch: ResourceWatch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  allNodes: V1Node[];
  /** Epoch ms the run started; timeline entries are relative to it. */
  runStart: number;
}

export async function drainNode(ctx: NodeDrainContext, node: V1Node): Promise<NodeReport> {
  const { client, options, logger } = ctx;
  const name = node.metadata?.name ?? '';
  const started = Date.now();
  const report: NodeReport = {
    node: name,
    operation: options.operation,
    dryRun: options.dryRun,
    wasCordoned: node.spec?.unschedulable === true,
    cordoned: node.spec?.unschedulable === true,
    uncordoned: false,
    results: [],
    workloadChanges: [],
    blocked: [],
    timeline: [],
    success: false,
    durationMs: 0,
  };
  const mark = (phase: TimelineEvent['phase'], subject: string, message: string) =>
    report.timeline.push({ at: Date.now() - ctx.runStart, phase, subject, message });
  const dry = options.dryRun ? ' (dry run: nothing persisted)' : '';
  let podWatch: ResourceWatch<V1Pod> | undefined;

  try {
    if (options.operation === 'uncordon') {
      await setCordon(ctx, node, false, report, mark);
      report.success = true;
      return report;
    }

    // A real drain watches the node's pods (deletion waits are woken by its events); its first
    // list is also what the plan is made of. A plan or a dry run lists them once.
    if (options.operation === 'drain' && !options.dryRun) {
      podWatch = client.watchPodsOnNode(name, (m) => logger.debug(m));
      await podWatch.start();
    }
    const plan = await logger.group(`Plan for node ${name}`, async () => {
      const pods = podWatch ? podWatch.items() : (await client.listPodsOnNode(name)).items;
      const input = await fetchPlanInput(client, node, pods, ctx.allNodes, ctx.pdbWatch.items());
      const p = planDrain(input, options);
      logPlan(logger, p);
      return p;
    });
    report.plan = plan;
    mark('plan', name, `${plan.pods.length} pods: ${plan.groups.flat().length} to move, ${plan.blockers.length} findings`);

    const fatal = plan.blockers.filter((b) => b.fatal);
    if (options.operation === 'plan') {
      report.blocked = fatal.map((b) => ({ pod: b.pod, pdb: b.pdbs?.join(', '), message: b.message }));
      report.success = fatal.length === 0;
      if (!report.success) report.error = `node ${name}: the drain would be refused: ${fatal.map((b) => b.message).join('; ')}`;
      return report;
    }
    if (options.operation === 'drain' && fatal.length > 0) {
      // Refusals the API server or kubectl would also make: stop before changing anything.
      report.blocked = fatal.map((b) => ({ pod: b.pod, pdb: b.pdbs?.join(', '), message: b.message }));
      throw new Error(`node ${name}: nothing was changed; the drain cannot proceed: ${fatal.map((b) => b.message).join('; ')}`);
    }

    if (!plan.alreadyCordoned) await setCordon(ctx, node, true, report, mark);
    else logger.info(`node ${name} was already cordoned`);
    if (options.operation === 'cordon') {
      report.success = true;
      return report;
    }

    await nodeEvent(ctx, node, 'Normal', 'SafeDrainStarted', `Draining node${dry}: ${plan.groups.flat().length} pods to move. ${ctx.origin}`);
    await evictGroups(ctx, plan, podWatch, report, mark);
    report.success = !report.error && report.results.every((r) => r.outcome !== 'failed' && r.outcome !== 'blocked');
    if (!report.success) {
      const failed = report.results.filter((r) => r.outcome === 'failed' || r.outcome === 'blocked');
      const pods = failed.map((r) => `${r.pod} (${r.outcome === 'blocked' ? (report.blocked.find((b) => b.pod === r.pod)?.message ?? r.message) : r.message})`);
      // evictGroups sets report.error when the timeout or a cancellation cut the drain short.
      report.error = [report.error, failed.length ? `${failed.length} pod(s) not evicted: ${pods.join('; ')}` : undefined].filter(Boolean).join('; ');
    }
  } catch (err) {
    report.success = false;
    report.error = err instanceof WaitAborted ? `node ${name}: ${err.why}` : (err as Error).message;
  } finally {
    if (!report.success) await onFailure(ctx, node, report, mark);
    else if (options.operation === 'drain') {
      await nodeEvent(ctx, node, 'Normal', 'SafeDrainSucceeded', `Node drained by safe-drain${dry}. ${ctx.origin}`);
    }
    podWatch?.stop();
    mark(report.success ? 'done' : 'error', name, report.success ? 'done' : (report.error ?? 'failed'));
    report.durationMs = Date.now() - started;
  }
  return report;
}

type Mark = (phase: TimelineEvent['phase'], subject: string, message: string) => void;

async function setCordon(ctx: NodeDrainContext, node: V1Node, cordon: boolean, report: NodeReport, mark: Mark): Promise<void> {
  const name = node.metadata?.name ?? '';
  const verb = cordon ? 'cordon' : 'uncordon';
  if ((node.spec?.unschedulable === true) === cordon) {
    ctx.logger.info(`node ${name} is already ${cordon ? 'cordoned' : 'schedulable'}`);
    return;
  }
  await ctx.client.setUnschedulable(name, cordon, ctx.options.dryRun);
  if (!ctx.options.dryRun) {
    report.cordoned = cordon;
    if (!cordon) report.uncordoned = true;
  }
  mark(cordon ? 'cordon' : 'uncordon', name, `${verb}ed${ctx.options.dryRun ? ' (dry run)' : ''}`);
  ctx.logger.info(`node ${name} ${verb}ed${ctx.options.dryRun ? ' (dry run: not persisted)' : ''}`);
  await nodeEvent(ctx, node, 'Normal', cordon ? 'SafeDrainCordoned' : 'SafeDrainUncordoned', `Node ${verb}ed by safe-drain. ${ctx.origin}`);
}

async function nodeEvent(ctx: NodeDrainContext, node: V1Node, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
  if (ctx.options.dryRun) return;
  try {
    await ctx.client.nodeEvent(node, type, reason, message.slice(0, 1000));
  } catch (err) {
    ctx.logger.debug(`event ${reason} on node ${node.metadata?.name} not recorded: ${describeApiError(err)}`);
  }
}

async function onFailure(ctx: NodeDrainContext, node: V1Node, report: NodeReport, mark: Mark): Promise<void> {
  const name = node.metadata?.name ?? '';
  if (ctx.options.operation !== 'drain' && ctx.options.operation !== 'cordon') return;
  ctx.logger.error(report.error ?? `drain of node ${name} failed`, { node: name });
  await nodeEvent(ctx, node, 'Warning', 'SafeDrainFailed', `Drain failed: ${report.error ?? ''}. ${ctx.origin}`);
  if (report.cordoned && !report.wasCordoned && ctx.options.uncordonOnFailure) {
    try {
      await setCordon(ctx, { ...node, spec: { ...node.spec, unschedulable: true } }, false, report, mark);
    } catch (err) {
      ctx.logger.error(`node ${name}: uncordon-on-failure failed: ${describeApiError(err)}; the node is left cordoned`, { node: name });
    }
  }
}

/** The plan as a table in the log, and each blocker as a warning/error (annotations in Actions). */
function logPlan(logger: Logger, plan: DrainPlan): void {
  logger.info(renderPlanText({ ...plan, blockers: [] }));
  for (const b of plan.blockers) {
    const line = `${b.fatal ? 'BLOCKS' : 'warning'} [${b.kind}] ${b.message}`;
    if (b.fatal) logger.error(line, { node: plan.node, pod: b.pod });
    else logger.warn(line, { node: plan.node, pod: b.pod });
  }
}

/** Runs the eviction groups in order; a group starts only when the one before is done. */
async function evictGroups(
  ctx: NodeDrainContext,
  plan: DrainPlan,
  /** The node's pods, watched; absent in a dry run, which waits for nothing. */
  pods: ResourceWatch<V1Pod> | undefined,
  report: NodeReport,
  mark: Mark,
): Promise<void> {
  const { client, options, logger } = ctx;
  const name = plan.node;
  // The drain's deadline (timeout) and the run's cancellation, as one signal.
  const deadline = new AbortController();
  const onCancel = () => deadline.abort(new Error('cancelled'));
  ctx.signal.addEventListener('abort', onCancel, { once: true });
  const timer =
    options.timeoutMs > 0
      ? setTimeout(() => deadline.abort(new Error(`timeout of ${options.timeoutMs / 1000}s expired`)), options.timeoutMs)
      : undefined;
  const signal = deadline.signal;

  const skipWaitMs = options.skipWaitForDeleteTimeoutSeconds > 0 ? options.skipWaitForDeleteTimeoutSeconds * 1000 : undefined;
  const giveUpMs = plan.nodeReady ? skipWaitMs : (skipWaitMs ?? UNREACHABLE_SKIP_WAIT_MS);
  if (!plan.nodeReady) {
    logger.warn(
      `node ${name} is NotReady: its kubelet may never confirm deletions, so each deletion is waited for at most ${giveUpMs! / 1000}s and reported as not confirmed`,
      { node: name },
    );
  }
  const results = new Map<string, PodResult>();
  const resultOf = (p: PodPlan): PodResult => {
    const key = `${p.namespace}/${p.name}`;
    let r = results.get(key);
    if (!r) {
      r = { pod: key, outcome: 'blocked', budgetWaits: 0 };
      results.set(key, r);
      report.results.push(r);
    }
    return r;
  };

  const evictionDeps: EvictionDeps = {
    client,
    logger,
    pdbWatch: ctx.pdbWatch,
    budgets: ctx.budgets,
    gracePeriodSeconds: options.gracePeriodSeconds,
    dryRun: options.dryRun,
    mark,
  };
  const evictPod = async (p: PodPlan): Promise<void> => {
    const r = resultOf(p);
    r.startedAt ??= Date.now() - ctx.runStart;
    await evictWithBudget(evictionDeps, p, r, signal);
  };

  /** After an accepted eviction: wait until the pod is gone (or give up on a dead node). */
  const awaitGone = async (p: PodPlan, migrated: boolean): Promise<void> => {
    const key = `${p.namespace}/${p.name}`;
    const r = resultOf(p);
    if (!pods) return; // dry run
    const gone = await waitForDeletion(pods, key, p.uid, signal, giveUpMs);
    if (gone === 'deleted') {
      r.outcome = migrated ? 'migrated' : p.podClass === 'finished' ? 'deleted' : 'evicted';
      if (p.action === 'wait') r.message = 'was already terminating: waited until it was gone';
    } else {
      r.outcome = 'evicted-not-confirmed';
      r.message = plan.nodeReady
        ? `deletion not confirmed within skip-wait-for-delete-timeout (${options.skipWaitForDeleteTimeoutSeconds}s)`
        : `node ${name} is NotReady: its kubelet cannot confirm the deletion; the pod stays Terminating until the node returns or is deleted`;
    }
    r.endedAt = Date.now() - ctx.runStart;
    mark('evict', key, gone === 'deleted' ? 'gone' : 'deletion not confirmed');
  };

  const waitReplacement = async (p: PodPlan): Promise<void> => {
    if (!options.waitForReplacements || options.dryRun || !p.workload || !canWatchWorkload(p.workload.kind)) return;
    await waitForWorkload(client, p.workload, (obj) => isWorkloadReady(obj), signal);
    mark('wait', `${p.workload.kind}/${p.workload.namespace}/${p.workload.name}`, 'replacement Ready');
  };

  /** Marks the pods of a failed task as failed (a budget wait cut short stays 'blocked'). */
  const failed = (podsOfTask: PodPlan[], err: unknown): void => {
    if (err instanceof WaitAborted) return;
    const msg = err instanceof PodFailure ? err.message : describeApiError(err);
    for (const p of podsOfTask) {
      const r = resultOf(p);
      if (r.outcome === 'blocked' || r.outcome === 'evicted') {
        r.outcome = 'failed';
        r.message = msg;
        logger.error(`${r.pod}: ${msg}`, { node: name, pod: r.pod });
      }
    }
  };

  const podTask = (p: PodPlan) => async () => {
    try {
      await evictPod(p);
      await awaitGone(p, false);
      await waitReplacement(p);
    } catch (err) {
      failed([p], err);
      throw err;
    }
  };

  /** One task per workload to migrate: replacement first, then its pods on this node. */
  const migrationTask = (podsOfWorkload: PodPlan[]) => async () => {
    const w = podsOfWorkload[0]!.workload!;
    for (const p of podsOfWorkload) resultOf(p).startedAt = Date.now() - ctx.runStart;
    mark('migrate', `Deployment/${w.namespace}/${w.name}`, `migrating ${podsOfWorkload.length} pod(s)`);
    try {
      const change = await migrateDeployment(
        {
          client,
          logger,
          node: name,
          dryRun: options.dryRun,
          signal,
          evictOldPods: async () => {
            await Promise.all(podsOfWorkload.map((p) => evictPod(p)));
          },
          record: (c) => report.workloadChanges.push(c),
        },
        w,
        { total: podsOfWorkload.length, ready: podsOfWorkload.length },
      );
      for (const p of podsOfWorkload) {
        if (options.dryRun) resultOf(p).outcome = 'would-evict';
        await awaitGone(p, true);
      }
      mark('migrate', `Deployment/${w.namespace}/${w.name}`, change.change);
    } catch (err) {
      failed(podsOfWorkload, err);
      throw err;
    }
  };

  try {
    for (const [index, group] of plan.groups.entries()) {
      await logger.group(`Node ${name}: eviction group ${index + 1} of ${plan.groups.length} (${group.length} pods)`, async () => {
        const tasks: (() => Promise<void>)[] = [];
        const byWorkload = new Map<string, PodPlan[]>();
        for (const p of group) {
          if (p.action === 'migrate' && p.workload?.kind === 'Deployment') {
            const k = `${p.workload.namespace}/${p.workload.name}`;
            byWorkload.set(k, [...(byWorkload.get(k) ?? []), p]);
          } else {
            tasks.push(podTask(p));
          }
        }
        for (const podsOfWorkload of byWorkload.values()) tasks.push(migrationTask(podsOfWorkload));
        await runBounded(options.maxConcurrentEvictions, tasks);
        throwIfAborted(signal);
      });
    }
    // Pods already terminating are in no eviction group: they are only waited for.
    for (const p of plan.pods.filter((x) => x.action === 'wait')) {
      await awaitGone(p, false).catch(() => undefined);
    }
  } catch (err) {
    if (!(err instanceof WaitAborted)) throw err;
    report.error = `node ${name}: ${err.why}`;
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onCancel);
    report.blocked = blockedPods(ctx, report.results);
    for (const p of plan.pods.filter((x) => x.action === 'skip')) {
      report.results.push({ pod: `${p.namespace}/${p.name}`, outcome: 'skipped', message: p.reason, budgetWaits: 0 });
    }
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
        pdb: r.pdb,
        budget,
        message: r.pdb
          ? `waiting for PDB ${r.pdb} (${budget ?? 'status unknown'}) when the drain ended`
          : (r.message ?? 'not evicted when the drain ended'),
      };
    });
}

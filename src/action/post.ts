// The Action's `post:` step (dist/post.js, `post-if: always()`): runs after the job's steps even
// when the drain step failed, was cancelled, or was killed before it could undo its temporary
// replica raises. It reads the same inputs, finds Deployments still carrying safe-drain's raise
// for the step's nodes, and restores them exactly (engine: restoreLeftoverChanges). It fails the
// step, naming each Deployment and the command to fix it, when one could not be restored.
// It restores under each node's drain lock: a node another live run holds is left to that run
// (its raise is not a leftover), and the lock the main step left when it was killed is removed.
import * as core from '@actions/core';
import { systemClock } from '../engine/clock.js';
import { DrainLocks, localIdentity, type AcquiredLock, type LockRefusal } from '../engine/execute/drain-lock.js';
import { restoreLeftoverChanges } from '../engine/execute/restore.js';
import { KubeClient } from '../engine/kube/client.js';
import { loadKubeConfig } from '../engine/kube/config.js';
import { parseOptions } from '../engine/options.js';
import { resolveNodes } from '../engine/run.js';
import { InputError, type DrainOptions, type Logger, type WorkloadChange } from '../engine/types.js';
import { actionsLogger, LOCK_HOLDER_STATE, writeKubeconfig, type KubeconfigFile } from './main.js';

/** What the post step needs from the engine; tests pass fakes (the shell logic is what they check). */
export interface PostDeps {
  connect(kubeconfigPath: string | undefined, context: string | undefined): KubeClient;
  /** Node names a `selector` input resolves to (read-only). */
  resolveNodeNames(client: KubeClient, options: DrainOptions): Promise<string[]>;
  restoreLeftoverChanges(client: KubeClient, logger: Logger, scope: { nodes: string[]; dryRun: boolean }): Promise<WorkloadChange[]>;
  /** Takes the drain locks of `nodes` as `holder` (the main step's id, when it saved one). */
  lockNodes(client: KubeClient, logger: Logger, nodes: string[], holder: string | undefined): Promise<PostLocks>;
}

export interface PostLocks {
  acquired: AcquiredLock[];
  refused: LockRefusal[];
  /** Releases what was acquired; returns what could not be released. */
  release(): Promise<string[]>;
}

async function lockNodes(client: KubeClient, logger: Logger, nodes: string[], holder: string | undefined): Promise<PostLocks> {
  // The refused nodes are left out: the others are still locked one by one.
  const acquired: DrainLocks[] = [];
  const refused: LockRefusal[] = [];
  for (const node of nodes) {
    const r = await DrainLocks.acquire(client, logger, systemClock, [node], localIdentity(holder, 'safe-drain post step'));
    if (Array.isArray(r)) refused.push(...r);
    else acquired.push(r);
  }
  return {
    acquired: acquired.flatMap((l) => l.acquired.slice()),
    refused,
    release: async () => (await Promise.all(acquired.map((l) => l.release()))).flat(),
  };
}

/**
 * How long the post step waits out a cluster that does not answer (KubeClient.outageBoundMs). It
 * only restores, and runs once at the job's end: waiting out an API server restart as a drain does
 * (90 s per request) would only hold the job, e.g. after a step deleted a throwaway cluster.
 */
export const POST_OUTAGE_BOUND_MS = 15_000;

const engineDeps: PostDeps = {
  connect: (path, context) => new KubeClient(loadKubeConfig({ path, context, shell: 'action' })),
  resolveNodeNames: async (client, options) => (await resolveNodes(client, options)).map((n) => n.metadata?.name ?? ''),
  restoreLeftoverChanges,
  lockNodes,
};

/** Never throws: every outcome goes through core (info, warning, setFailed). */
export async function post(deps: PostDeps = engineDeps): Promise<void> {
  let kubeconfig: KubeconfigFile | undefined;
  try {
    const options = parseOptions((name) => core.getInput(name));
    if (options.operation === 'plan') return core.info('safe-drain post: nothing to restore (operation plan changes nothing)');
    kubeconfig = writeKubeconfig(core.getInput('kubeconfig'));
    const client = deps.connect(kubeconfig?.path, core.getInput('context').trim() || undefined);
    client.outageBoundMs = POST_OUTAGE_BOUND_MS;
    const nodes = options.selector !== undefined ? await deps.resolveNodeNames(client, options) : options.nodes;
    const logger = actionsLogger();
    // A dry run took no lock and restores nothing for real.
    const locks = options.dryRun ? undefined : await deps.lockNodes(client, logger, nodes, core.getState(LOCK_HOLDER_STATE) || undefined);
    try {
      for (const r of locks?.refused ?? []) core.info(`safe-drain post: node ${r.node}: ${r.reason}: its temporary changes are that run's to restore, left as they are`);
      const free = nodes.filter((n) => !locks?.refused.some((r) => r.node === n));
      const changes = free.length > 0 ? await deps.restoreLeftoverChanges(client, logger, { nodes: free, dryRun: options.dryRun }) : [];
      reportChanges(changes, free);
    } finally {
      const unreleased = (await locks?.release()) ?? [];
      reportLocks(locks?.acquired ?? [], unreleased);
    }
  } catch (err) {
    if (err instanceof InputError) {
      // Refused inputs (or a selector matching no node): the main step stopped on the same error
      // before any change, and already failed saying so.
      core.info(`safe-drain post: nothing to restore (${err.message})`);
      return;
    }
    core.setFailed(
      `safe-drain post: could not check for temporary replica raises left on Deployments (${err instanceof Error ? err.message : String(err)}). ` +
        'Check by hand: kubectl get deployments -A -l safe-drain.io/scaled=true',
    );
  } finally {
    kubeconfig?.remove();
  }
}

/** A lock the main step left (it was killed) or a dead run's lock is a leftover too: said, and removed. */
function reportLocks(acquired: AcquiredLock[], unreleased: string[]): void {
  for (const a of acquired) {
    if (!a.previous) continue;
    const whose = a.previous.sameHolder ? 'left by the drain step (it did not end normally)' : `of an earlier run (host ${a.previous.holder.host}, pid ${a.previous.holder.pid}: ${a.previous.why})`;
    core.warning(`node ${a.node}: removed the drain lock ${whose}`, { title: 'safe-drain post: removed a leftover drain lock' });
  }
  if (unreleased.length > 0) core.setFailed(`safe-drain post: drain lock(s) left:\n${unreleased.join('\n')}`);
}

function reportChanges(changes: WorkloadChange[], nodes: string[]): void {
  const where = nodes.length > 0 ? `node ${nodes.join(', ')}` : 'the selected nodes';
  if (changes.length === 0) return core.info(`safe-drain post: no temporary replica raise left for ${where}`);
  for (const c of changes.filter((change) => change.restored)) {
    // The main step should have restored it itself: it was killed or its restore failed.
    core.warning(`${c.workload}: ${c.change}. ${c.message ?? ''}`.trim(), { title: 'safe-drain post: restored a leftover replica raise' });
  }
  const left = changes.filter((change) => !change.restored);
  if (left.length > 0) {
    const lines = left.map((c) => `${c.workload}: ${c.message ?? c.change}`);
    core.setFailed(`safe-drain post: ${left.length} Deployment(s) still carry a temporary replica raise by safe-drain:\n${lines.join('\n')}`);
  }
}

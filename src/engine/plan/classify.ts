// What kind of pod this is for a drain, and what to do with it (kubectl drain parity).
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { DrainOptions, PodAction, PodClass } from '../types.js';
import { controllerRefOf, deleteWaitDeadline, deletionTime } from './pod.js';
import { matchesLabelSelector } from './selector.js';

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * What the pod object alone does not say. Nothing has a default: a fact left out would be a
 * guess, and a wrong guess either skips a pod silently or evicts one that must stay.
 */
export interface PodContext {
  /**
   * For a pod whose controllerRef is a DaemonSet: whether that DaemonSet exists in apps/v1
   * (kubectl drain GETs it). Ignored for other pods.
   */
  daemonSetExists: boolean;
  /** Whether the node is Ready (a NotReady node's deletions are waited for a bounded time). */
  nodeReady: boolean;
  /** The planner's clock, epoch ms: when the pods were observed. */
  now: number;
  /** The option of that name (0 = off): a pod terminating for longer is not waited for. */
  skipWaitForDeleteTimeoutSeconds: number;
}

/** Every drain-relevant fact about a pod; a pod can have several (an unmanaged pod with emptyDir). */
export interface PodTraits {
  finished: boolean;
  terminating: boolean;
  /** Terminating for longer than the drain waits for it (skip-wait-for-delete-timeout): why. */
  deletionNotWaited?: string;
  daemonset: boolean;
  /**
   * Its controllerRef says DaemonSet, but no apps/v1 DaemonSet of that name exists (another API
   * group's DaemonSet kind, or an ownerReference left behind): kubectl deletes it only with --force.
   */
  missingDaemonSet: boolean;
  mirror: boolean;
  localStorage: boolean;
  /** Nothing known will recreate it: no controller, or a missing DaemonSet. */
  unmanaged: boolean;
}

type FlagOptions = Pick<DrainOptions, 'ignoreDaemonsets' | 'deleteEmptydirData' | 'force'>;

export function podTraits(pod: V1Pod, ctx: PodContext): PodTraits {
  const phase = pod.status?.phase;
  const controller = controllerRefOf(pod);
  const daemonSetOwned = controller?.kind === 'DaemonSet';
  const missingDaemonSet = daemonSetOwned && !ctx.daemonSetExists;
  return {
    finished: phase === 'Succeeded' || phase === 'Failed',
    terminating: deletionTime(pod) !== undefined,
    deletionNotWaited: deletionNotWaited(pod, ctx),
    daemonset: daemonSetOwned && !missingDaemonSet,
    missingDaemonSet,
    mirror: pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined,
    localStorage: pod.spec?.volumes?.some((v) => v.emptyDir != null) ?? false,
    unmanaged: controller === undefined || missingDaemonSet,
  };
}

/** Why the pod's deletion is no longer waited for (see deleteWaitDeadline), or undefined. */
function deletionNotWaited(pod: V1Pod, ctx: PodContext): string | undefined {
  const skipWaitSeconds = ctx.skipWaitForDeleteTimeoutSeconds;
  const deadline = deleteWaitDeadline(pod, skipWaitSeconds, ctx.nodeReady);
  const deletion = deletionTime(pod);
  if (deadline === undefined || deletion === undefined || ctx.now <= deadline) return undefined;
  const seconds = Math.floor((ctx.now - deletion) / 1000);
  if (skipWaitSeconds > 0) {
    return `terminating, its deletionTimestamp passed ${seconds}s ago (more than skip-wait-for-delete-timeout ${skipWaitSeconds}s): not waited for`;
  }
  return `terminating on a NotReady node, whose kubelet cannot confirm the deletion: not waited for`;
}

/**
 * The first matching class. Mirror pods come first: kubectl skips them in any phase (the kubelet
 * owns them, deleting one through the API does nothing lasting). Then finished and terminating,
 * since neither goes through a PDB check; then kubectl's filter order.
 */
export function classifyPod(pod: V1Pod, ctx: PodContext): PodClass {
  return classOf(podTraits(pod, ctx));
}

function classOf(t: PodTraits): PodClass {
  if (t.mirror) return 'mirror';
  // kubectl's skipDeletedFilter runs before every other: a long-terminating pod is left alone,
  // finished or not.
  if (t.terminating && t.deletionNotWaited) return 'terminating';
  if (t.finished) return 'finished';
  if (t.terminating) return 'terminating';
  if (t.daemonset) return 'daemonset';
  if (t.localStorage) return 'local-storage';
  if (t.unmanaged) return 'unmanaged';
  return 'movable';
}

/** An option the user must turn on for the drain to go ahead with this pod. */
export type MissingFlag = 'force' | 'delete-emptydir-data' | 'ignore-daemonsets';

export interface ActionDecision {
  action: PodAction;
  reason: string;
  /** Options to set, when action is 'refuse'. */
  missing: MissingFlag[];
}

/**
 * What the drain does with a pod of this class. `alsoUnmanaged`: a 'local-storage' pod that has
 * no controller either. kubectl stops at the first filter that refuses, so such a pod needs both
 * delete-emptydir-data and force; we name both flags at once rather than one per run.
 */
export function decideAction(podClass: PodClass, opts: FlagOptions, alsoUnmanaged = false): ActionDecision {
  const ok = (action: PodAction, reason: string): ActionDecision => ({ action, reason, missing: [] });
  switch (podClass) {
    case 'finished':
      return ok('evict', 'finished: deleted without a PDB check');
    case 'terminating':
      return ok('wait', 'already terminating: only waited for');
    case 'daemonset':
      return opts.ignoreDaemonsets
        ? ok('skip', 'DaemonSet pod: stays on the node (ignore-daemonsets)')
        : { action: 'refuse', reason: 'DaemonSet pod: would be recreated on the node at once', missing: ['ignore-daemonsets'] };
    case 'mirror':
      return ok('skip', 'static pod (mirror): cannot be evicted, stays with the kubelet');
    case 'local-storage': {
      const missing: MissingFlag[] = [];
      if (!opts.deleteEmptydirData) missing.push('delete-emptydir-data');
      if (alsoUnmanaged && !opts.force) missing.push('force');
      if (missing.length > 0) {
        const reason = alsoUnmanaged ? 'uses emptyDir and has no controller' : 'uses emptyDir: its data would be lost';
        return { action: 'refuse', reason, missing };
      }
      return ok('evict', alsoUnmanaged ? 'uses emptyDir, no controller: deleted for good with its data (force, delete-emptydir-data)' : 'uses emptyDir: its data is lost (delete-emptydir-data)');
    }
    case 'unmanaged':
      return opts.force
        ? ok('evict', 'no controller: deleted for good (force)')
        : { action: 'refuse', reason: 'no controller: would not be recreated', missing: ['force'] };
    case 'movable':
      return ok('evict', 'managed by a controller: evicted, recreated elsewhere');
  }
}

export interface PodDecision extends ActionDecision {
  podClass: PodClass;
  /**
   * What a refusal blocker says the pod's problem is, where the flag's usual wording would be
   * wrong (a pod whose DaemonSet is missing does have a controllerRef).
   */
  problem?: Partial<Record<MissingFlag, string>>;
}

/**
 * Class and action for one pod. `podSelector` (already parsed) leaves unselected pods alone,
 * before any other rule: as in kubectl, an unselected pod cannot block the drain.
 */
export function decidePod(pod: V1Pod, opts: FlagOptions, ctx: PodContext, podSelector?: V1LabelSelector): PodDecision {
  const traits = podTraits(pod, ctx);
  const podClass = classOf(traits);
  if (podSelector && !matchesLabelSelector(podSelector, pod.metadata?.labels)) {
    return { podClass, action: 'skip', reason: 'not selected by pod-selector', missing: [] };
  }
  if (podClass === 'terminating' && traits.deletionNotWaited) {
    return { podClass, action: 'skip', reason: traits.deletionNotWaited, missing: [] };
  }
  const decision: PodDecision = { podClass, ...decideAction(podClass, opts, podClass === 'local-storage' && traits.unmanaged) };
  if (traits.missingDaemonSet && (podClass === 'unmanaged' || podClass === 'local-storage')) {
    const ref = controllerRefOf(pod);
    const owner = `DaemonSet ${ref?.name ?? ''} (${ref?.apiVersion ?? ''})`;
    const missing = `its controller ${owner} is not an apps/v1 DaemonSet that exists (a DaemonSet kind of another API group, or an ownerReference left behind), so nothing known recreates it`;
    decision.problem = { force: missing };
    decision.reason = decision.missing.includes('force')
      ? `${missing}; kubectl drain refuses it too without force`
      : decision.action === 'evict'
        ? `${missing}: deleted (force)`
        : decision.reason;
  }
  return decision;
}

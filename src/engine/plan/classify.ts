// What kind of pod this is for a drain, and what to do with it (kubectl drain parity).
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { DrainOptions, PodAction, PodClass } from '../types.js';
import { controllerOf } from './pod.js';
import { matchesLabelSelector } from './selector.js';

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** Every drain-relevant fact about a pod; a pod can have several (an unmanaged pod with emptyDir). */
export interface PodTraits {
  finished: boolean;
  terminating: boolean;
  daemonset: boolean;
  mirror: boolean;
  localStorage: boolean;
  unmanaged: boolean;
}

export function podTraits(pod: V1Pod): PodTraits {
  const phase = pod.status?.phase;
  const controller = controllerOf(pod);
  return {
    finished: phase === 'Succeeded' || phase === 'Failed',
    terminating: pod.metadata?.deletionTimestamp != null,
    daemonset: controller?.kind === 'DaemonSet',
    mirror: pod.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined,
    localStorage: pod.spec?.volumes?.some((v) => v.emptyDir != null) ?? false,
    unmanaged: controller === undefined,
  };
}

/**
 * The first matching class, in kubectl's filter order (finished and terminating first, since
 * neither goes through a PDB check).
 */
export function classifyPod(pod: V1Pod): PodClass {
  return classOf(podTraits(pod));
}

function classOf(t: PodTraits): PodClass {
  if (t.finished) return 'finished';
  if (t.terminating) return 'terminating';
  if (t.daemonset) return 'daemonset';
  if (t.mirror) return 'mirror';
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

type FlagOptions = Pick<DrainOptions, 'ignoreDaemonsets' | 'deleteEmptydirData' | 'force'>;

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
}

/**
 * Class and action for one pod. `podSelector` (already parsed) leaves unselected pods alone,
 * before any other rule: as in kubectl, an unselected pod cannot block the drain.
 */
export function decidePod(pod: V1Pod, opts: FlagOptions, podSelector?: V1LabelSelector): PodDecision {
  const traits = podTraits(pod);
  const podClass = classOf(traits);
  if (podSelector && !matchesLabelSelector(podSelector, pod.metadata?.labels)) {
    return { podClass, action: 'skip', reason: 'not selected by pod-selector', missing: [] };
  }
  return { podClass, ...decideAction(podClass, opts, podClass === 'local-storage' && traits.unmanaged) };
}

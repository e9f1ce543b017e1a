// Words shared by the renderers (markdown, text, final state), so the job summary and the
// terminal describe the same thing the same way.
import type { ServiceAvailability } from '../availability/types.js';
import type { Blocker, BlockerKind, PodOutcome, PodPlan, VolumeDetachReport } from '../types.js';

export function podKey(pod: Pick<PodPlan, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

const BLOCKER_LABELS: Record<BlockerKind, string> = {
  'needs-force': 'Unmanaged pod (needs force)',
  'needs-delete-emptydir-data': 'emptyDir data would be lost (needs delete-emptydir-data)',
  'daemonset-not-ignored': 'DaemonSet pod (needs ignore-daemonsets)',
  'multiple-pdbs': 'More than one PDB selects the pod',
  'pdb-never-allows': 'PDB can never allow an eviction',
  'zero-ready': 'Eviction would leave no ready replica',
  'no-capacity': 'No other node can take the pod',
  'unavoidable-downtime': 'Downtime cannot be avoided',
  'do-not-disrupt': 'Pod must not be disrupted (annotation)',
  'node-do-not-disrupt': 'Node must not be disrupted (annotation)',
  'do-not-disrupt-overridden': 'do-not-disrupt overridden (respect-do-not-disrupt: false)',
  'budget-bypassed': 'PDB bypassed (disable-eviction / force-after)',
};

export function blockerLabel(kind: BlockerKind): string {
  return BLOCKER_LABELS[kind] ?? kind;
}

/** Fatal blockers first (they stop the drain), then by pod, so reports read the same every run. */
export function sortBlockers(blockers: readonly Blocker[]): Blocker[] {
  return [...blockers].sort((a, b) => Number(b.fatal) - Number(a.fatal) || a.pod.localeCompare(b.pod));
}

export function severityLabel(blocker: Blocker): string {
  return blocker.fatal ? 'Blocks the drain' : 'Warning';
}

const OUTCOME_LABELS: Record<PodOutcome, string> = {
  evicted: 'evicted',
  'evicted-not-confirmed': 'evicted (deletion not confirmed)',
  migrated: 'migrated',
  deleted: 'deleted (finished)',
  'force-deleted': 'deleted, PDB bypassed',
  completed: 'completed (waited for)',
  skipped: 'skipped',
  blocked: 'blocked',
  failed: 'failed',
  'would-evict': 'would evict (dry run)',
};

export function outcomeLabel(outcome: PodOutcome): string {
  return OUTCOME_LABELS[outcome] ?? outcome;
}

/** Eviction groups are 0-based in the plan; people count from 1. */
export function groupLabel(group: number | undefined): string {
  return group === undefined ? '' : String(group + 1);
}

/** `1m 05s`-style duration for people; sub-second runs show milliseconds. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m ${String(seconds).padStart(2, '0')}s`;
  if (minutes > 0) return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
  return `${seconds}s`;
}

export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** "Waited 3.2s for pv-a, pv-b to detach: all detached." / "... still attached: pv-a (volume-detach-timeout (360s) expired)." */
export function describeVolumeDetach(v: VolumeDetachReport): string {
  const head = `Waited ${formatDuration(v.waitedMs)} for ${v.waitedFor.join(', ')} (volumes of the pods the drain removed) to detach from the node`;
  if (v.stillAttached.length === 0) return `${head}: all detached.`;
  return `${head}: still attached: ${v.stillAttached.join(', ')}${v.endedBy ? ` (${v.endedBy})` : ''}.`;
}

/** "yes (estimated 12.3 s)": the plan expected the Service at zero, with its estimate of the outage when it has one. */
export function expectedZeroCell(s: Pick<ServiceAvailability, 'expectedZero' | 'estimatedDowntimeSeconds'>): string {
  if (!s.expectedZero) return 'no';
  return s.estimatedDowntimeSeconds !== undefined ? `yes (estimated ${s.estimatedDowntimeSeconds} s)` : 'yes';
}

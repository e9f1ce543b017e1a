// Words shared by the renderers (markdown, text, final state), so the job summary and the
// terminal describe the same thing the same way.
import type { ServiceAvailability } from '../availability/types.js';
import { EXIT_CODES, type RunOutcome } from '../errors.js';
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

export function severityLabel(blocker: Pick<Blocker, 'fatal'>): string {
  return blocker.fatal ? 'Blocks the drain' : 'Warning';
}

/** One cause that stops or warns about a drain, with every pod it affects. */
export interface BlockerGroup {
  kind: BlockerKind;
  fatal: boolean;
  pdbs: string[];
  /** `namespace/name` of each pod, in the order of sortBlockers. */
  pods: string[];
  /** The cause, said once: for several pods, "pod NAME" in it reads "each pod". */
  message: string;
}

/**
 * The plan's blockers, one per distinct cause: blockers of the same kind, PDBs and message
 * (the pod's own name aside) are one cause, with its pods counted and named. A PDB that blocks
 * four pods is said once, not four times.
 */
export function groupBlockers(blockers: readonly Blocker[]): BlockerGroup[] {
  const groups = new Map<string, BlockerGroup & { template: string }>();
  for (const b of sortBlockers(blockers)) {
    const template = b.message.split(`pod ${b.pod}`).join('pod {pod}');
    const key = JSON.stringify([b.fatal, b.kind, b.pdbs ?? [], template]);
    const group = groups.get(key);
    if (group) group.pods.push(b.pod);
    else groups.set(key, { kind: b.kind, fatal: b.fatal, pdbs: b.pdbs ?? [], pods: [b.pod], message: b.message, template });
  }
  return [...groups.values()].map(({ template, ...group }) => ({
    ...group,
    message: group.pods.length > 1 ? template.split('pod {pod}').join('each pod') : group.message,
  }));
}

/** Pods named after their count beyond this are left to the JSON report. */
const MAX_NAMED_PODS = 20;

/** "shop/web-1", or "4 pods (shop/web-1, shop/web-2, …)": counted and named. */
export function podsLabel(pods: readonly string[]): string {
  if (pods.length === 1) return pods[0]!;
  const named = pods.slice(0, MAX_NAMED_PODS).join(', ');
  const more = pods.length > MAX_NAMED_PODS ? `, and ${pods.length - MAX_NAMED_PODS} more` : '';
  return `${plural(pods.length, 'pod')} (${named}${more})`;
}

/** A cause as one log line: `BLOCKS [kind] 4 pods (...): message`. */
export function blockerLogLine(group: BlockerGroup): string {
  const pods = group.pods.length > 1 ? `${podsLabel(group.pods)}: ` : '';
  return `${group.fatal ? 'BLOCKS' : 'warning'} [${group.kind}] ${pods}${group.message}`;
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

const OUTCOME_MEANINGS: Record<RunOutcome, string> = {
  ok: 'done',
  incomplete: 'the drain did not complete',
  'bad-input': 'bad input, nothing was changed',
  'gate-failed': 'the availability gate failed',
  'no-access': 'cluster unreachable or not authorised, nothing was changed',
};

/** "incomplete: the drain did not complete; exit code 1": the outcome as a workflow reads it. */
export function outcomeMeaning(outcome: RunOutcome): string {
  return `${outcome}: ${OUTCOME_MEANINGS[outcome]}; exit code ${EXIT_CODES[outcome]}`;
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

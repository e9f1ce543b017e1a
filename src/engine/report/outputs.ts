// The step outputs, as data: which pods left the node, which stayed, which are still blocked.
import type { AvailabilityReport } from '../availability/types.js';
import type { BlockedPod, PodOutcome, RunReport } from '../types.js';

export interface RunOutputs {
  /** Pods removed from the node: evicted (confirmed or not), migrated, or finished and deleted. */
  evicted: string[];
  /** Pods that stayed on purpose (DaemonSet, mirror, excluded by pod-selector). */
  skipped: string[];
  /** Pods not moved that should have been: still held by a PodDisruptionBudget, or failed, with why. */
  blocked: BlockedPod[];
  /** Whole run, rounded to a tenth of a second. */
  durationSeconds: number;
  /** The availability gate's report; absent when it was off (or the run stopped before it started). */
  availability?: AvailabilityReport;
}

const REMOVED: readonly PodOutcome[] = ['evicted', 'evicted-not-confirmed', 'migrated', 'deleted', 'force-deleted'];

export function computeOutputs(report: RunReport): RunOutputs {
  const results = report.nodes.flatMap((node) => node.results);
  const blocked = report.nodes.flatMap((node) => node.blocked);
  const blockedKeys = new Set(blocked.map((b) => b.pod));
  // A 'blocked' or 'failed' result without a BlockedPod entry still counts as blocked: either way
  // the pod is still on the node although the drain meant to move it, and the message says why.
  for (const result of results) {
    if ((result.outcome === 'blocked' || result.outcome === 'failed') && !blockedKeys.has(result.pod)) {
      blocked.push({ pod: result.pod, ...(result.pdb !== undefined && { pdb: result.pdb }), message: result.message ?? result.outcome });
      blockedKeys.add(result.pod);
    }
  }
  return {
    evicted: unique(results.filter((r) => REMOVED.includes(r.outcome)).map((r) => r.pod)),
    skipped: unique(results.filter((r) => r.outcome === 'skipped').map((r) => r.pod)),
    blocked,
    durationSeconds: Math.round(report.durationMs / 100) / 10,
    ...(report.availability && { availability: report.availability }),
  };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

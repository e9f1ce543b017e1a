// What a node's facts come to: the verdicts the phases act on (does the run go on?) and the
// report states (success, blocked pods), derived in one place from what the run recorded.
import type { BlockedPod, PodResult } from '../types.js';
import type { NodeRun } from './run-state.js';

/** Findings of the node's plan that refuse the drain before any change. */
export function fatalFindings(n: NodeRun): BlockedPod[] {
  return (n.plan?.blockers ?? []).filter((b) => b.fatal).map((b) => ({ pod: b.pod, ...(b.pdbs && { pdb: b.pdbs.join(', ') }), message: b.message }));
}

/** Pods the node's work did not get off it: failed, or still waiting (on a budget) when it ended. */
export function unfinishedPods(n: NodeRun): PodResult[] {
  return n.results.filter((r) => r.outcome === 'failed' || r.outcome === 'blocked');
}

/**
 * The node's part succeeded: its work ran to the end, every pod it had to move left, nothing went
 * wrong after, every temporary change was undone; for a plan, nothing refuses the drain.
 */
export function nodeDrained(n: NodeRun): boolean {
  if (n.end?.kind !== 'done') return false;
  if (fatalFindings(n).length > 0) return false;
  return unfinishedPods(n).length === 0 && n.problems.length === 0 && n.changes.every((c) => c.restored);
}

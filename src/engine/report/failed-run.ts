// The RunReport of a run that stopped on an error before the engine could report on any node:
// bad input, a missing permission, an unreachable cluster, or an error the engine did not expect.
// Both shells publish it like any other report, so outputs, job summary, report file and the
// CLI's JSON exist on every path.
import { SafeDrainError, outcomeOfError } from '../errors.js';
import type { DrainOptions, RunReport } from '../types.js';
import { errorText } from '../kube/errors.js';

export const NOTHING_CHANGED = 'Nothing was changed';

/**
 * Whether the error is one the engine raises only before its first change: input checks
 * (including those the cluster judges: unknown node, unreachable server) and the permission check.
 */
export function stoppedBeforeAnyChange(error: unknown): boolean {
  return error instanceof SafeDrainError && (error.outcome === 'bad-input' || error.outcome === 'no-access');
}

/** One sentence on what the cluster was left with, for a run that ended on `error`. */
export function changesBeforeError(error: unknown, options: Pick<DrainOptions, 'nodes' | 'selector'>): string {
  if (stoppedBeforeAnyChange(error)) return `${NOTHING_CHANGED}: safe-drain stopped before its first change.`;
  const target = options.selector ? `the nodes matching ${options.selector}` : options.nodes.join(', ') || 'the nodes';
  return (
    `safe-drain cannot tell what it changed before this error: check ${target} for a cordon ` +
    '(`kubectl get nodes`) and Deployments for the annotation safe-drain.io/original-replicas; ' +
    'a rerun or `operation: uncordon` restores what safe-drain left.'
  );
}

export interface FailedRunInput {
  /** The parsed options, or the best known ones when parsing them is what failed. */
  options: DrainOptions;
  error: unknown;
  /** Date.now() when the run started. */
  startedAt: number;
  /** The error as the shell names things (the CLI says "option --timeout", not Input "timeout"). */
  message?: string;
  now?: number;
}

export function failedRunReport({ options, error, startedAt, message, now = Date.now() }: FailedRunInput): RunReport {
  const text = message ?? errorText(error);
  const sentence = text.trim().replace(/\.?$/, '.');
  const changes = changesBeforeError(error, options);
  return {
    version: 1,
    outcome: outcomeOfError(error),
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Math.max(0, now - startedAt),
    options,
    nodes: [],
    success: false,
    error: text,
    // PermissionError already says "Nothing was changed."; say it once.
    summary: sentence.includes(NOTHING_CHANGED) && stoppedBeforeAnyChange(error) ? sentence : `${sentence} ${changes}`,
  };
}

// Cordon/uncordon one node and record it: on the node's run record, the timeline, the log and as
// an Event on the node (so `kubectl describe node` says who did it).
import { describeApiError } from '../kube/errors.js';
import type { TimelineEvent } from '../types.js';
import type { NodeRun, Run } from './run-state.js';

export type Mark = (phase: TimelineEvent['phase'], subject: string, message: string) => void;

/** Sets spec.unschedulable; a no-op (logged) when the node is already in that state. */
export async function setCordon(run: Run, n: NodeRun, cordon: boolean): Promise<void> {
  const { api, logger, options } = run.env;
  const verb = cordon ? 'cordon' : 'uncordon';
  if (n.cordoned === cordon) {
    logger.info(`node ${n.name} is already ${cordon ? 'cordoned' : 'schedulable'}`);
    return;
  }
  await api.setUnschedulable(n.name, cordon, options.dryRun);
  if (!options.dryRun) {
    n.cordoned = cordon;
    if (!cordon) n.uncordoned = true;
  }
  const dry = options.dryRun ? ' (dry run)' : '';
  run.mark(n.name, cordon ? 'cordon' : 'uncordon', n.name, `${verb}ed${dry}`);
  logger.info(`node ${n.name} ${verb}ed${options.dryRun ? ' (dry run: not persisted)' : ''}`);
  nodeEvent(run, n.name, 'Normal', cordon ? 'SafeDrainCordoned' : 'SafeDrainUncordoned', `Node ${verb}ed by safe-drain. ${run.env.origin}`);
}

/**
 * An Event on the node, sent without waiting (the run awaits them before it returns); never
 * fails the drain: Events are best effort.
 */
export function nodeEvent(run: Run, node: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
  if (run.env.options.dryRun) return;
  const sent = run.env.api.nodeEvent({ metadata: { name: node } }, type, reason, message.slice(0, 1000)).catch((err: unknown) => {
    run.env.logger.debug(`event ${reason} on node ${node} not recorded: ${describeApiError(err)}`);
  });
  run.background.push(sent);
}

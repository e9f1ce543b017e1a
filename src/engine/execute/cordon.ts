// Cordon/uncordon one node and record it: in the NodeReport, the timeline, the log and as an
// Event on the node (so `kubectl describe node` says who did it).
import type { V1Node } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { describeApiError } from '../kube/errors.js';
import type { Logger, NodeReport, TimelineEvent } from '../types.js';

export interface NodeActionContext {
  client: KubeClient;
  logger: Logger;
  dryRun: boolean;
  /** Who asked (workflow run URL, CLI user@host), for Events on the node. */
  origin: string;
  /**
   * Where Events go when nothing should wait for them (a drain's cordon and start Events): sent
   * at once, awaited by the run before it returns. Without it, nodeEvent awaits its Event.
   */
  background?: Promise<void>[];
}

export type Mark = (phase: TimelineEvent['phase'], subject: string, message: string) => void;

/** Sets spec.unschedulable; a no-op (logged) when the node is already in that state. */
export async function setCordon(ctx: NodeActionContext, node: V1Node, cordon: boolean, report: NodeReport, mark: Mark): Promise<void> {
  const name = node.metadata?.name ?? '';
  const verb = cordon ? 'cordon' : 'uncordon';
  if ((node.spec?.unschedulable === true) === cordon) {
    ctx.logger.info(`node ${name} is already ${cordon ? 'cordoned' : 'schedulable'}`);
    return;
  }
  await ctx.client.setUnschedulable(name, cordon, ctx.dryRun);
  if (!ctx.dryRun) {
    report.cordoned = cordon;
    if (!cordon) report.uncordoned = true;
  }
  mark(cordon ? 'cordon' : 'uncordon', name, `${verb}ed${ctx.dryRun ? ' (dry run)' : ''}`);
  ctx.logger.info(`node ${name} ${verb}ed${ctx.dryRun ? ' (dry run: not persisted)' : ''}`);
  await nodeEvent(ctx, node, 'Normal', cordon ? 'SafeDrainCordoned' : 'SafeDrainUncordoned', `Node ${verb}ed by safe-drain. ${ctx.origin}`);
}

/** An Event on the node; never fails the drain (Events are best effort). */
export async function nodeEvent(ctx: NodeActionContext, node: V1Node, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
  if (ctx.dryRun) return;
  const sent = ctx.client.nodeEvent(node, type, reason, message.slice(0, 1000)).catch((err: unknown) => {
    ctx.logger.debug(`event ${reason} on node ${node.metadata?.name} not recorded: ${describeApiError(err)}`);
  });
  // The first eviction need not wait for an Event to be written.
  if (ctx.background) ctx.background.push(sent);
  else await sent;
}

// Evicting one pod: send policy/v1 Evictions until one is accepted, parking on the pod's PDB
// (waitForBudget) after every 429 — as long as the drain's deadline allows.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import type { ResourceWatch } from '../kube/watch.js';
import { RBAC_FILE } from '../kube/access.js';
import type { Logger, PodPlan, PodResult, TimelineEvent } from '../types.js';
import { sleep, throwIfAborted } from './abort.js';
import type { BudgetWaiter } from './budget.js';
import { evictOnce } from './evict.js';

const MAX_TRANSIENT_RETRIES = 5;

/** A pod failure the user must act on (not a budget wait). */
export class PodFailure extends Error {}

export interface EvictionDeps {
  client: KubeClient;
  logger: Logger;
  pdbWatch: ResourceWatch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  gracePeriodSeconds: number;
  dryRun: boolean;
  mark: (phase: TimelineEvent['phase'], subject: string, message: string) => void;
}

/**
 * Evicts `p`, recording into `r` (outcome, budget waits, PDB). Resolves when an eviction is
 * accepted (or the pod is already gone); in a dry run after the first answer. Throws PodFailure
 * for answers the user must act on, WaitAborted when `signal` fires while waiting.
 */
export async function evictWithBudget(deps: EvictionDeps, p: PodPlan, r: PodResult, signal: AbortSignal): Promise<void> {
  const { client, logger, dryRun, mark } = deps;
  const key = `${p.namespace}/${p.name}`;
  const pdbKey = p.pdbs[0];
  let transient = 0;
  let settle: (() => void) | undefined;
  for (;;) {
    throwIfAborted(signal);
    const seen = pdbKey ? deps.pdbWatch.get(pdbKey)?.metadata?.resourceVersion : undefined;
    const attempt = await evictOnce(client, { namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: deps.gracePeriodSeconds, dryRun });
    settle?.();
    settle = undefined;
    switch (attempt.kind) {
      case 'accepted':
      case 'gone':
      case 'namespace-terminating':
        r.outcome = dryRun ? 'would-evict' : 'evicted';
        r.message =
          attempt.kind === 'gone'
            ? 'already gone'
            : attempt.kind === 'namespace-terminating'
              ? 'its namespace is being deleted: the namespace controller deletes it'
              : undefined;
        mark('evict', key, dryRun ? 'eviction allowed (dry run)' : 'eviction accepted');
        return;
      case 'budget': {
        r.budgetWaits++;
        r.pdb = pdbKey ?? attempt.pdb;
        r.message = attempt.message;
        if (dryRun) {
          r.outcome = 'blocked';
          r.message = `would wait: ${attempt.message}`;
          return;
        }
        if (r.budgetWaits === 1) {
          logger.info(`${key}: waiting for PDB ${r.pdb ?? '(unnamed)'} to allow the eviction (${attempt.message})`);
          mark('wait', key, `waiting for PDB ${r.pdb ?? ''}`);
        }
        const wake = await deps.budgets.wait(r.pdb, { signal, retryAfterSeconds: attempt.retryAfterSeconds, seenResourceVersion: seen });
        settle = wake.settle;
        continue;
      }
      case 'multiple-pdbs':
        throw new PodFailure(`${attempt.message} (PDBs: ${p.pdbs.join(', ') || 'see message'}); leave only one PDB selecting the pod`);
      case 'forbidden':
        throw new PodFailure(`eviction forbidden: ${attempt.message}; bind the identity to ${RBAC_FILE}`);
      case 'error':
        if (++transient > MAX_TRANSIENT_RETRIES) throw new PodFailure(`eviction failed ${transient} times: HTTP ${attempt.code} ${attempt.message}`);
        logger.debug(`${key}: eviction attempt failed (HTTP ${attempt.code} ${attempt.message}); retrying`);
        await sleep(Math.min(10_000, 250 * 2 ** transient), signal);
        continue;
    }
  }
}

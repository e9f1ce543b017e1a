// Evicting one pod: send policy/v1 Evictions until one is accepted, parking on the pod's PDB
// (waitForBudget) after every 429 — as long as the drain's deadline allows.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import type { ResourceWatch } from '../kube/watch.js';
import { RBAC_FILE } from '../kube/access.js';
import type { Logger, PodPlan, PodResult, TimelineEvent } from '../types.js';
import { sleep, throwIfAborted } from './abort.js';
import { admittedEviction, describeStaleDisruptions, type BudgetWaiter } from './budget.js';
import { evictOnce } from './evict.js';
import { API_OUTAGE_BOUND_MS } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';

// Answers that should pass on their own (5xx, no answer, a resourceVersion conflict) are retried
// 0.5 s .. 10 s apart for as long as the client rides out an outage (API_OUTAGE_BOUND_MS).
/**
 * Retries of a "come back later" that is not the budget's arithmetic (DisruptedPods map too big,
 * API throttling): 0.5 s .. 10 s apart, about 2 min in all, the time after which the disruption
 * controller drops evictions it never saw confirmed (its DeletionTimeout).
 */
const MAX_BUSY_RETRIES = 16;
const MAX_BACKOFF_MS = 10_000;

/** Delay before retry number `n` (1-based), never shorter than the server's Retry-After. */
function backoffMs(n: number, retryAfterSeconds?: number): number {
  return Math.max(Math.min(MAX_BACKOFF_MS, 250 * 2 ** n), (retryAfterSeconds ?? 0) * 1000);
}

export { PodFailure } from '../errors.js';
import { PodFailure } from '../errors.js';

/** The budget wait ended because the pod is to be migrated instead (EvictionDeps.surgeInstead); the message says why. */
export class SurgeInstead extends Error {}

export interface EvictionDeps {
  client: KubeClient;
  logger: Logger;
  pdbWatch: ResourceWatch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  gracePeriodSeconds: number;
  dryRun: boolean;
  mark: (phase: TimelineEvent['phase'], subject: string, message: string) => void;
  /**
   * Whether the pod is Ready now (the drain's pod watch), undefined when not known. A waiter for
   * a pod that is not Ready is released as soon as its PDB admits not-Ready pods (BudgetWaiter).
   */
  podReady?: (p: PodPlan) => boolean | undefined;
  /** The pod's labels now (the drain's pod watch): a PDB changed to no longer select it lets it go. */
  podLabels?: (p: PodPlan) => Record<string, string> | undefined;
  /**
   * Fires (its reason: why) when the pod is to be migrated instead of waiting for its budget: a
   * budget wait then ends with SurgeInstead, and no further eviction is sent.
   */
  surgeInstead?: AbortSignal;
}

/**
 * Evicts `p`, recording into `r` (outcome, budget waits, PDB). Resolves when an eviction is
 * accepted (or the pod is already gone); in a dry run after the first answer. Throws PodFailure
 * for answers the user must act on, WaitAborted when `signal` fires while waiting.
 */
export async function evictWithBudget(deps: EvictionDeps, p: PodPlan, r: PodResult, signal: AbortSignal): Promise<void> {
  const { client, logger, dryRun, mark } = deps;
  const key = `${p.namespace}/${p.name}`;
  // The plan's PDB until the API server names one: its answer is the truth (a PDB created or
  // replaced after planning).
  let pdbKey = p.pdbs[0];
  const ofPdb = () => (pdbKey ? ` (PDB ${pdbKey})` : '');
  const podReady = deps.podReady ? () => deps.podReady!(p) : undefined;
  const podLabels = deps.podLabels ? () => deps.podLabels!(p) : undefined;
  let transient = 0;
  /** Since when the answers have been transient errors, without any other answer in between. */
  let failingSince: number | undefined;
  let busy = 0;
  let settle: (() => void) | undefined;
  /** The identity may not delete pods: admitted evictions are waited out instead. */
  let completionRefused = false;
  const surge = deps.surgeInstead;
  const waitSignal = surge ? AbortSignal.any([signal, surge]) : signal;
  // Only a budget wait is given up: an answer that came after a wake is acted on first.
  const giveUpForSurge = () => {
    if (surge?.aborted && !signal.aborted) throw new SurgeInstead(surge.reason instanceof Error ? surge.reason.message : String(surge.reason));
  };
  for (;;) {
    throwIfAborted(signal);
    const asked = pdbKey;
    const seen = asked ? deps.pdbWatch.get(asked)?.metadata?.resourceVersion : undefined;
    const attempt = await evictOnce(client, { namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: deps.gracePeriodSeconds, dryRun });
    settle?.();
    settle = undefined;
    if (attempt.kind !== 'error') failingSince = undefined;
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
        pdbKey = attempt.pdb ?? pdbKey;
        r.pdb = pdbKey;
        const cachedPdb = r.pdb ? deps.pdbWatch.get(r.pdb) : undefined;
        // A budget spent on an eviction that did not delete its pod is held for up to 2 minutes: say so.
        const stale = describeStaleDisruptions(cachedPdb, Date.now());
        r.message = stale ? `${attempt.message}; ${stale}` : attempt.message;
        if (dryRun) {
          r.outcome = 'blocked';
          r.message = `would wait: ${r.message}`;
          return;
        }
        // This very pod's eviction was admitted earlier (e.g. by a run killed mid-request) and its
        // delete never happened: the budget already counts it as gone, so finish that eviction.
        const admitted = cachedPdb && !completionRefused ? admittedEviction(cachedPdb, p.name, Date.now()) : undefined;
        if (admitted && 'since' in admitted) {
          const done = await completeAdmittedEviction(deps, p, r.pdb!, admitted.since);
          if (done.completed) {
            r.outcome = 'evicted';
            r.message = done.message;
            mark('evict', key, `admitted eviction completed: ${done.message}`);
            return;
          }
          if (done.refused) completionRefused = true;
        }
        if (r.budgetWaits === 1) {
          logger.info(`${key}: waiting for PDB ${r.pdb ?? '(unnamed)'} to allow the eviction (${r.message})`);
          mark('wait', key, `waiting for PDB ${r.pdb ?? ''}`);
        }
        // `seen` is the status of the PDB we knew before the attempt; for a PDB first named by
        // this answer there is none, and the waiter judges the cached status as it is.
        // An entry for this pod too young to judge: look again once it is old enough.
        const judgeIn = admitted && 'freshInMs' in admitted ? Math.ceil(admitted.freshInMs / 1000) + 1 : undefined;
        const wake = await deps.budgets
          .wait(r.pdb, {
            signal: waitSignal,
            retryAfterSeconds: judgeIn !== undefined ? Math.max(judgeIn, attempt.retryAfterSeconds ?? 0) : attempt.retryAfterSeconds,
            seenResourceVersion: r.pdb === asked ? seen : undefined,
            podReady,
            podLabels,
          })
          .catch((err: unknown) => {
            giveUpForSurge();
            throw err;
          });
        settle = wake.settle;
        continue;
      }
      case 'multiple-pdbs':
        throw new PodFailure(`${key}: ${attempt.message} (PDBs: ${p.pdbs.join(', ') || 'see message'}); leave only one PDB selecting the pod`);
      case 'forbidden':
        throw new PodFailure(`eviction of ${key} forbidden: ${attempt.message}; bind the identity to ${RBAC_FILE}`);
      case 'busy':
        pdbKey = attempt.pdb ?? pdbKey;
        if (pdbKey) r.pdb = pdbKey;
        r.message = attempt.message;
        if (++busy > MAX_BUSY_RETRIES) {
          throw new PodFailure(
            `eviction of ${key}${ofPdb()} refused ${busy} times for now (HTTP ${attempt.code} ${attempt.message}); ` +
              'the API server or the disruption controller is overloaded: retry the drain later',
          );
        }
        // A 429 without a budget cause is API Priority and Fairness throttling, not the PDB.
        logger.info(
          attempt.code === 429
            ? `${key}: the API server is throttling requests (HTTP 429 ${attempt.message}); retrying later`
            : `${key}: the API server asks to retry later${ofPdb()}: HTTP ${attempt.code} ${attempt.message}`,
        );
        await sleep(backoffMs(busy, attempt.retryAfterSeconds), signal);
        continue;
      case 'error':
        transient++;
        failingSince ??= Date.now();
        // Bounded by time, not by a count: an API server restart alone takes ~20 s.
        if (Date.now() - failingSince >= API_OUTAGE_BOUND_MS) {
          throw new PodFailure(
            `eviction of ${key}${ofPdb()} failed ${transient} times over ${Math.round((Date.now() - failingSince) / 1000)}s: HTTP ${attempt.code} ${attempt.message}`,
          );
        }
        logger.debug(`${key}: eviction attempt failed (HTTP ${attempt.code} ${attempt.message}); retrying`);
        await sleep(backoffMs(transient, attempt.retryAfterSeconds), signal);
        continue;
    }
  }
}

/**
 * Finishes an eviction the API server admitted for `p` but never carried out: a DELETE with the
 * pod's UID as precondition and the drain's grace period, as the eviction itself would have
 * deleted it. The budget counted the pod as disrupted since `since`, so this spends nothing more.
 * `refused`: the identity may not delete pods (the optional permission in the ClusterRole).
 */
async function completeAdmittedEviction(deps: EvictionDeps, p: PodPlan, pdb: string, since: string): Promise<{ completed: boolean; refused?: boolean; message?: string }> {
  const key = `${p.namespace}/${p.name}`;
  const why = `PDB ${pdb} has counted it as evicted since ${since} (an eviction the API server admitted whose delete never happened, e.g. of a run killed mid-request)`;
  try {
    await deps.client.deletePod({ namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: deps.gracePeriodSeconds });
    deps.logger.info(`${key}: deleted: ${why}`);
    return { completed: true, message: `deleted: ${why}` };
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return { completed: true, message: 'already gone' };
    if (code === 403) {
      deps.logger.info(`${key}: ${why}; this identity may not delete pods (${describeApiError(err)}), so the run waits until the disruption controller stops counting it (grant delete on pods, ${RBAC_FILE}, to finish such evictions at once)`);
      return { completed: false, refused: true };
    }
    // 409: not that pod any more (the UID precondition); anything else: the eviction is tried again.
    deps.logger.debug(`${key}: completing its admitted eviction failed (${describeApiError(err)}); trying the eviction again`);
    return { completed: false };
  }
}

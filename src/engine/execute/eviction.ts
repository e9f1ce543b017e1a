// Evicting one pod: send policy/v1 Evictions until one is accepted, parking on the pod's PDB
// (BudgetWaiter) after every budget refusal, for as long as the drain's deadline allows. What
// each answer means is decided in one place, nextStep (Karpenter's Queue.evict in spirit):
// done, wait for the budget, retry later, or fail. The loop around it only acts on that.
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { PodFailure, SafeDrainError } from '../errors.js';
import { RBAC_FILE } from '../kube/access.js';
import { API_OUTAGE_BOUND_MS, type KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import type { Watch } from '../kube/watch.js';
import { admittedEviction, describeStaleDisruptions } from '../plan/pdb.js';
import { isPodReady } from '../plan/pod.js';
import type { BudgetBypass, Logger, PodPlan, PodResult } from '../types.js';
import { deadlineSignal, sleep, throwIfAborted } from '../wait.js';
import type { BudgetWaiter } from './budget.js';
import type { Mark } from './cordon.js';
import { evictOnce, type EvictAttempt } from './evict.js';
import { describeBypass, forceDelete, type ForcePolicy } from './forced.js';

export { PodFailure } from '../errors.js';

/** A signal that never fires: the parent of a timer that only its own bound ends. */
const NEVER = new AbortController().signal;

/**
 * Retries of a "come back later" that is not the budget's arithmetic (DisruptedPods map too big,
 * API throttling): 0.5 s .. 10 s apart, about 2 min in all, the time after which the disruption
 * controller drops evictions it never saw confirmed (its DeletionTimeout).
 */
export const MAX_BUSY_RETRIES = 16;
const MAX_BACKOFF_MS = 10_000;

/** Delay before retry number `n` (1-based), never shorter than the server's Retry-After. */
function backoffMs(n: number, retryAfterSeconds?: number): number {
  return Math.max(Math.min(MAX_BACKOFF_MS, 250 * 2 ** n), (retryAfterSeconds ?? 0) * 1000);
}

/** The budget wait ended because the pod is to be migrated instead (EvictionEnv.surgeInstead); the message says why. */
export class SurgeInstead extends SafeDrainError {
  readonly outcome = 'incomplete';
}

export type EvictionApi = Pick<KubeClient, 'evict' | 'deletePod' | 'getPdb' | 'forbiddenWhileStarting'>;

export interface EvictionEnv {
  api: EvictionApi;
  clock: Clock;
  logger: Logger;
  pdbs: Watch<V1PodDisruptionBudget>;
  budgets: BudgetWaiter;
  gracePeriodSeconds: number;
  dryRun: boolean;
  mark: Mark;
  /** The pod now (the drain's pod watch), or undefined when it is gone or not known (a dry run). */
  podNow?: (p: PodPlan) => V1Pod | undefined;
  /**
   * Fires (its reason: why) when the pod is to be migrated instead of waiting for its budget: a
   * budget wait then ends with SurgeInstead, and no further eviction is sent.
   */
  surgeInstead?: AbortSignal;
  /** Deletion without the PDB's consent, as an input asked for it (execute/forced.ts); absent: never. */
  force?: ForcePolicy;
  /** Told of each pod deleted without its PDB's consent (the node's Event, the availability gate). */
  onBypass?: (bypass: BudgetBypass) => void;
}

/** What the eviction loop has seen so far for one pod (the answers' history nextStep needs). */
export interface EvictionState {
  /** The PDB the API server named last (the plan's until it names one). */
  pdb?: string;
  /** When its PDB first refused it (force-after counts from here). */
  waitingSince?: number;
  busy: number;
  transient: number;
  /** Since when the answers have been transient errors, with no other answer in between. */
  failingSince?: number;
}

/** What the loop does after one answer. */
export type Step =
  | { next: 'done'; message?: string }
  | { next: 'wait-budget'; message: string; retryAfterSeconds?: number }
  | { next: 'retry'; afterMs: number; log: string; level: 'info' | 'debug' }
  | { next: 'fail'; message: string };

/** What answer `a` to an eviction of `key` means (pure; updates `s`'s counters). */
export function nextStep(a: EvictAttempt, s: EvictionState, key: string, now: number): Step {
  if (a.kind !== 'error') s.failingSince = undefined;
  const ofPdb = () => (s.pdb ? ` (PDB ${s.pdb})` : '');
  switch (a.kind) {
    case 'accepted':
      return { next: 'done' };
    case 'gone':
      return { next: 'done', message: 'already gone' };
    case 'namespace-terminating':
      return { next: 'done', message: 'its namespace is being deleted: the namespace controller deletes it' };
    case 'budget':
      s.pdb = a.pdb ?? s.pdb;
      return { next: 'wait-budget', message: a.message, retryAfterSeconds: a.retryAfterSeconds };
    case 'multiple-pdbs':
      return { next: 'fail', message: `${key}: ${a.message}; leave only one PDB selecting the pod` };
    case 'forbidden':
      return { next: 'fail', message: `eviction of ${key} forbidden: ${a.message}; bind the identity to ${RBAC_FILE}` };
    case 'busy':
      s.pdb = a.pdb ?? s.pdb;
      if (++s.busy > MAX_BUSY_RETRIES) {
        return {
          next: 'fail',
          message: `eviction of ${key}${ofPdb()} refused ${s.busy} times for now (HTTP ${a.code} ${a.message}); the API server or the disruption controller is overloaded: retry the drain later`,
        };
      }
      // A 429 without a budget cause is API Priority and Fairness throttling, not the PDB.
      return {
        next: 'retry',
        afterMs: backoffMs(s.busy, a.retryAfterSeconds),
        level: 'info',
        log: a.code === 429 ? `${key}: the API server is throttling requests (HTTP 429 ${a.message}); retrying later` : `${key}: the API server asks to retry later${ofPdb()}: HTTP ${a.code} ${a.message}`,
      };
    case 'error': {
      s.transient++;
      s.failingSince ??= now;
      // Bounded by time, not by a count: an API server restart alone takes ~20 s.
      if (now - s.failingSince >= API_OUTAGE_BOUND_MS) {
        return { next: 'fail', message: `eviction of ${key}${ofPdb()} failed ${s.transient} times over ${Math.round((now - s.failingSince) / 1000)}s: HTTP ${a.code} ${a.message}` };
      }
      return { next: 'retry', afterMs: backoffMs(s.transient, a.retryAfterSeconds), level: 'debug', log: `${key}: eviction attempt failed (HTTP ${a.code} ${a.message}); retrying` };
    }
  }
}

/**
 * Evicts `p`, recording into `r` (outcome, budget waits, PDB). Resolves when an eviction is
 * accepted (or the pod is already gone); in a dry run after the first answer. Throws PodFailure
 * for answers the user must act on, WaitAborted when `signal` fires while waiting, SurgeInstead
 * when a budget wait is given up for a migration. Deletes the pod without asking its PDB only as
 * env.force allows (disable-eviction at once, force-after once its budget waits last that long).
 */
export async function evictWithBudget(env: EvictionEnv, p: PodPlan, r: PodResult, signal: AbortSignal): Promise<void> {
  if (env.force?.by === 'disable-eviction') {
    await deleteBypassingBudget(env, env.force, p, r, { waitedMs: 0, signal });
    return;
  }
  const key = `${p.namespace}/${p.name}`;
  const s: EvictionState = { pdb: p.pdbs[0], busy: 0, transient: 0 };
  let settle: (() => void) | undefined;
  let completion: Completion = { refused: false };
  for (;;) {
    throwIfAborted(signal);
    const asked = s.pdb;
    const seen = asked ? env.pdbs.get(asked)?.metadata?.resourceVersion : undefined;
    const attempt = await evictOnce(env.api, { namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: env.gracePeriodSeconds, dryRun: env.dryRun });
    settle?.();
    settle = undefined;
    const step = nextStep(attempt, s, key, env.clock.now());
    if (s.pdb) r.pdb = s.pdb;
    switch (step.next) {
      case 'done':
        r.outcome = env.dryRun ? 'would-evict' : 'evicted';
        r.message = step.message;
        env.mark('evict', key, env.dryRun ? 'eviction allowed (dry run)' : 'eviction accepted');
        return;
      case 'fail':
        throw new PodFailure(step.message);
      case 'retry':
        r.message = attempt.kind === 'busy' ? attempt.message : r.message;
        if (step.level === 'info') env.logger.info(step.log);
        else env.logger.debug(step.log);
        await sleep(step.afterMs, signal, env.clock);
        continue;
      case 'wait-budget': {
        const next = await onBudgetRefusal(env, p, r, { s, step, asked, seen, signal, completion });
        if (next.kind === 'done') return;
        completion = next.completion;
        settle = next.settle;
        continue;
      }
    }
  }
}

/** What the eviction loop does after its PDB refused it: end (recorded in `r`), or go on once woken. */
type AfterRefusal = { kind: 'done' } | { kind: 'again'; completion: Completion; settle: () => void };

/**
 * One budget refusal: counted and said; in a dry run the end; an admitted eviction of this pod
 * finished if its rule allows; the pod deleted if force-after allows by now; else one budget wait.
 */
async function onBudgetRefusal(
  env: EvictionEnv,
  p: PodPlan,
  r: PodResult,
  o: { s: EvictionState; step: Extract<Step, { next: 'wait-budget' }>; asked?: string; seen?: string; signal: AbortSignal; completion: Completion },
): Promise<AfterRefusal> {
  const key = `${p.namespace}/${p.name}`;
  const { s, step } = o;
  r.budgetWaits++;
  s.waitingSince ??= env.clock.now();
  const cached = s.pdb ? env.pdbs.get(s.pdb) : undefined;
  const stale = describeStaleDisruptions(cached, env.clock.now());
  r.message = stale ? `${step.message}; ${stale}` : step.message;
  if (env.dryRun) {
    r.outcome = 'blocked';
    r.message = `would wait: ${r.message}${env.force?.by === 'force-after' ? `; force-after would delete it after ${env.force.afterMs / 1000}s` : ''}`;
    return { kind: 'done' };
  }
  const completion = await completeAdmittedEviction(env, p, s.pdb, cached, o.completion, o.signal);
  if (completion.completed) {
    r.outcome = 'evicted';
    r.message = completion.completed;
    env.mark('evict', key, `admitted eviction completed: ${completion.completed}`);
    return { kind: 'done' };
  }
  if (completion.waitWhy) r.message = `${r.message}; ${completion.waitWhy}`;
  const force = env.force?.by === 'force-after' ? { policy: env.force, at: s.waitingSince + env.force.afterMs } : undefined;
  const waitedMs = () => env.clock.now() - s.waitingSince!;
  if (force && env.clock.now() >= force.at) return deleteBypassingBudget(env, force.policy, p, r, { pdb: s.pdb, waitedMs: waitedMs(), signal: o.signal });
  if (r.budgetWaits === 1) {
    env.logger.info(`${key}: waiting for PDB ${s.pdb ?? '(unnamed)'} to allow the eviction (${r.message})`);
    env.mark('wait', key, `waiting for PDB ${s.pdb ?? ''}`);
  }
  const woken = await waitForBudget(env, p, s.pdb, {
    signal: o.signal,
    seen: s.pdb === o.asked ? o.seen : undefined,
    retryAfterSeconds: step.retryAfterSeconds,
    recheckInMs: completion.recheckInMs,
    forceAt: force?.at,
  });
  if (woken === 'force-after') return deleteBypassingBudget(env, force!.policy, p, r, { pdb: s.pdb, waitedMs: waitedMs(), signal: o.signal });
  return { kind: 'again', completion, settle: woken };
}

/**
 * The pod deleted without its PDB's consent, as `policy` (an input the user set) allows, and
 * recorded: the result's outcome and bypass entry, the timeline, the log, and env.onBypass (the
 * node's Event and the availability gate). A finished pod bypasses nothing (no budget guards it).
 */
async function deleteBypassingBudget(env: EvictionEnv, policy: ForcePolicy, p: PodPlan, r: PodResult, o: { pdb?: string; waitedMs: number; signal: AbortSignal }): Promise<{ kind: 'done' }> {
  const key = `${p.namespace}/${p.name}`;
  const pdb = o.pdb ?? (p.pdbs.length > 0 ? p.pdbs.join(', ') : undefined);
  const bypass: BudgetBypass = { pod: key, by: policy.by, ...(pdb !== undefined && { pdb }), waitedMs: o.waitedMs };
  const deleted = await forceDelete(env, policy, p, o.signal);
  if (pdb !== undefined) r.pdb = pdb;
  if (env.dryRun) {
    r.outcome = 'would-evict';
    r.message = `would be ${describeBypass(bypass)}`;
    env.mark('evict', key, `${r.message} (dry run)`);
    return { kind: 'done' };
  }
  if (deleted === 'gone' || p.podClass === 'finished') {
    r.outcome = 'evicted';
    r.message = deleted === 'gone' ? 'already gone' : `deleted (${policy.by})`;
    env.mark('evict', key, r.message);
    return { kind: 'done' };
  }
  r.outcome = 'force-deleted';
  r.bypass = bypass;
  r.message = describeBypass(bypass);
  env.mark('evict', key, r.message);
  env.logger.warn(`${key}: ${r.message}`, { pod: key });
  env.onBypass?.(bypass);
  return { kind: 'done' };
}

/** One budget wait; returns the wake's settle (to call once the next attempt has its answer), or 'force-after' when that bound came first. */
async function waitForBudget(
  env: EvictionEnv,
  p: PodPlan,
  pdb: string | undefined,
  o: { signal: AbortSignal; seen?: string; retryAfterSeconds?: number; recheckInMs?: number; forceAt?: number },
): Promise<(() => void) | 'force-after'> {
  const surge = env.surgeInstead;
  const retryAfter = o.recheckInMs !== undefined ? Math.max(Math.ceil(o.recheckInMs / 1000) + 1, o.retryAfterSeconds ?? 0) : o.retryAfterSeconds;
  const samePod = () => {
    const pod = env.podNow?.(p);
    return pod?.metadata?.uid === p.uid ? pod : undefined;
  };
  const forceAfter = o.forceAt === undefined ? undefined : deadlineSignal(NEVER, o.forceAt - env.clock.now(), env.clock, () => new Error('force-after'));
  try {
    const wake = await env.budgets.wait(pdb, {
      signal: AbortSignal.any([o.signal, ...(surge ? [surge] : []), ...(forceAfter ? [forceAfter.signal] : [])]),
      retryAfterSeconds: retryAfter,
      seenResourceVersion: o.seen,
      // A not-Ready pod may be evicted while the budget allows nothing (the API server's rule).
      ...(env.podNow && { podReady: () => mapDefined(samePod(), isPodReady), podLabels: () => mapDefined(samePod(), (pod) => pod.metadata?.labels ?? {}) }),
    });
    return wake.settle;
  } catch (err) {
    if (o.signal.aborted) throw err;
    // Only a budget wait is given up for a migration: an answer that came after a wake is acted on first.
    if (surge?.aborted) throw new SurgeInstead(surge.reason instanceof Error ? surge.reason.message : String(surge.reason));
    if (forceAfter?.signal.aborted) return 'force-after';
    throw err;
  } finally {
    forceAfter?.dispose();
  }
}

function mapDefined<T, U>(v: T | undefined, f: (v: T) => U): U | undefined {
  return v === undefined ? undefined : f(v);
}

/** Where finishing an admitted eviction stands for one pod. */
interface Completion {
  /** The identity may not delete pods: admitted evictions are waited out instead. */
  refused: boolean;
  /** Set when the pod was deleted (or found gone): the outcome's message. */
  completed?: string;
  /** Why an admitted eviction of this pod is not finished now. */
  waitWhy?: string;
  /** Look again this soon (an entry too young to judge). */
  recheckInMs?: number;
}

/**
 * An eviction of this very pod the API server admitted earlier (e.g. by a run killed mid-request)
 * whose delete never happened: the budget already counts the pod as gone. It is finished with a
 * DELETE (UID precondition, the drain's grace period) only when the budget, read NOW, is met
 * without the pod and the entry is this pod's (plan/pdb.ts admittedEviction); otherwise the wait
 * says why.
 */
async function completeAdmittedEviction(env: EvictionEnv, p: PodPlan, pdbKey: string | undefined, cached: V1PodDisruptionBudget | undefined, was: Completion, signal: AbortSignal): Promise<Completion> {
  const listed = (cached?.status?.disruptedPods as Record<string, unknown> | undefined)?.[p.name] !== undefined;
  const pod = env.podNow?.(p);
  if (was.refused || !pdbKey || !listed || pod?.metadata?.uid !== p.uid) return { refused: was.refused };
  const [namespace, name] = pdbKey.split('/') as [string, string];
  let fresh: V1PodDisruptionBudget;
  try {
    fresh = await env.api.getPdb(namespace, name);
  } catch (err) {
    return { refused: false, waitWhy: `its admitted eviction is not finished: PDB ${pdbKey} could not be read (${describeApiError(err)})` };
  }
  const verdict = admittedEviction(fresh, pod, env.clock.now());
  if (!verdict) return { refused: false };
  if (verdict.verdict === 'wait') return { refused: false, waitWhy: verdict.why, recheckInMs: verdict.recheckInMs };
  const key = `${p.namespace}/${p.name}`;
  const why = `PDB ${pdbKey} has counted it as evicted since ${verdict.since} and is met without it (an eviction the API server admitted whose delete never happened, e.g. of a run killed mid-request)`;
  throwIfAborted(signal); // stopped while the PDB was read: no write
  try {
    await env.api.deletePod({ namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: env.gracePeriodSeconds });
    env.logger.info(`${key}: deleted: ${why}`);
    return { refused: false, completed: `deleted: ${why}` };
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return { refused: false, completed: 'already gone' };
    if (code === 403) {
      env.logger.info(`${key}: ${why}; this identity may not delete pods (${describeApiError(err)}), so the run waits until the disruption controller stops counting it (grant delete on pods, ${RBAC_FILE}, to finish such evictions at once)`);
      return { refused: true };
    }
    // 409: not that pod any more (the UID precondition); anything else: the eviction is tried again.
    env.logger.debug(`${key}: completing its admitted eviction failed (${describeApiError(err)}); trying the eviction again`);
    return { refused: false };
  }
}

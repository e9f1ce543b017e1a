// Deleting a pod without its PDB's consent: only ever because an input asked for it by name
// (disable-eviction: delete instead of evict; force-after: delete a pod still waiting on its budget
// that long). The permission is a value, ForcePolicy, that only forcePolicy() makes, from those
// two options; the DELETE here takes it, so no code path deletes around a budget without it.
// Pods the plan refuses for safety (unmanaged without force, emptyDir without
// delete-emptydir-data, do-not-disrupt) never reach an eviction, so never reach this either.
// (The other DELETE of the engine finishes an eviction the API server already admitted: its own
// rule, plan/pdb.ts admittedEviction.)
import type { Clock } from '../clock.js';
import { PodFailure } from '../errors.js';
import { RBAC_FILE } from '../kube/access.js';
import { API_OUTAGE_BOUND_MS, transientFailure, type KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import type { BudgetBypass, DrainOptions, PodPlan } from '../types.js';
import { sleep, throwIfAborted } from '../wait.js';

declare const granted: unique symbol;

/** What the user asked for by name; a value only forcePolicy() makes. */
export type ForcePolicy = ({ by: 'disable-eviction' } | { by: 'force-after'; afterMs: number }) & { readonly [granted]: true };

/** The forced deletion the options ask for, or undefined (the default: budgets always decide). */
export function forcePolicy(options: Pick<DrainOptions, 'disableEviction' | 'forceAfterMs'>): ForcePolicy | undefined {
  if (options.disableEviction) return { by: 'disable-eviction' } as ForcePolicy;
  if (options.forceAfterMs > 0) return { by: 'force-after', afterMs: options.forceAfterMs } as ForcePolicy;
  return undefined;
}

export interface ForceEnv {
  api: Pick<KubeClient, 'deletePod'>;
  clock: Clock;
  gracePeriodSeconds: number;
  dryRun: boolean;
}

/** 1 s .. 8 s apart, within the API outage bound, as every other request. */
function backoffMs(attempt: number): number {
  return Math.min(8_000, 500 * 2 ** attempt);
}

/**
 * DELETE of exactly this pod (UID precondition, the drain's grace period), as `policy` allows.
 * Resolves 'deleted', or 'gone' when the pod was already gone (404, or another pod holds the name);
 * retries what passes by itself (an API server restart) within the outage bound; throws
 * PodFailure naming the pod, the input and what the user can do otherwise.
 */
export async function forceDelete(env: ForceEnv, policy: ForcePolicy, p: PodPlan, signal: AbortSignal): Promise<'deleted' | 'gone'> {
  const key = `${p.namespace}/${p.name}`;
  const started = env.clock.now();
  for (let attempt = 1; ; attempt++) {
    // A stopped run (lock lost, deadline passed, cancelled) writes nothing more.
    throwIfAborted(signal);
    try {
      await env.api.deletePod({ namespace: p.namespace, name: p.name, uid: p.uid, gracePeriodSeconds: env.gracePeriodSeconds, dryRun: env.dryRun });
      return 'deleted';
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 || code === 409) return 'gone'; // 409: the UID precondition, another pod of that name
      if (code === 403) {
        throw new PodFailure(`deleting pod ${key} (${policy.by}) is forbidden: ${describeApiError(err)}; grant delete on pods (${RBAC_FILE}), or unset ${policy.by} to wait on the PDB instead`);
      }
      if (!transientFailure(err) || env.clock.now() - started >= API_OUTAGE_BOUND_MS) {
        throw new PodFailure(`deleting pod ${key} (${policy.by}) failed: ${describeApiError(err)}`);
      }
      await sleep(backoffMs(attempt), signal, env.clock);
    }
  }
}

/** The report's entry for one forced deletion, and the sentence that says it. */
export function describeBypass(b: BudgetBypass): string {
  if (b.by === 'disable-eviction') return b.pdb ? `deleted instead of evicted, bypassing PDB ${b.pdb} (disable-eviction)` : 'deleted instead of evicted (disable-eviction; no PDB selects it)';
  return `deleted after waiting ${Math.round(b.waitedMs / 100) / 10}s on PDB ${b.pdb ?? '(unnamed)'}, bypassing it (force-after)`;
}

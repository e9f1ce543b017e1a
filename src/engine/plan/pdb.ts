// PodDisruptionBudgets: which select a pod, what their status says, and which can never let go.
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { WorkloadInfo } from '../types.js';
import { isPodReady } from './pod.js';
import { matchesLabelSelector } from './selector.js';

type IntOrString = number | string;

export function pdbKey(pdb: V1PodDisruptionBudget): string {
  return `${pdb.metadata?.namespace ?? ''}/${pdb.metadata?.name ?? ''}`;
}

/** PDBs in the pod's namespace whose selector matches its labels (`{}` matches all, none matches none). */
export function pdbsForPod(pod: V1Pod, pdbs: V1PodDisruptionBudget[]): V1PodDisruptionBudget[] {
  const namespace = pod.metadata?.namespace;
  return pdbs.filter(
    (pdb) => pdb.metadata?.namespace === namespace && matchesLabelSelector(pdb.spec?.selector, pod.metadata?.labels),
  );
}

export interface BudgetStatus {
  healthy: number;
  desired: number;
  expected: number;
  allowed: number;
  /** The disruption controller has seen the current spec (observedGeneration >= generation). */
  observed: boolean;
  /** Pods evicted but not yet confirmed gone (status.disruptedPods). */
  disrupted: number;
}

export function budgetStatus(pdb: V1PodDisruptionBudget): BudgetStatus {
  const s = pdb.status;
  const generation = pdb.metadata?.generation ?? 0;
  return {
    healthy: s?.currentHealthy ?? 0,
    desired: s?.desiredHealthy ?? 0,
    expected: s?.expectedPods ?? 0,
    allowed: s?.disruptionsAllowed ?? 0,
    observed: s?.observedGeneration !== undefined && s.observedGeneration >= generation,
    disrupted: Object.keys(s?.disruptedPods ?? {}).length,
  };
}

/** "healthy 1 / desired 1 / expected 2 / allowed 0" (for blocked-pod reports and waits). */
export function formatBudget(pdb: V1PodDisruptionBudget): string {
  const b = budgetStatus(pdb);
  return `healthy ${b.healthy} / desired ${b.desired} / expected ${b.expected} / allowed ${b.allowed}${b.observed ? '' : ' (status not yet observed)'}`;
}

/** The whole percentage of "50%" (50), or undefined for a plain count. */
function percent(value: IntOrString): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)%$/.exec(value.trim());
  return m ? Number(m[1]) : undefined;
}

/** minAvailable resolved against `expected` pods, rounded up as the disruption controller does. */
function requiredAvailable(minAvailable: IntOrString, expected: number): number | undefined {
  const pct = percent(minAvailable);
  // Integer maths first: 30% of 10 is 3, not ceil(3.0000000000000004) = 4.
  if (pct !== undefined) return Math.ceil((pct * expected) / 100);
  const n = Number(minAvailable);
  return Number.isInteger(n) ? n : undefined;
}

function isZero(value: IntOrString): boolean {
  return value === 0 || value === '0' || value === '0%';
}

/**
 * Why this PDB can never allow an eviction by itself, or undefined if it can. Without outside
 * help (a surge adding a pod) the drain would wait on it forever:
 *  - maxUnavailable 0 / "0%";
 *  - minAvailable (count or %) >= the expected pods: status.expectedPods when observed, else the
 *    workload's replicas (the status covers every pod the PDB selects, a workload only its own);
 *  - Gardener's misconfigured-PDB rule on observed status: every expected pod healthy (so also
 *    healthy >= desired), nothing being disrupted, and still disruptionsAllowed 0.
 *    (Gardener's healthy >= desired alone would also fire on healthy 2/desired 2/expected 3,
 *    which frees up once the third pod is Ready; we require healthy >= expected.)
 */
export function pdbNeverAllows(pdb: V1PodDisruptionBudget, workload?: WorkloadInfo): string | undefined {
  const spec = pdb.spec ?? {};
  const status = budgetStatus(pdb);
  const statusExpected = status.observed && status.expected > 0 ? status.expected : undefined;
  // A workload this run just scaled back: the status may still count the raise's pods.
  const restored = workload?.restoredThisRun === true && workload.replicas > 0 ? workload.replicas : undefined;
  const expected = restored !== undefined ? Math.min(restored, statusExpected ?? restored) : (statusExpected ?? workload?.replicas);
  const describe = (rule: string): string =>
    `PDB ${pdbKey(pdb)} (${rule}, healthy ${status.healthy}/${expected ?? status.expected}, allowed ${status.allowed}) can never allow an eviction by itself`;

  if (spec.maxUnavailable !== undefined && isZero(spec.maxUnavailable)) {
    return describe(`maxUnavailable ${spec.maxUnavailable}`);
  }
  if (spec.minAvailable !== undefined && expected !== undefined && expected > 0) {
    const required = requiredAvailable(spec.minAvailable, expected);
    if (required !== undefined && required >= expected) return describe(`minAvailable ${spec.minAvailable}`);
  }
  if (
    status.observed &&
    status.expected > 0 &&
    status.healthy >= status.expected &&
    status.healthy >= status.desired &&
    status.disrupted === 0 &&
    status.allowed === 0
  ) {
    return describe('misconfigured: all pods healthy yet no disruption allowed');
  }
  return undefined;
}

/**
 * Why the Eviction API evicts this pod without spending `pdb`'s budget, or undefined when the
 * eviction needs disruptionsAllowed > 0. As the API server's eviction handler
 * (pkg/registry/core/pod/storage/eviction.go): a pod that is not Ready does not count as healthy,
 * so it is let go with spec.unhealthyPodEvictionPolicy AlwaysAllow, and under the default
 * IfHealthyBudget when status.currentHealthy >= desiredHealthy > 0 (the budget is met without it).
 * The status is the one observed now; the server decides on its own copy at eviction time.
 */
export function unreadyEvictionAdmitted(pod: V1Pod, pdb: V1PodDisruptionBudget): string | undefined {
  if (isPodReady(pod)) return undefined;
  if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') {
    return `not Ready, and PDB ${pdbKey(pdb)} has unhealthyPodEvictionPolicy AlwaysAllow: the Eviction API lets it go whatever the budget`;
  }
  if (budgetMet(pdb)) {
    const { healthy, desired } = budgetStatus(pdb);
    return `not Ready, and PDB ${pdbKey(pdb)} is met without it (healthy ${healthy} >= desired ${desired}): the Eviction API lets it go without using the budget`;
  }
  return undefined;
}

/**
 * The budget is met now: status.currentHealthy >= desiredHealthy > 0 (the eviction handler's
 * IfHealthyBudget rule). currentHealthy leaves out the pods in status.disruptedPods.
 */
export function budgetMet(pdb: V1PodDisruptionBudget): boolean {
  const { healthy, desired } = budgetStatus(pdb);
  return desired > 0 && healthy >= desired;
}

/**
 * Whether the API server would evict a pod that is not Ready under this PDB now, whatever
 * disruptionsAllowed says (eviction.go: AlwaysAllow, or IfHealthyBudget with the budget met; it
 * checks neither observedGeneration nor disruptionsAllowed on that path).
 */
export function admitsNotReadyPod(pdb: V1PodDisruptionBudget): boolean {
  return pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow' || budgetMet(pdb);
}

// ---- Evictions the API server admitted (status.disruptedPods) ----

/**
 * How long the disruption controller counts a pod in status.disruptedPods (an eviction the API
 * server admitted) that has not been deleted: DeletionTimeout in its source, 2 minutes.
 */
export const DISRUPTED_POD_TIMEOUT_MS = 120_000;
/** An admitted eviction deletes its pod within milliseconds: an entry older than this did not. */
export const STALE_DISRUPTION_MS = 5_000;
/**
 * How long before the disruption controller stops counting an admitted eviction the run still
 * completes it: once it stops, the pod counts as healthy again and its delete would spend the
 * budget twice (the margin also covers clock skew between this machine and the API server).
 */
export const COMPLETION_MARGIN_MS = 30_000;

function disruptedAt(pdb: V1PodDisruptionBudget, pod: string): number | undefined {
  const at = (pdb.status?.disruptedPods as Record<string, string | Date> | undefined)?.[pod];
  const ms = at === undefined ? NaN : new Date(at).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Pods `pdb` counts as disrupted by an eviction older than an eviction takes: the API server
 * admitted it (the budget was spent) but did not delete the pod, e.g. because the client that
 * asked was killed mid-request. The budget allows nothing for them until the controller stops
 * counting them (`clearsInMs`).
 */
export function staleDisruptions(pdb: V1PodDisruptionBudget, now: number): { pod: string; since: string; clearsInMs: number }[] {
  return Object.keys(pdb.status?.disruptedPods ?? {}).flatMap((pod) => {
    const since = disruptedAt(pdb, pod);
    if (since === undefined || now - since < STALE_DISRUPTION_MS) return [];
    return [{ pod, since: new Date(since).toISOString(), clearsInMs: Math.max(0, since + DISRUPTED_POD_TIMEOUT_MS - now) }];
  });
}

/** staleDisruptions as the reason for a budget wait, or undefined when there are none. */
export function describeStaleDisruptions(pdb: V1PodDisruptionBudget | undefined, now: number): string | undefined {
  const stale = pdb ? staleDisruptions(pdb, now) : [];
  if (stale.length === 0) return undefined;
  const ns = pdb?.metadata?.namespace ?? '';
  const one = stale.length === 1;
  const pods = stale.map((s) => `${ns}/${s.pod}`).join(', ');
  const since = stale.map((s) => s.since).join(', ');
  const within = Math.ceil(Math.max(...stale.map((s) => s.clearsInMs)) / 1000);
  return (
    `the budget still counts ${pods} as disrupted by ${one ? 'an eviction' : 'evictions'} at ${since} that did not delete ${one ? 'it' : 'them'} ` +
    `(e.g. of a run killed mid-request): the disruption controller stops counting ${one ? 'it' : 'them'} within ${within} s`
  );
}

/**
 * What to do about an eviction of `pod` the API server admitted earlier whose delete never
 * happened (its name in `pdb`'s status.disruptedPods for longer than an eviction takes):
 *  - 'complete': delete it (with its UID as precondition): the budget already counts it as gone,
 *    and it is met without it NOW (healthy >= desired, read on `pdb` as fetched just before), so
 *    the delete spends nothing and leaves the budget met;
 *  - 'wait': not now (the entry is too young to judge, it is older than the pod itself — a
 *    same-named pod it replaced — or the budget is not met without the pod); `why` says which;
 *  - undefined: no entry for this pod, or one the controller is about to drop (the ordinary
 *    budget wait applies).
 */
export function admittedEviction(
  pdb: V1PodDisruptionBudget,
  pod: Pick<V1Pod, 'metadata'>,
  now: number,
): { verdict: 'complete'; since: string } | { verdict: 'wait'; why: string; recheckInMs?: number } | undefined {
  const name = pod.metadata?.name ?? '';
  const since = disruptedAt(pdb, name);
  if (since === undefined) return undefined;
  const at = new Date(since).toISOString();
  if (now - since < STALE_DISRUPTION_MS) return { verdict: 'wait', why: `its eviction was admitted at ${at}, moments ago`, recheckInMs: STALE_DISRUPTION_MS - (now - since) };
  if (since + DISRUPTED_POD_TIMEOUT_MS - now < COMPLETION_MARGIN_MS) return undefined;
  const created = pod.metadata?.creationTimestamp ? new Date(pod.metadata.creationTimestamp).getTime() : NaN;
  // Entries are keyed by name: one written before this pod existed was for a same-named predecessor.
  if (!(since > created)) return { verdict: 'wait', why: `PDB ${pdbKey(pdb)} counts an eviction at ${at} under its name, from before this pod was created (${String(pod.metadata?.creationTimestamp)}): not this pod's` };
  const { healthy, desired, observed } = budgetStatus(pdb);
  if (!observed || healthy < desired) {
    return { verdict: 'wait', why: `PDB ${pdbKey(pdb)} counts its eviction at ${at} that did not delete it, but the budget is not met without it now (${formatBudget(pdb)}): deleting it would take the budget below its minimum` };
  }
  return { verdict: 'complete', since: at };
}

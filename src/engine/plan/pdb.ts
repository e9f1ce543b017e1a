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

/** "healthy 1 / desired 1 / allowed 0" (for blocked-pod reports). */
export function formatBudget(pdb: V1PodDisruptionBudget): string {
  const b = budgetStatus(pdb);
  return `healthy ${b.healthy} / desired ${b.desired} / allowed ${b.allowed}${b.observed ? '' : ' (status not yet observed)'}`;
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
  const { healthy, desired } = budgetStatus(pdb);
  if (desired > 0 && healthy >= desired) {
    return `not Ready, and PDB ${pdbKey(pdb)} is met without it (healthy ${healthy} >= desired ${desired}): the Eviction API lets it go without using the budget`;
  }
  return undefined;
}

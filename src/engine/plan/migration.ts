// How a Deployment whose eviction would leave it with no ready replica is moved (migration: surge).
// Pure: the planner decides with it, and the executor re-decides with it on the live object, so
// the plan and the run can never disagree on the rules.
//
//  - rollout restart when the strategy adds a pod before removing one (maxSurge >= 1 and
//    maxUnavailable resolving to 0) and the Deployment is not paused (a paused one never rolls);
//  - otherwise a temporary scale-up (the Deployment controller scales paused Deployments too);
//  - never scale-up with an HPA (it would fight the HPA): a plain eviction then;
//  - never scale-up for a budget no replica count can satisfy (maxUnavailable 0, minAvailable
//    100%): raising replicas raises desiredHealthy with it, so the eviction would wait forever.
//    The plan refuses that case (see `budgetBlocksAtAnyScale`).
import type { V1Deployment, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { MigrationMethod, RolloutStrategy, WorkloadInfo } from '../types.js';

export type { MigrationMethod, RolloutStrategy };

export interface MigrationChoice {
  method: MigrationMethod;
  why: string;
}

/** Resolves an int-or-percent rollout parameter against `replicas` (surge rounds up, unavailable down). */
export function resolveIntOrPercent(value: number | string | undefined, fallback: string, replicas: number, roundUp: boolean): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const pct = /^(\d+)%$/.exec(v);
  if (!pct) return Number(v) || 0;
  const exact = (Number(pct[1]) * replicas) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

export function rolloutStrategy(d: V1Deployment): RolloutStrategy {
  const replicas = d.spec?.replicas ?? 1;
  const strategy = d.spec?.strategy;
  const paused = d.spec?.paused === true;
  if (strategy?.type === 'Recreate') return { type: 'Recreate', maxSurge: 0, maxUnavailable: 0, paused };
  const maxSurge = resolveIntOrPercent(strategy?.rollingUpdate?.maxSurge, '25%', replicas, true);
  let maxUnavailable = resolveIntOrPercent(strategy?.rollingUpdate?.maxUnavailable, '25%', replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1; // what the Deployment controller does
  return { type: 'RollingUpdate', maxSurge, maxUnavailable, paused };
}

/** The strategy replaces a pod new-first, never below the desired count. */
export function surgesWithoutUnavailability(s: RolloutStrategy): boolean {
  return s.type === 'RollingUpdate' && s.maxSurge >= 1 && s.maxUnavailable === 0;
}

function describeStrategy(s: RolloutStrategy): string {
  return s.type === 'Recreate' ? 'Recreate' : `maxSurge ${s.maxSurge}, maxUnavailable ${s.maxUnavailable}`;
}

/** How to move a Deployment with `strategy` (an HPA named by `hpa` manages its replicas, if set). */
export function chooseMigrationFor(strategy: RolloutStrategy, hpa: string | undefined): MigrationChoice {
  if (surgesWithoutUnavailability(strategy) && !strategy.paused) {
    return {
      method: 'rollout-restart',
      why: `strategy surges (${describeStrategy(strategy)}): a rollout brings the new pod up before removing the old`,
    };
  }
  const cannotRoll = strategy.paused && surgesWithoutUnavailability(strategy)
    ? 'the Deployment is paused, so a rollout restart would never roll'
    : `strategy cannot surge safely (${describeStrategy(strategy)})`;
  if (hpa) {
    return {
      method: 'evict',
      why: `HPA ${hpa} manages the replicas and ${cannotRoll}; scaling by hand would fight the HPA, so the pod is evicted (expect downtime unless another replica is ready)`,
    };
  }
  return { method: 'scale-up', why: `${cannotRoll}: replicas are raised temporarily, then restored` };
}

export function chooseMigration(d: V1Deployment, hpa: string | undefined): MigrationChoice {
  return chooseMigrationFor(rolloutStrategy(d), hpa);
}

/** How the plan's workload would be migrated; undefined for anything but a Deployment. */
export function migrationOf(w: WorkloadInfo | undefined): MigrationChoice | undefined {
  return w?.kind === 'Deployment' && w.rollout ? chooseMigrationFor(w.rollout, w.hpa) : undefined;
}

/**
 * Why `pdb` refuses every eviction however many replicas run, or undefined. Only these rules
 * ignore the replica count: maxUnavailable 0 (or "0%") and minAvailable "100%" (or more).
 * A plain count (minAvailable 1 of 1 replica) is satisfiable by scaling up.
 */
export function budgetBlocksAtAnyScale(pdb: V1PodDisruptionBudget): string | undefined {
  const spec = pdb.spec ?? {};
  const max = spec.maxUnavailable;
  if (max !== undefined && (max === 0 || (typeof max === 'string' && /^\s*0+%?\s*$/.test(max)))) {
    return `maxUnavailable ${max}`;
  }
  const min = spec.minAvailable;
  const pct = typeof min === 'string' ? /^\s*(\d+)%\s*$/.exec(min) : null;
  if (pct && Number(pct[1]) >= 100) return `minAvailable ${min}`;
  return undefined;
}

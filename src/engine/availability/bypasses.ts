// Pods deleted without their PDB's consent, as the availability gate sees them: each bypass is a
// disruption the budget did not allow, so from the deletion on the gate follows that PDB's status
// (the run's PDB watch) and judges it like an outage: max-downtime against the time the budget
// stayed unmet (currentHealthy below desiredHealthy), min-ready-ratio against the fewest healthy
// pods, compared with those healthy when the pod was deleted.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import type { Watch } from '../kube/watch.js';
import { budgetStatus, pdbKey } from '../plan/pdb.js';
import type { BudgetBypass } from '../types.js';
import { durationText, round3, seconds, type Gate } from './figures.js';
import type { BypassAvailability } from './types.js';

/** The PDB's state at one moment after the deletion. */
export interface BudgetPoint {
  /** ms since run start. */
  at: number;
  healthy: number;
  met: boolean;
}

export type PdbSource = Pick<Watch<V1PodDisruptionBudget>, 'get' | 'subscribe'>;

/** Time unmet and fewest healthy of a series of budget points observed until `endAt`. */
export function budgetFigures(points: BudgetPoint[], endAt: number): { unmetMs: number; minHealthy: number | undefined } {
  let unmetMs = 0;
  for (const [i, point] of points.entries()) {
    if (!point.met) unmetMs += Math.max(point.at, points[i + 1]?.at ?? endAt) - point.at;
  }
  const minHealthy = points.length > 0 ? Math.min(...points.map((p) => p.healthy)) : undefined;
  return { unmetMs, minHealthy };
}

/** Why this forced deletion breaks the gate, or undefined (no PDB, no gate, or within it). */
export function bypassFailure(b: BudgetBypass, healthyBefore: number | undefined, f: { unmetMs: number; minHealthy: number | undefined }, gate: Gate): string | undefined {
  if (b.pdb === undefined) return undefined;
  const reasons: string[] = [];
  if (gate.maxDowntimeMs !== undefined && f.unmetMs > gate.maxDowntimeMs) {
    reasons.push(`its budget was unmet for ${seconds(f.unmetMs)} s (max-downtime ${durationText(gate.maxDowntimeMs)})`);
  }
  if (gate.minReadyRatio !== undefined && healthyBefore !== undefined && healthyBefore > 0 && f.minHealthy !== undefined && f.minHealthy < gate.minReadyRatio * healthyBefore) {
    reasons.push(`${f.minHealthy} of ${healthyBefore} healthy pods, below min-ready-ratio ${gate.minReadyRatio}`);
  }
  if (reasons.length === 0) return undefined;
  return `pod ${b.pod} deleted bypassing PDB ${b.pdb} (${b.by}): ${reasons.join('; ')}`;
}

/** One forced deletion, followed on the PDB watch from the moment it was made. */
class FollowedBypass {
  readonly points: BudgetPoint[] = [];
  readonly healthyBefore?: number;
  private readonly unsubscribe: () => void;

  constructor(
    readonly bypass: BudgetBypass,
    readonly at: number,
    pdbs: PdbSource | undefined,
    private readonly now: () => number,
    changed: () => void,
  ) {
    const key = bypass.pdb;
    const first = key !== undefined ? pdbs?.get(key) : undefined;
    if (first) {
      this.healthyBefore = budgetStatus(first).healthy;
      this.record(first);
    }
    this.unsubscribe =
      key !== undefined && pdbs
        ? pdbs.subscribe((_type, pdb) => {
            if (pdbKey(pdb) !== key) return;
            this.record(pdb);
            changed();
          })
        : () => undefined;
  }

  private record(pdb: V1PodDisruptionBudget): void {
    const b = budgetStatus(pdb);
    const point = { at: this.now(), healthy: b.healthy, met: b.healthy >= b.desired };
    const last = this.points[this.points.length - 1];
    if (!last || last.healthy !== point.healthy || last.met !== point.met) this.points.push(point);
  }

  stop(): void {
    this.unsubscribe();
  }

  figures(endAt: number, gate: Gate): BypassAvailability {
    const f = budgetFigures(this.points, endAt);
    const failure = bypassFailure(this.bypass, this.healthyBefore, f, gate);
    const b = this.bypass;
    return {
      pod: b.pod,
      by: b.by,
      ...(b.pdb !== undefined && { pdb: b.pdb }),
      waitedSeconds: round3(b.waitedMs / 1000),
      at: this.at,
      ...(this.healthyBefore !== undefined && { healthyBefore: this.healthyBefore }),
      ...(f.minHealthy !== undefined && { minHealthy: f.minHealthy }),
      budgetUnmetSeconds: round3(f.unmetMs / 1000),
      passed: failure === undefined,
      ...(failure !== undefined && { failure }),
    };
  }
}

/**
 * The run's forced deletions, each followed on the PDB watch. `onChange` is told after every
 * status change of a followed PDB (abort-on-downtime judges then), and `failureNow` says whether
 * one breaks the gate at this moment; `timeToBreach` when an unmet budget would, if nothing changes.
 */
export class BypassRecords {
  private readonly followed: FollowedBypass[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly runStart: number,
  ) {}

  private now(): number {
    return this.clock.now() - this.runStart;
  }

  note(bypass: BudgetBypass, pdbs: PdbSource | undefined, onChange: () => void): void {
    this.followed.push(new FollowedBypass(bypass, this.now(), pdbs, () => this.now(), onChange));
  }

  get count(): number {
    return this.followed.length;
  }

  /** The first forced deletion that breaks the gate by now, if one does. */
  failureNow(gate: Gate): string | undefined {
    return this.followed.map((f) => f.figures(this.now(), gate).failure).find((failure) => failure !== undefined);
  }

  /** ms from now until an unmet budget would break max-downtime if it stays unmet; undefined: none pending. */
  timeToBreach(gate: Gate): number | undefined {
    if (gate.maxDowntimeMs === undefined) return undefined;
    const waits = this.followed
      .filter((f) => f.bypass.pdb !== undefined && f.points[f.points.length - 1]?.met === false)
      .map((f) => Math.max(0, gate.maxDowntimeMs! - budgetFigures(f.points, this.now()).unmetMs) + 1);
    return waits.length > 0 ? Math.min(...waits) : undefined;
  }

  stop(): void {
    for (const f of this.followed) f.stop();
  }

  report(gate: Gate): BypassAvailability[] {
    const endAt = this.now();
    return this.followed.map((f) => f.figures(endAt, gate));
  }
}

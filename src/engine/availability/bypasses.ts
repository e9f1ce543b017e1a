// Pods deleted without their PDB's consent, as the availability gate sees them: each bypass is a
// disruption the budget did not allow, so from the deletion on the gate follows that PDB's status
// (the run's PDB watch) and judges it like an outage: max-downtime against the time the budget
// stayed unmet (currentHealthy below desiredHealthy), min-ready-ratio against the fewest healthy
// pods, compared with those healthy when the pod was deleted.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { WaitAborted } from '../errors.js';
import type { Watch } from '../kube/watch.js';
import { budgetStatus, pdbKey } from '../plan/pdb.js';
import type { BudgetBypass } from '../types.js';
import { waitWithin } from '../wait.js';
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

/** One forced deletion, followed on the gate's PDB watch from the moment it was made. */
class FollowedBypass {
  readonly points: BudgetPoint[] = [];
  readonly healthyBefore?: number;
  private unsubscribe = (): void => undefined;

  constructor(
    readonly bypass: BudgetBypass,
    readonly at: number,
    /** The PDB as the run saw it when it deleted the pod (its status still counts the pod). */
    before: V1PodDisruptionBudget | undefined,
    private readonly now: () => number,
  ) {
    if (before) {
      this.healthyBefore = budgetStatus(before).healthy;
      this.record(before);
    }
  }

  /** Follows the PDB's status on `pdbs` from now on; `changed` after each change. */
  follow(pdbs: PdbSource, changed: () => void): void {
    const key = this.bypass.pdb;
    if (key === undefined) return;
    const current = pdbs.get(key);
    if (current) this.record(current);
    this.unsubscribe = pdbs.subscribe((_type, pdb) => {
      if (pdbKey(pdb) !== key) return;
      this.record(pdb);
      changed();
    });
  }

  private record(pdb: V1PodDisruptionBudget): void {
    const b = budgetStatus(pdb);
    const point = { at: this.now(), healthy: b.healthy, met: b.healthy >= b.desired };
    const last = this.points[this.points.length - 1];
    if (!last || last.healthy !== point.healthy || last.met !== point.met) this.points.push(point);
  }

  /** Its budget is unmet at the last status seen. */
  get unmet(): boolean {
    return this.bypass.pdb !== undefined && this.points[this.points.length - 1]?.met === false;
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
 * The run's forced deletions, each followed on a PDB watch of the gate's own (opened at the first
 * one: the run's watch ends with the drain, and a budget is met again only later). `onChange` is
 * told after every status change of a followed PDB (abort-on-downtime judges then).
 */
export class BypassRecords {
  private readonly followed: FollowedBypass[] = [];
  private watch?: Watch<V1PodDisruptionBudget>;
  private started?: Promise<PdbSource | undefined>;

  constructor(
    private readonly clock: Clock,
    private readonly runStart: number,
    /** Opens a list+watch of the cluster's PDBs (absent: budgets are judged on what `note` was given). */
    private readonly openWatch?: () => Watch<V1PodDisruptionBudget>,
    private readonly onError: (message: string) => void = () => undefined,
  ) {}

  private now(): number {
    return this.clock.now() - this.runStart;
  }

  note(bypass: BudgetBypass, before: V1PodDisruptionBudget | undefined, onChange: () => void): void {
    const followed = new FollowedBypass(bypass, this.now(), before, () => this.now());
    this.followed.push(followed);
    void this.pdbs().then((pdbs) => pdbs && followed.follow(pdbs, onChange));
  }

  /** The gate's PDB watch, started once; undefined without one, or when it could not start. */
  private pdbs(): Promise<PdbSource | undefined> {
    this.started ??= (async () => {
      if (!this.openWatch) return undefined;
      const watch = this.openWatch();
      this.watch = watch;
      try {
        await watch.start();
        return watch;
      } catch (err) {
        this.onError(`the PDBs bypassed could not be watched: ${(err as Error).message}`);
        return undefined;
      }
    })();
    return this.started;
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
    const waits = this.followed.filter((f) => f.unmet).map((f) => Math.max(0, gate.maxDowntimeMs! - budgetFigures(f.points, this.now()).unmetMs) + 1);
    return waits.length > 0 ? Math.min(...waits) : undefined;
  }

  /** Waits until every bypassed budget is met again, at most `boundMs`, so each outage is measured to its end. */
  async settle(boundMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.followed.length === 0) return;
    const pdbs = await this.pdbs();
    if (!pdbs || signal?.aborted) return;
    try {
      await waitWithin(() => !this.followed.some((f) => f.unmet), boundMs, { subscribe: (changed) => pdbs.subscribe(changed), signal: signal ?? new AbortController().signal, clock: this.clock });
    } catch (err) {
      if (!(err instanceof WaitAborted)) throw err;
    }
  }

  stop(): void {
    for (const f of this.followed) f.stop();
    this.watch?.stop();
  }

  report(gate: Gate): BypassAvailability[] {
    const endAt = this.now();
    return this.followed.map((f) => f.figures(endAt, gate));
  }
}

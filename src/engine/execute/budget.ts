// waitForBudget: a pod whose eviction a PDB refused (429) waits here until the budget can
// allow it. Woken by the PDB watch, not by a sleep loop: when a PDB's status shows
// disruptionsAllowed = N, at most N waiters of that PDB are released (minus those already
// released and not yet back), so waiters do not stampede the API server with doomed evictions.
// A bounded fallback timer re-checks anyway, in case the watch is silent.
// A pod that is not Ready is admitted outside the budget (see admitsNotReadyPod): its waiter is
// released as soon as the cached status says so, and takes nothing from the budget.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../clock.js';
import { WaitAborted } from '../errors.js';
import type { Watch } from '../kube/watch.js';
import { admitsNotReadyPod, budgetStatus } from '../plan/pdb.js';
import { matchesLabelSelector } from '../plan/selector.js';
import { abortReason } from '../wait.js';

/** 'not-ready-admitted': the waiting pod is not Ready and the PDB admits it without the budget. */
/** 'not-selected': the PDB changed and no longer selects the waiting pod. */
export type WakeReason = 'budget' | 'not-ready-admitted' | 'not-selected' | 'retry-after' | 'fallback';

export interface BudgetWaitOptions {
  signal: AbortSignal;
  retryAfterSeconds?: number;
  /** The PDB's resourceVersion when the refused attempt was made (see wait). */
  seenResourceVersion?: string;
  /**
   * Whether the waiting pod is Ready now, read at each change of the budget (the PDB's status
   * changes when the pod's readiness does: it counts in currentHealthy). undefined (or absent):
   * not known, treated as Ready, so only the budget releases the waiter.
   */
  podReady?: () => boolean | undefined;
  /** The waiting pod's labels now: a PDB whose selector no longer matches them releases it. */
  podLabels?: () => Record<string, string> | undefined;
}

export interface BudgetWake {
  reason: WakeReason;
  /** Call once the eviction attempt that followed the wake has an answer. */
  settle(): void;
}

interface Waiter {
  release(reason: WakeReason): void;
  podReady?: () => boolean | undefined;
  podLabels?: () => Record<string, string> | undefined;
}

interface Gate {
  queue: Waiter[];
  /** Waiters released by a budget and not yet settled. */
  inflight: number;
}

/** Whether `pdb` still selects a pod with these labels (unknown labels: assume it does). */
function selects(pdb: V1PodDisruptionBudget, labels: Record<string, string> | undefined): boolean {
  return labels === undefined || matchesLabelSelector(pdb.spec?.selector, labels);
}

export class BudgetWaiter {
  private readonly gates = new Map<string, Gate>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly pdbs: Watch<V1PodDisruptionBudget>,
    private readonly clock: Clock = systemClock,
    /** Upper bound on a wait without any event, ms. */
    private readonly fallbackMs = 30_000,
  ) {
    this.unsubscribe = pdbs.subscribe((type, pdb) => {
      const key = `${pdb.metadata?.namespace}/${pdb.metadata?.name}`;
      if (type === 'DELETED') this.releaseAll(key);
      else this.releaseAllowed(key, pdb);
    });
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Waits for `pdbKey` (namespace/name) to allow a disruption. `seenResourceVersion` is the
   * PDB's resourceVersion when the refused attempt was made: a cached status no newer than that
   * cannot be trusted to allow anything, so it does not release the waiter at once.
   */
  wait(pdbKey: string | undefined, opts: BudgetWaitOptions): Promise<BudgetWake> {
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
      const gate = pdbKey ? this.gate(pdbKey) : undefined;
      const waiter: Waiter = {
        podReady: opts.podReady,
        podLabels: opts.podLabels,
        release: (reason) => {
          cancelTimer();
          signal.removeEventListener('abort', onAbort);
          if (gate) gate.queue = gate.queue.filter((w) => w !== waiter);
          let settled = reason !== 'budget';
          resolve({
            reason,
            settle: () => {
              if (!settled && gate) gate.inflight = Math.max(0, gate.inflight - 1);
              settled = true;
            },
          });
        },
      };
      const onAbort = () => {
        cancelTimer();
        if (gate) gate.queue = gate.queue.filter((w) => w !== waiter);
        reject(new WaitAborted(abortReason(signal)));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const delay = opts.retryAfterSeconds !== undefined ? opts.retryAfterSeconds * 1000 : this.fallbackMs;
      const cancelTimer = this.clock.after(delay, () => waiter.release(opts.retryAfterSeconds !== undefined ? 'retry-after' : 'fallback'));
      if (!gate || !pdbKey) return;
      gate.queue.push(waiter);
      // The cache may already hold a newer status than the one that refused us.
      const cached = this.pdbs.get(pdbKey);
      if (!cached) {
        this.releaseAll(pdbKey); // the PDB is gone: nothing left to wait for
      } else if (cached.metadata?.resourceVersion !== opts.seenResourceVersion) {
        this.releaseAllowed(pdbKey, cached);
      }
    });
  }

  /**
   * A pod's readiness changed (the drain's pod watch): release the waiters of pods now not Ready
   * whose PDB, as cached, admits them. The PDB's own event usually follows the pod's (its
   * currentHealthy changes) and does the same; this covers the PDB event arriving first.
   */
  podReadinessChanged(): void {
    for (const [key, gate] of this.gates) {
      const cached = this.pdbs.get(key);
      if (cached && gate.queue.length > 0) this.releaseNotReady(gate, cached);
    }
  }

  private releaseNotReady(gate: Gate, pdb: V1PodDisruptionBudget): void {
    if (!admitsNotReadyPod(pdb)) return;
    for (const w of gate.queue.filter((x) => x.podReady?.() === false)) w.release('not-ready-admitted');
  }

  private gate(key: string): Gate {
    let g = this.gates.get(key);
    if (!g) {
      g = { queue: [], inflight: 0 };
      this.gates.set(key, g);
    }
    return g;
  }

  private releaseAllowed(key: string, pdb: V1PodDisruptionBudget): void {
    const gate = this.gates.get(key);
    if (!gate || gate.queue.length === 0) return;
    // A selector changed so that it no longer selects the pod: this PDB no longer holds it.
    for (const w of gate.queue.filter((x) => !selects(pdb, x.podLabels?.()))) w.release('not-selected');
    // Not-Ready pods the API server admits outside the budget: all of them, nothing taken from it.
    this.releaseNotReady(gate, pdb);
    const b = budgetStatus(pdb);
    if (!b.observed) return;
    let room = b.allowed - gate.inflight;
    while (room > 0 && gate.queue.length > 0) {
      const w = gate.queue.shift()!;
      gate.inflight++;
      room--;
      w.release('budget');
    }
  }

  private releaseAll(key: string): void {
    const gate = this.gates.get(key);
    if (!gate) return;
    for (const w of [...gate.queue]) {
      gate.inflight++;
      w.release('budget');
    }
  }
}

// waitForBudget: a pod whose eviction a PDB refused (429) waits here until the budget can
// allow it. Woken by the PDB watch, not by a sleep loop: when a PDB's status shows
// disruptionsAllowed = N, at most N waiters of that PDB are released (minus those already
// released and not yet back), so waiters do not stampede the API server with doomed evictions.
// A bounded fallback timer re-checks anyway, in case the watch is silent.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { ResourceWatch } from '../kube/watch.js';
import { budgetStatus } from '../plan/pdb.js';
import { WaitAborted, abortReason } from './abort.js';

export type WakeReason = 'budget' | 'retry-after' | 'fallback';

export interface BudgetWake {
  reason: WakeReason;
  /** Call once the eviction attempt that followed the wake has an answer. */
  settle(): void;
}

interface Waiter {
  release(reason: WakeReason): void;
}

interface Gate {
  queue: Waiter[];
  /** Waiters released by a budget and not yet settled. */
  inflight: number;
}

/** "healthy 1 / desired 1 / allowed 0", for messages. */
export function describeBudget(pdb: V1PodDisruptionBudget | undefined): string | undefined {
  if (!pdb) return undefined;
  const b = budgetStatus(pdb);
  return `healthy ${b.healthy} / desired ${b.desired} / expected ${b.expected} / allowed ${b.allowed}${b.observed ? '' : ' (status not yet observed)'}`;
}

export class BudgetWaiter {
  private readonly gates = new Map<string, Gate>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly pdbs: ResourceWatch<V1PodDisruptionBudget>,
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
  wait(
    pdbKey: string | undefined,
    opts: { signal: AbortSignal; retryAfterSeconds?: number; seenResourceVersion?: string },
  ): Promise<BudgetWake> {
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
      const gate = pdbKey ? this.gate(pdbKey) : undefined;
      const waiter: Waiter = {
        release: (reason) => {
          clearTimeout(timer);
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
        clearTimeout(timer);
        if (gate) gate.queue = gate.queue.filter((w) => w !== waiter);
        reject(new WaitAborted(abortReason(signal)));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const delay = opts.retryAfterSeconds !== undefined ? opts.retryAfterSeconds * 1000 : this.fallbackMs;
      const timer = setTimeout(() => waiter.release(opts.retryAfterSeconds !== undefined ? 'retry-after' : 'fallback'), delay);
      timer.unref?.();
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

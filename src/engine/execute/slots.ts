// max-concurrent-evictions: one pool of slots for the whole run, whichever nodes drain at once.
/**
 * The run's one limit on evictions in flight (max-concurrent-evictions), shared by every node
 * that drains at once: a node's reconcile loop takes a slot per eviction task and gives it back
 * when the task ends; a loop with work and no slot is woken when any node gives one back.
 * Single-threaded JS: take/give need no lock.
 */
export class EvictionSlots {
  private used = 0;
  /** Slots held per PDB (namespace/name), so nodes can spread their evictions across budgets. */
  private readonly byBudget = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.used;
  }

  /** Evictions of this run in flight under `budget` (a PDB key), on every node. */
  inFlightUnder(budget: string | undefined): number {
    return budget === undefined ? 0 : (this.byBudget.get(budget) ?? 0);
  }

  /** Takes a slot if one is free; the caller must give() it back exactly once, with the same budget. */
  take(budget?: string): boolean {
    if (this.used >= this.limit) return false;
    this.used++;
    if (budget !== undefined) this.byBudget.set(budget, this.inFlightUnder(budget) + 1);
    return true;
  }

  give(budget?: string): void {
    this.used = Math.max(0, this.used - 1);
    if (budget !== undefined) {
      const left = this.inFlightUnder(budget) - 1;
      if (left > 0) this.byBudget.set(budget, left);
      else this.byBudget.delete(budget);
    }
    for (const wake of [...this.waiters]) wake();
  }

  /** Calls `wake` whenever a slot is given back; returns the unsubscribe function. */
  onFree(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }
}

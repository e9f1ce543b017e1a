// Time, injected: every `now` and every timer of the engine's loops (execute/, availability/,
// the drain lock, the client's retries) comes from a Clock, so tests replace it with a fake one
// and drive the loops deterministically. Neutral module: any layer may import it.

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Calls `fn` once, `ms` from now; returns the function that cancels it. The timer does not keep
   * the process alive by itself: a run holds the process while it runs (holdProcessAlive).
   */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** ms since `start`, on `clock`. */
export function elapsedSince(clock: Clock, start: number): number {
  return clock.now() - start;
}

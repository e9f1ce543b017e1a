// The one way the engine waits: for a condition, woken by a subscription (a watch, a task ending),
// ended by an abort signal (deadline, cancellation, lost lock), bounded in time by the condition
// itself (recheckAt). No wait polls; none sleeps a fixed time except `sleep`, for backoff.
// Neutral module: kube/ and every engine layer may import it.
import type { Clock } from './clock.js';
import { WaitAborted } from './errors.js';

/** The reason a signal was aborted, in words. */
export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message;
  return typeof r === 'string' ? r : 'aborted';
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new WaitAborted(abortReason(signal));
}

export interface WaitSpec<T> {
  /** The value the wait ends with, once there is one (undefined: not yet). */
  check: () => T | undefined;
  /** Subscribes to the changes that can make `check` return a value; returns the unsubscribe. */
  subscribe?: (changed: () => void) => () => void;
  /** Ends the wait with WaitAborted (its reason) when it fires. */
  signal: AbortSignal;
  clock: Clock;
  /**
   * When `check` must be asked again without any change (a time bound it applies itself), in
   * clock ms; asked after every check. Undefined: only changes and the signal end the wait.
   */
  recheckAt?: () => number | undefined;
}

/** Waits until `check` returns a value (see WaitSpec). Rejects with WaitAborted when the signal fires first. */
export function waitFor<T>(spec: WaitSpec<T>): Promise<T> {
  const { check, subscribe, signal, clock, recheckAt } = spec;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
    let cancelTimer: (() => void) | undefined;
    let unsubscribe: (() => void) | undefined;
    let done = false;
    const finish = (end: () => void) => {
      done = true;
      cancelTimer?.();
      unsubscribe?.();
      signal.removeEventListener('abort', onAbort);
      end();
    };
    const onAbort = () => finish(() => reject(new WaitAborted(abortReason(signal))));
    const look = () => {
      if (done) return;
      let value: T | undefined;
      try {
        value = check();
      } catch (err) {
        return finish(() => reject(err as Error));
      }
      if (value !== undefined) return finish(() => resolve(value));
      cancelTimer?.();
      const at = recheckAt?.();
      cancelTimer = at === undefined ? undefined : clock.after(at - clock.now(), look);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // A subscription may call back at once (a cache already holding the awaited state).
    const subscribed = subscribe?.(look);
    if (done) subscribed?.();
    else unsubscribe = subscribed;
    look();
  });
}

/** A condition met, or the bound reached first: what a bounded wait ends with. */
export type Bounded = 'met' | 'timed-out';

/** Waits until `met()` is true or `withinMs` has passed (not an error: the caller decides). */
export function waitWithin(
  met: () => boolean,
  withinMs: number,
  opts: Pick<WaitSpec<Bounded>, 'subscribe' | 'signal' | 'clock'>,
): Promise<Bounded> {
  const end = opts.clock.now() + withinMs;
  return waitFor<Bounded>({
    ...opts,
    check: () => (met() ? 'met' : opts.clock.now() >= end ? 'timed-out' : undefined),
    recheckAt: () => end,
  });
}

/** Sleeps `ms` (backoff), or rejects with WaitAborted when the signal fires first. */
export function sleep(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  const end = clock.now() + ms;
  return waitFor<true>({ check: () => (clock.now() >= end ? true : undefined), recheckAt: () => end, signal, clock }).then(() => undefined);
}

/**
 * A signal that aborts `ms` from now with `reason`, or when `parent` aborts (with its reason).
 * `dispose` cancels the timer and detaches from the parent.
 */
export function deadlineSignal(parent: AbortSignal, ms: number | undefined, clock: Clock, reason: () => Error): { signal: AbortSignal; abort(reason: Error): void; dispose(): void } {
  const controller = new AbortController();
  const onParent = () => controller.abort(new Error(abortReason(parent)));
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  const cancel = ms !== undefined && !controller.signal.aborted ? clock.after(ms, () => controller.abort(reason())) : undefined;
  if (ms !== undefined && ms <= 0 && !controller.signal.aborted) controller.abort(reason());
  return {
    signal: controller.signal,
    abort: (r) => controller.abort(r),
    dispose() {
      cancel?.();
      parent.removeEventListener('abort', onParent);
    },
  };
}

/**
 * Resolves once the I/O callbacks due now, and the work they started, have run (the event loop's
 * check phase): no timer, so no clock; a fake clock's tests reach it by flushing setImmediate.
 */
export function afterPendingIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One pending wake-up, never lost: `notify` before `next` makes the next `next` resolve at once.
 * A loop waits on it for "something changed" (a watch event, a task ending) or its signal.
 */
export class Wakeup {
  private pending = false;
  private resolve?: () => void;

  notify = (): void => {
    this.pending = true;
    this.resolve?.();
  };

  next(signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.resolve = undefined;
        this.pending = false;
        resolve();
      };
      this.resolve = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Keeps the process alive until the returned function is called. The engine's timers and watch
 * reconnects are unref'd (nothing left behind keeps a process running), so while a run waits on
 * nothing but them (a budget wait during an API server restart) it must say it is still busy, or
 * Node exits mid-drain with the node cordoned.
 */
export function holdProcessAlive(): () => void {
  const handle = setInterval(() => undefined, 1 << 30);
  return () => clearInterval(handle);
}

/** Runs every task, at most `limit` at a time; settles like Promise.allSettled. */
export async function runBounded<T>(limit: number, tasks: (() => Promise<T>)[]): Promise<PromiseSettledResult<T>[]> {
  const results: PromiseSettledResult<T>[] = new Array(tasks.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]!() };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  return results;
}

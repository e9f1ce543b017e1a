// Small helpers for waiting that ends on an AbortSignal (timeout or cancellation).

export { WaitAborted } from '../errors.js';
import { WaitAborted } from '../errors.js';

export function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r.message;
  return typeof r === 'string' ? r : 'aborted';
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new WaitAborted(abortReason(signal));
}

/** Sleeps `ms`, or rejects with WaitAborted when the signal fires first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new WaitAborted(abortReason(signal)));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits until `check()` is true, re-evaluating it whenever `subscribe` reports a change, until
 * the signal aborts. `timeoutMs` (optional) resolves false instead of throwing.
 */
export function waitUntil(
  check: () => boolean,
  subscribe: (onChange: () => void) => () => void,
  signal: AbortSignal,
  timeoutMs?: number,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve(true);
    if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
    let timer: NodeJS.Timeout | undefined;
    const finish = (fn: () => void) => {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
      fn();
    };
    const onAbort = () => finish(() => reject(new WaitAborted(abortReason(signal))));
    const unsubscribe = subscribe(() => {
      if (check()) finish(() => resolve(true));
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined) timer = setTimeout(() => finish(() => resolve(check())), timeoutMs);
  });
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

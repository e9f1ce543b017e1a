// The bound on one node's drain: the run's cancellation and the `timeout` option as one signal.
// An already-cancelled run yields an already-aborted signal, so the first check stops it.
import { abortReason } from './abort.js';

export interface Deadline {
  signal: AbortSignal;
  /** Ends the drain now, for this reason (e.g. the node was lost). */
  stop(reason: Error): void;
  dispose(): void;
}

/** `since`: when the bounded time began (epoch ms; default now): a deadline already past is aborted at once. */
export function drainDeadline(cancel: AbortSignal, timeoutMs: number, since = Date.now()): Deadline {
  const controller = new AbortController();
  const onCancel = () => controller.abort(new Error(abortReason(cancel)));
  if (cancel.aborted) onCancel();
  else cancel.addEventListener('abort', onCancel, { once: true });
  const expire = () => controller.abort(new Error(`timeout of ${formatSeconds(timeoutMs)} expired`));
  const leftMs = timeoutMs - (Date.now() - since);
  if (timeoutMs > 0 && leftMs <= 0 && !controller.signal.aborted) expire();
  // Options refuse timeouts beyond what a Node timer holds, so this never fires early.
  const timer = timeoutMs > 0 && !controller.signal.aborted ? setTimeout(expire, leftMs) : undefined;
  return {
    signal: controller.signal,
    stop: (reason) => controller.abort(reason),
    dispose() {
      if (timer) clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    },
  };
}

function formatSeconds(ms: number): string {
  return `${ms / 1000}s`;
}

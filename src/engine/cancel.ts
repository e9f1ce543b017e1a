// Cancellation by signal, shared by both shells: SIGINT/SIGTERM abort the run, and the engine
// then stops evicting and restores what it changed (uncordon-on-failure, scaled workloads).

export interface Cancellation {
  signal: AbortSignal;
  /** Removes the signal handlers. */
  dispose(): void;
}

/**
 * The first SIGINT or SIGTERM aborts `signal` with "cancelled (SIG…)"; `onSignal` is told each
 * signal and whether the run was already cancelled (a shell may quit at once on the second).
 */
export function cancelOnSignals(onSignal: (name: NodeJS.Signals, alreadyCancelled: boolean) => void): Cancellation {
  const controller = new AbortController();
  const handler = (name: NodeJS.Signals) => {
    const already = controller.signal.aborted;
    onSignal(name, already);
    if (!already) controller.abort(new Error(`cancelled (${name})`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

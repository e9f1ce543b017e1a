// HTTP probes of the availability gate: each URL gets one request in flight at a time, sent every
// probe-interval with Node's fetch, each with its own timeout. Bounded in time (they stop with
// the run, and an in-flight request is aborted then) and in count (MAX_SAMPLES_PER_URL).
import type { ProbeSample } from './figures.js';

/** About 7 hours at the default 250 ms: far beyond any drain, and ~5 MB of samples at most. */
export const MAX_SAMPLES_PER_URL = 100_000;
/** A request unanswered after this is a failed sample (an outage must not stall the probe). */
export function requestTimeoutMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(1_000, 4 * intervalMs));
}

export class Prober {
  readonly samples = new Map<string, ProbeSample[]>();
  private readonly stopper = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly urls: string[],
    private readonly intervalMs: number,
    private readonly runStart: number,
    private readonly onSample: (url: string, sample: ProbeSample) => void,
    private readonly onLimit: (url: string) => void,
  ) {}

  start(): void {
    for (const url of this.urls) {
      const samples: ProbeSample[] = [];
      this.samples.set(url, samples);
      this.loops.push(this.loop(url, samples));
    }
  }

  /** Stops every loop; an in-flight request is aborted and not recorded. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(url: string, samples: ProbeSample[]): Promise<void> {
    const stop = this.stopper.signal;
    while (!stop.aborted) {
      if (samples.length >= MAX_SAMPLES_PER_URL) {
        this.onLimit(url);
        return;
      }
      const sentAt = Date.now();
      const sample = await this.request(url, sentAt);
      if (stop.aborted) return;
      samples.push(sample);
      this.onSample(url, sample);
      await pause(Math.max(0, sentAt + this.intervalMs - Date.now()), stop);
    }
  }

  private async request(url: string, sentAt: number): Promise<ProbeSample> {
    const at = sentAt - this.runStart;
    const timeout = requestTimeoutMs(this.intervalMs);
    try {
      const response = await fetch(url, {
        signal: AbortSignal.any([this.stopper.signal, AbortSignal.timeout(timeout)]),
        redirect: 'manual',
        headers: { 'user-agent': 'safe-drain availability probe' },
      });
      const latencyMs = Date.now() - sentAt;
      // The body is not needed; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      return { at, ok: response.status < 400, latencyMs, detail: `HTTP ${response.status}` };
    } catch (err) {
      const latencyMs = Date.now() - sentAt;
      const name = (err as Error).name;
      const detail = name === 'TimeoutError' ? `no answer within ${timeout} ms` : describeFetchError(err);
      return { at, ok: false, latencyMs, detail };
    }
  }
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

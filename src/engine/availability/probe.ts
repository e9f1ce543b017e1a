// HTTP probes of the availability gate: each URL gets one request in flight at a time, sent every
// probe-interval with Node's fetch, each with its own timeout. Bounded in time (they stop with
// the run, and an in-flight request is aborted then) and in count (MAX_SAMPLES_PER_URL). The
// requests are real; their timing (send times, latency, the pause, the timeout) is the clock's.
import type { Clock } from '../clock.js';
import { deadlineSignal, sleep } from '../wait.js';
import type { ProbeSample } from './figures.js';

/** About 7 hours at the default 250 ms: far beyond any drain, and ~5 MB of samples at most. */
export const MAX_SAMPLES_PER_URL = 100_000;
/** A request unanswered after this is a failed sample (an outage must not stall the probe). */
export function requestTimeoutMs(intervalMs: number): number {
  return Math.min(10_000, Math.max(1_000, 4 * intervalMs));
}

export interface ProberOptions {
  urls: string[];
  /** ms from one request's sending to the next one's. */
  intervalMs: number;
  /** Epoch ms (on `clock`) the run started: each sample's `at` counts from it. */
  runStart: number;
  clock: Clock;
  onSample: (url: string, sample: ProbeSample) => void;
  /** A URL reached MAX_SAMPLES_PER_URL: no more requests to it. */
  onLimit: (url: string) => void;
}

export class Prober {
  readonly samples = new Map<string, ProbeSample[]>();
  private readonly stopper = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly opts: ProberOptions) {}

  start(): void {
    for (const url of this.opts.urls) {
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
    const { clock, intervalMs } = this.opts;
    const stop = this.stopper.signal;
    while (!stop.aborted) {
      if (samples.length >= MAX_SAMPLES_PER_URL) {
        this.opts.onLimit(url);
        return;
      }
      const sentAt = clock.now();
      const sample = await this.request(url, sentAt);
      if (stop.aborted) return;
      samples.push(sample);
      this.opts.onSample(url, sample);
      // Rejects only when stopped, which ends the loop.
      await sleep(Math.max(0, sentAt + intervalMs - clock.now()), stop, clock).catch(() => undefined);
    }
  }

  private async request(url: string, sentAt: number): Promise<ProbeSample> {
    const { clock, runStart, intervalMs } = this.opts;
    const at = sentAt - runStart;
    const timeout = requestTimeoutMs(intervalMs);
    const deadline = deadlineSignal(this.stopper.signal, timeout, clock, () => new Error(`no answer within ${timeout} ms`));
    try {
      const response = await fetch(url, {
        signal: deadline.signal,
        redirect: 'manual',
        headers: { 'user-agent': 'safe-drain availability probe' },
      });
      const latencyMs = clock.now() - sentAt;
      // The body is not needed; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      return { at, ok: response.status < 400, latencyMs, detail: `HTTP ${response.status}` };
    } catch (err) {
      const latencyMs = clock.now() - sentAt;
      const timedOut = deadline.signal.aborted && !this.stopper.signal.aborted;
      return { at, ok: false, latencyMs, detail: timedOut ? `no answer within ${timeout} ms` : describeFetchError(err) };
    } finally {
      deadline.dispose();
    }
  }
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

// The HTTP availability probe as a container (testcontainers GenericContainer): PROBE_SCRIPT
// (kind-util.ts) in a busybox image, on a given Docker network, its stdout parsed into
// AvailabilitySamples. Used by the kind backend (network `kind`) and by test/docker, which runs
// the very same code against a server container on a user-defined network.
//
// testcontainers 12 needs Node >= 22 and fails at import on older Node: it is imported lazily,
// so importing this module (or kind.ts) is harmless on any Node.
import type { Readable } from 'node:stream';
import type { StartedTestContainer } from 'testcontainers';
import type { AvailabilityProbe, AvailabilitySample } from '../backend.js';
import { LineSplitter, parseProbeLine, probeCommand } from './kind-util.js';

/** The probe image the kind backend pulls on a GitHub runner (sh, wget, timeout, usleep). */
export const DEFAULT_PROBE_IMAGE = 'busybox:1.37.0';

/** Seconds `docker stop` waits beyond the request timeout before it kills the probe. */
export const PROBE_STOP_SLACK_SECONDS = 5;

export interface HttpProbeOptions {
  image: string;
  /** Full URL, numeric host recommended (a static glibc busybox cannot resolve names). */
  url: string;
  /** Docker network the container joins (`kind`, or a user-defined network's name). */
  network: string;
  intervalMs?: number;
  /** Per-request timeout, whole seconds (default 1). */
  timeoutSeconds?: number;
  /**
   * 'never': the image must already be present locally (checked before start; testcontainers
   * is never allowed to pull). 'missing' (default): pulled only if absent.
   */
  pull?: 'never' | 'missing';
  /** Container name; testcontainers picks one otherwise. */
  name?: string;
  /** Called with every output line as it arrives (for live logs). */
  onLine?: (line: string) => void;
  /** How long to wait for the first sample line, ms (default 60 s). */
  startupTimeoutMs?: number;
  /**
   * Start a request every interval even while earlier ones hang (PROBE_SCRIPT_CONCURRENT): a
   * recovery is seen within an interval instead of up to the timeout late. Default false.
   */
  concurrent?: boolean;
}

export interface HttpProbe extends AvailabilityProbe {
  readonly containerId: string;
  readonly url: string;
  /** Samples parsed so far (a copy), in arrival order. */
  samples(): AvailabilitySample[];
  /** Resolves once `predicate(samples)` holds; rejects after `timeoutMs`. */
  waitFor(predicate: (samples: readonly AvailabilitySample[]) => boolean, timeoutMs: number): Promise<AvailabilitySample[]>;
}

export async function startHttpProbe(opts: HttpProbeOptions): Promise<HttpProbe> {
  const tc = await import('testcontainers');
  const client = await tc.getContainerRuntimeClient();
  if (opts.pull === 'never' && !(await client.image.exists(tc.ImageName.fromString(opts.image)))) {
    throw new Error(`probe image ${opts.image} is not present locally and pulling is disabled`);
  }

  const splitter = new LineSplitter();
  const samples: AvailabilitySample[] = [];
  const listeners = new Set<() => void>();
  const onLines = (lines: string[]): void => {
    for (const line of lines) {
      opts.onLine?.(line);
      const s = parseProbeLine(line);
      if (s) samples.push(s);
    }
    for (const l of listeners) l();
  };
  let streamEnded: Promise<void> = Promise.resolve();
  const consume = (stream: Readable): void => {
    streamEnded = new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer | string) => onLines(splitter.push(chunk.toString())));
      stream.on('end', () => {
        onLines(splitter.end());
        resolve();
      });
      stream.on('error', () => resolve());
    });
  };

  const timeoutSeconds = opts.timeoutSeconds ?? 1;
  // How long `docker stop` waits after SIGTERM before SIGKILL: the in-flight request (at most
  // timeoutSeconds) plus slack for a busy machine. testcontainers 12 takes milliseconds here
  // (`timeout: 5` would be `docker stop -t 0`, a kill that loses the last request).
  const stopGraceMs = (timeoutSeconds + PROBE_STOP_SLACK_SECONDS) * 1000;

  let container = new tc.GenericContainer(opts.image)
    .withPullPolicy(tc.PullPolicy.defaultPolicy())
    .withNetworkMode(opts.network)
    .withCommand(probeCommand(opts.url, opts.intervalMs ?? 150, timeoutSeconds, opts.concurrent ?? false))
    .withLabels({ 'safe-drain.e2e/role': 'availability-probe' })
    .withLogConsumer(consume)
    .withWaitStrategy(tc.Wait.forLogMessage(/^\d{10,13}(\.\d+)? (ok|fail)/))
    .withStartupTimeout(opts.startupTimeoutMs ?? 60_000);
  if (opts.name) container = container.withName(opts.name);

  const started: StartedTestContainer = await container.start();
  let stopped: Promise<AvailabilitySample[]> | undefined;

  const sorted = (): AvailabilitySample[] =>
    samples.map((s, i) => ({ s, i })).sort((a, b) => a.s.at - b.s.at || a.i - b.i).map(({ s }) => s);

  return {
    containerId: started.getId(),
    url: opts.url,
    samples: () => samples.slice(),
    waitFor(predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (!predicate(samples)) return false;
          cleanup();
          resolve(samples.slice());
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`probe ${opts.url}: condition not met within ${timeoutMs} ms (${samples.length} samples, last: ${JSON.stringify(samples[samples.length - 1])})`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (): void => void check();
        listeners.add(listener);
        check();
      });
    },
    stop() {
      stopped ??= (async () => {
        // SIGTERM: the script's trap ends the loop once the current request's line is out;
        // then removal. The timeout is in milliseconds.
        await started.stop({ timeout: stopGraceMs });
        // The followed log stream ends once the container is gone; don't hang on it.
        await Promise.race([streamEnded, new Promise((r) => setTimeout(r, 5_000).unref())]);
        return sorted();
      })();
      return stopped;
    },
  };
}

// The kind backend's availability probe (e2e/backends/http-probe.ts) on a real Docker Engine,
// without kind: a local busybox image (scripts/build-probe-image.sh, never pulled), an HTTP
// server container and the probe container on a user-defined network — the same shape as the
// probe on kind's `kind` network. Asserts the parsed samples flip ok → fail → ok → fail as the
// server goes down, comes back and is stopped, and that the measured downtime matches the real
// outage.
//
// Needs: Node >= 22 (testcontainers 12) and a Docker daemon (scripts/start-docker.sh). Without
// them the suite reports a skipped test named "SKIPPED …" with the reason and warns loudly; with
// SAFE_DRAIN_REQUIRE_DOCKER=1 (CI) the same condition fails instead.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';
import { downtimeFromSamples } from '../../e2e/availability.js';
import type { HttpProbe } from '../../e2e/backends/http-probe.js';
import { dockerPrerequisites, firstLine, notRunHere, type Prerequisites } from '../docker-prerequisites.js';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const IMAGE = process.env.PROBE_IMAGE ?? 'safe-drain/busybox:local';
const RYUK_IMAGE = 'testcontainers/ryuk:0.14.0';

jest.setTimeout(180_000);

async function prerequisites(): Promise<Prerequisites> {
  const docker = await dockerPrerequisites();
  if (!docker.ok) return docker;
  try {
    await run('bash', [join(repo, 'scripts', 'build-probe-image.sh')], { timeout: 300_000, env: { ...process.env, PROBE_IMAGE: IMAGE } });
  } catch (e) {
    return { ok: false, reason: `cannot build the local probe image ${IMAGE}: ${firstLine(e)}` };
  }
  return { ok: true };
}

const pre = await prerequisites();

if (!pre.ok) {
  notRunHere('Docker probe tests', pre.reason);
} else {
  describe('availability probe container (testcontainers, local Docker Engine)', () => {
    let tc: typeof import('testcontainers');
    let network: StartedNetwork | undefined;
    let server: StartedTestContainer | undefined;
    let probe: HttpProbe | undefined;
    let serverIp = '';

    beforeAll(async () => {
      tc = await import('testcontainers');
      // Ryuk (testcontainers' reaper) is an image from Docker Hub; this machine cannot pull it.
      // Without it, afterAll removes what the suite started.
      try {
        await run('docker', ['image', 'inspect', RYUK_IMAGE]);
      } catch {
        process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
        console.warn(`${RYUK_IMAGE} not present locally: Ryuk disabled, afterAll cleans up`);
      }
      network = await new tc.Network().start();
      server = await new tc.GenericContainer(IMAGE)
        .withPullPolicy(tc.PullPolicy.defaultPolicy())
        .withNetwork(network)
        .withCommand(['sh', '-c', 'echo web-1 > /www/hostname && httpd -p 8080 -h /www && echo serving && exec sleep 3600'])
        .withWaitStrategy(tc.Wait.forLogMessage('serving'))
        .start();
      serverIp = server.getIpAddress(network.getName());
    });

    afterAll(async () => {
      await probe?.stop().catch(() => undefined);
      await server?.stop({ timeout: 1 }).catch(() => undefined);
      await network?.stop().catch(() => undefined);
    });

    it('records ok while the server answers, fail while it is down, and the downtime of the real outage', async () => {
      const { startHttpProbe } = await import('../../e2e/backends/http-probe.js');
      const lines: string[] = [];
      probe = await startHttpProbe({
        image: IMAGE,
        url: `http://${serverIp}:8080/hostname`,
        network: network!.getName(),
        pull: 'never',
        intervalMs: 100,
        timeoutSeconds: 1,
        onLine: (l) => lines.push(l),
      });

      // 1. Server up: consecutive ok samples carrying the body.
      await probe.waitFor((s) => s.filter((x) => x.available).length >= 5, 20_000);
      expect(probe.samples().every((s) => s.available)).toBe(true);
      expect(probe.samples()[0]!.detail).toBe('web-1');

      // 2. Real outage: httpd killed inside the server container, restarted 2 s later.
      const downAt = Date.now();
      await server!.exec(['killall', 'httpd']);
      const failsBefore = probe.samples().filter((s) => !s.available).length;
      await probe.waitFor((s) => s.filter((x) => !x.available).length >= failsBefore + 5, 20_000);
      await new Promise((r) => setTimeout(r, Math.max(0, 2_000 - (Date.now() - downAt))));
      const restart = await server!.exec(['sh', '-c', 'echo web-2 > /www/hostname && httpd -p 8080 -h /www']);
      const upAt = Date.now();
      expect(restart.exitCode).toBe(0);
      await probe.waitFor((s) => s.some((x) => x.available && x.detail === 'web-2'), 20_000);

      // 3. Server container stopped for good: fail again.
      await server!.stop({ timeout: 1 });
      server = undefined;
      const n = probe.samples().length;
      await probe.waitFor((s) => s.length >= n + 5 && s.slice(-3).every((x) => !x.available), 20_000);

      const samples = await probe.stop();
      const containerId = probe.containerId;
      probe = undefined;

      // Every output line was a sample line (nothing unparsed), timestamps in order.
      expect(lines.filter((l) => l.trim() !== '').length).toBe(samples.length);
      for (let i = 1; i < samples.length; i++) expect(samples[i]!.at).toBeGreaterThanOrEqual(samples[i - 1]!.at);

      // ok → fail → ok → fail, in runs.
      const runs = samples.reduce<boolean[]>((acc, s) => (acc[acc.length - 1] === s.available ? acc : [...acc, s.available]), []);
      expect(runs).toEqual([true, false, true, false]);
      const firstFail = samples.find((s) => !s.available)!;
      expect(firstFail.detail).toMatch(/refused|can't connect/i);

      // Downtime: the first interval is the outage we made (within probe resolution), the second
      // is open (server gone when probing stopped).
      const d = downtimeFromSamples(samples);
      expect(d.intervals).toHaveLength(2);
      const [outage, final] = d.intervals;
      const real = (upAt - downAt) / 1000;
      expect(outage!.open).toBe(false);
      expect(outage!.from).toBeGreaterThanOrEqual(downAt - 500);
      expect(Math.abs(outage!.seconds - real)).toBeLessThan(1);
      expect(final!.open).toBe(true);
      // Requests to a vanished host time out after 1 s: gaps stay near 1.1 s unless the probe stalls.
      expect(d.maxGapMs).toBeLessThan(2_500);
      console.log(
        `probe: ${samples.length} samples over ${d.observedSeconds}s; outage real ${real.toFixed(3)}s, measured ${outage!.seconds}s ` +
          `(${outage!.failedSamples} failed samples, "${outage!.firstDetail}")`,
      );

      // The probe container is gone.
      await expect(run('docker', ['inspect', containerId])).rejects.toThrow();
    });

    it('refuses to pull: a missing image with pull "never" fails before any container starts', async () => {
      const { startHttpProbe } = await import('../../e2e/backends/http-probe.js');
      await expect(
        startHttpProbe({ image: 'safe-drain/does-not-exist:never', url: 'http://127.0.0.1:1/', network: network!.getName(), pull: 'never' }),
      ).rejects.toThrow(/not present locally/);
    });
  });

  // stop() must be a stop, not a kill: the request in flight when it is called completes and its
  // sample is returned. Each request to /cgi-bin/slow takes 2 s and is numbered by the server,
  // which logs "start N" when it begins: every request the server saw must come back as a sample.
  describe('availability probe stop() (graceful)', () => {
    let tc: typeof import('testcontainers');
    let network: StartedNetwork | undefined;
    let server: StartedTestContainer | undefined;
    let probe: HttpProbe | undefined;

    const SLOW_CGI = [
      '#!/bin/sh',
      'n=$(cat /tmp/n 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > /tmp/n',
      'echo "start $n" >> /tmp/requests',
      'sleep 2',
      'printf "Content-Type: text/plain\\r\\n\\r\\nslow-%s\\n" "$n"',
    ].join('\n');

    beforeAll(async () => {
      tc = await import('testcontainers');
      try {
        await run('docker', ['image', 'inspect', RYUK_IMAGE]);
      } catch {
        process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
      }
      network = await new tc.Network().start();
      server = await new tc.GenericContainer(IMAGE)
        .withPullPolicy(tc.PullPolicy.defaultPolicy())
        .withNetwork(network)
        .withCommand([
          'sh',
          '-c',
          `mkdir -p /www/cgi-bin && printf '%s\\n' "$SLOW_CGI" > /www/cgi-bin/slow && chmod +x /www/cgi-bin/slow && httpd -p 8080 -h /www && echo serving && exec sleep 3600`,
        ])
        .withEnvironment({ SLOW_CGI })
        .withWaitStrategy(tc.Wait.forLogMessage('serving'))
        .start();
    });

    afterAll(async () => {
      await probe?.stop().catch(() => undefined);
      await server?.stop({ timeout: 1_000 }).catch(() => undefined);
      await network?.stop().catch(() => undefined);
    });

    const startedRequests = async (): Promise<number[]> => {
      const r = await server!.exec(['sh', '-c', 'cat /tmp/requests 2>/dev/null || true']);
      return [...r.output.matchAll(/start (\d+)/g)].map((m) => Number(m[1]));
    };

    it('lets the request in flight finish and returns its sample (SIGTERM, not docker stop -t 0)', async () => {
      const { startHttpProbe } = await import('../../e2e/backends/http-probe.js');
      const url = `http://${server!.getIpAddress(network!.getName())}:8080/cgi-bin/slow`;
      probe = await startHttpProbe({ image: IMAGE, url, network: network!.getName(), pull: 'never', intervalMs: 100, timeoutSeconds: 5 });
      await probe.waitFor((s) => s.some((x) => x.available), 30_000);

      // Wait until the server is inside a request whose sample has not arrived: that one is in flight.
      let inFlight: number | undefined;
      const deadline = Date.now() + 30_000;
      while (inFlight === undefined && Date.now() < deadline) {
        const seen = new Set(probe.samples().map((s) => s.detail));
        inFlight = (await startedRequests()).find((n) => !seen.has(`slow-${n}`));
        if (inFlight === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(inFlight).toBeDefined();

      const samples = await probe.stop();
      probe = undefined;
      const started = await startedRequests();
      const answered = samples.filter((s) => s.available).map((s) => s.detail);
      // The request in flight at stop() came back, and so did every request the server began.
      expect(answered).toContain(`slow-${inFlight}`);
      expect(answered).toEqual(started.map((n) => `slow-${n}`));
      expect(samples.every((s) => s.available)).toBe(true);
    });
  });
}

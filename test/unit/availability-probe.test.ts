// The gate's HTTP probes: real requests to a loopback server, their timing (send times, latency,
// the interval, the request timeout) on a fake clock.
import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProbeSample } from '../../src/engine/availability/figures.js';
import { Prober } from '../../src/engine/availability/probe.js';
import { FakeClock } from './fixtures/fake-clock.js';

/** Waits (real time, for real I/O) until `done()`; fails the test after 5 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!done()) throw new Error(`still waiting for ${what}`);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A loopback server: `answer` true answers 204 at once, false never answers. */
async function serve(answer: boolean): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    if (answer) res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests: () => requests };
}

function startProber(url: string, clock: FakeClock): ProbeSample[] {
  const prober = new Prober({ urls: [url], intervalMs: 250, runStart: clock.now(), clock, onSample: () => undefined, onLimit: () => undefined });
  prober.start();
  cleanups.push(() => prober.stop());
  return prober.samples.get(url)!;
}

describe('Prober on a fake clock', () => {
  it('sends the next request one interval after the last was sent, and times each on the clock', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const { url, requests } = await serve(true);
    const samples = startProber(url, clock);
    await until(() => samples.length === 1, 'the first sample');
    expect(samples[0]).toEqual({ at: 0, ok: true, latencyMs: 0, detail: 'HTTP 204' });
    // The pause to the next request is the only timer left.
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(start + 250);
    await clock.advance(249);
    expect(requests()).toBe(1);
    await clock.advance(1);
    await until(() => samples.length === 2, 'the second sample');
    expect(samples[1]).toMatchObject({ at: 250, ok: true });
  });

  it('fails a request unanswered at its timeout, on the clock, and sends the next one at once', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const { url, requests } = await serve(false);
    const samples = startProber(url, clock);
    await until(() => requests() === 1, 'the first request');
    expect(clock.nextAt()).toBe(start + 1_000);
    await clock.advance(999);
    expect(samples).toEqual([]);
    await clock.advance(1);
    await until(() => samples.length === 1, 'the timed-out sample');
    expect(samples[0]).toEqual({ at: 0, ok: false, latencyMs: 1_000, detail: 'no answer within 1000 ms' });
    await until(() => requests() === 2, 'the next request');
  });
});

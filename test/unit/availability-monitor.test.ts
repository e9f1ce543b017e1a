// The availability gate on a fake clock and a fake API: the live outage timer of
// abort-on-downtime, and the two bounded waits of the end of a run (the slices catching up with
// the pods the run removed, a Service at zero recovering), each at an exact fake time.
import { describe, expect, it } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { SERVICE_NAME_LABEL } from '../../src/engine/availability/figures.js';
import { AvailabilityMonitor, RECOVERY_WAIT_MS, SLICES_CATCH_UP_MS, type GateApi, type MonitorContext } from '../../src/engine/availability/monitor.js';
import { DEFAULT_AVAILABILITY, type AvailabilityOptions } from '../../src/engine/availability/types.js';
import type { Clock } from '../../src/engine/clock.js';
import { InputError } from '../../src/engine/errors.js';
import type { WatchEventType, WatchListener } from '../../src/engine/kube/watch.js';
import type { Logger } from '../../src/engine/types.js';
import { FakeClock, flush } from './fixtures/fake-clock.js';

const DRAINED = 'w1';

interface Endpoint {
  pod: string;
  node?: string;
  /** false: the pod is gone from the Service's ready endpoints (and serves nothing). */
  ready?: boolean;
}

/** The one slice of Service default/web, listing `endpoints`. */
function webSlice(endpoints: Endpoint[], resourceVersion = '1'): V1EndpointSlice {
  return {
    metadata: { namespace: 'default', name: 'web-abc', labels: { [SERVICE_NAME_LABEL]: 'web' }, resourceVersion },
    addressType: 'IPv4',
    endpoints: endpoints.map((e, i) => ({
      addresses: [`10.0.0.${i + 1}`],
      nodeName: e.node ?? DRAINED,
      targetRef: { kind: 'Pod', namespace: 'default', name: e.pod },
      conditions: e.ready === false ? { ready: false, serving: false, terminating: true } : { ready: true, serving: true, terminating: false },
    })),
  };
}

/** What a ResourceWatch is to the gate: a cache, its listeners, and events the test emits. */
class FakeSliceWatch {
  private readonly cache = new Map<string, V1EndpointSlice>();
  private readonly listeners = new Set<WatchListener<V1EndpointSlice>>();
  stopped = false;

  constructor(initial: V1EndpointSlice[]) {
    for (const s of initial) this.cache.set(s.metadata!.name!, s);
  }

  async start(): Promise<void> {}

  stop(): void {
    this.stopped = true;
    this.listeners.clear();
  }

  items(): V1EndpointSlice[] {
    return [...this.cache.values()];
  }

  subscribe(listener: WatchListener<V1EndpointSlice>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(type: WatchEventType, slice: V1EndpointSlice): void {
    if (type === 'DELETED') this.cache.delete(slice.metadata!.name!);
    else this.cache.set(slice.metadata!.name!, slice);
    for (const l of [...this.listeners]) l(type, slice);
  }
}

const notFound = () => Object.assign(new Error('not found'), { code: 404 });

/** A cluster with `services` (namespace/name) in namespace default and one watch of slices. */
function fakeApi(slices: V1EndpointSlice[], services = ['default/web']) {
  const watch = new FakeSliceWatch(slices);
  const service = (key: string): V1Service => ({ metadata: { namespace: key.split('/')[0], name: key.split('/')[1] } });
  const api: GateApi = {
    getService: async (namespace, name) => (services.includes(`${namespace}/${name}`) ? service(`${namespace}/${name}`) : Promise.reject(notFound())),
    getNamespace: async (name) => (name === 'default' ? { metadata: { name } } : Promise.reject(notFound())),
    listServices: async (namespace) => services.filter((s) => namespace === undefined || s.startsWith(`${namespace}/`)).map(service),
    listEndpointSlices: async () => ({ items: watch.items(), resourceVersion: '1' }),
    watchEndpointSlices: () => watch,
  };
  return { api, watch };
}

function recordingLogger() {
  const warnings: string[] = [];
  const logger: Logger = {
    info: () => undefined,
    warn: (m) => void warnings.push(m),
    error: () => undefined,
    debug: () => undefined,
    group: (_name, fn) => fn(),
  };
  return { logger, warnings };
}

/** A drain's gate on default/web (one ready pod `a` on the drained node unless told), abort-on-downtime. */
async function startGate(opts: { maxDowntimeMs?: number; clock?: Clock; fake?: FakeClock; slices?: V1EndpointSlice[] } = {}) {
  const fake = opts.fake ?? new FakeClock();
  const clock = opts.clock ?? fake;
  const { api, watch } = fakeApi(opts.slices ?? [webSlice([{ pod: 'a' }])]);
  const { logger, warnings } = recordingLogger();
  const runStart = clock.now();
  const breaches: { failure: string; at: number }[] = [];
  const options: AvailabilityOptions = { ...DEFAULT_AVAILABILITY, abortOnDowntime: true, maxDowntimeMs: opts.maxDowntimeMs };
  const ctx: MonitorContext = {
    client: api,
    logger,
    options,
    operation: 'drain',
    dryRun: false,
    nodes: [DRAINED],
    runStart,
    clock,
    onBreach: (failure) => breaches.push({ failure, at: clock.now() - runStart }),
  };
  const monitor = await AvailabilityMonitor.start(ctx);
  /** ms since the run started, on the fake clock. */
  const elapsed = () => fake.now() - runStart;
  return { monitor, watch, fake, breaches, warnings, elapsed };
}

/** `p`'s value once it has settled, or 'pending' (after letting callbacks run). */
async function state<T>(p: Promise<T>): Promise<T | 'pending'> {
  let settled: { value: T } | undefined;
  void p.then((value) => (settled = { value }));
  await flush();
  return settled ? settled.value : 'pending';
}

describe('the gate live (abort-on-downtime): the outage timer', () => {
  it('breaks the gate when an outage outlasts max-downtime, at max-downtime + 1 ms, and tells the run once', async () => {
    const { monitor, watch, fake, breaches } = await startGate({ maxDowntimeMs: 2_000 });
    await fake.advance(1_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(2_000);
    // Down exactly 2 s: not longer than max-downtime.
    expect(breaches).toEqual([]);
    await fake.advance(1);
    expect(breaches).toEqual([{ failure: 'default/web: down 2 s (max-downtime 2s)', at: 3_001 }]);
    expect(monitor.breached).toBe('default/web: down 2 s (max-downtime 2s)');
    await fake.advance(10_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'b' }], '3'));
    expect(breaches).toHaveLength(1);
    const report = await monitor.finish();
    expect(report.aborted).toBe(true);
    expect(fake.pending).toBe(0);
  });

  it('does not break it for an outage shorter than max-downtime, and leaves no timer once the Service is back', async () => {
    const { monitor, watch, fake, breaches } = await startGate({ maxDowntimeMs: 2_000 });
    await fake.advance(1_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(1_500);
    watch.emit('MODIFIED', webSlice([{ pod: 'b' }], '3'));
    expect(fake.pending).toBe(0);
    await fake.advance(60_000);
    expect(breaches).toEqual([]);
    const report = await monitor.finish();
    expect(report.passed).toBe(true);
    expect(report.services[0]).toMatchObject({ service: 'default/web', downtimeSeconds: 1.5, passed: true });
  });

  it('counts earlier outages: a second one breaks the gate once the total outlasts max-downtime', async () => {
    const { watch, fake, breaches } = await startGate({ maxDowntimeMs: 2_000 });
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(1_500);
    watch.emit('MODIFIED', webSlice([{ pod: 'b' }], '3'));
    await fake.advance(1_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'b', ready: false }], '4'));
    await fake.advance(500);
    expect(breaches).toEqual([]);
    await fake.advance(1);
    expect(breaches.map((b) => b.at)).toEqual([3_001]);
  });

  it('judges an outage that starts 0 ms long (max-downtime 0s) 1 ms later, not when the Service recovers', async () => {
    const { watch, fake, breaches } = await startGate({ maxDowntimeMs: 0 });
    await fake.advance(1_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await flush();
    expect(breaches).toEqual([]);
    await fake.advance(1);
    expect(breaches).toEqual([{ failure: 'default/web: down 0 s (max-downtime 0s)', at: 1_001 }]);
  });

  it('judges it again when the timer fires before the clock shows its delay passed (as a system timer can)', async () => {
    const fake = new FakeClock();
    // The first timer fires a millisecond early: the clock still reads the time it was armed at.
    let early = true;
    const clock: Clock = {
      now: () => fake.now(),
      after: (ms, fn) => {
        const lead = early && ms > 0 ? 1 : 0;
        early = false;
        return fake.after(ms - lead, fn);
      },
    };
    const { watch, breaches } = await startGate({ maxDowntimeMs: 0, fake, clock });
    await fake.advance(1_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(1);
    expect(breaches.map((b) => b.at)).toEqual([1_001]);
  });
});

describe('the end of a run: bounded waits', () => {
  it('waits for a Service at zero to recover up to RECOVERY_WAIT_MS, and measures its outage to the end of the wait', async () => {
    const { monitor, watch, fake, warnings, elapsed } = await startGate();
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(4_000);
    const finished = monitor.finish();
    await fake.advance(RECOVERY_WAIT_MS - 1);
    expect(await state(finished)).toBe('pending');
    await fake.advance(1);
    const report = await finished;
    expect(elapsed()).toBe(4_000 + RECOVERY_WAIT_MS);
    expect(report.services[0]).toMatchObject({ finalReady: 0, downtimeSeconds: (4_000 + RECOVERY_WAIT_MS) / 1000 });
    expect(warnings).toContain('availability: still no ready endpoint when the run ended: default/web');
    expect(watch.stopped).toBe(true);
    expect(fake.pending).toBe(0);
  });

  it('ends the recovery wait when the Service has a ready endpoint again', async () => {
    const { monitor, watch, fake } = await startGate();
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    await fake.advance(4_000);
    const finished = monitor.finish();
    await fake.advance(2_500);
    watch.emit('MODIFIED', webSlice([{ pod: 'b', node: 'w2' }], '3'));
    expect(await state(finished)).not.toBe('pending');
    expect((await finished).services[0]).toMatchObject({ finalReady: 1, downtimeSeconds: 6.5 });
    expect(fake.pending).toBe(0);
  });

  it('waits for the slices to drop the pods the run removed up to SLICES_CATCH_UP_MS, then says they still list them', async () => {
    const { monitor, fake, warnings, elapsed } = await startGate({ slices: [webSlice([{ pod: 'a' }, { pod: 'b', node: 'w2' }])] });
    const finished = monitor.finish(undefined, ['default/a']);
    await fake.advance(SLICES_CATCH_UP_MS - 1);
    expect(await state(finished)).toBe('pending');
    await fake.advance(1);
    await finished;
    expect(elapsed()).toBe(SLICES_CATCH_UP_MS);
    expect(warnings).toContain(`availability: the EndpointSlices still list default/a ${SLICES_CATCH_UP_MS / 1000}s after the drain removed them: the figures end here`);
    expect(fake.pending).toBe(0);
  });

  it('ends the slices wait as soon as they drop the removed pods', async () => {
    const { monitor, watch, fake, warnings } = await startGate({ slices: [webSlice([{ pod: 'a' }, { pod: 'b', node: 'w2' }])] });
    const finished = monitor.finish(undefined, ['default/a']);
    await fake.advance(5_000);
    watch.emit('MODIFIED', webSlice([{ pod: 'b', node: 'w2' }], '2'));
    expect(await state(finished)).not.toBe('pending');
    expect(warnings).toEqual([]);
  });

  it("ends either wait when the run's signal fires", async () => {
    const { monitor, watch, fake } = await startGate();
    watch.emit('MODIFIED', webSlice([{ pod: 'a', ready: false }], '2'));
    const stop = new AbortController();
    const finished = monitor.finish(stop.signal, ['default/a']);
    await fake.advance(1_000);
    expect(await state(finished)).toBe('pending');
    stop.abort(new Error('timeout of 1s expired'));
    expect(await state(finished)).not.toBe('pending');
    expect(fake.pending).toBe(0);
  });
});

describe('the Services the gate resolves, through GateApi', () => {
  const start = (selection: AvailabilityOptions['selection'], operation: MonitorContext['operation'] = 'drain') => {
    const { api } = fakeApi([webSlice([{ pod: 'a' }])], ['default/web', 'default/db']);
    const clock = new FakeClock();
    return AvailabilityMonitor.start({
      client: { ...api, watchEndpointSlices: operation === 'plan' ? () => { throw new Error('a plan reads the slices once, it does not watch them'); } : api.watchEndpointSlices },
      logger: recordingLogger().logger,
      options: { ...DEFAULT_AVAILABILITY, selection },
      operation,
      dryRun: false,
      nodes: [DRAINED],
      runStart: clock.now(),
      clock,
    });
  };

  it('refuses Services and namespaces that do not exist, naming them', async () => {
    await expect(start({ mode: 'services', services: ['default/web', 'default/nope'] })).rejects.toThrow(InputError);
    await expect(start({ mode: 'services', services: ['default/nope'] })).rejects.toThrow('no Service "default/nope" in the cluster');
    await expect(start({ mode: 'namespaces', namespaces: ['prod'] })).rejects.toThrow('no namespace "prod" in the cluster');
  });

  it("watches a namespace's Services; a plan reads the slices once", async () => {
    const drain = await start({ mode: 'namespaces', namespaces: ['default'] });
    expect((await drain.finish()).services.map((s) => s.service)).toEqual(['default/db', 'default/web']);
    const plan = await start({ mode: 'auto' }, 'plan');
    expect((await plan.finish()).services.map((s) => s.service)).toEqual(['default/web']);
  });
});

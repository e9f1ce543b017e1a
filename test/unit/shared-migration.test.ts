// The run's migrations (execute/migrate.ts WorkloadMigrations) on a fake clock and an in-memory
// Deployment (merge patches with a resourceVersion precondition; the test plays its controller's
// status). What the Deployment controller really does is tested in test/integration.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { WorkloadMigrations, type MigrateApi, type MigrationRequest } from '../../src/engine/execute/migrate.js';
import { raiseOf } from '../../src/engine/execute/restore.js';
import type { WorkloadChange, WorkloadInfo } from '../../src/engine/types.js';
import { FakeClock, flush } from './fixtures/fake-clock.js';
import { FakeWatch } from './fixtures/fake-watch.js';

const noop = () => undefined;
const logger = { info: noop, warn: noop, error: noop, debug: noop, group: <T>(_n: string, fn: () => Promise<T>) => fn() };
const W: WorkloadInfo = { kind: 'Deployment', namespace: 'shop', name: 'web', replicas: 2, readyReplicas: 2 };

function conflict(): Error {
  return Object.assign(new Error('HTTP 409'), { code: 409, body: JSON.stringify({ kind: 'Status', code: 409, message: 'the object has been modified' }) });
}

type Patch = { metadata?: { resourceVersion?: string; labels?: Record<string, string | null>; annotations?: Record<string, string | null> }; spec?: { replicas?: number } };

/** One Deployment in memory; `afterWrite` may turn a landed write into a lost answer. */
function deploymentStore(o: { afterWrite?: (n: number) => void } = {}) {
  let d: V1Deployment = {
    metadata: { namespace: 'shop', name: 'web', uid: 'd1', resourceVersion: '1', generation: 1, labels: {}, annotations: {} },
    spec: { replicas: 2, strategy: { type: 'Recreate' }, selector: { matchLabels: { app: 'web' } }, template: {} },
    status: { replicas: 2, readyReplicas: 2, observedGeneration: 1 },
  };
  const watch = new FakeWatch<V1Deployment>([d]);
  const written: number[] = [];
  const merge = (into: Record<string, string>, from: Record<string, string | null> = {}) => {
    for (const [k, v] of Object.entries(from)) {
      if (v === null) delete into[k];
      else into[k] = v;
    }
  };
  const api = {
    getDeployment: async () => structuredClone(d),
    patchDeployment: async (_ns: string, _name: string, body: object) => {
      const p = body as Patch;
      if (p.metadata?.resourceVersion !== undefined && p.metadata.resourceVersion !== d.metadata!.resourceVersion) throw conflict();
      d = structuredClone(d);
      merge(d.metadata!.labels!, p.metadata?.labels);
      merge(d.metadata!.annotations!, p.metadata?.annotations);
      if (p.spec?.replicas !== undefined) {
        d.spec!.replicas = p.spec.replicas;
        written.push(p.spec.replicas);
      }
      d.metadata!.resourceVersion = String(Number(d.metadata!.resourceVersion) + 1);
      watch.emit('MODIFIED', d);
      o.afterWrite?.(written.length);
      return structuredClone(d);
    },
    workloadEvent: async () => undefined,
    watchWorkload: () => watch,
    watchPodsMatching: () => new FakeWatch<V1Pod>(),
    listReplicaSetsMatching: async () => [],
    listDeploymentsLabelled: async () => [],
    unbounded: <T>(fn: () => Promise<T>) => fn(),
  } as unknown as MigrateApi;
  /** The controller's status: `ready` replicas Ready. */
  const ready = (n: number) => {
    d = { ...structuredClone(d), status: { ...d.status, readyReplicas: n } };
    watch.emit('MODIFIED', d);
  };
  return { api, ready, written, current: () => d };
}

function migrations(api: MigrateApi, clock: FakeClock, changes: { node: string; change: WorkloadChange }[], mayWrite: (node: string) => boolean = () => true) {
  return new WorkloadMigrations({ api, clock, logger, dryRun: false, run: 'run-1', mayWrite, record: (node, change) => changes.push({ node, change }) });
}

/** A node's request to migrate its one pod; its old pod is "evicted" when the test says so. */
function request(node: string): MigrationRequest & { evicted: () => void; asked: () => boolean } {
  let asked = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    node,
    workload: W,
    moving: { total: 1, ready: 1 },
    signal: new AbortController().signal,
    evictOldPods: () => ((asked = true), gate),
    evicted: () => release(),
    asked: () => asked,
  };
}

describe('WorkloadMigrations', () => {
  it('a second node of the run joins the raise under way: one raise covering both, restored once when neither needs it', async () => {
    const clock = new FakeClock();
    const store = deploymentStore();
    const changes: { node: string; change: WorkloadChange }[] = [];
    const m = migrations(store.api, clock, changes);
    const w1 = request('w1');
    const w2 = request('w2');
    const done1 = m.migrate(w1);
    await flush();
    expect(store.written).toEqual([3]);
    const done2 = m.migrate(w2);
    await flush();
    expect(store.written).toEqual([3, 4]);
    expect(raiseOf(store.current())).toEqual({ original: 2, raised: 4, nodes: ['w1', 'w2'], run: 'run-1' });
    store.ready(4);
    await flush();
    expect([w1.asked(), w2.asked()]).toEqual([true, true]);
    w1.evicted();
    await done1;
    expect(store.current().spec?.replicas).toBe(4); // w2 still needs it
    w2.evicted();
    await done2;
    expect(store.written).toEqual([3, 4, 2]);
    expect(raiseOf(store.current())).toBeUndefined();
    expect(changes.map((c) => c.node)).toEqual(['w1', 'w2']);
    expect(changes[0]!.change).toBe(changes[1]!.change); // one change, shared
    expect(changes[0]!.change).toMatchObject({ change: 'replicas 2 → 4 → 2', restored: true });
    expect(changes[0]!.change.message).toMatch(/one raise shared by nodes w1, w2/);
  });

  it('a raise whose answer was lost (the retry met a conflict) finds its own marker and writes nothing more', async () => {
    const clock = new FakeClock();
    // The first write lands, then its answer is lost: the client's retry gets 409 (as KubeClient's does).
    const store = deploymentStore({ afterWrite: (n) => {
      if (n === 1) throw conflict();
    } });
    const changes: { node: string; change: WorkloadChange }[] = [];
    const m = migrations(store.api, clock, changes);
    const w1 = request('w1');
    const done = m.migrate(w1);
    await flush();
    expect(store.written).toEqual([3]); // not 3 then 4 ("raising on top" of its own raise)
    store.ready(3);
    await flush();
    w1.evicted();
    await done;
    expect(store.written).toEqual([3, 2]);
    expect(changes[0]!.change).toMatchObject({ change: 'replicas 2 → 3 → 2', restored: true });
  });

  it('a raise for a node whose drain lock the run lost is not restored by this run: left for the lock\'s new holder, and said', async () => {
    const clock = new FakeClock();
    const store = deploymentStore();
    const changes: { node: string; change: WorkloadChange }[] = [];
    let lost = false;
    const m = migrations(store.api, clock, changes, () => !lost);
    const w1 = request('w1');
    const done = m.migrate(w1);
    await flush();
    lost = true;
    store.ready(3);
    await flush();
    w1.evicted();
    await done;
    expect(store.written).toEqual([3]);
    expect(raiseOf(store.current())).toMatchObject({ original: 2, raised: 3, nodes: ['w1'] });
    expect(changes[0]!.change).toMatchObject({ restored: false });
    expect(changes[0]!.change.message).toMatch(/NOT restored by this run: the drain lock of node w1 is no longer this run's/);
  });

  it('replicas changed by someone else while the raise waits: stuck, named, and the other value is not overwritten', async () => {
    const clock = new FakeClock();
    const store = deploymentStore();
    const changes: { node: string; change: WorkloadChange }[] = [];
    const m = migrations(store.api, clock, changes);
    const w1 = request('w1');
    const done = m.migrate(w1).catch((e: unknown) => e);
    await flush();
    await store.api.patchDeployment('shop', 'web', { spec: { replicas: 7 } }, false);
    const err = (await done) as Error;
    expect(err.message).toMatch(/replicas was changed to 7 by someone else while safe-drain waited for its 3/);
    expect(store.current().spec?.replicas).toBe(7);
    expect(changes[0]!.change.restored).toBe(false);
  });
});

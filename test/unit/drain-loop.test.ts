// One node's drain loop (execute/drain-node.ts) on a fake clock, with the API's answers scripted
// and the pods' lives played by the test (a kubelet deleting an evicted pod, a node going
// NotReady). What the API server and its controllers really do: test/integration.
import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { NODE_LOST_GRACE_MS, drainNode } from '../../src/engine/execute/drain-node.js';
import { LiveWorkloads } from '../../src/engine/execute/live-workloads.js';
import type { PoolWatch } from '../../src/engine/execute/pool-watch.js';
import { Run, type NodeEnd } from '../../src/engine/execute/run-state.js';
import type { EvictRequest, KubeClient } from '../../src/engine/kube/client.js';
import { planDrain } from '../../src/engine/plan/plan.js';
import { NOT_READY_NODE_DELETE_WAIT_MS, workloadKeyOf } from '../../src/engine/plan/pod.js';
import type { DrainOptions, PodResult } from '../../src/engine/types.js';
import { deadlineSignal } from '../../src/engine/wait.js';
import { budgetRefusal } from './fixtures/api-errors.js';
import { FakeClock, flush } from './fixtures/fake-clock.js';
import { FakeWatch } from './fixtures/fake-watch.js';
import { DRAINED, capacity, makeNode, makePdb, makePod, options, workload } from './plan/fixtures.js';

const noop = () => undefined;
const logger = { info: noop, warn: noop, error: noop, debug: noop, group: <T>(_n: string, fn: () => Promise<T>) => fn() };

interface RigOptions {
  options?: Partial<DrainOptions>;
  pdbs?: V1PodDisruptionBudget[];
  ready?: 'True' | 'False' | 'Unknown';
  /** What the API answers to an eviction (default: accepted). */
  evict?: (req: EvictRequest, n: number) => Promise<void>;
}

/** A cordoned node holding `pods`, its run, and the API's side of it. */
function rig(pods: V1Pod[], o: RigOptions = {}) {
  const clock = new FakeClock();
  const opts = options({ ...o.options });
  const node: V1Node = makeNode(DRAINED, { unschedulable: true, ready: o.ready });
  const podWatch = new FakeWatch<V1Pod>(pods);
  const nodeWatch = new FakeWatch<V1Node>([node]);
  const pdbWatch = new FakeWatch<V1PodDisruptionBudget>(o.pdbs ?? []);
  const evictions: string[] = [];
  const api = {
    evict: async (req: EvictRequest) => {
      evictions.push(req.name);
      await o.evict?.(req, evictions.length);
    },
    forbiddenWhileStarting: async () => false,
    nodeEvent: async () => undefined,
    getNode: async () => node,
    readsBoundBy: <T>(_s: AbortSignal, fn: () => Promise<T>) => fn(),
  } as unknown as KubeClient;
  const run = new Run({ api, clock, logger, options: opts, origin: 'test', identity: { holder: 'run-1', host: 'h', pid: 1, scope: '' } }, [node], clock.now());
  const workloads = new LiveWorkloads();
  workloads.add(Object.fromEntries(pods.map((p) => [workloadKeyOf(p)!, workload('ReplicaSet', `${p.metadata!.name}-rs`, 2, 2)])));
  const pool = {
    nodeWatch,
    node: () => nodeWatch.get(DRAINED),
    podsOn: () => podWatch,
  } as unknown as PoolWatch;
  Object.assign(run.services, { pdbs: pdbWatch, budgets: new BudgetWaiter(pdbWatch, clock), workloads, pool });
  const n = run.nodes[0]!;
  n.plannedPods = pods;
  n.plan = planDrain({ node, pods, pdbs: o.pdbs ?? [], workloads: workloads.snapshotFor(pods), now: clock.now(), otherNodes: [capacity(makeNode('node-b'))] }, opts);
  let end: NodeEnd | undefined;
  const deadline = deadlineSignal(run.signal, opts.timeoutMs || undefined, clock, () => new Error(`timeout of ${opts.timeoutMs / 1000}s expired`));
  const drained = drainNode(run, n, deadline).then((e) => (end = e));
  const results = () => Object.fromEntries(n.results.map((r: PodResult) => [r.pod.split('/')[1], r.outcome]));
  /** The kubelet deletes `name` (its grace period over). */
  const gone = (name: string) => podWatch.emit('DELETED', podWatch.get(`default/${name}`)!);
  return { clock, evictions, podWatch, nodeWatch, pdbWatch, drained, results, gone, ended: () => end, n };
}

describe('drainNode: the loop over the node\'s live pods', () => {
  it('evicts critical pods only once every other pod has left the node (eviction order is data)', async () => {
    const r = rig([makePod('app'), makePod('dns', { priorityClassName: 'system-cluster-critical' })]);
    await flush();
    expect(r.evictions).toEqual(['app']);
    await r.clock.advance(60_000);
    expect(r.evictions).toEqual(['app']); // still on the node: the next tier waits
    r.gone('app');
    await flush();
    expect(r.evictions).toEqual(['app', 'dns']);
    r.gone('dns');
    await r.drained;
    expect(r.ended()).toEqual({ kind: 'done' });
    expect(r.results()).toEqual({ app: 'evicted', dns: 'evicted' });
  });

  it('max-concurrent-evictions 1: the next eviction starts when the pod before it is gone', async () => {
    const r = rig([makePod('a'), makePod('b'), makePod('c')], { options: { maxConcurrentEvictions: 1 } });
    await flush();
    expect(r.evictions).toEqual(['a']);
    r.gone('a');
    await flush();
    expect(r.evictions).toEqual(['a', 'b']);
    r.gone('b');
    await flush();
    r.gone('c');
    await r.drained;
    expect(r.evictions).toEqual(['a', 'b', 'c']);
  });

  it('a pod that arrives mid-drain and is refused fails, named, and the drain ends (nothing left to wait for)', async () => {
    const r = rig([makePod('a')]);
    await flush();
    r.podWatch.emit('ADDED', makePod('bare', { owner: null }));
    r.gone('a');
    await r.clock.runUntil(() => r.ended() !== undefined, 60_000);
    expect(r.ended()).toEqual({ kind: 'done' });
    expect(r.results()).toEqual({ a: 'evicted', bare: 'failed' });
    expect(r.n.results.find((x) => x.pod === 'default/bare')?.message).toMatch(/no controller/);
  });

  it('a budget refusal waits for the PDB watch, not a timer: the next eviction follows the status that allows it', async () => {
    const pdb = { ...makePdb('web', { minAvailable: 1, healthy: 2, desired: 1, expected: 2, allowed: 0 }), metadata: { name: 'web', namespace: 'default', generation: 1, resourceVersion: '1' } };
    const r = rig([makePod('web-1', { labels: { app: 'web' } })], { pdbs: [pdb], evict: async (_req, n) => {
      if (n === 1) throw budgetRefusal('web');
    } });
    await r.clock.advance(10_000);
    expect(r.evictions).toEqual(['web-1']);
    r.pdbWatch.emit('MODIFIED', { ...pdb, metadata: { ...pdb.metadata, resourceVersion: '2' }, status: { ...pdb.status, disruptionsAllowed: 1 } });
    await flush();
    expect(r.evictions).toEqual(['web-1', 'web-1']);
    r.gone('web-1');
    await r.drained;
    expect(r.n.results[0]).toMatchObject({ outcome: 'evicted', budgetWaits: 1, pdb: 'default/web' });
  });

  it('a PDB event that allows a waiting eviction and wakes the loop: the eviction is sent before the loop plans again', async () => {
    const pdb = { ...makePdb('web', { minAvailable: 1, healthy: 2, desired: 1, expected: 2, allowed: 0 }), metadata: { name: 'web', namespace: 'default', generation: 1, resourceVersion: '1' } };
    const order: string[] = [];
    const r = rig([makePod('web-1', { labels: { app: 'web' } })], { pdbs: [pdb], evict: async (_req, n) => {
      order.push('evict');
      if (n === 1) throw budgetRefusal('web');
    } });
    const items = r.podWatch.items.bind(r.podWatch);
    r.podWatch.items = () => (order.push('plan'), items());
    await r.clock.advance(10_000);
    order.length = 0;
    r.pdbWatch.emit('MODIFIED', { ...pdb, metadata: { ...pdb.metadata, resourceVersion: '2' }, status: { ...pdb.status, disruptionsAllowed: 1 } });
    await flush();
    expect(order[0]).toBe('evict');
    expect(order).toContain('plan'); // the loop did wake on the same event
    r.gone('web-1');
    await r.drained;
  });

  it('on a NotReady node, a deletion no kubelet confirms is reported not confirmed, NOT_READY_NODE_DELETE_WAIT_MS after it was asked for', async () => {
    const r: ReturnType<typeof rig> = rig([makePod('a')], {
      ready: 'Unknown',
      evict: async () => {
        const pod = r.podWatch.get('default/a')!;
        // The API server marks it; nothing deletes it.
        r.podWatch.emit('MODIFIED', { ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date(r.clock.now()) as unknown as Date, deletionGracePeriodSeconds: 0 } });
      },
    });
    await flush();
    await r.clock.advance(NOT_READY_NODE_DELETE_WAIT_MS - 1);
    expect(r.ended()).toBeUndefined();
    await r.clock.advance(1);
    await r.drained;
    expect(r.results()).toEqual({ a: 'evicted-not-confirmed' });
  });

  it('a node that goes NotReady mid-drain and stays so for NODE_LOST_GRACE_MS stops the drain, naming why; back in time, it goes on', async () => {
    const pdb = makePdb('web', { minAvailable: 1, healthy: 1, desired: 1, expected: 1, allowed: 0 });
    const r = rig([makePod('web-1', { labels: { app: 'web' } })], { pdbs: [pdb], evict: async () => {
      throw budgetRefusal('web');
    } });
    const notReady = makeNode(DRAINED, { unschedulable: true, ready: 'Unknown' });
    await flush();
    r.nodeWatch.emit('MODIFIED', notReady);
    await r.clock.advance(NODE_LOST_GRACE_MS - 5_000);
    r.nodeWatch.emit('MODIFIED', makeNode(DRAINED, { unschedulable: true }));
    await r.clock.advance(10_000);
    expect(r.ended()).toBeUndefined(); // Ready again within the grace: the drain goes on
    r.nodeWatch.emit('MODIFIED', notReady);
    await r.clock.advance(NODE_LOST_GRACE_MS);
    await r.drained;
    expect(r.ended()).toMatchObject({ kind: 'stopped', why: expect.stringMatching(/went NotReady during the drain .* and stayed so for 30s/) });
    expect(r.results()).toEqual({ 'web-1': 'blocked' });
  });

  it('the timeout stops the loop; the pod it could not evict is named, still waiting', async () => {
    const pdb = makePdb('web', { minAvailable: 1, healthy: 1, desired: 1, expected: 1, allowed: 0 });
    const r = rig([makePod('web-1', { labels: { app: 'web' } })], { pdbs: [pdb], options: { timeoutMs: 45_000 }, evict: async () => {
      throw budgetRefusal('web');
    } });
    await r.clock.advance(44_999);
    expect(r.ended()).toBeUndefined();
    await r.clock.advance(1);
    await r.drained;
    expect(r.ended()).toEqual({ kind: 'stopped', why: 'timeout of 45s expired' });
    expect(r.n.results[0]).toMatchObject({ outcome: 'blocked', pdb: 'default/web' });
    expect(r.clock.pending).toBe(0); // nothing left ticking
  });
});

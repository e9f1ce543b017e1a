// The drain lock's life on a fake clock and a fake node store (the API's resourceVersion and
// JSON Patch `test` semantics are what the lock relies on, kept here as plain rules; their real
// behaviour is tested against a real API server in test/integration/drain-lock.test.ts).
import { describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { ANNOTATION_DRAIN_LOCK, DrainLocks, LOCK_RENEW_MS, type LockApi, type LockIdentity } from '../../src/engine/execute/drain-lock.js';
import { FakeClock } from './fixtures/fake-clock.js';

const noop = () => undefined;
const logger = { info: noop, warn: noop, error: noop, debug: noop, group: <T>(_n: string, fn: () => Promise<T>) => fn() };
const me: LockIdentity = { holder: 'run-1', host: 'runner', pid: 100, scope: 'boot/pid' };

function conflict(): Error {
  return Object.assign(new Error('HTTP 409'), { code: 409, body: JSON.stringify({ kind: 'Status', code: 409, message: 'the object has been modified' }) });
}

/** Nodes with a resourceVersion; merge patches with a precondition, JSON patches with `test`. */
function nodeStore(names: string[]) {
  const nodes = new Map<string, V1Node>(names.map((name) => [name, { metadata: { name, resourceVersion: '1', annotations: {} } }]));
  const bump = (n: V1Node) => (n.metadata!.resourceVersion = String(Number(n.metadata!.resourceVersion) + 1));
  const writes: string[] = [];
  const api: LockApi = {
    getNode: async (name) => structuredClone(nodes.get(name)!),
    patchNodeMetadata: async (name, metadata) => {
      const n = nodes.get(name)!;
      const m = metadata as { resourceVersion?: string; annotations: Record<string, string | null> };
      if (m.resourceVersion !== undefined && m.resourceVersion !== n.metadata!.resourceVersion) throw conflict();
      for (const [k, v] of Object.entries(m.annotations)) {
        if (v === null) delete n.metadata!.annotations![k];
        else n.metadata!.annotations![k] = v;
      }
      writes.push(`${name} merge`);
      bump(n);
      return structuredClone(n);
    },
    patchNodeJson: async (name, ops) => {
      const n = nodes.get(name)!;
      const [test, change] = ops as [{ value: string }, { op: string; value?: string }];
      if (n.metadata!.annotations![ANNOTATION_DRAIN_LOCK] !== test.value) throw conflict();
      if (change.op === 'remove') delete n.metadata!.annotations![ANNOTATION_DRAIN_LOCK];
      else n.metadata!.annotations![ANNOTATION_DRAIN_LOCK] = change.value!;
      writes.push(`${name} json`);
      bump(n);
      return structuredClone(n);
    },
  };
  const lock = (name: string) => {
    const raw = nodes.get(name)!.metadata!.annotations![ANNOTATION_DRAIN_LOCK];
    return raw === undefined ? undefined : (JSON.parse(raw) as { holder: string; renewed: string });
  };
  /** Another live run writes its own lock over ours. */
  const takeOver = (name: string, holder: string, at: number) => {
    const n = nodes.get(name)!;
    n.metadata!.annotations![ANNOTATION_DRAIN_LOCK] = JSON.stringify({ holder, host: 'elsewhere', pid: 7, scope: '', acquired: new Date(at).toISOString(), renewed: new Date(at).toISOString() });
    bump(n);
  };
  return { api, lock, takeOver, writes };
}

describe('DrainLocks on a fake clock', () => {
  it('renews every LOCK_RENEW_MS with one conditional write per node, and releases what it holds', async () => {
    const clock = new FakeClock();
    const store = nodeStore(['w1', 'w2']);
    const locks = (await DrainLocks.acquire(store.api, logger, clock, ['w2', 'w1'], me)) as DrainLocks;
    expect(store.lock('w1')).toMatchObject({ holder: 'run-1', renewed: new Date(clock.now()).toISOString() });
    const before = store.writes.length;
    await clock.advance(LOCK_RENEW_MS);
    expect(store.writes.slice(before)).toEqual(['w1 json', 'w2 json']);
    expect(store.lock('w2')?.renewed).toBe(new Date(clock.now()).toISOString());
    await clock.advance(LOCK_RENEW_MS);
    expect(store.writes.length).toBe(before + 4);
    expect([locks.holds('w1'), locks.holds('w2'), locks.lost.aborted]).toEqual([true, true, false]);
    expect(await locks.release()).toEqual([]);
    expect([store.lock('w1'), store.lock('w2')]).toEqual([undefined, undefined]);
    await clock.advance(LOCK_RENEW_MS * 3);
    expect(clock.pending).toBe(0); // no renewal after the release
  });

  it('a lock taken over by another run: lost fires naming the node, holds() is false for it only, release leaves it to its new holder', async () => {
    const clock = new FakeClock();
    const store = nodeStore(['w1', 'w2']);
    const locks = (await DrainLocks.acquire(store.api, logger, clock, ['w1', 'w2'], me)) as DrainLocks;
    await clock.advance(3_000);
    store.takeOver('w1', 'run-2', clock.now());
    expect(locks.lost.aborted).toBe(false);
    await clock.advance(LOCK_RENEW_MS);
    expect(locks.lost.aborted).toBe(true);
    expect((locks.lost.reason as Error).message).toMatch(/^the drain lock of node w1 is no longer this run's: another run took it over \(host elsewhere, pid 7/);
    expect([locks.holds('w1'), locks.holds('w2')]).toEqual([false, true]);
    expect(locks.lostLocks).toEqual(['w1']);
    expect(await locks.release()).toEqual([]);
    expect(store.lock('w1')).toMatchObject({ holder: 'run-2' });
    expect(store.lock('w2')).toBeUndefined();
  });
});

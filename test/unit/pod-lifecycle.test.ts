// Pure parts of the per-pod work: the ledger's rules, when a deletion stops being waited for,
// and the drain's deadline. (The work itself runs against a real control plane in
// test/integration/reconcile.test.ts.)
import { describe, expect, it, jest } from '@jest/globals';
import { drainDeadline } from '../../src/engine/execute/deadline.js';
import { waitForDeletion } from '../../src/engine/execute/deletion.js';
import { PodLedger, fixedPods } from '../../src/engine/execute/pod-lifecycle.js';
import { WaitAborted } from '../../src/engine/execute/abort.js';
import type { PodPlan, PodResult } from '../../src/engine/types.js';

function plan(name: string, uid = `uid-${name}`): PodPlan {
  return { namespace: 'ns', name, uid, podClass: 'movable', action: 'evict', reason: 'test', priority: 0, pdbs: [] };
}

describe('PodLedger', () => {
  it('never turns a pod that left the node into a failure', () => {
    const results: PodResult[] = [];
    const ledger = new PodLedger(results, () => 5);
    const a = plan('a');
    ledger.open(a).outcome = 'evicted';
    expect(ledger.fail(a, 'the replacement wait failed')).toBe(false);
    expect(results).toEqual([expect.objectContaining({ pod: 'ns/a', outcome: 'evicted' })]);
    expect(ledger.left(a)).toBe(true);
  });

  it('fails a pod still on the node, once, and a failure is final', () => {
    const results: PodResult[] = [];
    const ledger = new PodLedger(results, () => 7);
    const b = plan('b');
    expect(ledger.fail(b, 'eviction forbidden')).toBe(true);
    ledger.settle(b, 'evicted');
    expect(results).toEqual([expect.objectContaining({ pod: 'ns/b', outcome: 'failed', message: 'eviction forbidden', endedAt: 7 })]);
  });

  it('keys pods by UID: a same-named pod with a new UID is new work', () => {
    const results: PodResult[] = [];
    const ledger = new PodLedger(results, () => 0);
    ledger.open(plan('web-0', 'u1'));
    expect(ledger.has('u1')).toBe(true);
    expect(ledger.has('u2')).toBe(false);
    ledger.open(plan('web-0', 'u2'));
    expect(results.map((r) => r.pod)).toEqual(['ns/web-0', 'ns/web-0']);
  });

  it('reopens only a pod still on the node: its result goes, and the next open starts a new one', () => {
    const results: PodResult[] = [];
    const ledger = new PodLedger(results, () => 3);
    const waiting = plan('waiting');
    const gone = plan('gone');
    ledger.open(waiting).budgetWaits = 2;
    ledger.open(gone).outcome = 'evicted';
    ledger.reopen(waiting);
    ledger.reopen(gone);
    expect(ledger.has(waiting.uid)).toBe(false);
    expect(results.map((r) => `${r.pod} ${r.outcome}`)).toEqual(['ns/gone evicted']);
    expect(ledger.open(waiting)).toEqual(expect.objectContaining({ pod: 'ns/waiting', outcome: 'blocked', budgetWaits: 0 }));
  });
});

describe('waitForDeletion', () => {
  it('waits past skip-wait while the pod shows no deletionTimestamp, and gives up once its deadline passes', async () => {
    const pod = { metadata: { namespace: 'ns', name: 'p', uid: 'u' } };
    const listeners = new Set<() => void>();
    const source = { get: () => pod as { metadata: Record<string, unknown> }, subscribe: (l: () => void) => (listeners.add(l), () => listeners.delete(l)) };
    let result: string | undefined;
    // The clock (timers and Date) is jest's: 1.2 s pass at once, past the 1 s skip-wait.
    jest.useFakeTimers();
    try {
      const waiting = waitForDeletion(source, 'ns/p', 'u', new AbortController().signal, { skipWaitSeconds: 1, nodeReady: true }).then((r) => (result = r));
      await jest.advanceTimersByTimeAsync(1200);
      expect(result).toBeUndefined();
      // The deletion shows (as it did a while ago): the deadline is already past.
      (pod.metadata as Record<string, unknown>).deletionTimestamp = new Date(Date.now() - 5_000);
      for (const l of listeners) l();
      await waiting;
      expect(result).toBe('not-confirmed');
    } finally {
      jest.useRealTimers();
    }
  });

  it('resolves not-confirmed at once for a pod deleted longer ago than skip-wait', async () => {
    const pods = fixedPods([{ metadata: { namespace: 'ns', name: 'p', uid: 'u', deletionTimestamp: new Date(Date.now() - 120_000) } }]);
    const result = await waitForDeletion(pods, 'ns/p', 'u', new AbortController().signal, { skipWaitSeconds: 60, nodeReady: true });
    expect(result).toBe('not-confirmed');
  });

  it('resolves deleted for a pod replaced by a same-named pod with another UID', async () => {
    const pods = fixedPods([{ metadata: { namespace: 'ns', name: 'p', uid: 'new' } }]);
    expect(await waitForDeletion(pods, 'ns/p', 'old', new AbortController().signal, { skipWaitSeconds: 0, nodeReady: true })).toBe('deleted');
  });
});

describe('drainDeadline', () => {
  it('is aborted at once when the run was already cancelled', () => {
    const cancel = new AbortController();
    cancel.abort(new Error('cancelled (SIGTERM)'));
    const d = drainDeadline(cancel.signal, 0);
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('cancelled (SIGTERM)');
    d.dispose();
  });

  it('aborts a wait when the run is cancelled later, with the reason', async () => {
    const cancel = new AbortController();
    const d = drainDeadline(cancel.signal, 0);
    const pods = fixedPods([{ metadata: { namespace: 'ns', name: 'p', uid: 'u' } }]);
    const waiting = waitForDeletion(pods, 'ns/p', 'u', d.signal, { skipWaitSeconds: 0, nodeReady: true });
    cancel.abort(new Error('cancelled (SIGINT)'));
    await expect(waiting).rejects.toEqual(new WaitAborted('cancelled (SIGINT)'));
    d.dispose();
  });
});

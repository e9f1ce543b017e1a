// The ledger's rules: what a pod's result may become. (The work itself: test/unit/drain-loop.test.ts
// with a fake clock and API, and against a real control plane in test/integration.)
import { describe, expect, it } from '@jest/globals';
import { PodLedger } from '../../src/engine/execute/pod-work.js';
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

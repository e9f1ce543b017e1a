// The eviction loop's decisions, with the API server's answers scripted (what those answers are
// in reality is tested against a real control plane in test/integration).
import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { WaitAborted } from '../../src/engine/execute/abort.js';
import type { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { PodFailure, evictWithBudget, type EvictionDeps } from '../../src/engine/execute/evict-with-budget.js';
import type { KubeClient } from '../../src/engine/kube/client.js';
import type { ResourceWatch } from '../../src/engine/kube/watch.js';
import type { PodPlan, PodResult } from '../../src/engine/types.js';

const pod: PodPlan = { namespace: 'shop', name: 'web-1', uid: 'u1', podClass: 'movable', action: 'evict', reason: '', priority: 0, pdbs: ['shop/web'] };

function apiError(code: number, message: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`HTTP ${code}`), { code, body: JSON.stringify({ message }), headers });
}

function setup(answers: unknown[], dryRun = false) {
  const calls: { evictions: number; waits: { pdb?: string; retryAfterSeconds?: number; seen?: string }[]; settled: number; marks: string[] } = {
    evictions: 0,
    waits: [],
    settled: 0,
    marks: [],
  };
  const client = {
    evict: async () => {
      const a = answers[calls.evictions++];
      if (a) throw a;
    },
  } as unknown as KubeClient;
  const budgets = {
    wait: async (pdb: string | undefined, o: { retryAfterSeconds?: number; seenResourceVersion?: string }) => {
      calls.waits.push({ pdb, retryAfterSeconds: o.retryAfterSeconds, seen: o.seenResourceVersion });
      return { reason: 'budget', settle: () => calls.settled++ };
    },
  } as unknown as BudgetWaiter;
  const pdbWatch = { get: () => ({ metadata: { resourceVersion: '42' } }) } as unknown as ResourceWatch<V1PodDisruptionBudget>;
  const noop = () => undefined;
  const deps: EvictionDeps = {
    client,
    budgets,
    pdbWatch,
    logger: { info: noop, warn: noop, error: noop, debug: noop, group: (_n, fn) => fn() },
    gracePeriodSeconds: -1,
    dryRun,
    mark: (phase, _s, m) => calls.marks.push(`${phase}: ${m}`),
  };
  const r: PodResult = { pod: 'shop/web-1', outcome: 'blocked', budgetWaits: 0 };
  return { deps, r, calls };
}

const signal = new AbortController().signal;
const refused = () => apiError(429, "Cannot evict pod as it would violate the pod's disruption budget.");

describe('evictWithBudget', () => {
  it('waits on the PDB after each 429, settles each wake after the next attempt, and ends evicted', async () => {
    const { deps, r, calls } = setup([refused(), refused(), undefined]);
    await evictWithBudget(deps, pod, r, signal);
    expect(calls.evictions).toBe(3);
    expect(calls.waits).toEqual([
      { pdb: 'shop/web', retryAfterSeconds: undefined, seen: '42' },
      { pdb: 'shop/web', retryAfterSeconds: undefined, seen: '42' },
    ]);
    expect(calls.settled).toBe(2);
    expect(r).toMatchObject({ outcome: 'evicted', budgetWaits: 2, pdb: 'shop/web' });
    expect(calls.marks).toEqual(['wait: waiting for PDB shop/web', 'evict: eviction accepted']);
  });

  it('passes Retry-After to the wait', async () => {
    const { deps, r, calls } = setup([apiError(429, 'The disruption budget web is still being processed', { 'retry-after': '10' }), undefined]);
    await evictWithBudget(deps, pod, r, signal);
    expect(calls.waits[0]?.retryAfterSeconds).toBe(10);
  });

  it('in a dry run, a refusal is reported as blocked without waiting', async () => {
    const { deps, r, calls } = setup([refused()], true);
    await evictWithBudget(deps, pod, r, signal);
    expect(calls.waits).toEqual([]);
    expect(r.outcome).toBe('blocked');
    expect(r.message).toMatch(/^would wait/);
  });

  it('a pod under two PDBs, or a forbidden eviction, fails with what to do', async () => {
    const two = setup([apiError(500, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.')]);
    await expect(evictWithBudget(two.deps, pod, two.r, signal)).rejects.toThrow(PodFailure);
    const forbidden = setup([apiError(403, 'forbidden')]);
    await expect(evictWithBudget(forbidden.deps, pod, forbidden.r, signal)).rejects.toThrow(/rbac\/safe-drain-clusterrole\.yaml/);
  });

  it('retries transient errors a bounded number of times', async () => {
    const { deps, r, calls } = setup(Array.from({ length: 10 }, () => apiError(503, 'unavailable')));
    const sleeps: number[] = [];
    const realSetTimeout = global.setTimeout;
    global.setTimeout = ((fn: () => void, ms: number) => (sleeps.push(ms), realSetTimeout(fn, 0))) as typeof setTimeout;
    try {
      await expect(evictWithBudget(deps, pod, r, signal)).rejects.toThrow(/failed 6 times: HTTP 503/);
    } finally {
      global.setTimeout = realSetTimeout;
    }
    expect(calls.evictions).toBe(6);
    expect(sleeps).toEqual([500, 1000, 2000, 4000, 8000]);
  });

  it('stops when the deadline has passed', async () => {
    const { deps, r } = setup([undefined]);
    const ctl = new AbortController();
    ctl.abort(new Error('timeout of 5s expired'));
    await expect(evictWithBudget(deps, pod, r, ctl.signal)).rejects.toThrow(WaitAborted);
  });
});

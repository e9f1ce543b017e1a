// The eviction loop's decisions, with the API server's answers scripted (what those answers are
// in reality is tested against a real control plane in test/integration).
import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { WaitAborted } from '../../src/engine/execute/abort.js';
import type { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { PodFailure, evictWithBudget, type EvictionDeps } from '../../src/engine/execute/evict-with-budget.js';
import { API_OUTAGE_BOUND_MS, type KubeClient } from '../../src/engine/kube/client.js';
import type { ResourceWatch } from '../../src/engine/kube/watch.js';
import type { PodPlan, PodResult } from '../../src/engine/types.js';

const pod: PodPlan = { namespace: 'shop', name: 'web-1', uid: 'u1', podClass: 'movable', action: 'evict', reason: '', priority: 0, pdbs: ['shop/web'] };

/** An ApiException as client-node raises it; `details` as the API server writes them (cause types under "reason"). */
function apiError(code: number, message: string, headers: Record<string, string> = {}, details?: Record<string, unknown>) {
  return Object.assign(new Error(`HTTP ${code}`), { code, body: JSON.stringify({ kind: 'Status', code, message, details }), headers });
}

const BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";
/** A 429 as the eviction handler sends it: the PDB is named only in the DisruptionBudget cause. */
function budgetRefusal(pdbName: string, retryAfter?: number) {
  const cause = retryAfter
    ? `The disruption budget ${pdbName} is still being processed by the server.`
    : `The disruption budget ${pdbName} needs 1 healthy pods and has 1 currently`;
  return apiError(429, BUDGET_MESSAGE, retryAfter ? { 'retry-after': String(retryAfter) } : {}, {
    causes: [{ reason: 'DisruptionBudget', message: cause }],
    ...(retryAfter ? { retryAfterSeconds: retryAfter } : {}),
  });
}

function setup(answers: unknown[], dryRun = false, opts: { pdbStatus?: V1PodDisruptionBudget['status']; deleteAnswer?: unknown } = {}) {
  const calls: { evictions: number; deletes: unknown[]; waits: { pdb?: string; retryAfterSeconds?: number; seen?: string; podReady?: boolean }[]; settled: number; marks: string[]; sleeps: number[] } = {
    evictions: 0,
    deletes: [],
    waits: [],
    settled: 0,
    marks: [],
    sleeps: [],
  };
  const client = {
    evict: async () => {
      const a = answers[calls.evictions++];
      if (a) throw a;
    },
    deletePod: async (req: unknown) => {
      calls.deletes.push(req);
      if (opts.deleteAnswer) throw opts.deleteAnswer;
    },
    // A ready API server: its 403s are final.
    forbiddenWhileStarting: async () => false,
  } as unknown as KubeClient;
  const budgets = {
    wait: async (pdb: string | undefined, o: { retryAfterSeconds?: number; seenResourceVersion?: string; podReady?: () => boolean | undefined }) => {
      calls.waits.push({ pdb, retryAfterSeconds: o.retryAfterSeconds, seen: o.seenResourceVersion, ...(o.podReady ? { podReady: o.podReady() } : {}) });
      return { reason: 'budget', settle: () => calls.settled++ };
    },
  } as unknown as BudgetWaiter;
  const pdbWatch = { get: () => ({ metadata: { resourceVersion: '42' }, status: opts.pdbStatus }) } as unknown as ResourceWatch<V1PodDisruptionBudget>;
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
const refused = () => budgetRefusal('web');

/** Runs `fn` with timers that fire at once, recording the delays asked for. */
async function withInstantTimers<T>(sleeps: number[], fn: () => Promise<T>): Promise<T> {
  const realSetTimeout = global.setTimeout;
  global.setTimeout = ((cb: () => void, ms: number) => (sleeps.push(ms), realSetTimeout(cb, 0))) as typeof setTimeout;
  try {
    return await fn();
  } finally {
    global.setTimeout = realSetTimeout;
  }
}

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

  describe('an eviction of this pod the API server admitted but never carried out (its PDB counts it as disrupted)', () => {
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    const status = (at: string) => ({ disruptionsAllowed: 0, disruptedPods: { 'web-1': at } as unknown as Record<string, Date> });

    it('is finished with a DELETE of that pod (UID precondition, the drain\'s grace period) instead of a 2-minute wait', async () => {
      const { deps, r, calls } = setup([refused()], false, { pdbStatus: status(ago(10_000)) });
      await evictWithBudget(deps, pod, r, signal);
      expect(calls.deletes).toEqual([{ namespace: 'shop', name: 'web-1', uid: 'u1', gracePeriodSeconds: -1 }]);
      expect(calls.waits).toEqual([]);
      expect(r).toMatchObject({ outcome: 'evicted', pdb: 'shop/web' });
      expect(r.message).toMatch(/^deleted: PDB shop\/web has counted it as evicted since /);
    });

    it('without the permission to delete pods, waits as before and does not ask again', async () => {
      const forbidden = apiError(403, 'pods "web-1" is forbidden: User "ci" cannot delete resource "pods"');
      const { deps, r, calls } = setup([refused(), refused(), undefined], false, { pdbStatus: status(ago(10_000)), deleteAnswer: forbidden });
      await evictWithBudget(deps, pod, r, signal);
      expect(calls.deletes).toHaveLength(1);
      expect(calls.waits).toHaveLength(2);
      expect(r.outcome).toBe('evicted');
    });

    it('an entry too young to judge (its delete may be under way) is looked at again once old enough, never deleted at once', async () => {
      const { deps, r, calls } = setup([refused(), undefined], false, { pdbStatus: status(ago(1_000)) });
      await evictWithBudget(deps, pod, r, signal);
      expect(calls.deletes).toEqual([]);
      expect(calls.waits[0]?.retryAfterSeconds).toBeGreaterThanOrEqual(4);
      expect(calls.waits[0]?.retryAfterSeconds).toBeLessThanOrEqual(6);
    });

    it('an entry about to expire is left to expire (a delete then would spend the budget again)', async () => {
      const { deps, r, calls } = setup([refused(), undefined], false, { pdbStatus: status(ago(100_000)) });
      await evictWithBudget(deps, pod, r, signal);
      expect(calls.deletes).toEqual([]);
      expect(calls.waits).toHaveLength(1);
    });
  });

  it('passes Retry-After to the wait', async () => {
    const { deps, r, calls } = setup([budgetRefusal('web', 10), undefined]);
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
    const forbidden = setup([apiError(403, 'pods "web-1" is forbidden: User "ci" cannot create resource "pods/eviction" in API group "" in the namespace "shop"', {}, { name: 'web-1', kind: 'pods' })]);
    await expect(evictWithBudget(forbidden.deps, pod, forbidden.r, signal)).rejects.toThrow(/rbac\/safe-drain-clusterrole\.yaml/);
  });

  it('names the PDB from the answer when the plan knew none (a PDB created after planning), and waits on it', async () => {
    const { deps, r, calls } = setup([budgetRefusal('late-pdb'), undefined]);
    await evictWithBudget(deps, { ...pod, pdbs: [] }, r, signal);
    expect(calls.waits).toEqual([{ pdb: 'shop/late-pdb', retryAfterSeconds: undefined, seen: undefined }]);
    expect(r).toMatchObject({ outcome: 'evicted', budgetWaits: 1, pdb: 'shop/late-pdb' });
  });

  it('a blocked dry run names the PDB and what it needs, from the answer', async () => {
    const { deps, r } = setup([budgetRefusal('web')], true);
    await evictWithBudget(deps, { ...pod, pdbs: [] }, r, signal);
    expect(r).toMatchObject({ outcome: 'blocked', pdb: 'shop/web', message: 'would wait: The disruption budget web needs 1 healthy pods and has 1 currently' });
  });

  it("retries a resourceVersion conflict (the handler's own precondition) instead of calling the pod gone", async () => {
    const rvConflict = apiError(
      409,
      'Operation cannot be fulfilled on Pod "web-1": the ResourceVersion in the precondition (10) does not match the ResourceVersion in record (11). The object might have been modified',
      {},
      { name: 'web-1', kind: 'Pod' },
    );
    const { deps, r, calls } = setup([rvConflict, undefined]);
    await withInstantTimers(calls.sleeps, () => evictWithBudget(deps, pod, r, signal));
    expect(calls.evictions).toBe(2);
    expect(r.outcome).toBe('evicted');
    expect(r.message).toBeUndefined(); // not 'already gone'
  });

  it('tells the waiter whether the pod is Ready, read when the waiter asks', async () => {
    const { deps, r, calls } = setup([refused(), undefined]);
    await evictWithBudget({ ...deps, podReady: (p) => (p.name === 'web-1' ? false : undefined) }, pod, r, signal);
    expect(calls.waits[0]).toMatchObject({ pdb: 'shop/web', podReady: false });
  });

  it('retries "DisruptedPods map too big" (403) with backoff honouring Retry-After, bounded, naming pod and PDB; never as a permission failure', async () => {
    const tooBig = (retryAfter?: string) =>
      apiError(
        403,
        'poddisruptionbudget.policy "web" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller',
        retryAfter ? { 'retry-after': retryAfter } : {},
        { name: 'web', group: 'policy', kind: 'poddisruptionbudget' },
      );
    const once = setup([tooBig('30'), undefined]);
    await withInstantTimers(once.calls.sleeps, () => evictWithBudget(once.deps, { ...pod, pdbs: [] }, once.r, signal));
    expect(once.r).toMatchObject({ outcome: 'evicted', pdb: 'shop/web' });
    expect(once.calls.sleeps).toEqual([30_000]);

    const always = setup(Array.from({ length: 40 }, () => tooBig()));
    const err = await withInstantTimers(always.calls.sleeps, () => evictWithBudget(always.deps, pod, always.r, signal).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(PodFailure);
    expect((err as Error).message).toMatch(/^eviction of shop\/web-1 \(PDB shop\/web\) refused 17 times/);
    expect((err as Error).message).not.toMatch(/rbac/);
    expect(always.calls.evictions).toBe(17);
    expect(Math.max(...always.calls.sleeps)).toBe(10_000);
    expect(always.calls.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(120_000); // outlasts the controller's 2-minute expiry
  });

  it('retries transient errors for as long as an API outage is ridden out (time, not a count), then fails naming pod and PDB', async () => {
    const { deps, r, calls } = setup(Array.from({ length: 40 }, () => apiError(503, 'unavailable')));
    // Each sleep moves the clock on by what it asked for.
    const realNow = Date.now;
    let slept = 0;
    Date.now = () => realNow() + slept;
    try {
      await withInstantTimers(calls.sleeps, () => {
        const evicting = evictWithBudget(deps, pod, r, signal);
        const tick = setInterval(() => (slept = calls.sleeps.reduce((a, b) => a + b, 0)), 0);
        return expect(evicting.finally(() => clearInterval(tick))).rejects.toThrow(/^eviction of shop\/web-1 \(PDB shop\/web\) failed \d+ times over \d+s: HTTP 503/);
      });
    } finally {
      Date.now = realNow;
    }
    expect(calls.sleeps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 8000]);
    const total = calls.sleeps.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(API_OUTAGE_BOUND_MS - 10_000);
    expect(total).toBeLessThanOrEqual(API_OUTAGE_BOUND_MS + 10_000);
  });

  it('stops when the deadline has passed', async () => {
    const { deps, r } = setup([undefined]);
    const ctl = new AbortController();
    ctl.abort(new Error('timeout of 5s expired'));
    await expect(evictWithBudget(deps, pod, r, ctl.signal)).rejects.toThrow(WaitAborted);
  });
});

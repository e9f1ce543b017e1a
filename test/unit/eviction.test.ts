// The eviction loop's decisions, with the API server's answers scripted (what those answers are
// in reality is tested against a real control plane in test/integration), on a fake clock.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { PodFailure, WaitAborted } from '../../src/engine/errors.js';
import type { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { evictWithBudget, type EvictionApi, type EvictionEnv } from '../../src/engine/execute/eviction.js';
import { API_OUTAGE_BOUND_MS } from '../../src/engine/kube/client.js';
import type { Watch } from '../../src/engine/kube/watch.js';
import type { PodPlan, PodResult } from '../../src/engine/types.js';
import { FakeClock } from './fixtures/fake-clock.js';

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

interface Calls {
  evictions: number;
  deletes: unknown[];
  pdbReads: number;
  waits: { pdb?: string; retryAfterSeconds?: number; seen?: string; podReady?: boolean }[];
  settled: number;
  marks: string[];
  /** Delays the loop slept (its backoff), in the order asked. */
  sleeps: number[];
}

interface SetupOptions {
  pdbStatus?: V1PodDisruptionBudget['status'];
  deleteAnswer?: unknown;
  /** The pod as the drain's watch holds it (default: web-1, uid u1, created an hour ago). */
  podNow?: V1Pod | undefined;
}

function setup(answers: unknown[], dryRun = false, opts: SetupOptions = {}) {
  const clock = new FakeClock();
  const calls: Calls = { evictions: 0, deletes: [], pdbReads: 0, waits: [], settled: 0, marks: [], sleeps: [] };
  const after = clock.after.bind(clock);
  clock.after = (ms, fn) => (calls.sleeps.push(ms), after(ms, fn));
  const pdbObject = (): V1PodDisruptionBudget => ({ metadata: { namespace: 'shop', name: 'web', resourceVersion: '42', generation: 1 }, status: opts.pdbStatus });
  const api: EvictionApi = {
    evict: async () => {
      const a = answers[calls.evictions++];
      if (a) throw a;
    },
    deletePod: async (req) => {
      calls.deletes.push(req);
      if (opts.deleteAnswer) throw opts.deleteAnswer;
    },
    getPdb: async () => (calls.pdbReads++, pdbObject()),
    // A ready API server: its 403s are final.
    forbiddenWhileStarting: async () => false,
  };
  const budgets = {
    wait: async (pdb: string | undefined, o: { retryAfterSeconds?: number; seenResourceVersion?: string; podReady?: () => boolean | undefined }) => {
      calls.waits.push({ pdb, retryAfterSeconds: o.retryAfterSeconds, seen: o.seenResourceVersion, ...(o.podReady ? { podReady: o.podReady() } : {}) });
      return { reason: 'budget', settle: () => calls.settled++ };
    },
  } as unknown as BudgetWaiter;
  const pdbs = { get: () => pdbObject() } as unknown as Watch<V1PodDisruptionBudget>;
  const created = new Date(clock.now() - 3_600_000).toISOString();
  const current: V1Pod | undefined = 'podNow' in opts ? opts.podNow : { metadata: { namespace: 'shop', name: 'web-1', uid: 'u1', creationTimestamp: created as unknown as Date } };
  const noop = () => undefined;
  const env: EvictionEnv = {
    api,
    clock,
    budgets,
    pdbs,
    logger: { info: noop, warn: noop, error: noop, debug: noop, group: (_n, fn) => fn() },
    gracePeriodSeconds: -1,
    dryRun,
    mark: (phase, _s, m) => calls.marks.push(`${phase}: ${m}`),
    podNow: () => current,
  };
  const r: PodResult = { pod: 'shop/web-1', outcome: 'blocked', budgetWaits: 0 };
  /** Runs the eviction to its end, moving the fake clock through every backoff it asks for. */
  const run = async (p: PodPlan = pod, e: EvictionEnv = env, signal: AbortSignal = new AbortController().signal) => {
    let settled = false;
    const done = evictWithBudget(e, p, r, signal).finally(() => (settled = true));
    done.catch(() => undefined); // awaited by the caller once the clock has run
    await clock.runUntil(() => settled, 3_600_000);
    return done;
  };
  return { env, r, calls, clock, run };
}

const refused = () => budgetRefusal('web');

describe('evictWithBudget', () => {
  it('waits on the PDB after each 429, settles each wake after the next attempt, and ends evicted', async () => {
    const { r, calls, run } = setup([refused(), refused(), undefined]);
    await run();
    expect(calls.evictions).toBe(3);
    expect(calls.waits).toEqual([
      { pdb: 'shop/web', retryAfterSeconds: undefined, seen: '42', podReady: false },
      { pdb: 'shop/web', retryAfterSeconds: undefined, seen: '42', podReady: false },
    ]);
    expect(calls.settled).toBe(2);
    expect(r).toMatchObject({ outcome: 'evicted', budgetWaits: 2, pdb: 'shop/web' });
    expect(calls.marks).toEqual(['wait: waiting for PDB shop/web', 'evict: eviction accepted']);
  });

  describe('an eviction of this pod the API server admitted but never carried out (its PDB counts it as disrupted)', () => {
    const status = (clock: FakeClock, agoMs: number, health = { currentHealthy: 2, desiredHealthy: 2 }) => ({
      observedGeneration: 1,
      disruptionsAllowed: 0,
      expectedPods: 3,
      ...health,
      disruptedPods: { 'web-1': new Date(clock.now() - agoMs).toISOString() } as unknown as Record<string, Date>,
    });
    /** setup() whose PDB status is made from its own clock. */
    const withEntry = (answers: unknown[], agoMs: number, opts: Omit<SetupOptions, 'pdbStatus'> & { health?: { currentHealthy: number; desiredHealthy: number } } = {}) => {
      const rig = setup(answers, false, opts);
      const st = status(rig.clock, agoMs, opts.health);
      rig.env.pdbs = { get: () => ({ metadata: { namespace: 'shop', name: 'web', resourceVersion: '42', generation: 1 }, status: st }) } as unknown as Watch<V1PodDisruptionBudget>;
      rig.env.api = { ...rig.env.api, getPdb: async () => (rig.calls.pdbReads++, { metadata: { namespace: 'shop', name: 'web', generation: 1 }, status: st }) };
      return rig;
    };

    it("is finished with a DELETE of that pod (UID precondition, the drain's grace period) when the budget, read now, is met without it", async () => {
      const { r, calls, run } = withEntry([refused()], 10_000);
      await run();
      expect(calls.pdbReads).toBe(1);
      expect(calls.deletes).toEqual([{ namespace: 'shop', name: 'web-1', uid: 'u1', gracePeriodSeconds: -1 }]);
      expect(calls.waits).toEqual([]);
      expect(r).toMatchObject({ outcome: 'evicted', pdb: 'shop/web' });
      expect(r.message).toMatch(/^deleted: PDB shop\/web has counted it as evicted since .* and is met without it/);
    });

    it('is never deleted while the budget, read now, is not met without it: the wait says why', async () => {
      // Issue 19 item 1: a Ready pod whose sibling is not Ready (healthy 0 / desired 1).
      const { r, calls, run } = withEntry([refused(), undefined], 10_000, { health: { currentHealthy: 0, desiredHealthy: 1 } });
      await run();
      expect(calls.deletes).toEqual([]);
      expect(calls.waits).toHaveLength(1);
      expect(r.outcome).toBe('evicted'); // by the eviction that the budget later admitted
    });

    it('names why in the message while it waits', async () => {
      const { r, calls, env } = withEntry([refused()], 10_000, { health: { currentHealthy: 0, desiredHealthy: 1 } });
      const stop = new AbortController();
      env.budgets = { wait: async () => (stop.abort(new Error('timeout of 1s expired')), Promise.reject(new WaitAborted('timeout of 1s expired'))) } as unknown as BudgetWaiter;
      await expect(evictWithBudget(env, pod, r, stop.signal)).rejects.toThrow(WaitAborted);
      expect(calls.deletes).toEqual([]);
      expect(r.message).toMatch(/budget is not met without it now \(healthy 0 \/ desired 1/);
    });

    it("an entry older than the pod (a same-named predecessor's) is not this pod's to finish", async () => {
      const rig = setup([refused(), undefined], false);
      const young: V1Pod = { metadata: { namespace: 'shop', name: 'web-1', uid: 'u1', creationTimestamp: new Date(rig.clock.now() - 5_000).toISOString() as unknown as Date } };
      const again = withEntry([refused(), undefined], 10_000, { podNow: young });
      await again.run();
      expect(again.calls.deletes).toEqual([]);
      expect(again.calls.waits).toHaveLength(1);
    });

    it('without the permission to delete pods, waits as before and does not ask again', async () => {
      const forbidden = apiError(403, 'pods "web-1" is forbidden: User "ci" cannot delete resource "pods"');
      const { r, calls, run } = withEntry([refused(), refused(), undefined], 10_000, { deleteAnswer: forbidden });
      await run();
      expect(calls.deletes).toHaveLength(1);
      expect(calls.waits).toHaveLength(2);
      expect(r.outcome).toBe('evicted');
    });

    it('an entry too young to judge (its delete may be under way) is looked at again once old enough, never deleted at once', async () => {
      const { calls, run } = withEntry([refused(), undefined], 1_000);
      await run();
      expect(calls.deletes).toEqual([]);
      expect(calls.waits[0]?.retryAfterSeconds).toBeGreaterThanOrEqual(4);
      expect(calls.waits[0]?.retryAfterSeconds).toBeLessThanOrEqual(6);
    });

    it('an entry about to expire is left to expire (a delete then would spend the budget again)', async () => {
      const { calls, run } = withEntry([refused(), undefined], 100_000);
      await run();
      expect(calls.deletes).toEqual([]);
      expect(calls.waits).toHaveLength(1);
    });
  });

  it('passes Retry-After to the wait', async () => {
    const { calls, run } = setup([budgetRefusal('web', 10), undefined]);
    await run();
    expect(calls.waits[0]?.retryAfterSeconds).toBe(10);
  });

  it('in a dry run, a refusal is reported as blocked without waiting', async () => {
    const { r, calls, run } = setup([refused()], true);
    await run();
    expect(calls.waits).toEqual([]);
    expect(r.outcome).toBe('blocked');
    expect(r.message).toMatch(/^would wait/);
  });

  it('a pod under two PDBs, or a forbidden eviction, fails with what to do', async () => {
    const two = setup([apiError(500, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.')]);
    await expect(two.run()).rejects.toThrow(PodFailure);
    const forbidden = setup([apiError(403, 'pods "web-1" is forbidden: User "ci" cannot create resource "pods/eviction" in API group "" in the namespace "shop"', {}, { name: 'web-1', kind: 'pods' })]);
    await expect(forbidden.run()).rejects.toThrow(/rbac\/safe-drain-clusterrole\.yaml/);
  });

  it('names the PDB from the answer when the plan knew none (a PDB created after planning), and waits on it', async () => {
    const { r, calls, run } = setup([budgetRefusal('late-pdb'), undefined]);
    await run({ ...pod, pdbs: [] });
    expect(calls.waits).toEqual([{ pdb: 'shop/late-pdb', retryAfterSeconds: undefined, seen: undefined, podReady: false }]);
    expect(r).toMatchObject({ outcome: 'evicted', budgetWaits: 1, pdb: 'shop/late-pdb' });
  });

  it('a blocked dry run names the PDB and what it needs, from the answer', async () => {
    const { r, run } = setup([budgetRefusal('web')], true);
    await run({ ...pod, pdbs: [] });
    expect(r).toMatchObject({ outcome: 'blocked', pdb: 'shop/web', message: 'would wait: The disruption budget web needs 1 healthy pods and has 1 currently' });
  });

  it("retries a resourceVersion conflict (the handler's own precondition) instead of calling the pod gone", async () => {
    const rvConflict = apiError(
      409,
      'Operation cannot be fulfilled on Pod "web-1": the ResourceVersion in the precondition (10) does not match the ResourceVersion in record (11). The object might have been modified',
      {},
      { name: 'web-1', kind: 'Pod' },
    );
    const { r, calls, run } = setup([rvConflict, undefined]);
    await run();
    expect(calls.evictions).toBe(2);
    expect(r.outcome).toBe('evicted');
    expect(r.message).toBeUndefined(); // not 'already gone'
  });

  it('tells the waiter whether the pod is Ready, read when the waiter asks', async () => {
    const ready: V1Pod = { metadata: { namespace: 'shop', name: 'web-1', uid: 'u1' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    const { calls, run } = setup([refused(), undefined], false, { podNow: ready });
    await run();
    expect(calls.waits[0]).toMatchObject({ pdb: 'shop/web', podReady: true });
    const other = setup([refused(), undefined], false, { podNow: { metadata: { namespace: 'shop', name: 'web-1', uid: 'another' } } });
    await other.run();
    expect(other.calls.waits[0]).not.toHaveProperty('podReady', false); // another pod of that name says nothing about ours
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
    await once.run({ ...pod, pdbs: [] });
    expect(once.r).toMatchObject({ outcome: 'evicted', pdb: 'shop/web' });
    expect(once.calls.sleeps).toEqual([30_000]);

    const always = setup(Array.from({ length: 40 }, () => tooBig()));
    const err = await always.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PodFailure);
    expect((err as Error).message).toMatch(/^eviction of shop\/web-1 \(PDB shop\/web\) refused 17 times/);
    expect((err as Error).message).not.toMatch(/rbac/);
    expect(always.calls.evictions).toBe(17);
    expect(Math.max(...always.calls.sleeps)).toBe(10_000);
    expect(always.calls.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(120_000); // outlasts the controller's 2-minute expiry
  });

  it('retries transient errors for as long as an API outage is ridden out (time, not a count), then fails naming pod and PDB', async () => {
    const { calls, clock, run } = setup(Array.from({ length: 40 }, () => apiError(503, 'unavailable')));
    const started = clock.now();
    await expect(run()).rejects.toThrow(/^eviction of shop\/web-1 \(PDB shop\/web\) failed \d+ times over \d+s: HTTP 503/);
    expect(calls.sleeps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(clock.now() - started).toBeGreaterThanOrEqual(API_OUTAGE_BOUND_MS);
    expect(clock.now() - started).toBeLessThanOrEqual(API_OUTAGE_BOUND_MS + 10_000);
  });

  it('stops when the deadline has passed', async () => {
    const { run } = setup([undefined]);
    const ctl = new AbortController();
    ctl.abort(new Error('timeout of 5s expired'));
    await expect(run(pod, undefined, ctl.signal)).rejects.toThrow(WaitAborted);
  });
});

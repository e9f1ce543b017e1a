// Pure parts of execution: budget gating, bounded concurrency, migration choice, required
// permissions. (What an API answer means: eviction-answers.test.ts; the API server's own decisions are tested in
// test/integration against a real control plane.)
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { systemClock } from '../../src/engine/clock.js';
import { WaitAborted } from '../../src/engine/errors.js';
import { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { chooseMigration, resolveIntOrPercent } from '../../src/engine/execute/migrate.js';
import { formatBudget } from '../../src/engine/plan/pdb.js';
import { runBounded } from '../../src/engine/wait.js';
import { FakeClock } from './fixtures/fake-clock.js';
import { describeAccess, requiredAccess } from '../../src/engine/kube/access.js';
import { deploymentCanSurge } from '../../src/engine/kube/plan-input.js';
import type { ResourceWatch, WatchListener } from '../../src/engine/kube/watch.js';

function pdb(name: string, allowed: number, rv: string, observed = true): V1PodDisruptionBudget {
  return {
    metadata: { name, namespace: 'ns', generation: 2, resourceVersion: rv },
    status: { disruptionsAllowed: allowed, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, observedGeneration: observed ? 2 : 1 },
  };
}

/** The part of ResourceWatch the waiter uses, driven by hand. */
function fakeWatch(initial: V1PodDisruptionBudget[]) {
  const cache = new Map(initial.map((p) => [`ns/${p.metadata!.name}`, p]));
  const listeners = new Set<WatchListener<V1PodDisruptionBudget>>();
  return {
    get: (k: string) => cache.get(k),
    subscribe: (l: WatchListener<V1PodDisruptionBudget>) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', p: V1PodDisruptionBudget) {
      if (type === 'DELETED') cache.delete(`ns/${p.metadata!.name}`);
      else cache.set(`ns/${p.metadata!.name}`, p);
      for (const l of listeners) l(type, p);
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('BudgetWaiter', () => {
  it('releases at most disruptionsAllowed waiters per PDB, counting those not yet settled', async () => {
    const w = fakeWatch([pdb('web', 0, '1')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 60_000);
    const signal = new AbortController().signal;
    const woken: string[] = [];
    const wakes = ['a', 'b', 'c'].map((id) => waiter.wait('ns/web', { signal, seenResourceVersion: '1' }).then((x) => (woken.push(id), x)));
    await flush();
    expect(woken).toEqual([]);
    w.emit('MODIFIED', pdb('web', 1, '2'));
    await flush();
    expect(woken).toEqual(['a']);
    // A stale event that still says 1 allowed does not release another while 'a' is in flight.
    w.emit('MODIFIED', pdb('web', 1, '3'));
    await flush();
    expect(woken).toEqual(['a']);
    (await wakes[0]!).settle();
    w.emit('MODIFIED', pdb('web', 2, '4'));
    await flush();
    expect(woken).toEqual(['a', 'b', 'c']);
    expect((await wakes[1]!).reason).toBe('budget');
    waiter.close();
  });

  it('does not release on a status the disruption controller has not observed yet', async () => {
    const w = fakeWatch([pdb('web', 0, '1')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 60_000);
    let woken = false;
    void waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '1' }).then(() => (woken = true));
    w.emit('MODIFIED', pdb('web', 1, '2', false));
    await flush();
    expect(woken).toBe(false);
    w.emit('MODIFIED', pdb('web', 1, '3', true));
    await flush();
    expect(woken).toBe(true);
  });

  it('releases at once when the cache already holds a newer status that allows, but not on the status that refused', async () => {
    const w = fakeWatch([pdb('web', 1, '7'), pdb('api', 1, '9')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 60_000);
    const signal = new AbortController().signal;
    let stale = false;
    void waiter.wait('ns/web', { signal, seenResourceVersion: '7' }).then(() => (stale = true));
    await flush();
    expect(stale).toBe(false);
    const fresh = await waiter.wait('ns/api', { signal, seenResourceVersion: '8' });
    expect(fresh.reason).toBe('budget');
  });

  it('releases a waiter whose pod the PDB no longer selects (selector changed), without waiting for the fallback', async () => {
    const selecting = (app: string, rv: string): V1PodDisruptionBudget => ({ ...pdb('web', 0, rv), spec: { selector: { matchLabels: { app } } } });
    const w = fakeWatch([selecting('web', '1')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 60_000);
    let reason: string | undefined;
    void waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '1', podLabels: () => ({ app: 'web' }) }).then((x) => (reason = x.reason));
    w.emit('MODIFIED', selecting('web', '2'));
    await flush();
    expect(reason).toBeUndefined();
    w.emit('MODIFIED', selecting('other', '3'));
    await flush();
    expect(reason).toBe('not-selected');
  });

  it('wakes everyone when the PDB is deleted', async () => {
    const w = fakeWatch([pdb('web', 0, '1')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 60_000);
    const p = waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '1' });
    w.emit('DELETED', pdb('web', 0, '2'));
    expect((await p).reason).toBe('budget');
  });

  it('honours Retry-After and the bounded fallback, and rejects on abort', async () => {
    const clock = new FakeClock();
    const w = fakeWatch([pdb('web', 0, '1')]);
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, clock, 30_000);
    const ctl = new AbortController();
    const woke: string[] = [];
    void waiter.wait('ns/web', { signal: ctl.signal, retryAfterSeconds: 10, seenResourceVersion: '1' }).then((x) => woke.push(`retry ${x.reason}`));
    void waiter.wait('ns/web', { signal: ctl.signal, seenResourceVersion: '1' }).then((x) => woke.push(`fallback ${x.reason}`));
    await clock.advance(9_999);
    expect(woke).toEqual([]);
    await clock.advance(1);
    expect(woke).toEqual(['retry retry-after']);
    await clock.advance(20_000);
    expect(woke).toEqual(['retry retry-after', 'fallback fallback']);
    const aborted = waiter.wait('ns/web', { signal: ctl.signal, seenResourceVersion: '1' });
    ctl.abort(new Error('timeout of 5s expired'));
    await expect(aborted).rejects.toThrow(WaitAborted);
    expect(clock.pending).toBe(0);
  });

  it('describes a budget with its numbers', () => {
    expect(formatBudget(pdb('web', 0, '1'))).toBe('healthy 2 / desired 1 / expected 2 / allowed 0');
    expect(formatBudget(pdb('web', 0, '1', false))).toMatch(/not yet observed/);
  });
});

describe('runBounded', () => {
  it('never runs more than the limit at once, runs every task, and settles failures', async () => {
    let running = 0;
    let peak = 0;
    const tasks = Array.from({ length: 7 }, (_, i) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (i === 3) throw new Error('boom');
      return i;
    });
    const results = await runBounded(3, tasks);
    expect(peak).toBe(3);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  });
});

function dep(replicas: number, strategy?: V1Deployment['spec'] extends infer S ? (S extends { strategy?: infer T } ? T : never) : never): V1Deployment {
  return { spec: { replicas, strategy, selector: {}, template: {} } };
}

describe('migration choice', () => {
  it('resolves int-or-percent like the Deployment controller (surge rounds up, unavailable down)', () => {
    expect(resolveIntOrPercent('25%', '25%', 1, true)).toBe(1);
    expect(resolveIntOrPercent('25%', '25%', 1, false)).toBe(0);
    expect(resolveIntOrPercent('25%', '25%', 4, false)).toBe(1);
    expect(resolveIntOrPercent(2, '25%', 4, false)).toBe(2);
    expect(resolveIntOrPercent(undefined, '25%', 8, true)).toBe(2);
  });
  it('a default single-replica Deployment surges: rollout restart', () => {
    expect(chooseMigration(dep(1), undefined).method).toBe('rollout-restart');
  });
  it('Recreate, or a rollout that would take pods down, scales up instead', () => {
    expect(chooseMigration(dep(1, { type: 'Recreate' }), undefined).method).toBe('scale-up');
    expect(chooseMigration(dep(4), undefined).method).toBe('scale-up'); // maxUnavailable 25% of 4 = 1
    expect(chooseMigration(dep(4, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }), undefined).method).toBe('rollout-restart');
    expect(chooseMigration(dep(1, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } }), undefined).method).toBe('scale-up');
  });
  it('never scales a Deployment an HPA manages; explains why', () => {
    const c = chooseMigration(dep(1, { type: 'Recreate' }), 'shop/web');
    expect(c.method).toBe('evict');
    expect(c.why).toMatch(/HPA shop\/web.*fight the HPA/);
    expect(chooseMigration(dep(1), 'shop/web').method).toBe('rollout-restart');
  });
  it('deploymentCanSurge follows the strategy', () => {
    expect(deploymentCanSurge(dep(1))).toBe(true);
    expect(deploymentCanSurge(dep(1, { type: 'Recreate' }))).toBe(false);
    expect(deploymentCanSurge(dep(1, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0 } }))).toBe(false);
    expect(deploymentCanSurge(dep(1, { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0%' } }))).toBe(false);
  });
});

describe('requiredAccess', () => {
  const names = (q: ReturnType<typeof requiredAccess>) => q.map(describeAccess);
  it('plan only reads', () => {
    expect(names(requiredAccess('plan', true)).every((n) => /^(get|list|watch) /.test(n))).toBe(true);
  });
  it('drain needs eviction and, to undo what a killed run left, Deployment list/patch; surge adds the watch', () => {
    expect(names(requiredAccess('drain', false))).toContain('create pods/eviction');
    expect(names(requiredAccess('drain', false))).toEqual(expect.arrayContaining(['list deployments.apps', 'patch deployments.apps']));
    expect(names(requiredAccess('drain', false))).not.toContain('watch deployments.apps');
    expect(names(requiredAccess('drain', true))).toContain('watch deployments.apps');
    expect(names(requiredAccess('uncordon', false))).toContain('patch deployments.apps');
    expect(names(requiredAccess('drain', false, true))).toContain('watch statefulsets.apps');
  });
  it('asks for each permission once (one SelfSubjectAccessReview request each)', () => {
    for (const op of ['drain', 'uncordon', 'plan', 'cordon'] as const) {
      const asked = names(requiredAccess(op, true, true));
      expect(asked).toEqual([...new Set(asked)]);
    }
    expect(names(requiredAccess('plan', true))).toEqual(expect.arrayContaining(['list replicasets.apps', 'list deployments.apps']));
  });
  it('cordon patches nodes and records events', () => {
    expect(names(requiredAccess('cordon', true))).toEqual(['get nodes', 'patch nodes', 'create events']);
  });
});

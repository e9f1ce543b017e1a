// What the API server's eviction answers mean, on Status bodies as kube-apiserver 1.37 writes them
// (texts from pkg/registry/core/pod/storage/eviction.go and k8s.io/apiserver pkg/storage
// Preconditions.Check; the ones a test cluster can produce are also checked against a real API
// server in test/integration/eviction-answers.test.ts). And which not-Ready pods the API server
// admits outside the budget, as the BudgetWaiter reads it from a cached PDB.
import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { systemClock } from '../../src/engine/clock.js';
import { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { admitsNotReadyPod } from '../../src/engine/plan/pdb.js';
import { evictOnce } from '../../src/engine/execute/evict.js';
import type { KubeClient } from '../../src/engine/kube/client.js';
import { parseApiError } from '../../src/engine/kube/errors.js';
import type { ResourceWatch, WatchListener } from '../../src/engine/kube/watch.js';

/** An ApiException as client-node 2.x raises it: HTTP code, the Status body as JSON text, headers. */
function statusError(code: number, status: Record<string, unknown>, headers: Record<string, string> = {}) {
  const body = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code, ...status };
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify(body), headers });
}

const BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget.";

/** checkAndDecrement, disruptionsAllowed == 0: retry-after 0 (omitted), no Retry-After header. */
const budgetRefusal = statusError(429, {
  message: BUDGET_MESSAGE,
  reason: 'TooManyRequests',
  details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb needs 1 healthy pods and has 1 currently' }] },
});
/** createTooManyRequestsError: status not yet observed (or a not-Ready pod's resourceVersion conflict). */
const budgetNotObserved = statusError(
  429,
  {
    message: BUDGET_MESSAGE,
    reason: 'TooManyRequests',
    details: { causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb is still being processed by the server.' }], retryAfterSeconds: 10 },
  },
  { 'retry-after': '10' },
);
const budgetSyncFailed = statusError(429, {
  message: BUDGET_MESSAGE,
  reason: 'TooManyRequests',
  details: {
    causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web.v2 does not allow evicting pods currently because it failed sync: found no controllers for pod "web-1"' }],
  },
});
/** errors.NewConflict over the eviction handler's own checks (getLatestPod). */
const conflict = (detail: string) =>
  statusError(409, {
    message: `Operation cannot be fulfilled on Pod "web-1": ${detail}`,
    reason: 'Conflict',
    details: { name: 'web-1', kind: 'Pod' },
  });
/** errors.NewConflict over storage Preconditions.Check (dry run deletes go straight to storage). */
const storageConflict = (detail: string) =>
  statusError(409, {
    message: `Operation cannot be fulfilled on pods "web-1": ${detail}`,
    reason: 'Conflict',
    details: { name: 'web-1', kind: 'pods' },
  });
/** checkAndDecrement, len(status.disruptedPods) > 2000 (1.37 adds the cause; older servers do not). */
const disruptedPodsTooBig = statusError(403, {
  message: 'poddisruptionbudget.policy "web-pdb" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller',
  reason: 'Forbidden',
  details: {
    name: 'web-pdb',
    group: 'policy',
    kind: 'poddisruptionbudget',
    causes: [{ reason: 'DisruptionBudget', message: 'The disruption budget web-pdb does not allow evicting pods currently: too many pending evictions not confirmed by PDB controller' }],
  },
});
const disruptedPodsTooBigOld = statusError(403, {
  message: 'poddisruptionbudget.policy "web-pdb" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller',
  reason: 'Forbidden',
  details: { name: 'web-pdb', group: 'policy', kind: 'poddisruptionbudget' },
});
const rbacForbidden = statusError(403, {
  message: 'pods "web-1" is forbidden: User "system:serviceaccount:ci:drainer" cannot create resource "pods/eviction" in API group "" in the namespace "shop"',
  reason: 'Forbidden',
  details: { name: 'web-1', kind: 'pods' },
});
/** API Priority and Fairness rejecting the request: a 429 that is not about any budget. */
const throttled = statusError(429, { message: 'Too many requests, please try again later.', reason: 'TooManyRequests', details: { retryAfterSeconds: 1 } }, { 'retry-after': '1' });

const req = { namespace: 'shop', name: 'web-1', uid: 'u1', gracePeriodSeconds: -1, dryRun: false };
const answer = (err: unknown, apiServerReady = true) =>
  evictOnce({ evict: () => Promise.reject(err), forbiddenWhileStarting: async () => !apiServerReady } as unknown as KubeClient, req);

describe('a 429 names its PDB only in details.causes (item 9)', () => {
  it('disruptionsAllowed 0: the PDB from the DisruptionBudget cause, whose text says what the budget needs', async () => {
    expect(await answer(budgetRefusal)).toEqual({
      kind: 'budget',
      pdb: 'shop/web-pdb',
      message: 'The disruption budget web-pdb needs 1 healthy pods and has 1 currently',
      retryAfterSeconds: undefined,
    });
  });
  it('status not yet observed: the PDB and the Retry-After of 10 s', async () => {
    expect(await answer(budgetNotObserved)).toMatchObject({ kind: 'budget', pdb: 'shop/web-pdb', retryAfterSeconds: 10 });
  });
  it('a failed sync: the name is read up to the first space (names may contain dots)', async () => {
    expect(await answer(budgetSyncFailed)).toMatchObject({ kind: 'budget', pdb: 'shop/web.v2' });
  });
  it('a retry-after of 0 is no advice, not "retry at once"', () => {
    const s = parseApiError(statusError(429, { message: BUDGET_MESSAGE, details: { retryAfterSeconds: 0 } }, { 'retry-after': '0' }));
    expect(s.retryAfterSeconds).toBeUndefined();
  });
  it('a 429 without a budget cause is API throttling: retried after Retry-After, not a budget wait', async () => {
    expect(await answer(throttled)).toEqual({ kind: 'busy', code: 429, message: 'Too many requests, please try again later.', retryAfterSeconds: 1 });
  });
});

describe('a 409 means "gone" only for the UID precondition (item 10)', () => {
  it('the UID precondition, in the handler\'s words and in the storage layer\'s: the pod is gone', async () => {
    const handler = conflict('the UID in the precondition (u1) does not match the UID in record (u2). The object might have been deleted and then recreated');
    const storage = storageConflict('Precondition failed: UID in precondition: u1, UID in object meta: u2');
    expect((await answer(handler)).kind).toBe('gone');
    expect((await answer(storage)).kind).toBe('gone');
  });
  it("the resourceVersion precondition (the handler's own, for Pending and not-Ready pods) is retried", async () => {
    const handler = conflict('the ResourceVersion in the precondition (1234) does not match the ResourceVersion in record (1240). The object might have been modified');
    const storage = storageConflict('Precondition failed: ResourceVersion in precondition: 1234, ResourceVersion in object meta: 1240');
    expect(await answer(handler)).toMatchObject({ kind: 'error', code: 409 });
    expect(await answer(storage)).toMatchObject({ kind: 'error', code: 409 });
  });
});

describe('a 403 from the PDB\'s state is transient (item 12)', () => {
  it('DisruptedPods map too big: retry later, naming the PDB; never a permission failure', async () => {
    expect(await answer(disruptedPodsTooBig)).toEqual({
      kind: 'busy',
      code: 403,
      pdb: 'shop/web-pdb',
      message: expect.stringContaining('DisruptedPods map too big'),
      retryAfterSeconds: undefined,
    });
    expect(await answer(disruptedPodsTooBigOld)).toMatchObject({ kind: 'busy', code: 403, pdb: 'shop/web-pdb' });
  });
  it('a 403 from RBAC stays a permission failure', async () => {
    expect((await answer(rbacForbidden)).kind).toBe('forbidden');
  });
  it('a 403 from an API server that is not ready yet (RBAC caches not synced) is a transient error', async () => {
    expect(await answer(rbacForbidden, false)).toMatchObject({ kind: 'error', code: 403 });
  });
});

function pdbObject(
  status: { healthy: number; desired: number; allowed: number; expected?: number },
  rv: string,
  policy?: 'AlwaysAllow' | 'IfHealthyBudget',
): V1PodDisruptionBudget {
  return {
    metadata: { name: 'web', namespace: 'ns', generation: 1, resourceVersion: rv },
    spec: { minAvailable: status.desired, unhealthyPodEvictionPolicy: policy },
    status: {
      currentHealthy: status.healthy,
      desiredHealthy: status.desired,
      disruptionsAllowed: status.allowed,
      expectedPods: status.expected ?? 2,
      observedGeneration: 1,
    },
  };
}

function fakeWatch(initial: V1PodDisruptionBudget) {
  let current: V1PodDisruptionBudget | undefined = initial;
  const listeners = new Set<WatchListener<V1PodDisruptionBudget>>();
  return {
    get: () => current,
    subscribe: (l: WatchListener<V1PodDisruptionBudget>) => (listeners.add(l), () => listeners.delete(l)),
    emit(p: V1PodDisruptionBudget) {
      current = p;
      for (const l of listeners) l('MODIFIED', p);
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('not-Ready pods are admitted outside the budget (item 11)', () => {
  it('mirrors the eviction handler: AlwaysAllow always; IfHealthyBudget (the default) when healthy >= desired > 0', () => {
    expect(admitsNotReadyPod(pdbObject({ healthy: 1, desired: 1, allowed: 0 }, '1'))).toBe(true);
    expect(admitsNotReadyPod(pdbObject({ healthy: 1, desired: 1, allowed: 0 }, '1', 'IfHealthyBudget'))).toBe(true);
    expect(admitsNotReadyPod(pdbObject({ healthy: 1, desired: 2, allowed: 0 }, '1'))).toBe(false);
    expect(admitsNotReadyPod(pdbObject({ healthy: 0, desired: 0, allowed: 0 }, '1'))).toBe(false);
    expect(admitsNotReadyPod(pdbObject({ healthy: 0, desired: 2, allowed: 0 }, '1', 'AlwaysAllow'))).toBe(true);
  });

  it('releases a not-Ready waiter when healthy reaches desired while disruptionsAllowed stays 0; a Ready one keeps waiting', async () => {
    const w = fakeWatch(pdbObject({ healthy: 1, desired: 2, allowed: 0, expected: 3 }, '1'));
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 600_000);
    const signal = new AbortController().signal;
    const woken: string[] = [];
    const ready = waiter.wait('ns/web', { signal, seenResourceVersion: '1', podReady: () => true }).then((x) => (woken.push('ready'), x));
    const notReady = waiter.wait('ns/web', { signal, seenResourceVersion: '1', podReady: () => false }).then((x) => (woken.push('not-ready'), x));
    const unknown = waiter.wait('ns/web', { signal, seenResourceVersion: '1' }).then((x) => (woken.push('unknown'), x));
    await flush();
    expect(woken).toEqual([]);
    w.emit(pdbObject({ healthy: 2, desired: 2, allowed: 0, expected: 3 }, '2'));
    await flush();
    expect(woken).toEqual(['not-ready']);
    expect((await notReady).reason).toBe('not-ready-admitted');
    // It took nothing from the budget: the next allowed disruption still goes to the first Ready waiter.
    w.emit(pdbObject({ healthy: 3, desired: 2, allowed: 1, expected: 3 }, '3'));
    await flush();
    expect(woken).toEqual(['not-ready', 'ready']);
    (await ready).settle();
    void unknown;
    waiter.close();
  });

  it('under AlwaysAllow releases a pod that turned not-Ready while it waited, though the budget is short', async () => {
    const w = fakeWatch(pdbObject({ healthy: 2, desired: 2, allowed: 0 }, '1', 'AlwaysAllow'));
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 600_000);
    let ready = true;
    const wake = waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '1', podReady: () => ready });
    let woken = false;
    void wake.then(() => (woken = true));
    await flush();
    expect(woken).toBe(false);
    ready = false; // its readiness changes the PDB's currentHealthy: a PDB event follows
    w.emit(pdbObject({ healthy: 1, desired: 2, allowed: 0 }, '2', 'AlwaysAllow'));
    expect((await wake).reason).toBe('not-ready-admitted');
  });

  it('releases it on the pod\'s readiness change too, when the PDB event came first', async () => {
    const w = fakeWatch(pdbObject({ healthy: 2, desired: 2, allowed: 0 }, '1', 'AlwaysAllow'));
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 600_000);
    let ready = true;
    let woken = false;
    const wake = waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '1', podReady: () => ready });
    void wake.then(() => (woken = true));
    w.emit(pdbObject({ healthy: 1, desired: 2, allowed: 0 }, '2', 'AlwaysAllow')); // our pod watch has not seen it yet
    await flush();
    expect(woken).toBe(false);
    ready = false;
    waiter.podReadinessChanged();
    expect((await wake).reason).toBe('not-ready-admitted');
    waiter.close();
  });

  it('does not release a not-Ready waiter on the very status that refused it (no retry loop on a stale readiness)', async () => {
    const w = fakeWatch(pdbObject({ healthy: 1, desired: 1, allowed: 0 }, '7'));
    const waiter = new BudgetWaiter(w as unknown as ResourceWatch<V1PodDisruptionBudget>, systemClock, 600_000);
    let woken = false;
    void waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '7', podReady: () => false }).then(() => (woken = true));
    await flush();
    expect(woken).toBe(false);
    const fresh = await waiter.wait('ns/web', { signal: new AbortController().signal, seenResourceVersion: '6', podReady: () => false });
    expect(fresh.reason).toBe('not-ready-admitted');
    waiter.close();
  });
});

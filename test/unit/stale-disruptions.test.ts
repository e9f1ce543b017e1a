// A PDB can hold an eviction the API server admitted but whose pod it did not delete (the run that
// asked was killed mid-request, so the server's request was cancelled between the budget update
// and the delete): the disruption controller counts that pod as disrupted for up to 2 minutes
// after the eviction, and the budget allows nothing meanwhile. A wait on such a budget says so.
// Seen in `npm run faults` (SIGKILL + rerun after the cordon), 2026-12-06.
import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { admittedEviction, describeStaleDisruptions, staleDisruptions } from '../../src/engine/plan/pdb.js';

const NOW = Date.parse('2026-12-06T17:40:00Z');
const pdb = (disruptedPods: Record<string, string>, health: { healthy: number; desired: number } = { healthy: 2, desired: 2 }): V1PodDisruptionBudget => ({
  metadata: { namespace: 'shop', name: 'web', generation: 1 },
  spec: { minAvailable: 2 },
  status: {
    observedGeneration: 1,
    currentHealthy: health.healthy,
    desiredHealthy: health.desired,
    expectedPods: 3,
    disruptionsAllowed: 0,
    disruptedPods: disruptedPods as unknown as Record<string, Date>,
  },
});
/** The pod as the drain's watch holds it: its name and when it was created. */
const pod = (name: string, created = '2026-12-06T17:00:00Z'): V1Pod => ({ metadata: { namespace: 'shop', name, uid: `uid-${name}`, creationTimestamp: created as unknown as Date } });

describe('staleDisruptions', () => {
  it('names pods counted as disrupted for longer than an eviction takes, and when the controller stops counting them', () => {
    const stale = staleDisruptions(pdb({ 'web-a': '2026-12-06T17:39:30Z', 'web-b': '2026-12-06T17:39:59Z' }), NOW);
    expect(stale).toEqual([{ pod: 'web-a', since: '2026-12-06T17:39:30.000Z', clearsInMs: 90_000 }]);
    expect(describeStaleDisruptions(pdb({ 'web-a': '2026-12-06T17:39:30Z' }), NOW)).toBe(
      'the budget still counts shop/web-a as disrupted by an eviction at 2026-12-06T17:39:30.000Z that did not delete it (e.g. of a run killed mid-request): ' +
        'the disruption controller stops counting it within 90 s',
    );
  });

  it('nothing to say for a budget without such entries', () => {
    expect(staleDisruptions(pdb({}), NOW)).toEqual([]);
    expect(describeStaleDisruptions(pdb({}), NOW)).toBeUndefined();
    expect(describeStaleDisruptions(undefined, NOW)).toBeUndefined();
  });

  it('an entry past the controller timeout is due to clear now (0 s), not negative', () => {
    expect(staleDisruptions(pdb({ 'web-a': '2026-12-06T17:37:00Z' }), NOW)).toEqual([{ pod: 'web-a', since: '2026-12-06T17:37:00.000Z', clearsInMs: 0 }]);
  });
});

describe('admittedEviction', () => {
  it("this pod's entry, old enough to be a lost delete, young enough to finish, the budget met without it now: complete it", () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:30Z' }), pod('web-a'), NOW)).toEqual({ verdict: 'complete', since: '2026-12-06T17:39:30.000Z' });
  });

  it('another pod, no entry, or an entry about to expire (its delete would spend the budget again): nothing to finish', () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:30Z' }), pod('web-b'), NOW)).toBeUndefined();
    expect(admittedEviction(pdb({}), pod('web-a'), NOW)).toBeUndefined();
    // Admitted 100 s ago: the controller stops counting it in 20 s, under the 30 s margin.
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:38:20Z' }), pod('web-a'), NOW)).toBeUndefined();
  });

  it('an entry younger than an eviction takes (its delete may still be under way): judged again once old enough', () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:58Z' }), pod('web-a'), NOW)).toMatchObject({ verdict: 'wait', recheckInMs: 3_000 });
  });

  it('the budget, read now, is not met without the pod (its other replicas are not Ready): wait, saying why, never delete', () => {
    // The state of issue 19 item 1: one Ready pod a on the drained node, its sibling not Ready.
    const unhealthy = pdb({ 'web-a': '2026-12-06T17:39:50Z' }, { healthy: 0, desired: 1 });
    const verdict = admittedEviction(unhealthy, pod('web-a'), NOW);
    expect(verdict).toMatchObject({ verdict: 'wait' });
    expect(verdict?.verdict === 'wait' && verdict.why).toMatch(/budget is not met without it now \(healthy 0 \/ desired 1/);
  });

  it("an entry from before this pod was created is a same-named predecessor's (a StatefulSet pod recreated): not this pod's to finish", () => {
    const verdict = admittedEviction(pdb({ 'web-0': '2026-12-06T17:39:30Z' }), pod('web-0', '2026-12-06T17:39:45Z'), NOW);
    expect(verdict).toMatchObject({ verdict: 'wait' });
    expect(verdict?.verdict === 'wait' && verdict.why).toMatch(/from before this pod was created/);
    // Created the same second as the entry: not provably after it, so not finished either.
    expect(admittedEviction(pdb({ 'web-0': '2026-12-06T17:39:30Z' }), pod('web-0', '2026-12-06T17:39:30Z'), NOW)).toMatchObject({ verdict: 'wait' });
  });
});

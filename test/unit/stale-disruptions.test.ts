// A PDB can hold an eviction the API server admitted but whose pod it did not delete (the run that
// asked was killed mid-request, so the server's request was cancelled between the budget update
// and the delete): the disruption controller counts that pod as disrupted for up to 2 minutes
// after the eviction, and the budget allows nothing meanwhile. A wait on such a budget says so.
// Seen in `npm run faults` (SIGKILL + rerun after the cordon), 2026-12-06.
import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { admittedEviction, describeStaleDisruptions, staleDisruptions } from '../../src/engine/execute/budget.js';

const NOW = Date.parse('2026-12-06T17:40:00Z');
const pdb = (disruptedPods: Record<string, string>): V1PodDisruptionBudget => ({
  metadata: { namespace: 'shop', name: 'web' },
  spec: { minAvailable: 2 },
  status: { currentHealthy: 2, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0, disruptedPods: disruptedPods as unknown as Record<string, Date> },
});

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
  it("this pod's entry, old enough to be a lost delete and young enough to finish: when it was admitted and how long it still counts", () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:30Z' }), 'web-a', NOW)).toEqual({ since: '2026-12-06T17:39:30.000Z', clearsInMs: 90_000 });
  });

  it('another pod, no entry, or an entry about to expire (its delete would spend the budget again): nothing to finish', () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:30Z' }), 'web-b', NOW)).toBeUndefined();
    expect(admittedEviction(pdb({}), 'web-a', NOW)).toBeUndefined();
    // Admitted 100 s ago: the controller stops counting it in 20 s, under the 30 s margin.
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:38:20Z' }), 'web-a', NOW)).toBeUndefined();
  });

  it('an entry younger than an eviction takes (its delete may still be under way): judged again once old enough', () => {
    expect(admittedEviction(pdb({ 'web-a': '2026-12-06T17:39:58Z' }), 'web-a', NOW)).toEqual({ freshInMs: 3_000 });
  });
});

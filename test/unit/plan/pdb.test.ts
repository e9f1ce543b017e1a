import { describe, expect, it } from '@jest/globals';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { budgetStatus, formatBudget, pdbNeverAllows, pdbsForPod, unreadyEvictionAdmitted } from '../../../src/engine/plan/pdb.js';
import { makePdb, makePod, workload } from './fixtures.js';

describe('pdbsForPod', () => {
  const pod = makePod('web-1', { namespace: 'shop', labels: { app: 'web', tier: 'front' } });

  it('keeps PDBs of the same namespace whose selector matches', () => {
    const pdbs = [
      makePdb('web', { namespace: 'shop' }),
      makePdb('other-ns', { namespace: 'default' }),
      makePdb('db', { namespace: 'shop', selector: { matchLabels: { app: 'db' } } }),
      makePdb('front', { namespace: 'shop', selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] } }),
    ];
    expect(pdbsForPod(pod, pdbs).map((p) => p.metadata?.name)).toEqual(['web', 'front']);
  });

  it('an empty selector selects every pod of its namespace; a missing one none', () => {
    expect(pdbsForPod(pod, [makePdb('all', { namespace: 'shop', selector: {} })])).toHaveLength(1);
    expect(pdbsForPod(pod, [makePdb('none', { namespace: 'shop', selector: null })])).toHaveLength(0);
  });
});

describe('budgetStatus', () => {
  it('reads status', () => {
    const pdb = makePdb('web', { healthy: 3, desired: 2, expected: 3, allowed: 1, disruptedPods: { 'web-1': new Date() } });
    expect(budgetStatus(pdb)).toEqual({ healthy: 3, desired: 2, expected: 3, allowed: 1, observed: true, disrupted: 1 });
  });

  it('is unobserved when observedGeneration lags generation or status is missing', () => {
    expect(budgetStatus(makePdb('a', { generation: 3, observedGeneration: 2 })).observed).toBe(false);
    expect(budgetStatus(makePdb('b', { generation: 3, observedGeneration: 4 })).observed).toBe(true);
    expect(budgetStatus(makePdb('c', { observedGeneration: null }))).toMatchObject({ observed: false, allowed: 0, healthy: 0 });
  });

  it('formats for reports', () => {
    expect(formatBudget(makePdb('web', { healthy: 1, desired: 1, allowed: 0 }))).toMatch(/^healthy 1 \/ desired 1 \/ expected \d+ \/ allowed 0$/);
    expect(formatBudget(makePdb('web', { observedGeneration: null }))).toMatch(/not yet observed/);
  });
});

describe('pdbNeverAllows', () => {
  it('minAvailable equal to the expected pods never allows, with the message users see', () => {
    const pdb = makePdb('web-pdb', { namespace: 'shop', minAvailable: 1, healthy: 1, desired: 1, expected: 1, allowed: 0 });
    expect(pdbNeverAllows(pdb)).toBe('PDB shop/web-pdb (minAvailable 1, healthy 1/1, allowed 0) can never allow an eviction by itself');
  });

  it('minAvailable below expected can allow', () => {
    expect(pdbNeverAllows(makePdb('w', { minAvailable: 2, healthy: 3, desired: 2, expected: 3, allowed: 1 }))).toBeUndefined();
  });

  it.each([
    ['100%', 3, true],
    ['67%', 3, true], // ceil(2.01) = 3
    ['66%', 3, false], // ceil(1.98) = 2
    ['50%', 1, true], // ceil(0.5) = 1
    ['50%', 4, false],
    ['90%', 10, false], // 9
    ['91%', 10, true], // ceil(9.1) = 10
  ])('minAvailable %s of %i expected → never=%p (rounded up)', (minAvailable, expected, never) => {
    const pdb = makePdb('w', { minAvailable, healthy: expected, desired: Math.ceil(expected / 2), expected, allowed: 1 });
    expect(pdbNeverAllows(pdb) !== undefined).toBe(never);
  });

  it.each([0, '0%', '0'])('maxUnavailable %p never allows', (maxUnavailable) => {
    const pdb = makePdb('w', { maxUnavailable, healthy: 3, desired: 3, expected: 3, allowed: 0 });
    expect(pdbNeverAllows(pdb)).toMatch(/maxUnavailable 0/);
  });

  it.each([1, '10%'])('maxUnavailable %p can allow', (maxUnavailable) => {
    expect(pdbNeverAllows(makePdb('w', { maxUnavailable, healthy: 3, desired: 2, expected: 3, allowed: 1 }))).toBeUndefined();
  });

  it('uses the workload replicas when the status is not observed yet', () => {
    const pdb = makePdb('w', { minAvailable: 2, observedGeneration: null });
    expect(pdbNeverAllows(pdb, workload('Deployment', 'web', 2, 2))).toMatch(/minAvailable 2, healthy 0\/2/);
    expect(pdbNeverAllows(pdb, workload('Deployment', 'web', 3, 3))).toBeUndefined();
    expect(pdbNeverAllows(pdb)).toBeUndefined(); // nothing to compare with
  });

  it('prefers observed expectedPods over one workload (a PDB may cover several)', () => {
    const pdb = makePdb('w', { minAvailable: 3, healthy: 6, desired: 3, expected: 6, allowed: 3 });
    expect(pdbNeverAllows(pdb, workload('Deployment', 'web', 3, 3))).toBeUndefined();
  });

  it('ignores a stale status for the minAvailable rule', () => {
    const pdb = makePdb('w', { minAvailable: 2, generation: 2, observedGeneration: 1, healthy: 2, desired: 2, expected: 2 });
    expect(pdbNeverAllows(pdb, workload('Deployment', 'web', 4, 4))).toBeUndefined();
  });

  describe("Gardener's misconfigured-PDB rule", () => {
    // maxUnavailable 1 with all healthy should allow 1; a status saying 0 is the misconfiguration.
    const base = { maxUnavailable: 1, healthy: 2, desired: 1, expected: 2, allowed: 0 };

    it('all healthy, nothing disrupted, yet allowed 0 → never', () => {
      expect(pdbNeverAllows(makePdb('w', base))).toMatch(/misconfigured/);
    });

    it('not when pods are being disrupted (the budget is in use)', () => {
      expect(pdbNeverAllows(makePdb('w', { ...base, disruptedPods: { 'w-1': new Date() } }))).toBeUndefined();
    });

    it('not when the status is not observed', () => {
      expect(pdbNeverAllows(makePdb('w', { ...base, generation: 2, observedGeneration: 1 }))).toBeUndefined();
    });

    it('not when some expected pod is not healthy yet (it will free a disruption once Ready)', () => {
      expect(pdbNeverAllows(makePdb('w', { maxUnavailable: 1, healthy: 2, desired: 2, expected: 3, allowed: 0 }))).toBeUndefined();
    });
  });
});

// Issue 8 item 11: the API server's eviction handler lets not-Ready pods go without the budget.
describe('unreadyEvictionAdmitted', () => {
  const unready = makePod('web-1', { ready: false });
  const ready = makePod('web-1');

  it('IfHealthyBudget (the default): when healthy >= desired > 0, whatever disruptionsAllowed', () => {
    expect(unreadyEvictionAdmitted(unready, makePdb('w', { minAvailable: 2, healthy: 2, desired: 2, expected: 3, allowed: 0 }))).toMatch(
      /^not Ready, and PDB default\/w is met without it \(healthy 2 >= desired 2\)/,
    );
    const explicit = makePdb('w', { minAvailable: 2, healthy: 3, desired: 2, expected: 3, allowed: 0 });
    explicit.spec!.unhealthyPodEvictionPolicy = 'IfHealthyBudget';
    expect(unreadyEvictionAdmitted(unready, explicit)).toBeDefined();
  });

  it('IfHealthyBudget: not when the budget is short, nor when it desires no healthy pod (the server then checks disruptionsAllowed)', () => {
    expect(unreadyEvictionAdmitted(unready, makePdb('w', { minAvailable: 2, healthy: 1, desired: 2, expected: 2, allowed: 0 }))).toBeUndefined();
    expect(unreadyEvictionAdmitted(unready, makePdb('w', { maxUnavailable: '100%', healthy: 0, desired: 0, expected: 2, allowed: 2 }))).toBeUndefined();
  });

  it('AlwaysAllow: always', () => {
    const pdb = makePdb('w', { maxUnavailable: 0, healthy: 0, desired: 2, expected: 2, allowed: 0 });
    pdb.spec!.unhealthyPodEvictionPolicy = 'AlwaysAllow';
    expect(unreadyEvictionAdmitted(unready, pdb)).toMatch(/AlwaysAllow/);
  });

  it('never for a Ready pod', () => {
    const pdb = makePdb('w', { maxUnavailable: 0, healthy: 2, desired: 2, expected: 2, allowed: 0 });
    expect(unreadyEvictionAdmitted(ready, pdb)).toBeUndefined();
    pdb.spec!.unhealthyPodEvictionPolicy = 'AlwaysAllow';
    expect(unreadyEvictionAdmitted(ready, pdb)).toBeUndefined();
  });
});

describe('pdbNeverAllows after this run restored a leftover raise', () => {
  // A rerun scales a Deployment back from a killed run's raise (3 -> 2) and plans at once: the
  // PDB's status still counts the raise (expected 3), so minAvailable 2 looked satisfiable and
  // the pod was planned as a plain eviction that could never pass (migration-safety item 5 and
  // kill-anywhere, 2026-12-06). For a workload restored in this run its replicas are the truth.
  const stale: V1PodDisruptionBudget = {
    metadata: { namespace: 'shop', name: 'web', generation: 1 },
    spec: { minAvailable: 2 },
    status: { observedGeneration: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 1 },
  };
  const web = { kind: 'Deployment', namespace: 'shop', name: 'web', replicas: 2, readyReplicas: 2 };

  it('a workload restored in this run is judged on its replicas: minAvailable 2 of 2 never allows', () => {
    expect(pdbNeverAllows(stale, { ...web, restoredThisRun: true })).toMatch(/can never allow an eviction by itself/);
  });

  it('otherwise the observed status counts (it covers every pod the PDB selects)', () => {
    expect(pdbNeverAllows(stale, web)).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import { planDrain } from '../../../src/engine/plan/plan.js';
import type { Blocker, DrainPlan } from '../../../src/engine/types.js';
import { capacity, DELETED_AT, DRAINED, makeNode, makePdb, makePod, options, planInput, workload } from './fixtures.js';

const web = workload('Deployment', 'web', 2, 2);
const webKey = 'ReplicaSet/default/web-rs';
/** fetchWorkloads records a DaemonSet only when it exists. */
const logsExists = { 'DaemonSet/default/logs': workload('DaemonSet', 'logs', 3, 3) };
const webPod = (name: string, o: Parameters<typeof makePod>[1] = {}) =>
  makePod(name, { labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' }, ...o });

const byKind = (plan: DrainPlan, kind: Blocker['kind']) => plan.blockers.filter((b) => b.kind === kind);
const row = (plan: DrainPlan, name: string) => plan.pods.find((p) => p.name === name);

describe('planDrain: node and rows', () => {
  it('reports node readiness and an existing cordon', () => {
    const plan = planDrain(planInput({ node: makeNode(DRAINED, { ready: 'Unknown', unschedulable: true }) }), options());
    expect(plan).toMatchObject({ node: DRAINED, nodeReady: false, alreadyCordoned: true, pods: [], groups: [], blockers: [], fits: [] });
    expect(planDrain(planInput(), options())).toMatchObject({ nodeReady: true, alreadyCordoned: false });
  });

  it('fills each row from the pod, its workload and PDBs, sorted by namespace/name', () => {
    const pods = [webPod('web-2', { priority: 100, priorityClassName: 'high' }), webPod('web-1'), makePod('a', { namespace: 'zz' })];
    const plan = planDrain(
      planInput({ pods, workloads: { [webKey]: workload('Deployment', 'web', 4, 4) }, pdbs: [makePdb('web-pdb', { maxUnavailable: 1, allowed: 1, healthy: 4, desired: 3, expected: 4 })] }),
      options(),
    );
    expect(plan.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['default/web-1', 'default/web-2', 'zz/a']);
    expect(row(plan, 'web-2')).toEqual({
      namespace: 'default',
      name: 'web-2',
      uid: 'uid-web-2',
      podClass: 'movable',
      action: 'evict',
      reason: expect.any(String),
      group: 0,
      priority: 100,
      priorityClassName: 'high',
      owner: { kind: 'ReplicaSet', name: 'web-rs' },
      workload: workload('Deployment', 'web', 4, 4),
      pdbs: ['default/web-pdb'],
    });
    expect(plan.blockers).toEqual([]);
  });

  it('gives each class its action', () => {
    const pods = [
      makePod('done', { phase: 'Succeeded' }),
      makePod('leaving', { deleting: true }),
      makePod('logs', { owner: { kind: 'DaemonSet', name: 'logs' } }),
      makePod('static', { mirror: true, owner: { kind: 'Node', name: DRAINED } }),
      makePod('cache', { emptyDir: true }),
      makePod('bare', { owner: null }),
      makePod('app'),
    ];
    const plan = planDrain(planInput({ pods, workloads: logsExists }), options({ deleteEmptydirData: true, force: true }));
    expect(Object.fromEntries(plan.pods.map((p) => [p.name, [p.podClass, p.action]]))).toEqual({
      done: ['finished', 'evict'],
      leaving: ['terminating', 'wait'],
      logs: ['daemonset', 'skip'],
      static: ['mirror', 'skip'],
      cache: ['local-storage', 'evict'],
      bare: ['unmanaged', 'evict'],
      app: ['movable', 'evict'],
    });
    expect(row(plan, 'leaving')?.group).toBeUndefined();
    expect(plan.blockers.filter((b) => b.fatal)).toEqual([]);
  });

  it('runs critical pods in a later group', () => {
    const pods = [makePod('dns', { namespace: 'kube-system', priorityClassName: 'system-cluster-critical' }), makePod('app')];
    const plan = planDrain(planInput({ pods }), options());
    expect(plan.groups.map((g) => g.map((p) => p.name))).toEqual([['app'], ['dns']]);
  });
});

describe('planDrain: refusals', () => {
  it('refuses a bare pod without force, naming the pod and the flag', () => {
    const plan = planDrain(planInput({ pods: [makePod('bare', { owner: null })] }), options());
    expect(row(plan, 'bare')?.action).toBe('refuse');
    expect(plan.blockers).toEqual([
      {
        kind: 'needs-force',
        pod: 'default/bare',
        message: 'pod default/bare has no controller; set force: true to delete it (it will not be recreated)',
        fatal: true,
      },
    ]);
    expect(plan.groups).toEqual([]);
  });

  it('refuses an emptyDir pod without delete-emptydir-data', () => {
    const plan = planDrain(planInput({ pods: [makePod('cache', { emptyDir: true })] }), options());
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]).toMatchObject({ kind: 'needs-delete-emptydir-data', pod: 'default/cache', fatal: true });
    expect(plan.blockers[0]?.message).toBe('pod default/cache uses emptyDir; set delete-emptydir-data: true to evict it (the emptyDir data is lost)');
  });

  it('a bare pod with emptyDir gets both blockers at once, and one when one flag is set', () => {
    const pods = [makePod('scratch', { owner: null, emptyDir: true })];
    expect(planDrain(planInput({ pods }), options()).blockers.map((b) => b.kind)).toEqual(['needs-delete-emptydir-data', 'needs-force']);
    expect(planDrain(planInput({ pods }), options({ deleteEmptydirData: true })).blockers.map((b) => b.kind)).toEqual(['needs-force']);
  });

  it('refuses DaemonSet pods when ignore-daemonsets is off', () => {
    const plan = planDrain(planInput({ pods: [makePod('logs', { owner: { kind: 'DaemonSet', name: 'logs' } })], workloads: logsExists }), options({ ignoreDaemonsets: false }));
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]).toMatchObject({ kind: 'daemonset-not-ignored', fatal: true });
    expect(plan.blockers[0]?.message).toBe('pod default/logs belongs to a DaemonSet; set ignore-daemonsets: true to leave DaemonSet pods on the node');
  });

  it('pod-selector leaves unselected pods alone, including ones that would be refused', () => {
    const pods = [webPod('web-1'), makePod('bare', { owner: null, labels: { app: 'batch' } })];
    const plan = planDrain(planInput({ pods }), options({ podSelector: 'app=web' }));
    expect(row(plan, 'bare')).toMatchObject({ action: 'skip', reason: 'not selected by pod-selector' });
    expect(row(plan, 'web-1')?.action).toBe('evict');
    expect(plan.blockers).toEqual([]);
  });

  it('throws on a bad pod-selector, naming the bad part', () => {
    expect(() => planDrain(planInput(), options({ podSelector: 'app=web,tier in (a' }))).toThrow(/unclosed "\("/);
  });
});

describe('planDrain: budgets', () => {
  it('more than one PDB is fatal and names both', () => {
    const pdbs = [makePdb('a', { maxUnavailable: 1, allowed: 1, expected: 2, healthy: 2 }), makePdb('b', { selector: {}, maxUnavailable: 1, allowed: 1, expected: 2, healthy: 2 })];
    const plan = planDrain(planInput({ pods: [webPod('web-1')], pdbs, workloads: { [webKey]: web } }), options());
    const [blocker] = byKind(plan, 'multiple-pdbs');
    expect(blocker).toMatchObject({ pod: 'default/web-1', pdbs: ['default/a', 'default/b'], fatal: true });
    expect(blocker?.message).toMatch(/default\/a, default\/b/);
    expect(row(plan, 'web-1')?.pdbs).toEqual(['default/a', 'default/b']);
  });

  it('ignores PDBs for pods the Eviction API deletes without a check (finished, Pending)', () => {
    const pdbs = [makePdb('a', { selector: {}, maxUnavailable: 0 }), makePdb('b', { selector: {}, maxUnavailable: 0 })];
    const pods = [webPod('done', { phase: 'Failed' }), webPod('pending', { phase: 'Pending', ready: false })];
    const plan = planDrain(planInput({ pods, pdbs, workloads: { [webKey]: web } }), options());
    expect(plan.blockers).toEqual([]);
  });

  const strict = makePdb('web-pdb', { minAvailable: 2, healthy: 2, desired: 2, expected: 2, allowed: 0 });

  it('a PDB that never allows is reported without surge; not fatal: the drain waits for it until the timeout', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], pdbs: [strict], workloads: { [webKey]: web } }), options({ migration: 'evict' }));
    const [blocker] = byKind(plan, 'pdb-never-allows');
    expect(blocker).toMatchObject({ pod: 'default/web-1', pdbs: ['default/web-pdb'], fatal: false });
    expect(blocker?.message).toMatch(/will wait for it until the timeout/);
    expect(blocker?.message).toMatch(/^PDB default\/web-pdb \(minAvailable 2, healthy 2\/2, allowed 0\) can never allow an eviction by itself/);
    expect(blocker?.message).toMatch(/migration: surge/);
    expect(row(plan, 'web-1')?.action).toBe('evict');
  });

  it('with surge, a Deployment pod behind such a PDB is migrated instead, no blocker', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], pdbs: [strict], workloads: { [webKey]: web } }), options({ migration: 'surge' }));
    expect(row(plan, 'web-1')).toMatchObject({ action: 'migrate', group: 0 });
    expect(row(plan, 'web-1')?.reason).toMatch(/can never allow.*safe-drain will surge Deployment default\/web/);
    expect(plan.blockers).toEqual([]);
  });

  it('surge cannot help a StatefulSet: still reported', () => {
    const pod = makePod('db-0', { labels: { app: 'web' }, owner: { kind: 'StatefulSet', name: 'db' } });
    const plan = planDrain(
      planInput({ pods: [pod], pdbs: [strict], workloads: { 'StatefulSet/default/db': workload('StatefulSet', 'db', 2, 2) } }),
      options({ migration: 'surge' }),
    );
    expect(row(plan, 'db-0')?.action).toBe('evict');
    expect(byKind(plan, 'pdb-never-allows')).toHaveLength(1);
  });
});

describe('planDrain: readiness', () => {
  it('no blocker while another ready replica stays elsewhere', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], workloads: { [webKey]: web } }), options({ migration: 'evict' }));
    expect(plan.blockers).toEqual([]);
  });

  it('all ready replicas here, evict migration: non-fatal zero-ready', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1'), webPod('web-2')], workloads: { [webKey]: web } }), options({ migration: 'evict' }));
    expect(plan.blockers).toEqual([
      {
        kind: 'zero-ready',
        pod: 'default/web-1',
        message:
          'Deployment default/web has 2 ready replica(s) and evicting default/web-1, default/web-2 from this node leaves it none: expect downtime (set migration: surge to bring replacements up first); ' +
          'the downtime cannot be estimated: no start-to-Ready on record for default/web-1, default/web-2 (status.startTime and Ready time missing)',
        fatal: false,
        expectedDowntime: { basis: 'no start-to-Ready on record for default/web-1, default/web-2 (status.startTime and Ready time missing)' },
      },
    ]);
  });

  it('all ready replicas here but a PDB keeps one healthy: evictions are serialised, no zero-ready, no migration', () => {
    const guard = makePdb('web-pdb', { maxUnavailable: 1, healthy: 2, desired: 1, expected: 2, allowed: 1 });
    const pods = [webPod('web-1'), webPod('web-2')];
    for (const migration of ['evict', 'surge'] as const) {
      const plan = planDrain(planInput({ pods, pdbs: [guard], workloads: { [webKey]: web } }), options({ migration }));
      expect(plan.pods.map((p) => p.action)).toEqual(['evict', 'evict']);
      expect(plan.blockers).toEqual([]);
    }
  });

  it('a PDB that lets every pod go (desired 0) does not protect: zero-ready still reported', () => {
    const loose = makePdb('web-pdb', { maxUnavailable: '100%', healthy: 2, desired: 0, expected: 2, allowed: 2 });
    const plan = planDrain(planInput({ pods: [webPod('web-1'), webPod('web-2')], pdbs: [loose], workloads: { [webKey]: web } }), options({ migration: 'evict' }));
    expect(byKind(plan, 'zero-ready')).toHaveLength(1);
  });

  it('all ready replicas here, surge migration: both pods migrate, no blocker', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1'), webPod('web-2')], workloads: { [webKey]: web } }), options({ migration: 'surge' }));
    expect(plan.pods.map((p) => p.action)).toEqual(['migrate', 'migrate']);
    expect(row(plan, 'web-1')?.reason).toMatch(/last ready replica/);
    expect(plan.blockers).toEqual([]);
  });

  it('counts only Ready pods on this node against readyReplicas', () => {
    // 1 ready replica elsewhere + web-1 here ready; web-2 here is not ready.
    const pods = [webPod('web-1'), webPod('web-2', { ready: false })];
    const plan = planDrain(planInput({ pods, workloads: { [webKey]: workload('Deployment', 'web', 3, 2) } }), options({ migration: 'evict' }));
    expect(plan.blockers).toEqual([]);
  });

  it('a StatefulSet with its only ready replica here: unavoidable downtime, even with surge', () => {
    const pod = makePod('db-0', { owner: { kind: 'StatefulSet', name: 'db' } });
    const plan = planDrain(planInput({ pods: [pod], workloads: { 'StatefulSet/default/db': workload('StatefulSet', 'db', 1, 1) } }), options({ migration: 'surge' }));
    expect(row(plan, 'db-0')?.action).toBe('evict');
    expect(plan.blockers).toHaveLength(1);
    expect(plan.blockers[0]).toMatchObject({ kind: 'unavoidable-downtime', pod: 'default/db-0', fatal: false });
    expect(plan.blockers[0]?.message).toMatch(/StatefulSet default\/db has 1 ready replica.*cannot surge/);
  });

  it('a bare pod deleted with force: unavoidable downtime, said out loud', () => {
    const plan = planDrain(planInput({ pods: [makePod('bare', { owner: null })] }), options({ force: true }));
    expect(plan.blockers).toEqual([
      { kind: 'unavoidable-downtime', pod: 'default/bare', message: expect.stringMatching(/no controller.*nothing recreates it/), fatal: false },
    ]);
  });
});

describe('planDrain: capacity', () => {
  it('records a fit for each pod that needs a new home', () => {
    const pods = [
      webPod('web-1', { requests: { cpu: '500m' } }),
      makePod('logs', { owner: { kind: 'DaemonSet', name: 'logs' } }),
      makePod('done', { phase: 'Succeeded' }),
      makePod('bare', { owner: null }),
    ];
    const plan = planDrain(planInput({ pods, workloads: logsExists }), options({ force: true }));
    expect(plan.fits).toEqual([{ pod: 'default/web-1', candidates: ['node-b'], rejected: {} }]);
    expect(byKind(plan, 'no-capacity')).toEqual([]);
  });

  it('no candidate: non-fatal no-capacity blocker saying why each node was rejected', () => {
    const otherNodes = [
      capacity(makeNode('node-b', { unschedulable: true })),
      capacity(makeNode('node-c', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } }), { cpuMillis: 800 }),
    ];
    const plan = planDrain(planInput({ pods: [webPod('web-1', { requests: { cpu: '500m' } })], otherNodes }), options());
    expect(byKind(plan, 'no-capacity')).toEqual([
      {
        kind: 'no-capacity',
        pod: 'default/web-1',
        message: 'pod default/web-1 would stay Pending: no other node can take it (node-b: unschedulable; node-c: insufficient cpu: needs 500m, free 200m)',
        fatal: false,
      },
    ]);
  });

  it('no other node at all', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], otherNodes: [] }), options());
    expect(byKind(plan, 'no-capacity')[0]?.message).toBe('pod default/web-1 would stay Pending: there is no other node to take it');
  });

  it('excludes the drained node even if the caller lists it', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], otherNodes: [capacity(makeNode(DRAINED))] }), options());
    expect(plan.fits[0]?.rejected).toEqual({ [DRAINED]: 'node being drained' });
    expect(byKind(plan, 'no-capacity')).toHaveLength(1);
  });

  it('checks migrated pods too', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], workloads: { [webKey]: workload('Deployment', 'web', 1, 1) }, otherNodes: [] }), options());
    expect(row(plan, 'web-1')?.action).toBe('migrate');
    expect(byKind(plan, 'no-capacity')).toHaveLength(1);
  });
});

// Issue 8 item 3: zero-ready is judged per workload, not per controller.
describe('planDrain: readiness mid-rollout', () => {
  // A Deployment mid-rollout: its two Ready pods here belong to the old and the new ReplicaSet,
  // and fetchWorkloads resolves both ReplicaSets to the same Deployment.
  const rollingWeb = workload('Deployment', 'web', 2, 2);
  const oldPod = makePod('web-old', { labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-1111' } });
  const newPod = makePod('web-new', { labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-2222' } });
  const workloads = { 'ReplicaSet/default/web-1111': rollingWeb, 'ReplicaSet/default/web-2222': rollingWeb };

  it('two ReplicaSets of one Deployment holding all its ready replicas: zero-ready names both pods', () => {
    const plan = planDrain(planInput({ pods: [oldPod, newPod], workloads }), options({ migration: 'evict' }));
    expect(byKind(plan, 'zero-ready')).toEqual([
      {
        kind: 'zero-ready',
        pod: 'default/web-new',
        message: expect.stringMatching(/^Deployment default\/web has 2 ready replica\(s\) and evicting default\/web-new, default\/web-old from this node leaves it none/),
        fatal: false,
        expectedDowntime: expect.any(Object),
      },
    ]);
  });

  it('with surge both pods migrate', () => {
    const plan = planDrain(planInput({ pods: [oldPod, newPod], workloads }), options({ migration: 'surge' }));
    expect(plan.pods.map((p) => [p.name, p.action])).toEqual([
      ['web-new', 'migrate'],
      ['web-old', 'migrate'],
    ]);
  });

  it('a third ready replica elsewhere: nothing to report', () => {
    const three = workload('Deployment', 'web', 3, 3);
    const plan = planDrain(
      planInput({ pods: [oldPod, newPod], workloads: { 'ReplicaSet/default/web-1111': three, 'ReplicaSet/default/web-2222': three } }),
      options({ migration: 'evict' }),
    );
    expect(plan.blockers).toEqual([]);
  });
});

// Issue 8 item 11: the Eviction API lets a not-Ready pod go without the budget when the budget is
// met without it (IfHealthyBudget), or always (AlwaysAllow): such a pod is a plain eviction.
describe('planDrain: not-Ready pods and budgets', () => {
  const unready = webPod('web-1', { ready: false });

  it('budget met (healthy >= desired > 0) though nothing is allowed: evicted at once, no migration, no finding', () => {
    // 3 replicas, minAvailable 2, two healthy elsewhere: allowed 0 since web-1 is not Ready.
    const met = makePdb('web-pdb', { minAvailable: 2, healthy: 2, desired: 2, expected: 3, allowed: 0 });
    for (const migration of ['surge', 'evict'] as const) {
      const plan = planDrain(planInput({ pods: [unready], pdbs: [met], workloads: { [webKey]: workload('Deployment', 'web', 3, 2) } }), options({ migration }));
      expect(row(plan, 'web-1')?.action).toBe('evict');
      expect(row(plan, 'web-1')?.reason).toMatch(/not Ready, and PDB default\/web-pdb is met without it \(healthy 2 >= desired 2\)/);
      expect(plan.blockers).toEqual([]);
    }
  });

  it('unhealthyPodEvictionPolicy AlwaysAllow: evicted at once even under a budget that never allows, not migrated', () => {
    const always = makePdb('web-pdb', { maxUnavailable: 0, healthy: 1, desired: 2, expected: 2, allowed: 0 });
    always.spec!.unhealthyPodEvictionPolicy = 'AlwaysAllow';
    const plan = planDrain(planInput({ pods: [unready], pdbs: [always], workloads: { [webKey]: web } }), options({ migration: 'surge' }));
    expect(row(plan, 'web-1')).toMatchObject({ action: 'evict', reason: expect.stringMatching(/AlwaysAllow/) });
    expect(plan.blockers).toEqual([]);
  });

  it('IfHealthyBudget not met: the budget still decides (the pod goes the usual way)', () => {
    const short = makePdb('web-pdb', { maxUnavailable: 0, healthy: 1, desired: 2, expected: 2, allowed: 0 });
    const plan = planDrain(planInput({ pods: [unready], pdbs: [short], workloads: { [webKey]: web } }), options({ migration: 'evict' }));
    expect(row(plan, 'web-1')?.reason).not.toMatch(/not Ready/);
    expect(byKind(plan, 'pdb-never-allows')).toHaveLength(1);
  });

  it('a Ready pod is not exempt, and neither is a pod under two PDBs (the API answers 500 first)', () => {
    const met = makePdb('web-pdb', { minAvailable: 2, healthy: 2, desired: 2, expected: 2, allowed: 0 });
    const ready = planDrain(planInput({ pods: [webPod('web-1')], pdbs: [met], workloads: { [webKey]: web } }), options({ migration: 'surge' }));
    expect(row(ready, 'web-1')?.action).toBe('migrate');
    const other = makePdb('other', { selector: {}, maxUnavailable: 1, healthy: 2, desired: 1, expected: 2, allowed: 1 });
    const two = planDrain(planInput({ pods: [unready], pdbs: [met, other], workloads: { [webKey]: web } }), options());
    expect(byKind(two, 'multiple-pdbs')).toHaveLength(1);
  });
});

// Issue 8 item 13: kubectl parity for DaemonSet and mirror pods.
describe('planDrain: DaemonSet that does not exist, mirror pods', () => {
  const kruisePod = makePod('agent-x', { owner: { kind: 'DaemonSet', name: 'agent', apiVersion: 'apps.kruise.io/v1alpha1' } });

  it('refuses a pod whose DaemonSet is not an apps/v1 DaemonSet that exists, unless force', () => {
    const plan = planDrain(planInput({ pods: [kruisePod] }), options());
    expect(row(plan, 'agent-x')).toMatchObject({ podClass: 'unmanaged', action: 'refuse', owner: { kind: 'DaemonSet', name: 'agent' } });
    expect(plan.blockers).toEqual([
      {
        kind: 'needs-force',
        pod: 'default/agent-x',
        message:
          'pod default/agent-x: its controller DaemonSet agent (apps.kruise.io/v1alpha1) is not an apps/v1 DaemonSet that exists (a DaemonSet kind of another API group, or an ownerReference left behind), so nothing known recreates it; set force: true to delete it (it will not be recreated)',
        fatal: true,
      },
    ]);
    const forced = planDrain(planInput({ pods: [kruisePod] }), options({ force: true }));
    expect(row(forced, 'agent-x')).toMatchObject({ podClass: 'unmanaged', action: 'evict', group: expect.any(Number) });
    expect(forced.blockers.filter((b) => b.fatal)).toEqual([]);
  });

  it('an apps/v1 DaemonSet of the same name does not make another group\'s DaemonSet pod its own', () => {
    const plan = planDrain(planInput({ pods: [kruisePod], workloads: { 'DaemonSet/default/agent': workload('DaemonSet', 'agent', 3, 3) } }), options());
    expect(row(plan, 'agent-x')?.action).toBe('refuse');
  });

  it('a pod of an apps/v1 DaemonSet that is gone (ownerReference left behind) is refused too', () => {
    const plan = planDrain(planInput({ pods: [makePod('logs-1', { owner: { kind: 'DaemonSet', name: 'logs' } })] }), options());
    expect(byKind(plan, 'needs-force')).toHaveLength(1);
    const present = planDrain(planInput({ pods: [makePod('logs-1', { owner: { kind: 'DaemonSet', name: 'logs' } })], workloads: logsExists }), options());
    expect(row(present, 'logs-1')?.action).toBe('skip');
  });

  it('a finished mirror pod stays: skipped, in no eviction group', () => {
    const plan = planDrain(planInput({ pods: [makePod('static', { mirror: true, phase: 'Succeeded', owner: { kind: 'Node', name: DRAINED } })] }), options());
    expect(row(plan, 'static')).toMatchObject({ podClass: 'mirror', action: 'skip' });
    expect(plan.groups).toEqual([]);
  });
});

// Issue 8 item 14: the planner applies skip-wait-for-delete-timeout from deletionTimestamp, on its own clock.
describe('planDrain: long-terminating pods', () => {
  it('skips a pod terminating longer than skip-wait-for-delete-timeout, and waits for one that is not', () => {
    // The fixture's deletionTimestamp is 60 s before the input's `now`.
    const pods = [makePod('leaving', { deleting: true })];
    const skipped = planDrain(planInput({ pods }), options({ skipWaitForDeleteTimeoutSeconds: 30 }));
    expect(row(skipped, 'leaving')).toMatchObject({ podClass: 'terminating', action: 'skip', reason: expect.stringMatching(/passed 60s ago/) });
    expect(planDrain(planInput({ pods }), options({ skipWaitForDeleteTimeoutSeconds: 120 })).pods[0]?.action).toBe('wait');
    expect(planDrain(planInput({ pods, now: Date.parse(DELETED_AT) + 10_000 }), options({ skipWaitForDeleteTimeoutSeconds: 30 })).pods[0]?.action).toBe('wait');
  });
});

// Pure parts of the surge migration: which method (plan/migration.ts), what a budget allows at
// any scale, the plan's refusal (item 7), the raise marker and the restore decision (restore.ts),
// and the evidence a Deployment wait ends on (workload-watch.ts). Cluster behaviour is tested in
// test/integration/migration*.test.ts.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  budgetBlocksAtAnyScale,
  chooseMigration,
  chooseMigrationFor,
  migrationOf,
  rolloutStrategy,
} from '../../src/engine/plan/migration.js';
import { planDrain } from '../../src/engine/plan/plan.js';
import {
  ANNOTATION_ORIGINAL_REPLICAS,
  ANNOTATION_RAISED_REPLICAS,
  ANNOTATION_SCALED_FOR_NODE,
  ANNOTATION_SCALED_BY_RUN,
  LABEL_SCALED,
  decideRestore,
  raiseMetadata,
  raiseOf,
} from '../../src/engine/execute/restore.js';
import { formatLabelSelector, progressDeadlineExceeded, unschedulableCondition } from '../../src/engine/execute/workload-watch.js';
import type { WorkloadInfo } from '../../src/engine/types.js';
import { makePdb, makePod, options, planInput } from './plan/fixtures.js';

type Strategy = NonNullable<V1Deployment['spec']>['strategy'];

function dep(replicas: number, strategy?: Strategy, extra: { paused?: boolean; annotations?: Record<string, string>; labels?: Record<string, string> } = {}): V1Deployment {
  return {
    metadata: { name: 'web', namespace: 'shop', annotations: extra.annotations, labels: extra.labels, resourceVersion: '7' },
    spec: { replicas, strategy, paused: extra.paused, selector: { matchLabels: { app: 'web' } }, template: {} },
  };
}

const surging: Strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
const recreate: Strategy = { type: 'Recreate' };

describe('chooseMigration', () => {
  it('rolls out when the strategy surges without unavailability, scales up otherwise', () => {
    expect(chooseMigration(dep(1), undefined).method).toBe('rollout-restart'); // 25% of 1: surge 1, unavailable 0
    expect(chooseMigration(dep(4), undefined).method).toBe('scale-up'); // unavailable 25% of 4 = 1
    expect(chooseMigration(dep(4, surging), undefined).method).toBe('rollout-restart');
    expect(chooseMigration(dep(1, recreate), undefined).why).toMatch(/Recreate/);
    expect(chooseMigration(dep(1, recreate), undefined).method).toBe('scale-up');
  });

  it('a paused Deployment never rolls: it is scaled up instead (the controller scales paused Deployments)', () => {
    const c = chooseMigration(dep(1, surging, { paused: true }), undefined);
    expect(c.method).toBe('scale-up');
    expect(c.why).toMatch(/paused/);
  });

  it('never scales a Deployment an HPA manages', () => {
    expect(chooseMigration(dep(1, recreate), 'shop/web').method).toBe('evict');
    expect(chooseMigration(dep(1, recreate), 'shop/web').why).toMatch(/HPA shop\/web/);
    expect(chooseMigration(dep(1, surging), 'shop/web').method).toBe('rollout-restart');
  });

  it('the plan and the executor decide from the same facts', () => {
    const d = dep(1, recreate);
    const w: WorkloadInfo = { kind: 'Deployment', namespace: 'shop', name: 'web', replicas: 1, readyReplicas: 1, rollout: rolloutStrategy(d), hpa: 'shop/h' };
    expect(migrationOf(w)).toEqual(chooseMigrationFor(rolloutStrategy(d), 'shop/h'));
    expect(migrationOf({ ...w, kind: 'StatefulSet' })).toBeUndefined();
  });
});

describe('budgetBlocksAtAnyScale', () => {
  it.each([
    [{ maxUnavailable: 0 }, 'maxUnavailable 0'],
    [{ maxUnavailable: '0%' }, 'maxUnavailable 0%'],
    [{ minAvailable: '100%' }, 'minAvailable 100%'],
  ])('%j can never allow an eviction however many replicas run', (spec, rule) => {
    expect(budgetBlocksAtAnyScale(makePdb('p', spec))).toBe(rule);
  });

  it.each([[{ minAvailable: 1 }], [{ minAvailable: '50%' }], [{ maxUnavailable: 1 }], [{ maxUnavailable: '10%' }]])('%j can be satisfied by scaling up', (spec) => {
    expect(budgetBlocksAtAnyScale(makePdb('p', spec))).toBeUndefined();
  });
});

describe('plan: a budget no replica count satisfies (item 7)', () => {
  const key = 'ReplicaSet/default/web-rs';
  const pod = makePod('web-1', { labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } });
  const info = (d: V1Deployment, hpa?: string): WorkloadInfo => ({ kind: 'Deployment', namespace: 'default', name: 'web', replicas: 1, readyReplicas: 1, rollout: rolloutStrategy(d), hpa });
  const zero = makePdb('web-pdb', { maxUnavailable: 0, healthy: 1, desired: 1, expected: 1, allowed: 0 });

  it('refuses a Recreate Deployment before any change, saying why and what to do', () => {
    const plan = planDrain(planInput({ pods: [pod], pdbs: [zero], workloads: { [key]: info(dep(1, recreate)) } }), options({ migration: 'surge' }));
    const blocker = plan.blockers.find((b) => b.kind === 'pdb-never-allows');
    expect(blocker).toMatchObject({ fatal: true, pod: 'default/web-1', pdbs: ['default/web-pdb'] });
    expect(blocker?.message).toMatch(/however many replicas run \(maxUnavailable 0/);
    expect(blocker?.message).toMatch(/Deployment default\/web cannot be moved by a rollout/);
    expect(blocker?.message).toMatch(/Relax the PDB/);
  });

  it('refuses when an HPA rules out scaling and the strategy cannot roll', () => {
    const plan = planDrain(planInput({ pods: [pod], pdbs: [zero], workloads: { [key]: info(dep(1, recreate), 'default/h') } }), options({ migration: 'surge' }));
    expect(plan.blockers.filter((b) => b.fatal).map((b) => b.kind)).toEqual(['pdb-never-allows']);
  });

  it('a surging strategy is migrated by a rollout, no blocker', () => {
    const plan = planDrain(planInput({ pods: [pod], pdbs: [zero], workloads: { [key]: info(dep(1, surging)) } }), options({ migration: 'surge' }));
    expect(plan.blockers).toEqual([]);
    expect(plan.pods[0]).toMatchObject({ action: 'migrate' });
    expect(plan.pods[0]?.reason).toMatch(/safe-drain will roll out Deployment default\/web/);
  });

  it('a plain count (minAvailable 1 of 1) is still migrated by a scale-up', () => {
    const one = makePdb('web-pdb', { minAvailable: 1, healthy: 1, desired: 1, expected: 1, allowed: 0 });
    const plan = planDrain(planInput({ pods: [pod], pdbs: [one], workloads: { [key]: info(dep(1, recreate)) } }), options({ migration: 'surge' }));
    expect(plan.blockers).toEqual([]);
    expect(plan.pods[0]?.action).toBe('migrate');
  });
});

describe('raise marker and restore decision', () => {
  const marked = (replicas: number, original: number, raised: number) =>
    dep(replicas, recreate, {
      labels: { [LABEL_SCALED]: 'true' },
      annotations: { [ANNOTATION_ORIGINAL_REPLICAS]: String(original), [ANNOTATION_RAISED_REPLICAS]: String(raised), [ANNOTATION_SCALED_FOR_NODE]: 'w1' },
    });

  it('the raise writes label, original, raised and node with the resourceVersion it was computed from', () => {
    expect(raiseMetadata({ original: 1, raised: 2, nodes: ['w1'] }, 'note', '7')).toEqual({
      resourceVersion: '7',
      labels: { [LABEL_SCALED]: 'true' },
      annotations: {
        [ANNOTATION_ORIGINAL_REPLICAS]: '1',
        [ANNOTATION_RAISED_REPLICAS]: '2',
        [ANNOTATION_SCALED_FOR_NODE]: 'w1',
        [ANNOTATION_SCALED_BY_RUN]: null,
        'safe-drain.io/migration': 'note',
      },
    });
    expect(raiseOf(marked(2, 1, 2))).toEqual({ original: 1, raised: 2, nodes: ['w1'] });
  });

  it('a raise shared by two nodes of one run records both nodes and the run, and reads back as written', () => {
    const metadata = raiseMetadata({ original: 2, raised: 4, nodes: ['w1', 'w2'], run: 'run-1' }, 'note', '9') as { annotations: Record<string, string> };
    expect(metadata.annotations).toMatchObject({ [ANNOTATION_SCALED_FOR_NODE]: 'w1,w2', [ANNOTATION_SCALED_BY_RUN]: 'run-1' });
    expect(raiseOf(dep(4, recreate, { labels: { [LABEL_SCALED]: 'true' }, annotations: metadata.annotations }))).toEqual({ original: 2, raised: 4, nodes: ['w1', 'w2'], run: 'run-1' });
    expect(raiseOf(dep(2))).toBeUndefined();
  });

  it('restores only while replicas holds the raised value', () => {
    expect(decideRestore(marked(2, 1, 2))).toEqual({ action: 'restore', raise: { original: 1, raised: 2, nodes: ['w1'] } });
    expect(decideRestore(marked(2, 1, 2), { original: 1, raised: 2, nodes: ['w1'] }).action).toBe('restore');
  });

  it('replicas already back at the original (a GitOps revert): only the marker is removed', () => {
    expect(decideRestore(marked(1, 1, 2)).action).toBe('clear-marker');
  });

  it('someone else set another value: left as is, with the reason', () => {
    const d = decideRestore(marked(5, 1, 2));
    expect(d).toMatchObject({ action: 'leave' });
    expect(d.action === 'leave' && d.why).toMatch(/replicas is now 5, not the 2 safe-drain set \(original 1\)/);
  });

  it('a raise by another run on top of ours is not ours to restore', () => {
    expect(decideRestore(marked(3, 1, 3), { original: 1, raised: 2, nodes: ['w1'] }).action).toBe('leave');
  });

  it('no marker: nothing to do; a label without a readable original is reported, not skipped', () => {
    expect(decideRestore(dep(1)).action).toBe('nothing');
    expect(decideRestore(dep(2, recreate, { labels: { [LABEL_SCALED]: 'true' } })).action).toBe('leave');
  });

  it('our raise still in place but its marker removed by someone: reported, not guessed', () => {
    expect(decideRestore(dep(2), { original: 1, raised: 2, nodes: ['w1'] }).action).toBe('leave');
    // A write of ours that never landed: nothing of ours is there.
    expect(decideRestore(dep(3), { original: 1, raised: 2, nodes: ['w1'] }).action).toBe('nothing');
  });
});

describe('wait evidence', () => {
  it('the Deployment selector as a label selector string', () => {
    expect(
      formatLabelSelector({
        matchLabels: { app: 'web', tier: 'fe' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['a', 'b'] },
          { key: 'x', operator: 'NotIn', values: ['c'] },
          { key: 'y', operator: 'Exists' },
          { key: 'z', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('app=web,tier=fe,env in (a,b),x notin (c),y,!z');
  });

  it('ProgressDeadlineExceeded is read from the Progressing condition', () => {
    const d = dep(1);
    d.status = { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] };
    expect(progressDeadlineExceeded(d)?.message).toMatch(/timed out/);
    d.status.conditions![0]!.status = 'True';
    expect(progressDeadlineExceeded(d)).toBeUndefined();
  });

  it('a pod the scheduler could not place, with its message; a bound or terminating pod is not', () => {
    const pending: V1Pod = {
      metadata: { name: 'web-x' },
      spec: { containers: [] },
      status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] },
    };
    expect(unschedulableCondition(pending)?.message).toBe('0/3 nodes are available');
    expect(unschedulableCondition({ ...pending, spec: { containers: [], nodeName: 'w2' } })).toBeUndefined();
    expect(unschedulableCondition({ ...pending, metadata: { deletionTimestamp: new Date() } })).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { fitPod, MAX_LISTED_NODES } from '../../../src/engine/plan/capacity.js';
import { drainOrder, podsToMove } from '../../../src/engine/plan/node-order.js';
import { packReplacements } from '../../../src/engine/plan/packing.js';
import { planDrain } from '../../../src/engine/plan/plan.js';
import { reducePodPage, type ClusterPods } from '../../../src/engine/kube/cluster-pods.js';
import type { DrainPlan, NodeCapacity } from '../../../src/engine/types.js';
import { capacity, DRAINED, makeNode, makePod, options, planInput } from './fixtures.js';

const small = { cpu: '1', memory: '1Gi', pods: '10' };

function planFor(pods: V1Pod[], nodes: NodeCapacity[], node = DRAINED): DrainPlan {
  return planDrain(planInput({ node: makeNode(node), pods, otherNodes: nodes }), options({ nodes: [node] }));
}

describe('packReplacements (run-wide bin-packing)', () => {
  it('reports the pair that fits alone but not together, naming the pod that took the room', () => {
    const target = [capacity(makeNode('node-b', { allocatable: small }))];
    const pods = [makePod('big-1', { requests: { cpu: '600m' } }), makePod('big-2', { requests: { cpu: '600m' } })];
    const plan = planFor(pods, target);
    // Alone, each fits: no finding from the per-pod check.
    expect(plan.fits.map((f) => f.candidates)).toEqual([['node-b'], ['node-b']]);
    expect(plan.blockers).toEqual([]);
    packReplacements([{ plan, pods }], target);
    expect(plan.fits.map((f) => f.placedOn)).toEqual(['node-b', undefined]);
    expect(plan.blockers).toEqual([
      {
        kind: 'no-capacity',
        pod: 'default/big-2',
        message: expect.stringMatching(/fits alone on node-b, but not together .*default\/big-1 on node-b/),
        fatal: false,
      },
    ]);
    // The inputs are not changed by the packing.
    expect(target[0]!.requested.cpuMillis).toBe(0);
  });

  it('places higher priority first, across the nodes of the run', () => {
    const target = [capacity(makeNode('node-c', { allocatable: small }))];
    const low = makePod('low', { requests: { cpu: '600m' }, priority: 0 });
    const high = makePod('high', { requests: { cpu: '600m' }, priority: 1000, nodeName: 'node-b' });
    const planA = planFor([low], target, DRAINED);
    const planB = planFor([high], target, 'node-b');
    packReplacements([{ plan: planA, pods: [low] }, { plan: planB, pods: [high] }], target);
    expect(planB.fits[0]?.placedOn).toBe('node-c');
    expect(planA.fits[0]?.placedOn).toBeUndefined();
    expect(planA.blockers.map((b) => b.pod)).toEqual(['default/low']);
    expect(planB.blockers).toEqual([]);
  });

  it('spreads onto the node with the most free cpu, so pods that fit together are all placed', () => {
    const targets = [capacity(makeNode('node-b', { allocatable: small })), capacity(makeNode('node-c', { allocatable: small }))];
    const pods = [1, 2, 3].map((i) => makePod(`p-${i}`, { requests: { cpu: '500m' } }));
    const plan = planFor(pods, targets);
    packReplacements([{ plan, pods }], targets);
    expect(plan.fits.map((f) => f.placedOn)).toEqual(['node-b', 'node-c', 'node-b']);
    expect(plan.blockers).toEqual([]);
  });

  it('adds nothing for a pod that fits nowhere even alone (planDrain already said so)', () => {
    const targets = [capacity(makeNode('node-b', { unschedulable: true }))];
    const pods = [makePod('p', { requests: { cpu: '100m' } })];
    const plan = planFor(pods, targets);
    packReplacements([{ plan, pods }], targets);
    expect(plan.blockers.map((b) => b.kind)).toEqual(['no-capacity']);
  });
});

describe('fitPod at scale', () => {
  it('names at most MAX_LISTED_NODES candidates and rejected nodes, and counts the rest', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => capacity(makeNode(`n-${String(i).padStart(2, '0')}`, { unschedulable: i % 2 === 0 })));
    const fit = fitPod(makePod('p'), nodes);
    expect(fit.candidates).toHaveLength(MAX_LISTED_NODES);
    expect(Object.keys(fit.rejected)).toHaveLength(MAX_LISTED_NODES);
    expect(fit.candidateCount).toBe(15);
    expect(fit.rejectedCount).toBe(15);
  });
});

describe('drainOrder', () => {
  const plan = (moves: number): DrainPlan => ({
    node: '',
    nodeReady: true,
    alreadyCordoned: false,
    pods: [],
    groups: moves ? [Array.from({ length: moves }, () => ({}) as never)] : [],
    blockers: [],
    fits: [],
  });

  it('puts the nodes with the fewest pods to move first, then by name', () => {
    const nodes = [
      { node: 'w-c', plan: plan(3) },
      { node: 'w-a', plan: plan(5) },
      { node: 'w-b', plan: plan(3) },
      { node: 'w-d', plan: plan(0) },
    ];
    expect(drainOrder(nodes).map((i) => nodes[i]!.node)).toEqual(['w-d', 'w-b', 'w-c', 'w-a']);
    expect(podsToMove(plan(3))).toBe(3);
    expect(podsToMove(undefined)).toBe(0);
  });
});

describe('reducePodPage', () => {
  it('keeps full objects only for the drained nodes and sums requests of running pods per node', () => {
    const into: ClusterPods = { onDrainedNodes: new Map([[DRAINED, []]]), requested: new Map() };
    reducePodPage(
      [
        makePod('a', { requests: { cpu: '100m', memory: '1Mi' } }),
        makePod('b', { nodeName: 'node-b', requests: { cpu: '200m' } }),
        makePod('c', { nodeName: 'node-b', requests: { cpu: '300m' } }),
        makePod('done', { nodeName: 'node-b', phase: 'Succeeded', requests: { cpu: '1' } }),
        makePod('pending', { nodeName: '' }),
      ],
      new Set([DRAINED]),
      into,
    );
    expect(into.onDrainedNodes.get(DRAINED)?.map((p) => p.metadata?.name)).toEqual(['a']);
    expect(into.onDrainedNodes.has('node-b')).toBe(false);
    expect(into.requested.get('node-b')).toEqual({ cpuMillis: 500, memoryBytes: 0, pods: 2 });
    expect(into.requested.get(DRAINED)).toEqual({ cpuMillis: 100, memoryBytes: 1024 ** 2, pods: 1 });
  });
});

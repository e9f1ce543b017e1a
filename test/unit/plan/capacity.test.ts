import { describe, expect, it } from '@jest/globals';
import { fitPod, podRequests, rejectReason, toleratesTaint } from '../../../src/engine/plan/capacity.js';
import { capacity, DRAINED, makeNode, makePod } from './fixtures.js';

const Mi = 1024 ** 2;

describe('podRequests', () => {
  it('sums app containers', () => {
    const pod = makePod('p', { requests: { cpu: '100m', memory: '64Mi' }, moreContainers: [{ cpu: '250m', memory: '64Mi' }] });
    expect(podRequests(pod)).toEqual({ cpuMillis: 350, memoryBytes: 128 * Mi });
  });

  it('takes the largest init container when it exceeds the containers, per resource', () => {
    const pod = makePod('p', {
      requests: { cpu: '100m', memory: '256Mi' },
      init: [{ cpu: '1', memory: '10Mi' }, { cpu: '200m' }],
    });
    expect(podRequests(pod)).toEqual({ cpuMillis: 1000, memoryBytes: 256 * Mi });
  });

  it('adds sidecars (restartPolicy Always) to the containers and to later init containers', () => {
    const pod = makePod('p', {
      requests: { cpu: '100m' },
      init: [{ cpu: '50m', sidecar: true }, { cpu: '500m' }],
    });
    // init peak: 50m sidecar + 500m = 550m; running: 100m + 50m = 150m.
    expect(podRequests(pod).cpuMillis).toBe(550);
  });

  it('adds pod overhead', () => {
    const pod = makePod('p', { requests: { cpu: '100m' } });
    pod.spec!.overhead = { cpu: '10m', memory: '1Mi' };
    expect(podRequests(pod)).toEqual({ cpuMillis: 110, memoryBytes: Mi });
  });

  it('takes pod-level requests (spec.resources, Kubernetes 1.34+) instead of the containers, per resource named, overhead on top', () => {
    const pod = makePod('p', { requests: { cpu: '100m', memory: '64Mi' }, init: [{ cpu: '2' }] });
    pod.spec!.resources = { requests: { cpu: '500m' } };
    pod.spec!.overhead = { cpu: '10m' };
    // cpu from the pod level (not the 2-CPU init container), memory still the containers' sum.
    expect(podRequests(pod)).toEqual({ cpuMillis: 510, memoryBytes: 64 * Mi });
  });

  it('is zero without requests', () => {
    expect(podRequests(makePod('p'))).toEqual({ cpuMillis: 0, memoryBytes: 0 });
  });
});

describe('toleratesTaint', () => {
  const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  it.each([
    [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }, true],
    [{ key: 'dedicated', value: 'gpu' }, true], // default operator Equal, empty effect = any
    [{ key: 'dedicated', operator: 'Equal', value: 'cpu' }, false],
    [{ key: 'dedicated', operator: 'Exists' }, true],
    [{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, false],
    [{ operator: 'Exists' }, true], // empty key + Exists tolerates everything
    [{ operator: 'Equal', value: 'gpu' }, false],
    [{ key: 'other', operator: 'Exists' }, false],
  ])('%p → %p', (toleration, expected) => {
    expect(toleratesTaint(toleration, taint)).toBe(expected);
  });
});

describe('rejectReason / fitPod', () => {
  const pod = makePod('web-1', { namespace: 'shop', requests: { cpu: '500m', memory: '256Mi' } });

  it('accepts a Ready, schedulable node with room', () => {
    expect(rejectReason(pod, capacity(makeNode('node-b')), DRAINED)).toBeUndefined();
  });

  it('rejects the drained node itself', () => {
    expect(rejectReason(pod, capacity(makeNode(DRAINED)), DRAINED)).toBe('node being drained');
  });

  it('rejects cordoned nodes unless the pod tolerates the unschedulable taint', () => {
    const cordoned = capacity(makeNode('node-b', { unschedulable: true }));
    expect(rejectReason(pod, cordoned)).toBe('unschedulable');
    const tolerant = makePod('ds', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
    expect(rejectReason(tolerant, cordoned)).toBeUndefined();
  });

  it.each(['False', 'Unknown'] as const)('rejects nodes whose Ready is %s', (ready) => {
    expect(rejectReason(pod, capacity(makeNode('node-b', { ready })))).toBe('not Ready');
  });

  it('checks nodeSelector against labels', () => {
    const picky = makePod('p', { nodeSelector: { disk: 'ssd', zone: 'a' } });
    expect(rejectReason(picky, capacity(makeNode('node-b', { labels: { disk: 'ssd', zone: 'a' } })))).toBeUndefined();
    expect(rejectReason(picky, capacity(makeNode('node-b', { labels: { disk: 'hdd', zone: 'a' } })))).toBe(
      'nodeSelector disk=ssd does not match',
    );
  });

  it('checks required node affinity', () => {
    const picky = makePod('p', { affinity: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] });
    expect(rejectReason(picky, capacity(makeNode('node-b', { labels: { zone: 'b' } })))).toBeUndefined();
    expect(rejectReason(picky, capacity(makeNode('node-b', { labels: { zone: 'c' } })))).toBe('required node affinity does not match');
  });

  it('rejects NoSchedule and NoExecute taints that are not tolerated, ignores PreferNoSchedule', () => {
    const gpu = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    expect(rejectReason(pod, capacity(makeNode('node-b', { taints: [gpu] })))).toBe('taint dedicated=gpu:NoSchedule not tolerated');
    const dying = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
    expect(rejectReason(pod, capacity(makeNode('node-b', { taints: [dying] })))).toBe(
      'taint node.kubernetes.io/unreachable:NoExecute not tolerated',
    );
    const soft = { key: 'spot', value: 'true', effect: 'PreferNoSchedule' };
    expect(rejectReason(pod, capacity(makeNode('node-b', { taints: [soft] })))).toBeUndefined();
    const tolerant = makePod('p', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] });
    expect(rejectReason(tolerant, capacity(makeNode('node-b', { taints: [gpu] })))).toBeUndefined();
  });

  it('compares requests with allocatable minus what is already requested', () => {
    const node = makeNode('node-b', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } });
    expect(rejectReason(pod, capacity(node, { cpuMillis: 500, memoryBytes: 768 * Mi }))).toBeUndefined(); // exactly full
    expect(rejectReason(pod, capacity(node, { cpuMillis: 800 }))).toBe('insufficient cpu: needs 500m, free 200m');
    expect(rejectReason(pod, capacity(node, { memoryBytes: 900 * Mi }))).toBe('insufficient memory: needs 256Mi, free 124Mi');
    expect(rejectReason(pod, capacity(node, { pods: 10, cpuMillis: 1200 }))).toBe(
      'too many pods: 10/10; insufficient cpu: needs 500m, free 0',
    );
  });

  it('counts init containers in what must fit', () => {
    const heavyInit = makePod('p', { requests: { cpu: '100m' }, init: [{ cpu: '2' }] });
    const node = makeNode('node-b', { allocatable: { cpu: '1', memory: '1Gi', pods: '10' } });
    expect(rejectReason(heavyInit, capacity(node))).toBe('insufficient cpu: needs 2, free 1');
  });

  it('treats resources missing from allocatable as 0', () => {
    const node = makeNode('node-b', { allocatable: { cpu: '4', memory: '8Gi' } });
    expect(rejectReason(makePod('p'), capacity(node))).toBe('too many pods: 0/0');
  });

  it('fitPod lists candidates and a reason per rejected node', () => {
    const fit = fitPod(pod, [
      capacity(makeNode(DRAINED)),
      capacity(makeNode('node-b')),
      capacity(makeNode('node-c', { unschedulable: true })),
      capacity(makeNode('node-d'), { cpuMillis: 3800 }),
    ]);
    expect(fit).toEqual({
      pod: 'shop/web-1',
      candidates: ['node-b'],
      rejected: {
        [DRAINED]: 'node being drained',
        'node-c': 'unschedulable',
        'node-d': 'insufficient cpu: needs 500m, free 200m',
      },
    });
  });

  it('fitPod with no nodes has no candidates', () => {
    expect(fitPod(pod, [])).toEqual({ pod: 'shop/web-1', candidates: [], rejected: {} });
  });
});

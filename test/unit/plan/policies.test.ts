import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { lastStartToReady, expectedDowntime } from '../../../src/engine/plan/downtime.js';
import { planDrain } from '../../../src/engine/plan/plan.js';
import { drainLabelOf, nodeDoNotDisrupt, podDoNotDisrupt } from '../../../src/engine/plan/policies.js';
import type { DrainPlan } from '../../../src/engine/types.js';
import { DRAINED, makeNode, makePdb, makePod, options, planInput, workload } from './fixtures.js';

const annotated = (pod: V1Pod, annotations: Record<string, string>): V1Pod => ({ ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, ...annotations } } });
const labelled = (pod: V1Pod, labels: Record<string, string>): V1Pod => ({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, ...labels } } });
const row = (plan: DrainPlan, name: string) => plan.pods.find((p) => p.name === name)!;
const kinds = (plan: DrainPlan) => plan.blockers.map((b) => [b.kind, b.pod, b.fatal]);

describe('reading the annotations and the label as their tools do', () => {
  it.each([
    [{ 'karpenter.sh/do-not-disrupt': 'true' }, 'karpenter.sh/do-not-disrupt=true'],
    [{ 'karpenter.sh/do-not-disrupt': 'True' }, undefined], // Karpenter compares with "true" exactly
    [{ 'karpenter.sh/do-not-disrupt': 'false' }, undefined],
    [{ 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' }, 'cluster-autoscaler.kubernetes.io/safe-to-evict=false'],
    [{ 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' }, undefined],
    [{}, undefined],
  ])('pod %p → %p', (annotations, expected) => {
    expect(podDoNotDisrupt(annotated(makePod('p'), annotations))).toBe(expected);
  });

  it('the Node: do-not-disrupt "true" only', () => {
    const node = makeNode(DRAINED);
    expect(nodeDoNotDisrupt({ ...node, metadata: { ...node.metadata, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } } })).toBe('karpenter.sh/do-not-disrupt=true');
    expect(nodeDoNotDisrupt({ ...node, metadata: { ...node.metadata, annotations: { 'karpenter.sh/do-not-disrupt': 'no' } } })).toBeUndefined();
    expect(nodeDoNotDisrupt(node)).toBeUndefined();
  });

  it.each([
    ['skip', { label: 'skip' }],
    ['Skip', { label: 'skip' }],
    ['wait-completed', { label: 'wait-completed' }],
    ['WaitCompleted', { label: 'wait-completed' }],
    ['waitcompleted', { label: 'wait-completed' }],
    ['drain', { unknown: 'drain' }],
  ])('cluster.x-k8s.io/drain=%s → %p (Cluster API: case-insensitive, its first "-" ignored)', (value, expected) => {
    expect(drainLabelOf(labelled(makePod('p'), { 'cluster.x-k8s.io/drain': value }))).toEqual(expected);
  });
});

describe('planDrain: do-not-disrupt', () => {
  const dnd = { 'karpenter.sh/do-not-disrupt': 'true' };

  it('refuses a pod the drain would take off, naming the pod and the annotation (fatal: before any change)', () => {
    const plan = planDrain(planInput({ pods: [annotated(makePod('web'), dnd), makePod('other')] }), options());
    expect(row(plan, 'web')).toMatchObject({ action: 'refuse', reason: expect.stringContaining('annotation karpenter.sh/do-not-disrupt=true: must not be disrupted') });
    expect(row(plan, 'other').action).toBe('evict');
    expect(plan.blockers).toEqual([
      { kind: 'do-not-disrupt', pod: 'default/web', fatal: true, message: expect.stringMatching(/^pod default\/web has annotation karpenter.sh\/do-not-disrupt=true: it must not be disrupted; .*respect-do-not-disrupt: false/) },
    ]);
    expect(plan.groups.flat().map((p) => p.name)).toEqual(['other']);
  });

  it('respect-do-not-disrupt: false evicts it, and the plan says the annotation was overridden', () => {
    const plan = planDrain(planInput({ pods: [annotated(makePod('web'), dnd)] }), options({ respectDoNotDisrupt: false }));
    expect(row(plan, 'web')).toMatchObject({ action: 'evict', reason: expect.stringContaining('annotation karpenter.sh/do-not-disrupt=true overridden (respect-do-not-disrupt: false)') });
    expect(kinds(plan)).toEqual([['do-not-disrupt-overridden', 'default/web', false]]);
  });

  it('does not apply to pods the drain leaves alone or that are already going: DaemonSet, mirror, finished, terminating, unselected', () => {
    const pods = [
      makePod('logs', { owner: { kind: 'DaemonSet', name: 'logs' } }),
      makePod('static', { mirror: true, owner: { kind: 'Node', name: DRAINED } }),
      makePod('done', { phase: 'Succeeded' }),
      makePod('leaving', { deleting: true }),
      makePod('other-app', { labels: { app: 'other' } }),
    ].map((p) => annotated(p, dnd));
    const plan = planDrain(planInput({ pods, workloads: { 'DaemonSet/default/logs': workload('DaemonSet', 'logs', 3, 3) } }), options({ podSelector: 'app!=other' }));
    expect(plan.blockers.filter((b) => b.kind.includes('do-not-disrupt'))).toEqual([]);
  });

  it('adds its own refusal to a pod refused for an option it lacks (both are named)', () => {
    const plan = planDrain(planInput({ pods: [annotated(makePod('bare', { owner: null }), dnd)] }), options());
    expect(kinds(plan)).toEqual([
      ['needs-force', 'default/bare', true],
      ['do-not-disrupt', 'default/bare', true],
    ]);
  });

  it('on the Node: a fatal finding named by the node, or overridden', () => {
    const base = makeNode(DRAINED);
    const node = { ...base, metadata: { ...base.metadata, annotations: { 'karpenter.sh/do-not-disrupt': 'true' } } };
    const refused = planDrain(planInput({ node }), options());
    expect(refused.blockers).toEqual([{ kind: 'node-do-not-disrupt', pod: DRAINED, fatal: true, message: expect.stringContaining(`node ${DRAINED} has annotation karpenter.sh/do-not-disrupt=true: it must not be drained`) }]);
    expect(kinds(planDrain(planInput({ node }), options({ respectDoNotDisrupt: false })))).toEqual([['do-not-disrupt-overridden', DRAINED, false]]);
  });
});

describe('planDrain: the cluster.x-k8s.io/drain label', () => {
  it('skip keeps a pod on the node, even one kubectl would refuse without force', () => {
    const plan = planDrain(planInput({ pods: [labelled(makePod('bare', { owner: null }), { 'cluster.x-k8s.io/drain': 'skip' })] }), options());
    expect(row(plan, 'bare')).toMatchObject({ action: 'skip', reason: "label cluster.x-k8s.io/drain=skip: stays on the node (Cluster API's skip)" });
    expect(plan.blockers).toEqual([]);
    expect(plan.groups).toEqual([]);
  });

  it('wait-completed: a running pod is waited for, never evicted; a finished one stays; a terminating one is waited for as before', () => {
    const label = { 'cluster.x-k8s.io/drain': 'wait-completed' };
    const pods = [labelled(makePod('job'), label), labelled(makePod('done', { phase: 'Failed' }), label), labelled(makePod('leaving', { deleting: true }), label)];
    const plan = planDrain(planInput({ pods }), options());
    expect(Object.fromEntries(plan.pods.map((p) => [p.name, p.action]))).toEqual({ job: 'wait-completed', done: 'skip', leaving: 'wait' });
    expect(row(plan, 'job').reason).toBe('label cluster.x-k8s.io/drain=wait-completed: not evicted; the drain waits until it completes');
    expect(plan.groups).toEqual([]);
  });

  it('an unknown value is a plain drain, as in Cluster API', () => {
    const plan = planDrain(planInput({ pods: [labelled(makePod('web'), { 'cluster.x-k8s.io/drain': 'later' })] }), options());
    expect(row(plan, 'web').action).toBe('evict');
  });

  it('without annotations or labels the plan is the same whatever respect-do-not-disrupt says', () => {
    const pods = [makePod('web'), makePod('bare', { owner: null }), makePod('cache', { emptyDir: true }), makePod('done', { phase: 'Succeeded' })];
    expect(planDrain(planInput({ pods }), options({ respectDoNotDisrupt: false }))).toEqual(planDrain(planInput({ pods }), options()));
  });
});

describe('planDrain: forced progress is said before any change', () => {
  const guard = makePdb('web-pdb', { minAvailable: 1, healthy: 1, desired: 1, expected: 1, allowed: 0 });
  const webPod = (name: string) => makePod(name, { labels: { app: 'web' }, owner: { kind: 'ReplicaSet', name: 'web-rs' } });
  const workloads = { 'ReplicaSet/default/web-rs': workload('Deployment', 'web', 1, 1) };

  it('disable-eviction: every PDB of a pod it deletes is named as bypassed; no budget finding is made (no budget is asked)', () => {
    const second = makePdb('second', { selector: { matchLabels: { app: 'web' } } });
    const plan = planDrain(planInput({ pods: [webPod('web-1'), makePod('free', { labels: { app: 'free' } })], pdbs: [guard, second], workloads }), options({ disableEviction: true, migration: 'evict' }));
    expect(plan.blockers.filter((b) => b.kind === 'budget-bypassed')).toEqual([
      { kind: 'budget-bypassed', pod: 'default/web-1', pdbs: ['default/web-pdb', 'default/second'], fatal: false, message: 'PDB default/web-pdb, default/second is bypassed: disable-eviction deletes pod default/web-1 instead of evicting it, without asking the budget' },
    ]);
    expect(plan.blockers.filter((b) => b.kind === 'multiple-pdbs' || b.kind === 'pdb-never-allows')).toEqual([]);
  });

  it('force-after: a pod whose budget may refuse is named with the delay', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], pdbs: [guard], workloads }), options({ forceAfterMs: 300_000, migration: 'evict' }));
    expect(plan.blockers).toContainEqual(
      expect.objectContaining({ kind: 'budget-bypassed', pod: 'default/web-1', message: "if PDB default/web-pdb still refuses to evict pod default/web-1 after 300s, the pod is deleted without the budget's consent (force-after)" }),
    );
  });

  it('by default no pod is named as bypassed', () => {
    const plan = planDrain(planInput({ pods: [webPod('web-1')], pdbs: [guard], workloads }), options({ migration: 'evict' }));
    expect(plan.blockers.filter((b) => b.kind === 'budget-bypassed')).toEqual([]);
  });
});

describe('expected downtime from the pod\'s last start', () => {
  const started = (o: { start?: string; ready?: string; running?: string[] }): V1Pod => ({
    metadata: { namespace: 'db', name: 'db-0' },
    status: {
      ...(o.start && { startTime: o.start as unknown as Date }),
      conditions: o.ready ? [{ type: 'Ready', status: 'True', lastTransitionTime: o.ready as unknown as Date }] : [],
      containerStatuses: (o.running ?? []).map((at, i) => ({ name: `c${i}`, image: 'x', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: at as unknown as Date } } })),
    },
  });

  it('start to the Ready condition; else to the latest container start; else unknown', () => {
    expect(lastStartToReady(started({ start: '2026-01-01T00:00:00Z', ready: '2026-01-01T00:00:12Z' }))).toEqual({ ms: 12_000, via: 'status.startTime to its Ready condition' });
    expect(lastStartToReady(started({ start: '2026-01-01T00:00:00Z', running: ['2026-01-01T00:00:03Z', '2026-01-01T00:00:05Z'] }))?.ms).toBe(5_000);
    // A Ready time before the start (a clock skew, a stale condition) is no evidence.
    expect(lastStartToReady(started({ start: '2026-01-01T00:00:10Z', ready: '2026-01-01T00:00:00Z' }))).toBeUndefined();
    expect(lastStartToReady(started({ ready: '2026-01-01T00:00:12Z' }))).toBeUndefined();
  });

  it('a workload\'s outage is its slowest pod\'s start, and says so; none known is said too', () => {
    const a = started({ start: '2026-01-01T00:00:00Z', ready: '2026-01-01T00:00:04Z' });
    const b = { ...started({ start: '2026-01-01T00:00:00Z', ready: '2026-01-01T00:00:09Z' }), metadata: { namespace: 'db', name: 'db-1' } };
    expect(expectedDowntime([a, b])).toEqual({ estimateMs: 9_000, basis: expect.stringMatching(/^pod db\/db-1 took 9s from start to Ready last time/) });
    expect(expectedDowntime([started({})])).toEqual({ basis: 'no start-to-Ready on record for db/db-0 (status.startTime and Ready time missing)' });
  });

  it('the plan attaches it to a StatefulSet left with no ready replica', () => {
    const pod = { ...makePod('db-0', { owner: { kind: 'StatefulSet', name: 'db' } }), status: { ...started({ start: '2026-01-01T00:00:00Z', ready: '2026-01-01T00:00:06Z' }).status, phase: 'Running' } };
    const plan = planDrain(planInput({ pods: [pod], workloads: { 'StatefulSet/default/db': workload('StatefulSet', 'db', 1, 1) } }), options());
    expect(plan.blockers).toEqual([expect.objectContaining({ kind: 'unavoidable-downtime', expectedDowntime: { estimateMs: 6_000, basis: expect.any(String) }, message: expect.stringContaining('estimated downtime about 6s') })]);
  });
});

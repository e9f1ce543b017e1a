// selectWork: what a node's drain starts next, from its plan and what is under way (pure).
import { describe, expect, it } from '@jest/globals';
import { selectWork, type WorkView } from '../../src/engine/execute/select-work.js';
import type { DrainPlan, PodPlan, WorkloadInfo } from '../../src/engine/types.js';

const web: WorkloadInfo = { kind: 'Deployment', namespace: 'ns', name: 'web', replicas: 2, readyReplicas: 2 };

function pod(name: string, o: Partial<PodPlan> = {}): PodPlan {
  return { namespace: 'ns', name, uid: name, podClass: 'movable', action: 'evict', reason: 'test', priority: 0, pdbs: [], owner: { kind: 'ReplicaSet', name: 'rs' }, ...o };
}

function view(pods: PodPlan[], o: Partial<WorkView> & { blockers?: DrainPlan['blockers'] } = {}): WorkView {
  const { blockers = [], ...rest } = o;
  return {
    plan: { node: 'w1', nodeReady: true, alreadyCordoned: true, pods, groups: [], blockers, fits: [] },
    started: () => false,
    budgetWaits: new Map(),
    tiersInFlight: [],
    freeSlots: 10,
    inFlightUnder: () => 0,
    allowedNow: () => undefined,
    ready: () => true,
    ...rest,
  };
}

const kinds = (v: WorkView) => selectWork(v).work.map((w) => `${w.kind} ${'pods' in w ? w.pods.map((p) => p.name).join('+') : w.pod.name}`);

describe('selectWork', () => {
  it('starts the lowest eviction tier only: critical pods and DaemonSet pods wait for the others to leave', () => {
    const pods = [pod('app'), pod('dns', { priorityClassName: 'system-cluster-critical' }), pod('agent', { owner: { kind: 'DaemonSet', name: 'agent' } })];
    expect(kinds(view(pods))).toEqual(['evict app']);
    // app under way (tier 0 in flight): still nothing of a later tier.
    expect(kinds(view(pods, { started: (uid) => uid === 'app', tiersInFlight: [0] }))).toEqual([]);
    // app gone: the DaemonSet tier (1) next.
    expect(kinds(view(pods.slice(1)))).toEqual(['evict agent']);
  });

  it('never starts more than the run-wide free slots; pods already started are not started again', () => {
    const pods = [pod('a'), pod('b'), pod('c')];
    expect(kinds(view(pods, { freeSlots: 2 }))).toEqual(['evict a', 'evict b']);
    expect(kinds(view(pods, { freeSlots: 0 }))).toEqual([]);
    expect(kinds(view(pods, { started: (uid) => uid !== 'c' }))).toEqual(['evict c']);
    expect(selectWork(view(pods, { freeSlots: 0 })).pending).toBe(3);
  });

  it("gives the next slot to a budget that allows a disruption now, then to the budget with the fewest of the run's evictions in flight", () => {
    const pods = [pod('a', { pdbs: ['ns/pa'] }), pod('b', { pdbs: ['ns/pb'] })];
    const allowedNow = (pdb: string) => ({ 'ns/pa': 0, 'ns/pb': 1 })[pdb];
    expect(kinds(view(pods, { freeSlots: 1, allowedNow }))).toEqual(['evict b']);
    // Two slots: b first (its budget allows), then a.
    expect(kinds(view(pods, { freeSlots: 2, allowedNow }))).toEqual(['evict b', 'evict a']);
  });

  it("a Deployment's migrating pods start together, as one task holding one slot, with how many of them are Ready", () => {
    const pods = [pod('web-1', { action: 'migrate', workload: web }), pod('web-2', { action: 'migrate', workload: web }), pod('other')];
    const work = selectWork(view(pods, { freeSlots: 2, ready: (p) => p.uid === 'web-1' })).work;
    expect(work.map((w) => w.kind)).toEqual(['migrate', 'evict']);
    expect(work[0]).toMatchObject({ kind: 'migrate', ready: 1 });
    expect(work[0]!.kind === 'migrate' && work[0]!.pods.map((p) => p.name)).toEqual(['web-1', 'web-2']);
  });

  it('an eviction waiting on its budget whose pod the plan now migrates gives its wait up; its Deployment migrates only once the wait has ended', () => {
    const waiting = pod('web-1', { action: 'migrate', workload: web });
    const sibling = pod('web-2', { action: 'migrate', workload: web });
    const budgetWaits = new Map([['web-1', { givingUp: false }]]);
    const started = (uid: string) => uid === 'web-1';
    expect(kinds(view([waiting, sibling], { budgetWaits, started }))).toEqual(['give-up-wait web-1']);
    // Told, not yet ended: the sibling still waits to join the migration.
    expect(kinds(view([waiting, sibling], { budgetWaits: new Map([['web-1', { givingUp: true }]]), started }))).toEqual([]);
    // Ended (its result dropped): both migrate together.
    expect(kinds(view([waiting, sibling]))).toEqual(['migrate web-1+web-2']);
  });

  it('refuses what the plan refuses, waits for what is already terminating, and counts only work still to start as pending', () => {
    const pods = [
      pod('bare', { action: 'refuse', reason: 'has no controller; set force: true', owner: undefined }),
      pod('leaving', { action: 'wait', podClass: 'terminating' }),
      pod('app'),
      pod('ds', { action: 'skip' }),
    ];
    const s = selectWork(view(pods));
    expect(s.work.map((w) => w.kind)).toEqual(['refuse', 'await-terminating', 'evict']);
    expect(s.work[0]).toMatchObject({ why: 'pod ns/bare: has no controller; set force: true' });
    expect(s.pending).toBe(2); // leaving and app; the refusal is settled by starting it, skip stays
    const fatal = view([pod('x')], { blockers: [{ kind: 'multiple-pdbs', pod: 'ns/x', message: 'pod ns/x is selected by 2 PDBs', fatal: true }] });
    expect(selectWork(fatal).work).toEqual([{ kind: 'refuse', pod: expect.objectContaining({ name: 'x' }), why: 'pod ns/x is selected by 2 PDBs' }]);
  });

  it('waits for a wait-completed pod (cluster.x-k8s.io/drain) without an eviction slot, and a do-not-disrupt refusal fails its pod', () => {
    const s = selectWork(view([pod('job', { action: 'wait-completed' }), pod('app')], { freeSlots: 1 }));
    expect(s.work.map((w) => `${w.kind} ${'pod' in w ? w.pod.name : ''}`)).toEqual(['await-completion job', 'evict app']);
    expect(s.pending).toBe(2);
    const refused = view([pod('keep', { action: 'refuse', reason: 'annotation karpenter.sh/do-not-disrupt=true: must not be disrupted' })], {
      blockers: [{ kind: 'do-not-disrupt', pod: 'ns/keep', message: 'pod ns/keep has annotation karpenter.sh/do-not-disrupt=true: it must not be disrupted', fatal: true }],
    });
    expect(selectWork(refused).work).toEqual([{ kind: 'refuse', pod: expect.objectContaining({ name: 'keep' }), why: 'pod ns/keep has annotation karpenter.sh/do-not-disrupt=true: it must not be disrupted' }]);
  });
});

// Node pools (issue 11): several nodes in one run, on a real control plane with five kwok nodes.
// What the engine promises is observed by the test's own watches (nodes, pods) and by the fault
// harness's independent recorder (faults/recorder.ts: its own watches of pods and PDBs, its own
// count of evictions that took a budget below its desired healthy pods), never by the engine.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { POD_DELETE_DELAY_ANNOTATION } from '../../cluster/src/index.js';
import { Recorder } from '../../faults/recorder.js';
import {
  createPdb,
  deployment,
  drain,
  ensureNamespace,
  firstTime,
  pdb,
  pinTo,
  record,
  namespacesDeletedAfterEach,
  useCluster,
  waitReady,
  type Observation,
} from './support.js';

const [W1, W2, W3, W4, W5] = ['w1', 'w2', 'w3', 'w4', 'w5'];
const POOL = 'pool-np';

const tc = useCluster({ nodes: 5 });
const namespace = namespacesDeletedAfterEach(tc);

afterEach(async () => {
  for (const n of [W1, W2, W3, W4, W5]) await tc.cluster.kubectl(['label', 'node', n, `${POOL}-`]);
}, 60_000);

async function label(nodes: string[]): Promise<void> {
  for (const n of nodes) await tc.cluster.kubectl(['label', 'node', n, `${POOL}=yes`, '--overwrite']);
}

/**
 * `replicas` pods of a new Deployment on `node` (the other nodes cordoned while they schedule).
 * `deleteDelay`: kwok keeps an evicted pod Terminating that long, so an eviction is observably in
 * flight for a while (kwok deletes at once otherwise).
 */
async function deployOnNode(ns: string, name: string, node: string, replicas: number, o: { deleteDelay?: string; cpu?: string; readyDelay?: string } = {}): Promise<void> {
  await ensureNamespace(tc, ns);
  const body = deployment(ns, name, replicas, o.readyDelay ? { readyDelay: o.readyDelay } : {});
  const template = body.spec!.template;
  if (o.deleteDelay) template.metadata!.annotations = { ...template.metadata!.annotations, [POD_DELETE_DELAY_ANNOTATION]: o.deleteDelay };
  if (o.cpu) template.spec!.containers[0]!.resources = { requests: { cpu: o.cpu, memory: '16Mi' } };
  const unpin = await pinTo(tc, node);
  try {
    await tc.apps.createNamespacedDeployment({ namespace: ns, body });
    const pods = await waitReady(tc, ns, name, replicas);
    if (!pods.every((p) => p.spec?.nodeName === node)) throw new Error(`${ns}/${name}: not every pod landed on ${node}`);
  } finally {
    await unpin();
  }
}

/** When each pod started leaving (deletionTimestamp first seen) and when it was gone, by uid. */
function departures(events: Observation<V1Pod>[]): Map<string, { node: string; pod: string; from: number; to?: number }> {
  const seen = new Map<string, { node: string; pod: string; from: number; to?: number }>();
  for (const e of events) {
    const uid = e.obj.metadata?.uid ?? '';
    if (e.obj.metadata?.deletionTimestamp && !seen.has(uid)) seen.set(uid, { node: e.obj.spec?.nodeName ?? '', pod: e.obj.metadata?.name ?? '', from: e.at });
    if (e.type === 'DELETED') {
      const d = seen.get(uid) ?? { node: e.obj.spec?.nodeName ?? '', pod: e.obj.metadata?.name ?? '', from: e.at };
      d.to = e.at;
      seen.set(uid, d);
    }
  }
  return seen;
}

describe('node pools: several nodes in one run', () => {
  it('a selector drain cordons every selected node before the first eviction; nothing evicted lands on another node of the run, and no pod is moved twice', async () => {
    const ns = namespace('np-cordon');
    await deployOnNode(ns, 'a', W1, 2);
    await deployOnNode(ns, 'b', W2, 2);
    await deployOnNode(ns, 'c', W3, 1);
    const before = new Set((await tc.core.listNamespacedPod({ namespace: ns })).items.map((p) => p.metadata?.uid));
    await label([W1, W2, W3]);
    const nodes = await record<V1Node>(tc, '/api/v1/nodes');
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    const { report } = await drain(tc, { selector: `${POOL}=yes`, migration: 'evict', maxUnavailableNodes: { count: 2 }, timeoutMs: 45_000 });
    // The drain does not wait for replacements (no wait-for-replacements): the watch does, so
    // every replacement's binding is seen.
    for (const [app, n] of [['a', 2], ['b', 2], ['c', 1]] as const) await waitReady(tc, ns, app, n);
    nodes.stop();
    pods.stop();

    expect(report.success).toBe(true);
    // Drain order: fewest pods to move first (w3 has 1), then by name.
    expect(report.drainOrder?.nodes).toEqual([W3, W1, W2]);
    expect(report.nodes.map((n) => n.node)).toEqual([W3, W1, W2]);
    const firstEviction = firstTime(pods.events, 'an eviction', (e) => !!e.obj.metadata?.deletionTimestamp || e.type === 'DELETED');
    const cordonedAt = (name: string) => firstTime(nodes.events, `${name} cordoned`, (e) => e.obj.metadata?.name === name && !!e.obj.spec?.unschedulable);
    for (const n of [W1, W2, W3]) expect(cordonedAt(n)).toBeLessThanOrEqual(firstEviction);
    // Every pod bound during the run went to a node the run keeps.
    const boundTo = new Map<string, string>();
    for (const e of pods.events) if (e.obj.spec?.nodeName && !before.has(e.obj.metadata?.uid)) boundTo.set(e.obj.metadata!.uid!, e.obj.spec.nodeName);
    expect(boundTo.size).toBeGreaterThanOrEqual(5);
    expect([...boundTo.values()].every((n) => n === W4 || n === W5)).toBe(true);
    // Moved at most once: only pods that were there before the run were evicted.
    const left = departures(pods.events);
    expect([...left.keys()].filter((uid) => !before.has(uid))).toEqual([]);
    expect([...left.keys()].sort()).toEqual([...before].sort());
  }, 60_000);

  it('max-unavailable-nodes: 2 never has more than 2 nodes with evictions in flight (observed by the test\'s own pod watch)', async () => {
    const ns = namespace('np-width');
    // Each evicted pod stays Terminating 3 s, so a node's evictions are in flight for a while.
    for (const [node, app] of [[W1, 'a'], [W2, 'b'], [W3, 'c']] as const) await deployOnNode(ns, app, node, 2, { deleteDelay: '3s' });
    await label([W1, W2, W3]);
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    const { report } = await drain(tc, { selector: `${POOL}=yes`, migration: 'evict', maxUnavailableNodes: { count: 2 }, timeoutMs: 70_000 });
    pods.stop();
    expect(report.success).toBe(true);

    // A node has evictions in flight from its first pod's deletionTimestamp to its last pod's deletion.
    const spans = new Map<string, { from: number; to: number }>();
    for (const d of departures(pods.events).values()) {
      const s = spans.get(d.node) ?? { from: Infinity, to: -Infinity };
      s.from = Math.min(s.from, d.from);
      s.to = Math.max(s.to, d.to ?? Infinity);
      spans.set(d.node, s);
    }
    expect([...spans.keys()].sort()).toEqual([W1, W2, W3]);
    const points = [...spans.values()].flatMap((s) => [s.from, s.to]);
    const busyAt = (t: number) => [...spans.values()].filter((s) => s.from <= t && t < s.to).length;
    const most = Math.max(...points.map(busyAt));
    expect(most).toBeLessThanOrEqual(2);
    // And the pool did drain two at once (the limit was reached, not just respected by going one by one).
    expect(most).toBe(2);
  }, 90_000);

  it('a PDB shared by pods on two nodes draining at once is never over-spent (independent recorder)', async () => {
    const ns = namespace('np-shared-pdb');
    await ensureNamespace(tc, ns);
    // One Deployment, 2 pods on w1 and 2 on w2, one PDB allowing 1 disruption across all four.
    await deployOnNode(ns, 'shared', W1, 2, { readyDelay: '1s' });
    const unpin = await pinTo(tc, W2);
    try {
      await tc.apps.patchNamespacedDeployment(
        { namespace: ns, name: 'shared', body: [{ op: 'replace', path: '/spec/replicas', value: 4 }] },
      );
      await waitReady(tc, ns, 'shared', 4);
    } finally {
      await unpin();
    }
    await createPdb(tc, ns, pdb(ns, 'shared', 'shared', { maxUnavailable: 1 }), 1);
    await label([W1, W2]);
    const recorder = new Recorder(tc.kc, (namespace) => namespace === ns);
    await recorder.start();
    let report;
    try {
      ({ report } = await drain(tc, { selector: `${POOL}=yes`, migration: 'evict', maxUnavailableNodes: { count: 2 }, timeoutMs: 130_000 }));
    } finally {
      recorder.stop();
    }
    expect(report.success).toBe(true);
    // Both nodes drained in the same window, so both reconcile loops worked on the one budget.
    const [n1, n2] = report.nodes;
    expect(n1!.results.filter((r) => r.outcome === 'evicted')).toHaveLength(2);
    expect(n2!.results.filter((r) => r.outcome === 'evicted')).toHaveLength(2);
    expect(recorder.evictions.map((e) => e.node).sort()).toEqual([W1, W1, W2, W2]);
    expect(recorder.violations).toEqual([]);
    expect(recorder.missed).toBe(0);
  }, 150_000);

  it('the plan reports the pair of pods that each fit alone on the one node left but not together', async () => {
    const ns = namespace('np-packing');
    const allocatable = (await tc.core.readNode({ name: W5 })).status?.allocatable?.cpu ?? '0';
    const millis = allocatable.endsWith('m') ? Number(allocatable.slice(0, -1)) : Number(allocatable) * 1000;
    const cpu = `${Math.floor(millis * 0.6)}m`;
    await deployOnNode(ns, 'big-a', W1, 1, { cpu });
    await deployOnNode(ns, 'big-b', W2, 1, { cpu });
    await label([W1, W2, W3, W4]);
    const { report } = await drain(tc, { selector: `${POOL}=yes`, operation: 'plan' });
    const findings = report.nodes.flatMap((n) => (n.plan?.blockers ?? []).filter((b) => b.kind === 'no-capacity').map((b) => ({ node: n.node, ...b })));
    expect(findings).toHaveLength(1);
    const [finding] = findings;
    // Same priority: placed in drain order (w1 before w2, one pod each), so big-b finds no room left.
    expect(finding!.node).toBe(W2);
    expect(finding!.pod).toMatch(new RegExp(`^${ns}/big-b-`));
    expect(finding!.message).toMatch(new RegExp(`fits alone on ${W5}, but not together with the other pods this run moves \\(placed first, by priority: ${ns}/big-a-\\S+ on ${W5}\\)`));
    const fits = report.nodes.flatMap((n) => n.plan?.fits ?? []).filter((f) => f.pod.startsWith(`${ns}/`));
    expect(fits.map((f) => f.candidates)).toEqual([[W5], [W5]]);
    expect(fits.filter((f) => f.placedOn === W5)).toHaveLength(1);
  }, 60_000);
});

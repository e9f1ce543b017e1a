// The drain engine against a real control plane (kube-apiserver, controller-manager, scheduler,
// etcd) with kwok nodes. Every assertion is about what the cluster observably did.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import {
  deployOn,
  deployment,
  drain,
  isPodReady,
  pdb,
  podsOf,
  namespacesDeletedAfterEach,
  record,
  useCluster,
  createPdb as createPdbIn,
} from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3 });
const namespace = namespacesDeletedAfterEach(tc);

async function nodeUnschedulable(name: string): Promise<boolean> {
  return (await tc.core.readNode({ name })).spec?.unschedulable === true;
}

const deployOnW1 = (ns: string, name: string, replicas: number, extra: Parameters<typeof deployment>[3] = {}) =>
  deployOn(tc, W1, ns, name, replicas, extra);

const createPdb = (ns: string, body: V1PodDisruptionBudget, allowed: number) => createPdbIn(tc, ns, body, allowed);

/** Replays pod watch events into "how many pods of the app are Ready and not terminating" after each event. */
function readyTimeline(events: { at: number; type: string; obj: V1Pod }[]): { at: number; ready: number; terminating: number }[] {
  const state = new Map<string, V1Pod>();
  const out: { at: number; ready: number; terminating: number }[] = [];
  for (const e of events) {
    const key = e.obj.metadata!.name!;
    if (e.type === 'DELETED') state.delete(key);
    else state.set(key, e.obj);
    const pods = [...state.values()];
    out.push({
      at: e.at,
      ready: pods.filter((p) => !p.metadata?.deletionTimestamp && isPodReady(p)).length,
      terminating: pods.filter((p) => p.metadata?.deletionTimestamp).length,
    });
  }
  return out;
}

describe('drain against a real control plane', () => {
  it('evicts PDB-protected pods one at a time, each after the previous replacement is Ready, never violating the budget', async () => {
    const ns = namespace('pdb-serial');
    // Replacements take 1 s to become Ready, so the refused evictions really wait on the budget.
    const old = await deployOnW1(ns, 'web', 3, { readyDelay: '1s' });
    await createPdb(ns, pdb(ns, 'web', 'web', { maxUnavailable: 1 }), 1);
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    const pdbs = await record<V1PodDisruptionBudget>(tc, `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 });
    pods.stop();
    pdbs.stop();

    expect(report.success).toBe(true);
    const plan = report.nodes[0]!.plan!;
    expect(plan.pods.filter((p) => p.namespace === ns).map((p) => p.action)).toEqual(['evict', 'evict', 'evict']);
    const results = report.nodes[0]!.results.filter((r) => r.pod.startsWith(`${ns}/`));
    expect(results.map((r) => r.outcome)).toEqual(['evicted', 'evicted', 'evicted']);
    // Three evictions at once against an allowance of one: the other two were refused (429) and waited.
    expect(results.reduce((n, r) => n + r.budgetWaits, 0)).toBeGreaterThanOrEqual(2);
    expect(results.filter((r) => r.budgetWaits > 0)).toHaveLength(2);

    // Never fewer than 2 ready pods (the budget: 3 - maxUnavailable 1) at any observed moment.
    // The watch opens with one ADDED event per existing pod: measure from the moment all 3 are in.
    const all = readyTimeline(pods.events);
    const timeline = all.slice(all.findIndex((t) => t.ready === 3));
    expect(timeline.length).toBeGreaterThan(3);
    expect(Math.min(...timeline.map((t) => t.ready))).toBeGreaterThanOrEqual(2);
    // One at a time: never two old pods terminating at once.
    expect(Math.max(...timeline.map((t) => t.terminating))).toBeLessThanOrEqual(1);
    // Each eviction after the first happened when all 3 were Ready again (the previous replacement was up).
    const oldNames = new Set(old.map((p) => p.metadata!.name));
    const evictions = pods.events.filter(
      (e, i, all) => oldNames.has(e.obj.metadata!.name) && e.obj.metadata?.deletionTimestamp && all.findIndex((x) => x.obj.metadata!.name === e.obj.metadata!.name && x.obj.metadata?.deletionTimestamp) === i,
    );
    expect(evictions).toHaveLength(3);
    for (const ev of evictions) {
      const before = timeline.filter((t) => t.at < ev.at).at(-1);
      expect(before?.ready).toBe(3);
    }
    // The budget as the disruption controller reported it never went below what it requires,
    // and it did report the drain: the allowance spent (0) while a replacement started.
    const budgets = pdbs.events.map((e) => e.obj.status).filter((st) => st?.currentHealthy !== undefined && st.desiredHealthy !== undefined);
    expect(budgets.some((st) => st!.disruptionsAllowed === 0)).toBe(true);
    expect(budgets.filter((st) => st!.currentHealthy! < st!.desiredHealthy!)).toEqual([]);
    // Replacements run elsewhere; w1 has none of the app's pods left.
    const now = await podsOf(tc, ns, 'web');
    expect(now.filter((p) => !p.metadata?.deletionTimestamp).every((p) => p.spec?.nodeName !== W1)).toBe(true);
    expect(await nodeUnschedulable(W1)).toBe(true);
  }, 60_000);

  it('fails at the timeout naming the pod and the PDB that can never allow, and leaves the node cordoned', async () => {
    const ns = namespace('pdb-never');
    const [pod] = await deployOnW1(ns, 'solo', 1);
    await createPdb(ns, pdb(ns, 'solo-pdb', 'solo', { minAvailable: 1 }), 0);

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 8_000 });

    expect(report.success).toBe(false);
    const node = report.nodes[0]!;
    expect(node.error).toMatch(/timeout of 8s expired/);
    const blocked = node.blocked.find((b) => b.pod === `${ns}/${pod!.metadata!.name}`);
    expect(blocked?.pdb).toBe(`${ns}/solo-pdb`);
    expect(blocked?.budget).toMatch(/healthy 1 \/ desired 1 .*allowed 0/);
    expect(report.summary).toMatch(/cordon/i);
    expect(await nodeUnschedulable(W1)).toBe(true);
    // The pod was never evicted.
    const still = await tc.core.readNamespacedPod({ namespace: ns, name: pod!.metadata!.name! });
    expect(still.metadata?.deletionTimestamp).toBeUndefined();

    // With uncordon-on-failure the node is put back (a node cordoned before the run stays cordoned, so start schedulable).
    await tc.cluster.kubectl(['uncordon', W1]);
    const again = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 5_000, uncordonOnFailure: true });
    expect(again.report.success).toBe(false);
    expect(again.report.nodes[0]!.uncordoned).toBe(true);
    expect(await nodeUnschedulable(W1)).toBe(false);
  }, 90_000);

  it('refuses a pod selected by two PDBs, naming both, before changing anything', async () => {
    const ns = namespace('two-pdbs');
    await deployOnW1(ns, 'api', 2);
    await createPdb(ns, pdb(ns, 'api-a', 'api', { maxUnavailable: 1 }), 1);
    await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'api-b', 'api', { minAvailable: 1 }) });

    const { report } = await drain(tc, { nodes: [W1] });

    expect(report.success).toBe(false);
    expect(report.nodes[0]!.error).toMatch(/api-a/);
    expect(report.nodes[0]!.error).toMatch(/api-b/);
    expect(report.nodes[0]!.cordoned).toBe(false);
    expect(await nodeUnschedulable(W1)).toBe(false);
    expect((await podsOf(tc, ns, 'api')).every((p) => !p.metadata?.deletionTimestamp)).toBe(true);
  }, 60_000);
});

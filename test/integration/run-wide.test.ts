// Decisions that belong to the whole run, taken on live state (issue 19), on a real control
// plane with four kwok nodes: each test reproduces a defect of the first engine (each failed on
// main at 2e16e95) and checks what the cluster was left with, observed by the test's own reads.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { V1Deployment } from '@kubernetes/client-node';
import { ANNOTATION_DRAIN_LOCK } from '../../src/engine/execute/drain-lock.js';
import { ANNOTATION_ORIGINAL_REPLICAS, LABEL_SCALED, raiseOf } from '../../src/engine/execute/restore.js';
import {
  createPdb,
  deleteNamespace,
  deployment,
  drain,
  ensureNamespace,
  eventually,
  isPodReady,
  makeNotReady,
  memoryLogger,
  pdb,
  pinTo,
  podsOf,
  record,
  useCluster,
  waitReady,
} from './support.js';

const [W1, W2, W3, W4] = ['w1', 'w2', 'w3', 'w4'];
const POOL = 'pool-rw';
const tc = useCluster({ nodes: 4 });

const namespaces: string[] = [];
afterEach(async () => {
  for (const n of [W1, W2, W3, W4]) {
    await tc.cluster.kubectl(['label', 'node', n, `${POOL}-`]);
    await tc.cluster.kubectl(['annotate', 'node', n, `${ANNOTATION_DRAIN_LOCK}-`]);
  }
  for (const ns of namespaces.splice(0)) await deleteNamespace(tc, ns);
}, 180_000);

async function newNamespace(name: string): Promise<string> {
  namespaces.push(name);
  await ensureNamespace(tc, name);
  return name;
}

/** A Deployment with one pod on each of `nodes` (the other nodes cordoned while each schedules). */
async function onePodOn(ns: string, name: string, nodes: string[], extra: Parameters<typeof deployment>[3] = {}): Promise<void> {
  for (const [i, node] of nodes.entries()) {
    const unpin = await pinTo(tc, node);
    try {
      if (i === 0) await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, name, 1, extra) });
      else await tc.apps.patchNamespacedDeployment({ namespace: ns, name, body: [{ op: 'replace', path: '/spec/replicas', value: i + 1 }] });
      await eventually(async () => (await podsOf(tc, ns, name)).filter((p) => p.spec?.nodeName === node && isPodReady(p)).length === 1, `${ns}/${name} Ready on ${node}`);
    } finally {
      await unpin();
    }
  }
}

async function readDeployment(ns: string, name: string): Promise<V1Deployment> {
  return tc.apps.readNamespacedDeployment({ namespace: ns, name });
}

describe('an admitted eviction is finished only when the budget, read now, allows it', () => {
  it('a Ready pod whose sibling is not Ready, under minAvailable 1, is never deleted on the strength of an old disruptedPods entry', async () => {
    const ns = await newNamespace('admitted-unhealthy');
    await onePodOn(ns, 'web', [W1, W2]);
    const [a] = (await podsOf(tc, ns, 'web')).filter((p) => p.spec?.nodeName === W1);
    const sibling = (await podsOf(tc, ns, 'web')).find((p) => p.spec?.nodeName === W2)!;
    await makeNotReady(tc, ns, sibling.metadata!.name!);
    await createPdb(tc, ns, pdb(ns, 'web', 'web', { minAvailable: 1 }), 0);
    // The entry a killed run leaves: an eviction of `a` admitted after `a` was created, whose
    // delete never came; older than an eviction takes by the time the drain looks at it.
    const created = new Date(a!.metadata!.creationTimestamp!).getTime();
    const at = new Date(created + 1_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await eventually(async () => Date.now() > Date.parse(at) + 6_000, 'the entry older than an eviction takes');
    await tc.cluster.kubectl(['-n', ns, 'patch', 'pdb', 'web', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { disruptedPods: { [a!.metadata!.name!]: at } } })]);
    await eventually(async () => {
      const p = await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'web' });
      return p.status?.currentHealthy === 0 && p.status.desiredHealthy === 1 && p.status.disruptedPods?.[a!.metadata!.name!] !== undefined;
    }, 'the controller counting a as disrupted: healthy 0 / desired 1');

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 20_000 });

    const still = (await podsOf(tc, ns, 'web')).find((p) => p.metadata?.uid === a!.metadata!.uid);
    expect(still?.metadata?.deletionTimestamp).toBeUndefined();
    expect(report.success).toBe(false);
    const result = report.nodes[0]!.results.find((r) => r.pod === `${ns}/${a!.metadata!.name}`);
    expect(result?.outcome).toBe('blocked');
    expect(result?.message).toMatch(/budget is not met without it now \(healthy 0 \/ desired 1/);
  }, 180_000);
});

describe('one run, one migration per Deployment, whichever of its nodes need it', () => {
  it('a Recreate Deployment with a pod on each of two nodes drained together: one shared raise, restored once, the run succeeds (twice)', async () => {
    const ns = await newNamespace('shared-raise');
    await onePodOn(ns, 'web', [W1, W2], { strategy: { type: 'Recreate' } });
    await createPdb(tc, ns, pdb(ns, 'web', 'web', { minAvailable: 2 }), 0);
    for (const n of [W1, W2]) await tc.cluster.kubectl(['label', 'node', n, `${POOL}=yes`, '--overwrite']);
    const replicas = await record<V1Deployment>(tc, `/apis/apps/v1/namespaces/${ns}/deployments`);
    try {
      for (const round of [1, 2]) {
        const logger = memoryLogger();
        const { report } = await drain(tc, { selector: `${POOL}=yes`, maxUnavailableNodes: { count: 2 }, timeoutMs: 120_000 }, { logger });
        const errors = report.nodes.map((n) => n.error).filter(Boolean);
        expect({ round, success: report.success, errors }).toEqual({ round, success: true, errors: [] });
        expect(logger.lines.join('\n')).not.toMatch(/raising on top|by someone else/);
        const changes = report.nodes.flatMap((n) => n.workloadChanges).filter((c) => c.workload === `Deployment/${ns}/web`);
        expect(changes.length).toBeGreaterThan(0);
        expect(changes.every((c) => c.restored)).toBe(true);
        const d = await readDeployment(ns, 'web');
        expect(d.spec?.replicas).toBe(2);
        expect(d.metadata?.labels?.[LABEL_SCALED]).toBeUndefined();
        expect(d.metadata?.annotations?.[ANNOTATION_ORIGINAL_REPLICAS]).toBeUndefined();
        for (const n of [W1, W2]) await tc.cluster.kubectl(['uncordon', n]);
        // Put the pods back on the pool for the second round: move them off w3/w4 by a rollout pinned to the pool.
        if (round === 1) {
          await tc.cluster.kubectl(['-n', ns, 'delete', 'deployment', 'web', '--wait=true']);
          await waitGone(ns, 'web');
          await onePodOn(ns, 'web', [W1, W2], { strategy: { type: 'Recreate' } });
        }
      }
    } finally {
      replicas.stop();
    }
    // Never more than one raise at a time: 2 pods moved at most, so replicas never above 4.
    const seen = replicas.events.map((e) => e.obj.spec?.replicas ?? 0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(4);
  }, 420_000);
});

async function waitGone(ns: string, app: string): Promise<void> {
  await eventually(async () => (await podsOf(tc, ns, app)).length === 0, `pods of ${ns}/${app} gone`);
}

/** Takes the node's drain lock over as another live run would (a fresh renewal, another holder). */
async function takeLockOver(node: string): Promise<void> {
  const now = new Date().toISOString();
  const other = { holder: 'another-run', host: 'elsewhere', pid: 4242, scope: '', origin: 'test', acquired: now, renewed: now };
  await tc.cluster.kubectl(['annotate', 'node', node, '--overwrite', `${ANNOTATION_DRAIN_LOCK}=${JSON.stringify(other)}`]);
}

describe('a run that lost its drain lock makes no further change for that node', () => {
  it("no uncordon-on-failure, no restore-after, and its temporary raise is left for the lock's new holder", async () => {
    const ns = await newNamespace('lock-lost');
    // A single replica a plain eviction would take down: surged by a scale-up (Recreate) whose new
    // pod cannot be placed while the other nodes are cordoned, so the raise is in effect when the
    // lock goes (the unschedulable grace, 30 s, is longer than a renewal round, 10 s).
    await onePodOn(ns, 'web', [W1], { strategy: { type: 'Recreate' } });
    await createPdb(tc, ns, pdb(ns, 'web', 'web', { minAvailable: 1 }), 0);
    const unpin = await pinTo(tc, W1);
    try {
      const drained = drain(tc, { nodes: [W1], uncordonOnFailure: true, availability: { ...(await defaultAvailability()), restoreAfter: true }, timeoutMs: 150_000 });
      await eventually(async () => raiseOf(await readDeployment(ns, 'web')) !== undefined, 'the raise in effect');
      await takeLockOver(W1);
      const { report } = await drained;

      expect(report.success).toBe(false);
      expect(report.outcome).toBe('incomplete');
      expect(report.nodes[0]!.error).toMatch(/drain lock of node w1 is no longer this run's/);
      expect(report.warnings?.join('\n')).toMatch(/node w1: the drain lock was taken over mid-run/);
      const node = await tc.core.readNode({ name: W1 });
      expect(node.spec?.unschedulable).toBe(true); // neither uncordon-on-failure nor restore-after
      expect(JSON.parse(node.metadata?.annotations?.[ANNOTATION_DRAIN_LOCK] ?? '{}')).toMatchObject({ holder: 'another-run' });
      const d = await readDeployment(ns, 'web');
      expect(raiseOf(d)).toMatchObject({ original: 1, raised: 2, nodes: [W1] }); // left for the lock's new holder
      expect(report.nodes[0]!.workloadChanges.find((c) => c.workload === `Deployment/${ns}/web`)).toMatchObject({ restored: false });
    } finally {
      await unpin();
      await tc.cluster.kubectl(['uncordon', W1]);
    }
  }, 300_000);
});

async function defaultAvailability() {
  const { DEFAULT_AVAILABILITY } = await import('../../src/engine/availability/types.js');
  return DEFAULT_AVAILABILITY;
}

describe('readiness read live, for every node of the run', () => {
  it("a replica elsewhere that stops being Ready while an earlier node drains makes the later node's pod migrate, not go dark", async () => {
    const ns = await newNamespace('live-readiness');
    // `hold`: a pod on w1 (drained first: fewest pods to move, then name) whose budget allows
    // nothing while its sibling on w4 is not Ready, until the test adds a replica.
    await onePodOn(ns, 'hold', [W1, W4]);
    await makeNotReady(tc, ns, (await podsOf(tc, ns, 'hold')).find((p) => p.spec?.nodeName === W4)!.metadata!.name!);
    await createPdb(tc, ns, pdb(ns, 'hold', 'hold', { minAvailable: 1 }), 0);
    // `web`: one pod on w2 (drained second), one on w3 (not drained); no PDB.
    await onePodOn(ns, 'web', [W2, W3]);
    for (const n of [W1, W2]) await tc.cluster.kubectl(['label', 'node', n, `${POOL}=yes`, '--overwrite']);
    const logger = memoryLogger();
    const drained = drain(tc, { selector: `${POOL}=yes`, maxUnavailableNodes: { count: 1 }, timeoutMs: 180_000 }, { logger });
    await eventually(async () => logger.lines.some((l) => /waiting for PDB live-readiness\/hold/.test(l)), 'w1 waiting on its budget');
    const onW3 = (await podsOf(tc, ns, 'web')).find((p) => p.spec?.nodeName === W3)!;
    await makeNotReady(tc, ns, onW3.metadata!.name!);
    // Release w1: a third replica of `hold` (on w3 or w4) lets its budget allow the eviction.
    await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hold', body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
    const { report } = await drained;

    expect(report.nodes.map((n) => [n.node, n.success, n.error])).toEqual([
      [W1, true, undefined],
      [W2, true, undefined],
    ]);
    const onW2 = report.nodes.find((n) => n.node === W2)!;
    const webResult = onW2.results.find((r) => r.pod.startsWith(`${ns}/web-`));
    expect(webResult?.outcome).toBe('migrated');
    expect(onW2.workloadChanges.map((c) => c.workload)).toContain(`Deployment/${ns}/web`);
    await waitReady(tc, ns, 'web', 1);
  }, 300_000);
});

// Pod kinds (kubectl drain parity), dry run, and the safe eviction order, on a real control plane.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import {
  deployOn,
  deployment,
  drain,
  ensureNamespace,
  eventually,
  findPod,
  isPodReady,
  pdb,
  pinTo,
  podsOf,
  record,
  namespacesDeletedAfterEach,
  useCluster,
  waitReady,
} from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3 });
const namespace = namespacesDeletedAfterEach(tc);

function barePod(ns: string, name: string, extra: Partial<V1Pod['spec']> = {}, annotations?: Record<string, string>): V1Pod {
  return {
    metadata: { name, namespace: ns, labels: { app: name }, annotations },
    spec: { nodeName: W1, containers: [{ name: 'c', image: 'registry.invalid/sample:1' }], ...extra },
  };
}

const podExists = (ns: string, name: string) => findPod(tc, ns, name);

describe('pod kinds, dry run and order', () => {
  it('handles DaemonSet, mirror, emptyDir, unmanaged and finished pods as the plan says, with and without force / delete-emptydir-data', async () => {
    const ns = namespace('kinds');
    await ensureNamespace(tc, ns);
    const labels = { app: 'agent' };
    await tc.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: { metadata: { name: 'agent', namespace: ns }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'a', image: 'registry.invalid/agent:1' }] } } } },
    });
    const unpin = await pinTo(tc, W1);
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'cache', 1, { emptyDir: true }) });
    await waitReady(tc, ns, 'cache', 1);
    await unpin();
    await tc.core.createNamespacedPod({ namespace: ns, body: barePod(ns, 'bare') });
    await tc.core.createNamespacedPod({ namespace: ns, body: barePod(ns, 'static-w1', {}, { 'kubernetes.io/config.mirror': 'abc123' }) });
    await tc.core.createNamespacedPod({ namespace: ns, body: barePod(ns, 'job-done', { restartPolicy: 'Never' }) });
    await eventually(async () => (await podExists(ns, 'bare'))?.status?.phase === 'Running', 'bare pod running');
    // A finished pod: phase Succeeded, set through the status subresource as a kubelet would.
    const done = (await podExists(ns, 'job-done'))!;
    await tc.core.replaceNamespacedPodStatus({ namespace: ns, name: 'job-done', body: { ...done, status: { ...done.status, phase: 'Succeeded', conditions: [] } } });
    await eventually(async () => (await podExists(ns, 'job-done'))?.status?.phase === 'Succeeded', 'job-done Succeeded');
    const agentPods = await eventually(async () => {
      const ps = (await tc.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=agent' })).items;
      return ps.length === tc.cluster.nodes.length && ps.every(isPodReady) ? ps : undefined;
    }, 'DaemonSet pods on every node');
    const agentOnW1 = agentPods.find((p) => p.spec?.nodeName === W1)!.metadata!.name!;

    // Without force / delete-emptydir-data: refused before any change, naming the flags.
    const refused = await drain(tc, { nodes: [W1] });
    expect(refused.report.success).toBe(false);
    const err = refused.report.nodes[0]!.error ?? '';
    expect(err).toMatch(/kinds\/bare.*force/);
    expect(err).toMatch(/delete-emptydir-data/);
    expect(refused.report.nodes[0]!.cordoned).toBe(false);
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBeFalsy();
    const plan = refused.report.nodes[0]!.plan!;
    const classOf = (name: string) => plan.pods.find((p) => p.namespace === ns && p.name.startsWith(name));
    expect(classOf('agent')?.podClass).toBe('daemonset');
    expect(classOf('agent')?.action).toBe('skip');
    expect(classOf('static-w1')?.podClass).toBe('mirror');
    expect(classOf('static-w1')?.action).toBe('skip');
    expect(classOf('cache')?.podClass).toBe('local-storage');
    expect(classOf('cache')?.action).toBe('refuse');
    expect(classOf('bare')?.podClass).toBe('unmanaged');
    expect(classOf('bare')?.action).toBe('refuse');
    expect(classOf('job-done')?.podClass).toBe('finished');

    // With both flags: everything movable goes; DaemonSet and mirror pods stay.
    const ok = await drain(tc, { nodes: [W1], force: true, deleteEmptydirData: true, timeoutMs: 70_000 });
    expect(ok.report.success).toBe(true);
    expect(await podExists(ns, 'bare')).toBeUndefined();
    expect(await podExists(ns, 'job-done')).toBeUndefined();
    expect(await podExists(ns, agentOnW1)).toBeDefined();
    expect(await podExists(ns, 'static-w1')).toBeDefined();
    const cache = await waitReady(tc, ns, 'cache', 1);
    expect(cache[0]!.spec?.nodeName).not.toBe(W1);
    const outcomes = Object.fromEntries(ok.report.nodes[0]!.results.map((r) => [r.pod, r.outcome]));
    expect(outcomes[`${ns}/${agentOnW1}`]).toBe('skipped');
    expect(outcomes[`${ns}/static-w1`]).toBe('skipped');
    expect(outcomes[`${ns}/bare`]).toBe('evicted');
  }, 90_000);

  it('dry run changes nothing: node, pods and PDBs keep their resourceVersions', async () => {
    const ns = namespace('dry');
    await deployOn(tc, W1, ns, 'svc', 2);
    await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'svc', 'svc', { maxUnavailable: 1 }) });
    await eventually(async () => (await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'svc' })).status?.disruptionsAllowed === 1, 'pdb');
    const snapshot = async () => ({
      node: (await tc.core.readNode({ name: W1 })).metadata?.resourceVersion,
      pods: (await podsOf(tc, ns, 'svc')).map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`).sort(),
      pdb: (await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'svc' })).metadata?.resourceVersion,
    });
    const before = await snapshot();

    const { report } = await drain(tc, { nodes: [W1], dryRun: true });

    expect(report.nodes[0]!.dryRun).toBe(true);
    const mine = report.nodes[0]!.results.filter((r) => r.pod.startsWith(`${ns}/`));
    expect(mine).toHaveLength(2);
    // The server answered each dry-run eviction: one allowed, the next refused by the budget it just "used".
    expect(mine.map((r) => r.outcome).sort()).toEqual(expect.arrayContaining(['would-evict']));
    expect(await snapshot()).toEqual(before);
    expect(report.nodes[0]!.cordoned).toBe(false);
  }, 60_000);

  it('evicts non-critical pods before a system-cluster-critical pod, and the critical one only when they are gone', async () => {
    const ns = namespace('order');
    await ensureNamespace(tc, ns);
    const unpin = await pinTo(tc, W1);
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'app', 3) });
    // system-* priority classes are admitted only in kube-system.
    await tc.apps.createNamespacedDeployment({ namespace: 'kube-system', body: deployment('kube-system', 'critical-addon', 1, { priorityClassName: 'system-cluster-critical' }) });
    await waitReady(tc, ns, 'app', 3);
    await waitReady(tc, 'kube-system', 'critical-addon', 1);
    await unpin();
    // ONE watch of every pod: its events arrive in the API server's order. (Two watches, one per
    // namespace, could deliver a critical eviction 5 ms before an app pod's deletion that the
    // server committed first, as a .ci/run saw at 13:40 UTC, 2026-11-28.)
    const allPods = await record<V1Pod>(tc, '/api/v1/pods');

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 45_000 });

    expect(report.success).toBe(true);
    const plan = report.nodes[0]!.plan!;
    const critical = plan.pods.find((p) => p.namespace === 'kube-system' && p.name.startsWith('critical-addon'))!;
    const normal = plan.pods.filter((p) => p.namespace === ns);
    expect(normal.every((p) => (p.group ?? -1) < (critical.group ?? -1))).toBe(true);
    // Observed: the critical pod's eviction (deletionTimestamp) came after every old app pod was deleted.
    const oldNames = new Set(normal.map((p) => p.name));
    // The drain confirmed the deletions on its own watch; this one, on a loaded machine, can be
    // behind it (a .ci/run at 17:05 UTC, 2026-12-06, stopped it before any of the 3 arrived).
    const appDeletes = () => allPods.events.filter((e) => e.type === 'DELETED' && e.obj.metadata?.namespace === ns && oldNames.has(e.obj.metadata!.name!));
    await eventually(async () => appDeletes().length === 3, 'the test\'s pod watch to see the 3 app pods deleted', 30_000).catch(() => undefined);
    allPods.stop();
    const events = allPods.events;
    const lastAppDelete = Math.max(...events.flatMap((e, i) => (e.type === 'DELETED' && e.obj.metadata?.namespace === ns && oldNames.has(e.obj.metadata!.name!) ? [i] : [])));
    const criticalEvicted = events.findIndex((e) => e.obj.metadata?.namespace === 'kube-system' && e.obj.metadata?.name === critical.name && e.obj.metadata?.deletionTimestamp);
    expect(oldNames.size).toBe(3);
    expect(events.filter((e) => e.type === 'DELETED' && e.obj.metadata?.namespace === ns && oldNames.has(e.obj.metadata!.name!))).toHaveLength(3);
    expect(criticalEvicted).toBeGreaterThanOrEqual(0);
    expect(criticalEvicted).toBeGreaterThan(lastAppDelete);
    await tc.apps.deleteNamespacedDeployment({ namespace: 'kube-system', name: 'critical-addon' });
  }, 60_000);
});

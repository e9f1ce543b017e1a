// The shipped ClusterRole is enough, and a missing verb fails the run before any change.
import { describe, expect, it } from '@jest/globals';
import type { V1ClusterRole } from '@kubernetes/client-node';
import { DEFAULT_AVAILABILITY } from '../../src/engine/availability/types.js';
import { deployOn, drain, eventually, kubeconfigForRole, podsOf, shippedClusterRole as shipped, useCluster, waitReady } from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3 }, { uncordonAfterEach: false });

const kubeconfigFor = (role: V1ClusterRole, name: string) => kubeconfigForRole(tc, role, name);

describe('RBAC', () => {
  it('drains with a ServiceAccount bound only to the shipped ClusterRole', async () => {
    const ns = 'rbac-ok';
    await deployOn(tc, W1, ns, 'web', 2);
    // A DaemonSet pod on the node: the drain checks that its apps/v1 DaemonSet exists (kubectl's filter).
    const labels = { app: 'agent' };
    await tc.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: { metadata: { name: 'agent' }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'a', image: 'registry.invalid/agent:1' }] } } } },
    });
    await eventually(async () => (await podsOf(tc, ns, 'agent')).some((p) => p.spec?.nodeName === W1 && p.status?.phase === 'Running'), 'DaemonSet pod running on w1');
    const kubeconfigPath = await kubeconfigFor(shipped, 'safe-drain-full');

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 }, { kubeconfigPath });

    expect(report.nodes[0]?.error).toBeUndefined();
    expect(report.success).toBe(true);
    expect(report.nodes[0]!.results.filter((r) => r.pod.startsWith(`${ns}/agent-`)).map((r) => r.outcome)).toEqual(['skipped']);
    const pods = await waitReady(tc, ns, 'web', 2);
    expect(pods.every((p) => p.spec?.nodeName !== W1)).toBe(true);
    await tc.cluster.kubectl(['uncordon', W1]);
  }, 60_000);

  it('fails before any change when one verb is missing, naming it', async () => {
    const ns = 'rbac-missing';
    await deployOn(tc, W1, ns, 'web', 1);
    // Drop "create" on pods/eviction.
    const cut: V1ClusterRole = { ...shipped, rules: shipped.rules!.filter((r) => !r.resources?.includes('pods/eviction')) };
    const kubeconfigPath = await kubeconfigFor(cut, 'safe-drain-no-evict');
    const nodeBefore = (await tc.core.readNode({ name: W1 })).metadata?.resourceVersion;

    await expect(drain(tc, { nodes: [W1] }, { kubeconfigPath })).rejects.toThrow(/create pods\/eviction.*rbac\/safe-drain-clusterrole\.yaml/s);

    expect((await tc.core.readNode({ name: W1 })).metadata?.resourceVersion).toBe(nodeBefore);
    expect((await podsOf(tc, ns, 'web')).every((p) => !p.metadata?.deletionTimestamp && p.spec?.nodeName === W1)).toBe(true);
  }, 60_000);
  // The ClusterRole shipped before the availability gate: no Service, Namespace or EndpointSlice reads.
  const beforeTheGate = (): V1ClusterRole => ({
    ...shipped,
    rules: shipped.rules!.filter((r) => !r.resources?.some((res) => ['services', 'endpointslices', 'namespaces'].includes(res))),
  });

  it('availability: auto without a gate still drains with the older ClusterRole, saying the gate is not measured', async () => {
    const ns = 'rbac-old-role';
    await deployOn(tc, W1, ns, 'web', 2);
    const kubeconfigPath = await kubeconfigFor(beforeTheGate(), 'safe-drain-before-gate');

    const { report, log } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 }, { kubeconfigPath });

    expect(report.nodes[0]?.error).toBeUndefined();
    expect(report.success).toBe(true);
    expect(report.availability).toBeUndefined();
    expect(log.join('\n')).toMatch(/availability: not measured in this run: missing .*watch endpointslices\.discovery\.k8s\.io/);
    await tc.cluster.kubectl(['uncordon', W1]);
  }, 60_000);

  it('a gate (max-downtime) with the older ClusterRole is refused before any change, naming the missing verbs', async () => {
    const ns = 'rbac-old-role-gate';
    await deployOn(tc, W1, ns, 'web', 1);
    const kubeconfigPath = await kubeconfigFor(beforeTheGate(), 'safe-drain-before-gate-2');
    const nodeBefore = (await tc.core.readNode({ name: W1 })).metadata?.resourceVersion;

    await expect(
      drain(tc, { nodes: [W1], availability: { ...DEFAULT_AVAILABILITY, maxDowntimeMs: 0 } }, { kubeconfigPath }),
    ).rejects.toThrow(/watch endpointslices\.discovery\.k8s\.io.*rbac\/safe-drain-clusterrole\.yaml/s);

    expect((await tc.core.readNode({ name: W1 })).metadata?.resourceVersion).toBe(nodeBefore);
  }, 60_000);
});

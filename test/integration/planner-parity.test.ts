// The planner's decisions against a real control plane (issue 8 items 3, 11, 13, 14): what the
// API server and kubectl drain decide about the same pods.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { K8S_VERSION_ENV, POD_READY_DELAY_ANNOTATION } from '../../cluster/src/index.js';
import { KubeClient } from '../../src/engine/kube/client.js';
import type { RunReport } from '../../src/engine/types.js';
import { fetchWorkloads, nodeCapacities } from '../../src/engine/kube/plan-input.js';
import { planClusterPods, scanClusterPods } from '../../src/engine/kube/cluster-pods.js';
import { rejectReason } from '../../src/engine/plan/capacity.js';
import { deployOn, drain, ensureNamespace, eventually, findPod, isPodReady, namespacesDeletedAfterEach, pdb, podsOf, useCluster } from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3 });

// Each test's namespace goes after it, passed or failed: a leftover budget or pod on w1 would
// change the next test's drain.
const testNamespace = namespacesDeletedAfterEach(tc);
const readPod = (ns: string, name: string) => findPod(tc, ns, name);

/** success, with the node's error when not (so a failure says why). */
function drained(report: RunReport): { success: boolean; error?: string } {
  return report.success ? { success: true } : { success: false, error: report.nodes.map((n) => n.error).join('; ') || report.error };
}

function podOnW1(ns: string, name: string, metadata: Partial<NonNullable<V1Pod['metadata']>> = {}, spec: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod {
  return {
    metadata: { name, namespace: ns, labels: { app: name }, ...metadata },
    spec: { nodeName: W1, containers: [{ name: 'c', image: 'registry.invalid/sample:1' }], ...spec },
  };
}

describe('planner parity with the API server and kubectl drain', () => {
  // Item 3. w1 has 8 CPUs. The new template asks for 5: the first new pod fits next to the two
  // old ones, but once one old pod is gone the second new pod does not fit (8 - 0.01 - 5 < 5),
  // and the nodeSelector keeps it off the other nodes. The rollout (maxSurge 1, maxUnavailable 0)
  // stops there for as long as the test runs: one Ready pod in each ReplicaSet, both on w1.
  it('mid-rollout, two Ready pods of one Deployment in two ReplicaSets count together: zero-ready / migrate for both', async () => {
    const ns = testNamespace('rollout');
    const nodeSelector = { 'kubernetes.io/hostname': W1 };
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await deployOn(tc, W1, ns, 'web', 2, { nodeSelector, strategy });
    const current = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
    const next: V1Deployment = structuredClone(current);
    delete next.metadata!.resourceVersion; // the controller updates status meanwhile: replace unconditionally
    next.spec!.template.spec!.containers[0]!.resources = { requests: { cpu: '5', memory: '16Mi' } };
    await tc.apps.replaceNamespacedDeployment({ namespace: ns, name: 'web', body: next });

    const [ready] = await eventually(async () => {
      const pods = (await podsOf(tc, ns, 'web')).filter((p) => !p.metadata?.deletionTimestamp);
      const readyPods = pods.filter(isPodReady);
      const hashes = new Set(readyPods.map((p) => p.metadata?.labels?.['pod-template-hash']));
      const pending = pods.filter((p) => p.status?.phase === 'Pending' && !p.spec?.nodeName);
      const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
      return readyPods.length === 2 && hashes.size === 2 && pending.length === 1 && d.status?.readyReplicas === 2 ? [readyPods] : undefined;
    }, 'the rollout stuck with one Ready pod in each ReplicaSet', 120_000);
    expect(ready.every((p) => p.spec?.nodeName === W1)).toBe(true);
    const names = ready.map((p) => `${ns}/${p.metadata!.name!}`).sort();

    const evict = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'evict' });
    const zeroReady = evict.report.nodes[0]!.plan!.blockers.filter((b) => b.kind === 'zero-ready');
    expect(zeroReady).toHaveLength(1);
    expect(zeroReady[0]!.message).toContain(`Deployment ${ns}/web has 2 ready replica(s) and evicting ${names.join(', ')} from this node leaves it none`);

    const surge = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'surge' });
    const rows = surge.report.nodes[0]!.plan!.pods.filter((p) => p.namespace === ns);
    expect(rows.map((p) => [`${p.namespace}/${p.name}`, p.action])).toEqual(names.map((n) => [n, 'migrate']));
  }, 60_000);

  // Item 11, planner side. A Deployment (1 replica, maxUnavailable 0 budget: "never allows")
  // mid-rollout: its new pod runs but is not Ready. The budget is met without it (healthy 1 >=
  // desired 1), so the API server evicts it at once (IfHealthyBudget, the default); the plan must
  // not send it down the migration path.
  it('a not-Ready pod the Eviction API lets go is planned as a plain eviction, and the server agrees', async () => {
    const ns = testNamespace('unready');
    const strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
    await deployOn(tc, W1, ns, 'web', 1, { nodeSelector: { 'kubernetes.io/hostname': W1 }, strategy });
    await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'web', 'web', { maxUnavailable: 0 }) });
    const current = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
    const next: V1Deployment = structuredClone(current);
    delete next.metadata!.resourceVersion; // the controller updates status meanwhile: replace unconditionally
    // kwok would make the new pod Ready only after an hour.
    next.spec!.template.metadata!.annotations = { ...next.spec!.template.metadata!.annotations, [POD_READY_DELAY_ANNOTATION]: '1h' };
    await tc.apps.replaceNamespacedDeployment({ namespace: ns, name: 'web', body: next });
    const fresh = await eventually(async () => (await podsOf(tc, ns, 'web')).find((p) => !isPodReady(p) && p.spec?.nodeName === W1), 'the new pod bound');
    const name = fresh.metadata!.name!;
    // Running but not Ready, as a kubelet reports a pod whose readiness probe fails.
    await tc.core.replaceNamespacedPodStatus({
      namespace: ns,
      name,
      body: { ...fresh, status: { ...fresh.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } },
    });
    await eventually(async () => {
      const b = await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'web' });
      const p = await readPod(ns, name);
      return p?.status?.phase === 'Running' && b.status?.currentHealthy === 1 && b.status.desiredHealthy === 1 && b.status.disruptionsAllowed === 0;
    }, 'the budget met, nothing allowed, the new pod Running');

    const plan = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'surge' });
    const row = plan.report.nodes[0]!.plan!.pods.find((p) => p.namespace === ns && p.name === name)!;
    expect(row.action).toBe('evict');
    expect(row.reason).toMatch(/not Ready, and PDB unready\/web is met without it \(healthy 1 >= desired 1\)/);
    // (no-capacity is expected: the nodeSelector pins it to w1)
    expect(plan.report.nodes[0]!.plan!.blockers.filter((b) => b.pod === `${ns}/${name}` && b.kind !== 'no-capacity')).toEqual([]);

    // What the plan says, the API server does: the eviction is admitted with disruptionsAllowed 0.
    await tc.core.createNamespacedPodEviction({
      namespace: ns,
      name,
      body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } },
    });
    await eventually(async () => (await readPod(ns, name))?.metadata?.uid !== fresh.metadata?.uid, `${name} evicted`);
  }, 60_000);

  // Item 13 (a). kubectl drain GETs the apps/v1 DaemonSet a pod names as its controller, and
  // refuses the pod without --force when there is none. The garbage collector cannot resolve the
  // apps.kruise.io kind (no such API here), so it leaves the pod alone.
  it('a pod whose controller is another API group\'s DaemonSet is refused without force and removed with it', async () => {
    const ns = testNamespace('foreign');
    await ensureNamespace(tc, ns);
    const owner = { apiVersion: 'apps.kruise.io/v1alpha1', kind: 'DaemonSet', name: 'agent', uid: '6d0a2c4e-8d1b-4b0e-9a6c-2f6b1f0f4a11', controller: true };
    await tc.core.createNamespacedPod({ namespace: ns, body: podOnW1(ns, 'agent-x', { ownerReferences: [owner] }) });
    await eventually(async () => (await readPod(ns, 'agent-x'))?.status?.phase === 'Running', 'agent-x Running');

    const refused = await drain(tc, { nodes: [W1] });
    expect(refused.report.success).toBe(false);
    const blocker = refused.report.nodes[0]!.plan!.blockers.find((b) => b.pod === `${ns}/agent-x`);
    expect(blocker).toMatchObject({ kind: 'needs-force', fatal: true });
    expect(blocker!.message).toMatch(/DaemonSet agent \(apps\.kruise\.io\/v1alpha1\) is not an apps\/v1 DaemonSet that exists.*set force: true/);
    expect(refused.report.nodes[0]!.error).toMatch(/foreign\/agent-x/);
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBeFalsy();
    expect(await readPod(ns, 'agent-x')).toBeDefined();

    const forced = await drain(tc, { nodes: [W1], force: true, timeoutMs: 45_000 });
    expect(drained(forced.report)).toEqual({ success: true });
    expect(forced.report.nodes[0]!.plan!.pods.find((p) => p.name === 'agent-x')).toMatchObject({ podClass: 'unmanaged', action: 'evict' });
    expect(await readPod(ns, 'agent-x')).toBeUndefined();
  }, 60_000);

  // Item 13 (a), the fetch side: an apps/v1 DaemonSet is recorded when it exists, and a
  // reconcile loop's cache (`known`) is not fetched again.
  it('fetchWorkloads records an existing DaemonSet, looks up nothing for another group, and skips what it is given', async () => {
    const ns = testNamespace('ds-fetch');
    await ensureNamespace(tc, ns);
    const labels = { app: 'agent' };
    await tc.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: { metadata: { name: 'agent', namespace: ns }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'a', image: 'registry.invalid/agent:1' }] } } } },
    });
    const [dsPod] = await eventually(async () => {
      const ps = (await tc.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=agent' })).items.filter((p) => p.spec?.nodeName === W1);
      return ps.length === 1 ? ps : undefined;
    }, 'the DaemonSet pod on w1');
    const foreign = podOnW1(ns, 'other', { ownerReferences: [{ apiVersion: 'apps.kruise.io/v1alpha1', kind: 'DaemonSet', name: 'agent', uid: 'x', controller: true }] });

    const client = new KubeClient(tc.kc);
    const workloads = await fetchWorkloads(client, [dsPod!, foreign]);
    expect(Object.keys(workloads)).toEqual([`DaemonSet/${ns}/agent`]);
    expect(workloads[`DaemonSet/${ns}/agent`]).toMatchObject({ kind: 'DaemonSet', namespace: ns, name: 'agent' });
    expect(client.requests).toBe(1);

    const again = await fetchWorkloads(client, [dsPod!, foreign], workloads);
    expect(again).toEqual(workloads);
    expect(client.requests).toBe(1);
  }, 60_000);

  // Item 13 (b). A mirror pod made through the API (the annotation is what kubectl and the
  // planner look at), finished through the status subresource as a kubelet would report it.
  it('a finished mirror pod is skipped, not evicted', async () => {
    const ns = testNamespace('mirror');
    await ensureNamespace(tc, ns);
    await tc.core.createNamespacedPod({
      namespace: ns,
      body: podOnW1(ns, 'static-done', { annotations: { 'kubernetes.io/config.mirror': 'f00d' } }, { restartPolicy: 'Never' }),
    });
    await eventually(async () => (await readPod(ns, 'static-done'))?.status?.phase === 'Running', 'static-done Running');
    const pod = (await readPod(ns, 'static-done'))!;
    await tc.core.replaceNamespacedPodStatus({ namespace: ns, name: 'static-done', body: { ...pod, status: { ...pod.status, phase: 'Succeeded', conditions: [] } } });
    await eventually(async () => (await readPod(ns, 'static-done'))?.status?.phase === 'Succeeded', 'static-done Succeeded');

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 });
    expect(drained(report)).toEqual({ success: true });
    expect(report.nodes[0]!.plan!.pods.find((p) => p.name === 'static-done')).toMatchObject({ podClass: 'mirror', action: 'skip' });
    expect(report.nodes[0]!.results.find((r) => r.pod === `${ns}/static-done`)?.outcome).toBe('skipped');
    expect(await readPod(ns, 'static-done')).toBeDefined();
  }, 60_000);

  // Item 14. A finalizer keeps the pod Terminating; its deletionTimestamp is older than
  // skip-wait-for-delete-timeout before the drain starts, so kubectl would not wait for it at all.
  it('skip-wait-for-delete-timeout counts from the deletionTimestamp: an old Terminating pod is skipped in the plan', async () => {
    const ns = testNamespace('held');
    await ensureNamespace(tc, ns);
    const finalizer = 'safe-drain.test/hold';
    await tc.core.createNamespacedPod({ namespace: ns, body: podOnW1(ns, 'held', { finalizers: [finalizer] }) });
    await eventually(async () => (await readPod(ns, 'held'))?.status?.phase === 'Running', 'held Running');
    await tc.core.deleteNamespacedPod({ namespace: ns, name: 'held', gracePeriodSeconds: 0 });
    // Setup: the deletionTimestamp must be more than 1 s old when the drain plans.
    await eventually(async () => {
      const ts = (await readPod(ns, 'held'))?.metadata?.deletionTimestamp;
      return ts !== undefined && Date.now() - new Date(ts).getTime() > 2_500;
    }, 'held terminating for over 2 s');

    try {
      const { report } = await drain(tc, { nodes: [W1], skipWaitForDeleteTimeoutSeconds: 1, timeoutMs: 45_000 });
      const row = report.nodes[0]!.plan!.pods.find((p) => p.namespace === ns && p.name === 'held')!;
      expect(row).toMatchObject({ podClass: 'terminating', action: 'skip' });
      expect(row.reason).toMatch(/deletionTimestamp passed \d+s ago \(more than skip-wait-for-delete-timeout 1s\): not waited for/);
      expect(row.group).toBeUndefined();
      expect(report.nodes[0]!.results.find((r) => r.pod === `${ns}/held`)?.outcome).toBe('skipped');
      expect(drained(report)).toEqual({ success: true });
      expect(await readPod(ns, 'held')).toBeDefined();
    } finally {
      await tc.core.patchNamespacedPod({ namespace: ns, name: 'held', body: [{ op: 'remove', path: '/metadata/finalizers' }] });
    }
    await eventually(async () => (await readPod(ns, 'held')) === undefined, 'held gone once its finalizer is removed');
  }, 60_000);

  // A plan reads the pods' footprints in protobuf (kube/proto-list.ts); a drain reads JSON. Both
  // must sum the same requests per node, from what the real API server writes (init containers,
  // a sidecar, overhead set by RuntimeClass admission), and hand over the same drained pods.
  it('a plan\'s protobuf footprints sum the same requests per node as the JSON list, the drained node\'s pods are the same, and the nodes read the same', async () => {
    const ns = testNamespace('footprints');
    await ensureNamespace(tc, ns);
    const node = await import('@kubernetes/client-node');
    const runtimeClasses = tc.kc.makeApiClient(node.NodeV1Api);
    await runtimeClasses.createRuntimeClass({ body: { metadata: { name: `${ns}-overhead` }, handler: 'runc', overhead: { podFixed: { cpu: '50m', memory: '20Mi' } } } }).catch((err: { code?: number }) => {
      if (err.code !== 409) throw err;
    });
    const requests = (cpu: string, memory: string) => ({ resources: { requests: { cpu, memory } } });
    await tc.core.createNamespacedPod({
      namespace: ns,
      body: podOnW1(ns, 'shaped', {}, {
        runtimeClassName: `${ns}-overhead`,
        // Pod-level requests (PodSpec field 40): kept by the API server from 1.34, dropped before.
        resources: { requests: { cpu: '2500m', memory: '300Mi' } },
        initContainers: [
          { name: 'init', image: 'registry.invalid/init:1', ...requests('2', '10Mi') },
          { name: 'sidecar', image: 'registry.invalid/sidecar:1', restartPolicy: 'Always', ...requests('100m', '32Mi') },
        ],
        containers: [{ name: 'main', image: 'registry.invalid/main:1', ...requests('300m', '128Mi') }],
      }),
    });
    await tc.core.createNamespacedPod({ namespace: ns, body: { ...podOnW1(ns, 'elsewhere'), spec: { nodeName: 'w2', containers: [{ name: 'c', image: 'registry.invalid/c:1', ...requests('1', '1Gi') }] } } });
    await deployOn(tc, W1, ns, 'web', 3);
    expect((await readPod(ns, 'shaped'))?.spec?.overhead).toEqual({ cpu: '50m', memory: '20Mi' });

    const client = new KubeClient(tc.kc);
    try {
      // The API server answers the footprint scan in protobuf: its pods carry no metadata.
      let footprints = 0;
      await client.scanPodFootprints<null>({
        start: () => null,
        add: (_page, pods) => {
          for (const p of pods) {
            expect(p.metadata).toBeUndefined();
            footprints++;
          }
        },
        commit: () => undefined,
      });
      expect(footprints).toBeGreaterThanOrEqual(5); // shaped, elsewhere, 3 of web

      const [json, proto] = await Promise.all([scanClusterPods(client, [W1]), planClusterPods(client, [W1])]);
      expect(Object.fromEntries(proto.requested)).toEqual(Object.fromEntries(json.requested));
      const uids = (pods: V1Pod[] | undefined) => (pods ?? []).map((p) => p.metadata?.uid).sort();
      expect(uids(proto.onDrainedNodes.get(W1))).toEqual(uids(json.onDrainedNodes.get(W1)));
      // The drained node's pods are whole objects, as the planner needs them.
      expect(proto.onDrainedNodes.get(W1)?.find((p) => p.metadata?.name === 'shaped')?.spec?.initContainers?.map((c) => c.name)).toEqual(['init', 'sidecar']);
      // w1's sum holds the shaped pod: max(init 2, main + sidecar) + overhead, over the web pods.
      expect(proto.requested.get(W1)?.cpuMillis).toBeGreaterThanOrEqual(2000 + 50);

      // The nodes, likewise: what the capacity check reads of each, from protobuf and from JSON.
      await tc.cluster.kubectl(['taint', 'nodes', 'w3', 'parity=check:NoSchedule', 'empty-value:PreferNoSchedule']);
      await tc.cluster.kubectl(['cordon', 'w3']);
      try {
        // The node lifecycle controller adds the cordon's taint after the cordon, when it gets to it.
        await eventually(async () => (await tc.core.readNode({ name: 'w3' })).spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unschedulable'), 'w3 tainted unschedulable');
        const seen = (n: V1Node) => ({
          name: n.metadata?.name,
          labels: n.metadata?.labels,
          unschedulable: n.spec?.unschedulable,
          taints: n.spec?.taints?.map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
          allocatable: n.status?.allocatable,
          conditions: n.status?.conditions?.map((c) => ({ type: c.type, status: c.status })),
        });
        // The node lifecycle controller adds the unschedulable taint some time after the cordon.
        await eventually(
          async () => (await client.getNode('w3')).spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unschedulable'),
          'the unschedulable taint on the cordoned w3',
        );
        const [jsonNodes, footprints] = await Promise.all([client.listNodes(), client.listNodeFootprints()]);
        expect(footprints.map(seen)).toEqual(jsonNodes.map(seen));
        expect(footprints.find((n) => n.metadata?.name === 'w3')?.spec?.taints?.map((t) => t.key)).toEqual(['parity', 'empty-value', 'node.kubernetes.io/unschedulable']);
      } finally {
        await tc.cluster.kubectl(['taint', 'nodes', 'w3', 'parity-', 'empty-value-']);
        await tc.cluster.kubectl(['uncordon', 'w3']);
      }
    } finally {
      client.close();
      await runtimeClasses.deleteRuntimeClass({ name: `${ns}-overhead` });
    }
  }, 60_000);

  /**
   * A pod asking `cpu`, only for `node`: first the engine's judgment of that node (from a plan's
   * protobuf scan), then the real scheduler's on the same pod.
   */
  async function judgedByBoth(ns: string, client: KubeClient, node: string, cpu: string): Promise<{ engine: string; scheduler: string }> {
    const probe: V1Pod = { metadata: { name: `probe-${node}`, namespace: ns }, spec: { nodeSelector: { 'kubernetes.io/hostname': node }, containers: asking(cpu) } };
    const [nodes, pods] = await Promise.all([client.listNodeFootprints(), planClusterPods(client, [W1])]);
    const rejects = rejectReason(probe, nodeCapacities(nodes, pods.requested).find((c) => c.node.metadata?.name === node)!);
    await tc.core.createNamespacedPod({ namespace: ns, body: probe });
    const scheduled = await eventually(
      async () => (await readPod(ns, `probe-${node}`))?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status,
      `the scheduler to decide on probe-${node}`,
    );
    return { engine: rejects === undefined ? 'fits' : /cpu/.test(rejects) ? 'no cpu' : rejects, scheduler: scheduled === 'True' ? 'fits' : 'no cpu' };
  }
  const asking = (cpu: string) => [{ name: 'c', image: 'registry.invalid/c:1', resources: { requests: { cpu } } }];

  // Pod-level requests (spec.resources; PodLevelResources is beta and on by default from 1.34,
  // alpha and off in 1.32-1.33, where the API server drops the field): the scheduler counts them
  // instead of the containers' sum. The capacity check must judge a node as full as the
  // scheduler does, on every supported minor.
  it('pod-level requests: the capacity check judges a node as the scheduler does (counted from 1.34, dropped by the API server before)', async () => {
    const ns = testNamespace('pod-level');
    await ensureNamespace(tc, ns);
    const client = new KubeClient(tc.kc);
    try {
      const minor = (await client.serverVersion())?.minor ?? 0;
      // w2 has 8 CPUs: a pod asking 6 for the whole pod, its container 100m.
      await tc.core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: 'big', namespace: ns }, spec: { nodeName: 'w2', resources: { requests: { cpu: '6' } }, containers: asking('100m') } },
      });
      const kept = (await readPod(ns, 'big'))?.spec?.resources?.requests?.cpu !== undefined;
      expect(kept).toBe(minor >= 34);
      const judged = await judgedByBoth(ns, client, 'w2', '4');
      expect(judged.scheduler).toBe(kept ? 'no cpu' : 'fits');
      expect(judged.engine).toBe(judged.scheduler);
    } finally {
      client.close();
    }
  }, 180_000);

  // Sidecars (init containers with restartPolicy Always; on by default since 1.29): they run
  // beside the containers and under every init container after them, so the scheduler reserves
  // max(5 + 1, 5 + 0.5) = 6 CPUs here; counted as a plain init container it would be 5.
  it('sidecar containers: the capacity check judges a node as the scheduler does', async () => {
    const ns = testNamespace('sidecar');
    await ensureNamespace(tc, ns);
    const client = new KubeClient(tc.kc);
    try {
      await tc.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'with-sidecar', namespace: ns },
          spec: {
            nodeName: 'w3',
            initContainers: [
              { name: 'proxy', image: 'registry.invalid/proxy:1', restartPolicy: 'Always', resources: { requests: { cpu: '5' } } },
              { name: 'setup', image: 'registry.invalid/setup:1', resources: { requests: { cpu: '1' } } },
            ],
            containers: asking('500m'),
          },
        },
      });
      expect((await readPod(ns, 'with-sidecar'))?.spec?.initContainers?.[0]?.restartPolicy).toBe('Always');
      const judged = await judgedByBoth(ns, client, 'w3', '3'); // 8 - 6 = 2 CPUs free
      expect(judged).toEqual({ engine: 'no cpu', scheduler: 'no cpu' });
    } finally {
      client.close();
    }
  }, 180_000);

  // The run reads /version before any change (kube/server-version.ts): a release of the supported
  // range is logged as such and adds no warning. npm run compat runs this on each release.
  it('a run names the API server\'s Kubernetes version, the one kubectl reads, as supported, with no warning', async () => {
    const server = (JSON.parse(await tc.cluster.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion;
    if (process.env[K8S_VERSION_ENV]) expect(server).toBe(process.env[K8S_VERSION_ENV]);
    const { report, log } = await drain(tc, { nodes: [W1], operation: 'plan' });
    expect(log).toContainEqual(expect.stringContaining(`info: Kubernetes ${server}: supported (safe-drain supports 1.32–1.37)`));
    expect(report.warnings).toBeUndefined();
  }, 120_000);
});

// The drain as a reconcile loop over the node's live pods (issue 8, items 1, 2, 4, 8, 16), on a
// real control plane. Each test makes the situation with real API calls while the drain runs.
import { describe, expect, it } from '@jest/globals';
import { RbacAuthorizationV1Api, type V1ClusterRole, type V1Node, type V1Pod, type V1PodDisruptionBudget } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ANNOTATION_MIGRATION } from '../../src/engine/execute/restore.js';
import { KubeClient } from '../../src/engine/kube/client.js';
import { loadKubeConfig } from '../../src/engine/kube/config.js';
import type { Logger } from '../../src/engine/types.js';
import { entryCommand } from '../bundle.js';
import {
  deployOn,
  deployment,
  drain,
  ensureNamespace,
  eventually,
  firstTime,
  isPodReady,
  makeNotReady,
  memoryLogger,
  pinTo,
  pdb,
  podsOf,
  record,
  namespacesDeletedAfterEach,
  useCluster,
  waitReady,
  createPdb as createPdbIn,
} from './support.js';

const [W1, W2, W3] = ['w1', 'w2', 'w3'];

const tc = useCluster({ nodes: 3 });
const namespace = namespacesDeletedAfterEach(tc);

const createPdb = (ns: string, body: V1PodDisruptionBudget, allowed: number) => createPdbIn(tc, ns, body, allowed);

async function unschedulable(name: string): Promise<boolean> {
  return (await tc.core.readNode({ name })).spec?.unschedulable === true;
}

/** A logger that runs `hook` when a log group whose name matches starts, before the group's work. */
function hookedLogger(trigger: RegExp, hook: () => void | Promise<void>): Logger & { lines: string[] } {
  const base = memoryLogger();
  let fired = false;
  return {
    ...base,
    async group(name, fn) {
      base.lines.push(`group: ${name}`);
      if (!fired && trigger.test(name)) {
        fired = true;
        await hook();
      }
      return fn();
    },
  };
}

describe('the drain reconciles the live pod set', () => {
  it('evicts a pod bound to the node after the drain started (item 1), and says it arrived mid-drain', async () => {
    const ns = namespace('late-pod');
    // Two replicas behind maxUnavailable 1 whose replacements take 2 s: the drain is under way for a while.
    await deployOn(tc, W1, ns, 'slow', 2, { readyDelay: '2s' });
    await createPdb(ns, pdb(ns, 'slow', 'slow', { maxUnavailable: 1 }), 1);
    // A managed pod nothing recreates: its controller is a ConfigMap (kubectl treats any controllerRef as managed).
    const owner = await tc.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    let created = false;
    // Bound straight to w1 (nodeName: the cordon does not stop it) once the first pod of the drain is gone.
    const binder = eventually(async () => {
      if (!pods.events.some((e) => e.type === 'DELETED' && e.obj.metadata?.name?.startsWith('slow-'))) return undefined;
      await tc.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'late', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid!, controller: true }] },
          spec: { nodeName: W1, containers: [{ name: 'app', image: 'registry.invalid/sample:1' }] },
        },
      });
      created = true;
      return true;
    }, 'first pod of the drain gone', 120_000);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 });
    await binder;
    pods.stop();

    expect(created).toBe(true);
    expect(report.success).toBe(true);
    const node = report.nodes[0]!;
    expect(node.results.find((r) => r.pod === `${ns}/late`)).toEqual(expect.objectContaining({ outcome: 'evicted' }));
    expect(node.timeline.some((t) => t.subject === `${ns}/late` && /arrived on the node during the drain/.test(t.message))).toBe(true);
    const left = (await podsOf(tc, ns, 'slow')).concat((await tc.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.name === 'late'));
    expect(left.filter((p) => p.spec?.nodeName === W1 && !p.metadata?.deletionTimestamp)).toEqual([]);
  }, 60_000);

  it('a selector drain cordons every selected node before the first eviction; nothing evicted lands on another selected node (item 2)', async () => {
    const ns = namespace('pool-drain');
    await deployOn(tc, W1, ns, 'web', 4);
    for (const n of [W1, W2]) await tc.cluster.kubectl(['label', 'node', n, 'pool=blue', '--overwrite']);
    const nodes = await record<V1Node>(tc, '/api/v1/nodes');
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    try {
      const { report } = await drain(tc, { selector: 'pool=blue', timeoutMs: 45_000 });
      nodes.stop();
      pods.stop();

      expect(report.success).toBe(true);
      // Drain order: fewest pods to move first (w2 has none), so the report lists w2 first.
      expect(report.nodes.map((n) => n.node)).toEqual([W2, W1]);
      const firstEviction = firstTime(pods.events, 'an eviction', (e) => !!e.obj.metadata?.deletionTimestamp || e.type === 'DELETED');
      const cordonedAt = (name: string) => firstTime(nodes.events, `${name} cordoned`, (e) => e.obj.metadata?.name === name && !!e.obj.spec?.unschedulable);
      expect(cordonedAt(W2)).toBeLessThanOrEqual(firstEviction);
      // Every replacement went to the one node the run keeps.
      const placed = new Map<string, string | undefined>();
      for (const e of pods.events) placed.set(e.obj.metadata!.name!, e.obj.spec?.nodeName);
      const replacements = [...placed].filter(([, nodeName]) => nodeName !== undefined && nodeName !== W1);
      // (4 or more: the default strategy takes the scale-up path, whose raised replicas come and go on w3 too.)
      expect(replacements.length).toBeGreaterThanOrEqual(4);
      expect(replacements.every(([, nodeName]) => nodeName === W3)).toBe(true);
      expect(await unschedulable(W1)).toBe(true);
      expect(await unschedulable(W2)).toBe(true);
    } finally {
      for (const n of [W1, W2]) await tc.cluster.kubectl(['label', 'node', n, 'pool-']);
    }
  }, 60_000);

  describe('a cancel stops the run before its next change (item 4)', () => {
    it.each([
      ['during the permission check', /^Checking permissions/],
      ['while planning', /^Plan for node/],
    ])('cancelled %s: nothing is changed', async (_, trigger) => {
      const ns = namespace(`cancel-${trigger.source.includes('Plan') ? 'plan' : 'perm'}`);
      const [before] = await deployOn(tc, W1, ns, 'web', 1);
      const cancel = new AbortController();
      const logger = hookedLogger(trigger, () => cancel.abort(new Error('cancelled (SIGTERM)')));

      const outcome = await drain(tc, { nodes: [W1], timeoutMs: 45_000 }, { logger, signal: cancel.signal }).catch((err: Error) => err);

      const message = outcome instanceof Error ? outcome.message : outcome.report.nodes[0]!.error;
      expect(message).toMatch(/cancelled \(SIGTERM\)/);
      if (!(outcome instanceof Error)) expect(outcome.report.success).toBe(false);
      expect(await unschedulable(W1)).toBe(false);
      const now = await podsOf(tc, ns, 'web');
      expect(now.map((p) => p.metadata?.uid)).toEqual([before!.metadata?.uid]);
      expect(now[0]!.metadata?.deletionTimestamp).toBeUndefined();
    }, 60_000);

    it('cancelled once the nodes are cordoned: no pod is evicted, the report names the cordon, uncordon-on-failure undoes it', async () => {
      const ns = namespace('cancel-cordoned');
      const [before] = await deployOn(tc, W1, ns, 'web', 1);
      const cancel = new AbortController();
      const logger = hookedLogger(/^Draining node w1/, () => cancel.abort(new Error('cancelled (SIGTERM)')));

      const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000, uncordonOnFailure: true }, { logger, signal: cancel.signal });

      expect(report.success).toBe(false);
      const node = report.nodes[0]!;
      expect(node.error).toMatch(/cancelled \(SIGTERM\)/);
      expect(node.timeline.map((t) => t.phase)).toEqual(expect.arrayContaining(['cordon', 'uncordon']));
      expect(node.results.filter((r) => r.outcome !== 'skipped' && r.outcome !== 'blocked')).toEqual([]);
      expect(report.summary).toMatch(/uncordoned again/);
      expect(await unschedulable(W1)).toBe(false);
      const now = await podsOf(tc, ns, 'web');
      expect(now.map((p) => p.metadata?.uid)).toEqual([before!.metadata?.uid]);
    }, 60_000);
  });

  it('wait-for-replacements waits for the ready count the workload had before the eviction, not spec.replicas (item 8)', async () => {
    const ns = namespace('degraded');
    await ensureNamespace(tc, ns);
    // 3 replicas, at most one per node, only on nodes labelled role=web (w1, w2): 2 Ready, 1 Pending — degraded.
    for (const n of [W1, W2]) await tc.cluster.kubectl(['label', 'node', n, 'role=web', '--overwrite']);
    const body = deployment(ns, 'web', 3, { nodeSelector: { role: 'web' } });
    body.spec!.template.spec!.affinity = {
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' }] },
    };
    await tc.apps.createNamespacedDeployment({ namespace: ns, body });
    await waitReady(tc, ns, 'web', 2);
    await eventually(async () => (await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).status?.readyReplicas === 2, 'Deployment at 2/3 ready');
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    // Once w1's pod is gone, w3 may take one pod: the workload can get back to 2 ready, never to 3.
    const relabel = eventually(async () => {
      if (!pods.events.some((e) => e.obj.spec?.nodeName === W1 && (e.type === 'DELETED' || e.obj.metadata?.deletionTimestamp))) return undefined;
      await tc.cluster.kubectl(['label', 'node', W3, 'role=web', '--overwrite']);
      return true;
    }, 'the pod on w1 evicted', 120_000);
    try {
      const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000, waitForReplacements: true });
      await relabel;
      pods.stop();

      expect(report.nodes[0]!.error).toBeUndefined();
      expect(report.success).toBe(true);
      expect(report.nodes[0]!.timeline.some((t) => t.phase === 'wait' && /back to 2 ready/.test(t.message))).toBe(true);
      const ready = (await podsOf(tc, ns, 'web')).filter((p) => isPodReady(p) && !p.metadata?.deletionTimestamp);
      expect(ready.map((p) => p.spec?.nodeName).sort()).toEqual([W2, W3]);
    } finally {
      for (const n of [W1, W2, W3]) await tc.cluster.kubectl(['label', 'node', n, 'role-']);
    }
  }, 60_000);

  it('a pod waiting for a budget that can no longer allow it (its Deployment scaled down mid-wait) is migrated instead of waiting until the timeout', async () => {
    const ns = namespace('shrunk-budget');
    // hold: pod A on w1 (Ready), pod B on w2 made not Ready; PDB minAvailable 1 of 2 expected:
    // healthy 1 = desired 1, so nothing is allowed, yet the budget could allow once B is Ready,
    // and the plan evicts A plainly (its budget keeps one pod healthy).
    const [a] = await deployOn(tc, W1, ns, 'hold', 1);
    const unpin = await pinTo(tc, W2);
    try {
      await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hold', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] });
      await waitReady(tc, ns, 'hold', 2);
    } finally {
      await unpin();
    }
    const b = (await podsOf(tc, ns, 'hold')).find((p) => p.spec?.nodeName === W2)!;
    await makeNotReady(tc, ns, b.metadata!.name!);
    await createPdb(ns, pdb(ns, 'hold', 'hold', { minAvailable: 1 }), 0);

    const logger = memoryLogger();
    const aKey = `${ns}/${a!.metadata!.name}`;
    // Once A waits for its budget, the Deployment is scaled to 1: its ReplicaSet removes the
    // not-Ready B, the PDB expects 1 pod, and minAvailable 1 of 1 can never allow A's eviction.
    const scaleDown = eventually(async () => {
      if (!logger.lines.some((l) => l.includes(`${aKey}: waiting for PDB`))) return undefined;
      await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hold', body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] });
      return true;
    }, `${aKey} waiting for its PDB`, 60_000);
    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 }, { logger });
    await scaleDown;

    const node = report.nodes[0]!;
    expect({ success: report.success, error: node.error }).toEqual({ success: true, error: undefined });
    expect(node.plan?.pods.find((p) => p.uid === a!.metadata!.uid)?.action).toBe('evict');
    expect(node.results.filter((r) => r.pod === aKey).map((r) => r.outcome)).toEqual(['migrated']);
    expect(node.timeline.some((t) => t.subject === aKey && /migrate instead: PDB shrunk-budget\/hold .*can never allow/.test(t.message))).toBe(true);
    expect(node.workloadChanges.map((c) => ({ workload: c.workload, restored: c.restored }))).toEqual([{ workload: `Deployment/${ns}/hold`, restored: true }]);
    const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hold' });
    expect(d.spec?.replicas).toBe(1);
    // No temporary marker left (the migration annotation is history, kept on purpose).
    const markers = [...Object.keys(d.metadata?.labels ?? {}), ...Object.keys(d.metadata?.annotations ?? {})].filter((k) => k.startsWith('safe-drain.io/') && k !== ANNOTATION_MIGRATION);
    expect(markers).toEqual([]);
    const left = (await podsOf(tc, ns, 'hold')).filter((p) => !p.metadata?.deletionTimestamp);
    expect(left.filter((p) => p.spec?.nodeName === W1)).toEqual([]);
    expect(left.filter(isPodReady)).toHaveLength(1);
  }, 60_000);

  it('an API error between two nodes ends the run with a report: node 1 drained, node 2 named with the error (item 16)', async () => {
    const ns = namespace('between-nodes');
    await deployOn(tc, W1, ns, 'a', 1);
    await deployOn(tc, W2, ns, 'b', 1);
    const shipped = parse(readFileSync(new URL('../../rbac/safe-drain-clusterrole.yaml', import.meta.url), 'utf8')) as V1ClusterRole;
    const rbac = tc.kc.makeApiClient(RbacAuthorizationV1Api);
    const name = 'safe-drain-revoked';
    await tc.core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name } } });
    await rbac.createClusterRole({ body: { ...shipped, metadata: { name } } });
    await rbac.createClusterRoleBinding({
      body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'kube-system' }] },
    });
    const token = (await tc.core.createNamespacedServiceAccountToken({ namespace: 'kube-system', name, body: { spec: { expirationSeconds: 3600 } } })).status!.token!;
    const cluster = tc.kc.getCurrentCluster()!;
    const kubeconfigPath = join(tc.cluster.stateDir, `${name}.kubeconfig.json`);
    writeFileSync(
      kubeconfigPath,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData ?? readFileSync(cluster.caFile!).toString('base64') } }],
        users: [{ name, user: { token } }],
        contexts: [{ name, context: { cluster: 'local', user: name } }],
        'current-context': name,
      }),
      { mode: 0o600 },
    );
    const asDrainer = new KubeClient(loadKubeConfig({ path: kubeconfigPath }));
    // When node w2's turn comes, its permissions are gone (the binding deleted, and seen to be).
    const logger = hookedLogger(/^Draining node w2/, async () => {
      await rbac.deleteClusterRoleBinding({ name });
      await eventually(async () => !(await asDrainer.canI({ verb: 'list', resource: 'pods', group: '' })).allowed, 'permission revoked');
    });

    const { report } = await drain(tc, { selector: undefined, nodes: [W1, W2], timeoutMs: 45_000 }, { kubeconfigPath, logger });
    // Its permissions gone, the run could not release its drain locks either, and says so; they are
    // removed here so the next test does not wait out their lease (this process, their holder, lives on).
    expect(report.nodes.flatMap((n) => n.timeline.map((t) => t.message)).filter((m) => m.includes('could not release the drain lock'))).toHaveLength(2);
    for (const n of [W1, W2]) await tc.cluster.kubectl(['annotate', 'node', n, 'safe-drain.io/drain-lock-']);

    expect(report.success).toBe(false);
    const [first, second] = report.nodes;
    expect(first).toEqual(expect.objectContaining({ node: W1, success: true }));
    // One replica: moved by a surge migration (replacement first).
    expect(first!.results.find((r) => r.pod.startsWith(`${ns}/a-`))?.outcome).toBe('migrated');
    expect(second).toEqual(expect.objectContaining({ node: W2, success: false, cordoned: true }));
    expect(second!.error).toMatch(/403/);
    expect(report.summary).toMatch(/Node w1: .*drained/);
    expect(report.summary).toMatch(/Node w2: cordoned/);
    await rbac.deleteClusterRole({ name });
    await tc.core.deleteNamespacedServiceAccount({ namespace: 'kube-system', name });
  }, 60_000);

  it('the CLI shows the plan table once, in plan and in drain (issue 13)', async () => {
    const ns = namespace('plan-once');
    await deployOn(tc, W1, ns, 'web', 2);
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [...entryCommand('cli'), ...args, '--node', W1, '--kubeconfig', tc.cluster.kubeconfigPath], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NODE_OPTIONS: '' },
      });
    const header = /POD\s+CLASS\s+ACTION/g;

    const plan = cli(['plan']);
    expect(plan.status).toBe(0);
    expect((plan.stdout.match(header) ?? []).length).toBe(1);
    expect((plan.stderr.match(header) ?? []).length).toBe(0);
    const drained = cli(['drain', '--timeout', '60s']);
    expect(drained.status).toBe(0);
    expect((drained.stdout + drained.stderr).match(header) ?? []).toHaveLength(1);
  }, 90_000);
});

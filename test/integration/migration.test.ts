// Zero-downtime migration (migration: surge) on a real control plane: the replacement is up
// before the old pod goes, observed by watching the pods; changes to workloads are undone.
import { describe, expect, it } from '@jest/globals';
import { AutoscalingV2Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import {
  deployOn,
  deployment,
  drain,
  ensureNamespace,
  eventually,
  isPodReady,
  pdb,
  podsOf,
  record,
  namespacesDeletedAfterEach,
  useCluster,
  waitReady,
} from './support.js';

const W1 = 'w1';

const tc = useCluster({ nodes: 3 });
const namespace = namespacesDeletedAfterEach(tc);

/** Fewest Ready, non-terminating pods of the app at any observed moment from the start of recording (its initial pods included). */
function minReady(events: { type: string; obj: V1Pod }[], initial: V1Pod[]): number {
  const state = new Map(initial.map((p) => [p.metadata!.name!, p]));
  const ready = () => [...state.values()].filter((p) => !p.metadata?.deletionTimestamp && isPodReady(p)).length;
  const initialUids = new Set(initial.map((p) => p.metadata?.uid));
  if (!events.some((e) => e.type === 'DELETED' && initialUids.has(e.obj.metadata?.uid))) throw new Error('the watch saw none of the initial pods go: no migration to judge');
  let min = ready();
  for (const e of events) {
    if (e.type === 'DELETED') state.delete(e.obj.metadata!.name!);
    else state.set(e.obj.metadata!.name!, e.obj);
    min = Math.min(min, ready());
  }
  return min;
}

async function setup(ns: string, strategy?: V1Deployment['spec'] extends infer S ? (S extends { strategy?: infer T } ? T : never) : never): Promise<V1Pod[]> {
  const pods = await deployOn(tc, W1, ns, 'hello', 1, { strategy });
  await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'hello', 'hello', { minAvailable: 1 }) });
  await eventually(async () => {
    const p = await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'hello' });
    return p.status?.observedGeneration === p.metadata?.generation && p.status?.currentHealthy === 1;
  }, 'PDB observed');
  return pods;
}

describe('surge migration', () => {
  it('moves a single replica guarded by minAvailable 1 with a rollout restart, never without a ready pod', async () => {
    const ns = namespace('surge-rollout');
    const initial = await setup(ns);
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 });
    pods.stop();

    expect(report.success).toBe(true);
    const planned = report.nodes[0]!.plan!.pods.find((p) => p.namespace === ns)!;
    expect(planned.action).toBe('migrate');
    expect(report.nodes[0]!.workloadChanges).toEqual([expect.objectContaining({ workload: `Deployment/${ns}/hello`, change: 'rollout restart', restored: true })]);
    expect(report.nodes[0]!.results.find((r) => r.pod.startsWith(`${ns}/`))?.outcome).toBe('migrated');
    expect(minReady(pods.events, initial)).toBeGreaterThanOrEqual(1);
    const now = (await podsOf(tc, ns, 'hello')).filter((p) => !p.metadata?.deletionTimestamp);
    expect(now).toHaveLength(1);
    expect(now[0]!.spec?.nodeName).not.toBe(W1);
    const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hello' });
    expect(d.spec?.replicas).toBe(1);
    expect(d.metadata?.annotations?.['safe-drain.io/migration']).toMatch(/rollout restart by safe-drain/);
  }, 60_000);

  it('scales up a Deployment that cannot surge (Recreate), evicts, and restores replicas exactly', async () => {
    const ns = namespace('surge-scale');
    const initial = await setup(ns, { type: 'Recreate' });
    const pods = await record<V1Pod>(tc, `/api/v1/namespaces/${ns}/pods`);
    const deployments = await record<V1Deployment>(tc, `/apis/apps/v1/namespaces/${ns}/deployments`);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000 });
    pods.stop();
    deployments.stop();

    expect(report.success).toBe(true);
    const change = report.nodes[0]!.workloadChanges[0]!;
    expect(change.change).toBe('replicas 1 → 2 → 1');
    expect(change.restored).toBe(true);
    expect(minReady(pods.events, initial)).toBeGreaterThanOrEqual(1);
    // Observed on the object: raised to 2 with the original recorded, then back to 1 without it.
    const replicasSeen = deployments.events.map((e) => e.obj.spec?.replicas);
    expect(replicasSeen).toContain(2);
    const final = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hello' });
    expect(final.spec?.replicas).toBe(1);
    expect(final.metadata?.annotations?.['safe-drain.io/original-replicas']).toBeUndefined();
    expect(final.metadata?.annotations?.['safe-drain.io/migration']).toMatch(/restored to 1/);
    const running = (await waitReady(tc, ns, 'hello', 1)).filter((p) => !p.metadata?.deletionTimestamp);
    expect(running.every((p) => p.spec?.nodeName !== W1)).toBe(true);
  }, 60_000);

  it('restores replicas when the drain times out mid-migration', async () => {
    const ns = namespace('surge-timeout');
    await ensureNamespace(tc, ns);
    // The replacement can never schedule (it needs a label no other node has), so the scale-up never gets Ready.
    await tc.cluster.kubectl(['label', 'node', W1, 'only-here=yes', '--overwrite']);
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'hello', 1, { strategy: { type: 'Recreate' }, nodeSelector: { 'only-here': 'yes' } }) });
    await waitReady(tc, ns, 'hello', 1);
    await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'hello', 'hello', { minAvailable: 1 }) });
    await eventually(async () => (await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'hello' })).status?.currentHealthy === 1, 'PDB observed');

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 10_000 });

    expect(report.success).toBe(false);
    expect(report.nodes[0]!.plan!.blockers.some((b) => b.kind === 'no-capacity')).toBe(true);
    const change = report.nodes[0]!.workloadChanges[0]!;
    expect(change.restored).toBe(true);
    const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hello' });
    expect(d.spec?.replicas).toBe(1);
    expect(d.metadata?.annotations?.['safe-drain.io/original-replicas']).toBeUndefined();
    await tc.cluster.kubectl(['label', 'node', W1, 'only-here-']);
  }, 90_000);

  it('does not fight an HPA: a Recreate Deployment with an HPA is evicted plainly and the plan says why', async () => {
    const ns = namespace('surge-hpa');
    await setup(ns, { type: 'Recreate' });
    await tc.kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace: ns,
      body: {
        metadata: { name: 'hello', namespace: ns },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'hello' },
          minReplicas: 1,
          maxReplicas: 3,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }],
        },
      },
    });

    const { report, log } = await drain(tc, { nodes: [W1], timeoutMs: 8_000 });

    const change = report.nodes[0]!.workloadChanges[0]!;
    expect(change.change).toBe('none: plain eviction');
    expect(change.message).toMatch(/HPA surge-hpa\/hello/);
    expect(log.join('\n')).toMatch(/fight the HPA/);
    const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hello' });
    expect(d.spec?.replicas).toBe(1);
  }, 90_000);
});

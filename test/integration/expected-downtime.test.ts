// What cannot move without downtime (issue 21): the plan says so before the drain and estimates
// the outage from the pod's own last start-to-Ready (its status timestamps); the availability
// report sets the downtime it measured beside that estimate. kwok writes a pod's startTime only
// when it makes it Ready, so each test writes the start a kubelet would have recorded: that many
// seconds before the pod's Ready time (timestamps are whole seconds: the estimate is exact).
import { describe, expect, it } from '@jest/globals';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { POD_READY_DELAY_ANNOTATION } from '../../cluster/src/index.js';
import { DEFAULT_AVAILABILITY } from '../../src/engine/availability/types.js';
import type { Blocker, RunReport } from '../../src/engine/types.js';
import { deployment, drain, ensureNamespace, eventually, namespacesDeletedAfterEach, pinTo, useCluster, waitReady } from './support.js';

const W1 = 'w1';
const tc = useCluster({ nodes: 3 });

const testNamespace = namespacesDeletedAfterEach(tc);

async function statefulSetOnW1(ns: string, name: string, replicas: number, readyDelay: string): Promise<void> {
  await ensureNamespace(tc, testNamespace(ns));
  const labels = { app: name };
  const unpin = await pinTo(tc, W1);
  try {
    await tc.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name, namespace: ns },
        spec: {
          replicas,
          serviceName: name,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, annotations: { [POD_READY_DELAY_ANNOTATION]: readyDelay } },
            spec: { containers: [{ name: 'db', image: 'registry.invalid/db:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
          },
        },
      },
    });
    await waitReady(tc, ns, name, replicas);
  } finally {
    await unpin();
  }
}

async function service(ns: string, name: string): Promise<void> {
  await tc.core.createNamespacedService({ namespace: ns, body: { metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } } });
  const discovery = tc.kc.makeApiClient(DiscoveryV1Api);
  await eventually(async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${name}` });
    return slices.items.flatMap((s) => s.endpoints ?? []).some((e) => e.conditions?.ready !== false);
  }, `Service ${ns}/${name} with a ready endpoint`);
}

/** Writes the pod's status.startTime `seconds` before its Ready time, as a kubelet that took that long to start it would have. */
async function startedBeforeReady(ns: string, pod: string, seconds: number): Promise<void> {
  const p = await tc.core.readNamespacedPod({ namespace: ns, name: pod });
  const ready = p.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
  if (!ready) throw new Error(`${ns}/${pod} has no Ready time`);
  const startTime = new Date(new Date(ready).getTime() - seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  await tc.cluster.kubectl(['-n', ns, 'patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { startTime } })]);
}

const downtimeFindings = (report: RunReport): Blocker[] => report.nodes[0]!.plan!.blockers.filter((b) => b.kind === 'zero-ready' || b.kind === 'unavoidable-downtime');

describe('expected downtime', () => {
  it('a single-replica StatefulSet: the plan estimates the outage from its pod\'s last start; the gate reports the measured downtime beside it', async () => {
    const ns = 'downtime-sts';
    await statefulSetOnW1(ns, 'db', 1, '3s');
    await startedBeforeReady(ns, 'db-0', 7);
    await service(ns, 'db');

    const plan = await drain(tc, { nodes: [W1], operation: 'plan' });
    const [finding] = downtimeFindings(plan.report);
    expect(finding).toMatchObject({ kind: 'unavoidable-downtime', pod: `${ns}/db-0`, fatal: false, expectedDowntime: { estimateMs: 7_000 } });
    expect(finding!.message).toContain(`estimated downtime about 7s: pod ${ns}/db-0 took 7s from start to Ready last time (status.startTime to its Ready condition)`);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 120_000, availability: { ...DEFAULT_AVAILABILITY, selection: { mode: 'services', services: [`${ns}/db`] } } });

    expect(report.nodes[0]!.success).toBe(true);
    const db = report.availability!.services.find((s) => s.service === `${ns}/db`)!;
    expect(db).toMatchObject({ expectedZero: true, estimatedDowntimeSeconds: 7 });
    // Measured beside it: the replacement (same name, made once the old pod is gone) was Ready 3 s after it started.
    expect(db.downtimeSeconds).toBeGreaterThan(0);
    await tc.cluster.kubectl(['uncordon', W1]);
  }, 240_000);

  it('a Recreate Deployment with migration: evict, and one an HPA manages (no surge path), are expected to go down, with an estimate', async () => {
    const ns = 'downtime-deploy';
    await ensureNamespace(tc, testNamespace(ns));
    const unpin = await pinTo(tc, W1);
    try {
      await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'api', 1, { strategy: { type: 'Recreate' } }) });
      const [pod] = await waitReady(tc, ns, 'api', 1);
      await startedBeforeReady(ns, pod!.metadata!.name!, 4);
    } finally {
      await unpin();
    }

    const evict = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'evict' });
    expect(downtimeFindings(evict.report)).toEqual([
      expect.objectContaining({ kind: 'zero-ready', message: expect.stringContaining('estimated downtime about 4s'), expectedDowntime: expect.objectContaining({ estimateMs: 4_000 }) }),
    ]);
    // With surge the Recreate Deployment is raised first: no downtime expected.
    expect(downtimeFindings((await drain(tc, { nodes: [W1], operation: 'plan', migration: 'surge' })).report)).toEqual([]);

    await tc.cluster.kubectl(['-n', ns, 'autoscale', 'deployment', 'api', '--min=1', '--max=3', '--cpu-percent=80']);
    const hpa = await eventually(async () => {
      const found = downtimeFindings((await drain(tc, { nodes: [W1], operation: 'plan', migration: 'surge' })).report);
      return found.length > 0 ? found : undefined;
    }, 'the plan seeing the HPA');
    expect(hpa).toEqual([expect.objectContaining({ kind: 'zero-ready', message: expect.stringMatching(/expect downtime: it has no surge path \(HPA .*api.*\).*estimated downtime about 4s/) })]);
  }, 240_000);

  it('a workload with a ready replica on another node is not expected to go down', async () => {
    const ns = 'downtime-none';
    await statefulSetOnW1(ns, 'db', 1, '1s');
    // A second replica, on another node.
    const unpin = await pinTo(tc, 'w2');
    try {
      await tc.cluster.kubectl(['-n', ns, 'scale', 'statefulset', 'db', '--replicas=2']);
      const pods = await waitReady(tc, ns, 'db', 2);
      expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual([W1, 'w2']);
    } finally {
      await unpin();
    }

    const { report } = await drain(tc, { nodes: [W1], operation: 'plan' });

    expect(downtimeFindings(report)).toEqual([]);
  }, 240_000);
});

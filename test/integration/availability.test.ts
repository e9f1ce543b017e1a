// The availability gate on a real control plane: kwok marks pods Ready, the real EndpointSlice
// controller (kube-controller-manager --controllers=*) builds the slices safe-drain watches.
// Assertions are on what the report says about Services and on the cluster state, never on timing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiscoveryV1Api, type V1Pod } from '@kubernetes/client-node';
import { DEFAULT_AVAILABILITY, type AvailabilityOptions } from '../../src/engine/availability/types.js';
import { InputError, type RunReport } from '../../src/engine/types.js';
import { POD_READY_DELAY_ANNOTATION } from '../../cluster/src/index.js';
import { LABEL_SCALED } from '../../src/engine/execute/restore.js';
import { deleteNamespace, deployOn, deployment, drain, ensureNamespace, eventually, isPodReady, pinTo, podsOf, namespacesDeletedAfterEach, useCluster, waitReady } from './support.js';

const tc = useCluster({ nodes: 3 });
const namespace = namespacesDeletedAfterEach(tc);
const W1 = 'w1';

function gate(extra: Partial<AvailabilityOptions>): AvailabilityOptions {
  return { ...DEFAULT_AVAILABILITY, ...extra };
}

/** A Service in front of the pods labelled app=`app`, and its slices showing `ready` ready endpoints (setup). */
async function service(ns: string, name: string, app: string, ready: number, labels: Record<string, string> = {}): Promise<void> {
  await tc.core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name, namespace: ns, labels }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] } },
  });
  const discovery = tc.kc.makeApiClient(DiscoveryV1Api);
  await eventually(async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: `kubernetes.io/service-name=${name}` });
    const n = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
    return n === ready;
  }, `Service ${ns}/${name} with ${ready} ready endpoint(s) in its EndpointSlices`);
}

async function nodeVersions(): Promise<(string | undefined)[]> {
  return (await tc.core.listNode()).items.map((n) => n.metadata?.resourceVersion);
}

function serviceReport(report: RunReport, name: string) {
  const found = report.availability?.services.find((s) => s.service === name);
  if (!found) throw new Error(`${name} not in the availability report: ${JSON.stringify(report.availability?.services.map((s) => s.service))}`);
  return found;
}

describe('the gate on a drain', () => {
  it('a plain eviction of a single replica with max-downtime 0s fails, naming the Service and its downtime', async () => {
    const ns = namespace('gate-evict');
    // The replacement is Ready only 3 s after it starts: the old pod is gone well before, even on a loaded machine.
    await deployOn(tc, W1, ns, 'web', 1, { readyDelay: '3s' });
    await service(ns, 'web', 'web', 1);

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 45_000, availability: gate({ maxDowntimeMs: 0 }) });

    // The drain itself went through; the gate is what fails the run, after it. (On a failure,
    // the gate's whole report is shown: a .ci/run at 13:30 UTC, 2026-11-28, saw this run pass.)
    expect(report.nodes[0]!.success).toBe(true);
    expect({ success: report.success, availability: report.availability }).toMatchObject({ success: false });
    const web = serviceReport(report, `${ns}/web`);
    expect(web.initialReady).toBe(1);
    expect(web.minReady).toBe(0);
    expect(web.downtimeSeconds).toBeGreaterThan(0);
    expect(web.expectedZero).toBe(true);
    expect(web.passed).toBe(false);
    // Measured to the end of the outage: the replacement came up, and the series says so.
    expect(web.finalReady).toBe(1);
    expect(report.availability!.failures).toEqual([`${ns}/web: down ${Math.round(web.downtimeSeconds * 10) / 10} s (max-downtime 0s)`]);
    expect(report.summary).toMatch(new RegExp(`gate FAILED: ${ns}/web: down [0-9.]+ s`));
  }, 60_000);

  it('the same drain with migration: surge passes with no downtime', async () => {
    const ns = namespace('gate-surge');
    await deployOn(tc, W1, ns, 'web', 1, { readyDelay: '1s' });
    await service(ns, 'web', 'web', 1);

    const { report } = await drain(tc, { nodes: [W1], migration: 'surge', timeoutMs: 45_000, availability: gate({ maxDowntimeMs: 0 }) });

    expect(report.success).toBe(true);
    const web = serviceReport(report, `${ns}/web`);
    expect(web).toMatchObject({ initialReady: 1, downtimeSeconds: 0, longestOutageSeconds: 0, expectedZero: false, passed: true });
    expect(web.minReady).toBeGreaterThanOrEqual(1);
    expect(report.availability).toMatchObject({ passed: true, aborted: false, failures: [], measured: true, maxDowntimeSeconds: 0 });
  }, 60_000);

  it('min-ready-ratio trips on a Deployment losing more than half its ready endpoints', async () => {
    const ns = namespace('gate-ratio');
    await deployOn(tc, W1, ns, 'web', 4, { readyDelay: '2s' });
    await service(ns, 'web', 'web', 4);

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 45_000, availability: gate({ minReadyRatio: 0.5 }) });

    expect(report.success).toBe(false);
    const web = serviceReport(report, `${ns}/web`);
    expect(web.initialReady).toBe(4);
    expect(web.minReady).toBeLessThan(2);
    expect(web.failure).toMatch(new RegExp(`^${ns}/web: ${web.minReady} of 4 ready endpoints at \\+[0-9.]+ s, below min-ready-ratio 0.5 \\(needs at least 2\\); down [0-9.]+ s$`));
  }, 60_000);

  it('abort-on-downtime stops the run at the breach: the next node is not drained and is uncordoned again', async () => {
    const ns = namespace('gate-abort');
    await deployOn(tc, W1, ns, 'web', 1, { readyDelay: '3s' });
    await service(ns, 'web', 'web', 1);
    await deployOn(tc, 'w2', ns, 'bulk', 2);
    const bulkBefore = (await podsOf(tc, ns, 'bulk')).map((p) => p.metadata?.uid).sort();

    // wait-for-replacements keeps w1's drain going until web is back, so the breach (web at zero)
    // happens while the run is still on w1, before w2's turn.
    const { report, log } = await drain(tc, {
      nodes: [W1, 'w2'],
      migration: 'evict',
      waitForReplacements: true,
      uncordonOnFailure: true,
      timeoutMs: 45_000,
      availability: gate({ selection: { mode: 'services', services: [`${ns}/web`] }, maxDowntimeMs: 0, abortOnDowntime: true }),
    });

    expect(report.success).toBe(false);
    expect(report.availability).toMatchObject({ aborted: true, passed: false });
    // On a failure, when the gate saw web at zero (its log) against w1's timeline.
    if (!/availability gate broken/.test(report.nodes[0]!.error ?? '')) {
      console.log(`gate abort test, w1 not stopped by the gate:\n${JSON.stringify(report.nodes[0]!.timeline)}\n${log.join('\n')}\n${JSON.stringify(report.availability?.services)}`);
    }
    expect({
      error: report.nodes[0]!.error,
      timeline: report.nodes[0]!.timeline,
      gateLog: log.filter((l) => /availability|gate|drain order|node w1/.test(l)),
    }).toMatchObject({ error: expect.stringMatching(/availability gate broken \(abort-on-downtime\): gate-abort\/web: down/) });
    expect(report.nodes[1]!.error).toMatch(/availability gate broken|not drained/);
    // Nothing was evicted from w2: the same bulk pods are still there.
    expect(report.nodes[1]!.results.filter((r) => r.outcome === 'evicted')).toEqual([]);
    const bulkAfter = (await podsOf(tc, ns, 'bulk')).filter((p: V1Pod) => !p.metadata?.deletionTimestamp && isPodReady(p));
    expect(bulkAfter.map((p) => p.metadata?.uid).sort()).toEqual(bulkBefore);
    // uncordon-on-failure put back what this run cordoned.
    for (const n of [W1, 'w2']) expect((await tc.core.readNode({ name: n })).spec?.unschedulable).toBeFalsy();
  }, 60_000);

  it('abort-on-downtime restores a surge raise that was in flight when the gate broke', async () => {
    const ns = namespace('gate-abort-surge');
    await ensureNamespace(tc, ns);
    // api on w1: Recreate cannot roll, so surge raises its replicas; its replacement takes 15 s to
    // be Ready, so the raise is in place for a while.
    const unpinApi = await pinTo(tc, W1);
    try {
      await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'api', 1, { strategy: { type: 'Recreate' }, readyDelay: '15s' }) });
      await waitReady(tc, ns, 'api', 1);
    } finally {
      await unpinApi();
    }
    // db on w2 (not drained): the test takes it down itself once the raise is seen, so the gate
    // breaks while the raise is in flight, whatever the order the engine starts its work in.
    const unpinDb = await pinTo(tc, 'w2');
    try {
      const labels = { app: 'db' };
      await tc.apps.createNamespacedStatefulSet({
        namespace: ns,
        body: {
          metadata: { name: 'db', namespace: ns },
          spec: {
            replicas: 1,
            serviceName: 'db',
            selector: { matchLabels: labels },
            template: {
              // Its replacement (same name, made once the old pod is gone) is Ready only after 3 s.
              metadata: { labels, annotations: { [POD_READY_DELAY_ANNOTATION]: '3s' } },
              spec: { containers: [{ name: 'db', image: 'registry.invalid/db:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
            },
          },
        },
      });
      await waitReady(tc, ns, 'db', 1);
    } finally {
      await unpinDb();
    }
    await service(ns, 'db', 'db', 1);

    const running = drain(tc, {
      nodes: [W1],
      migration: 'surge',
      timeoutMs: 100_000,
      availability: gate({ selection: { mode: 'services', services: [`${ns}/db`] }, maxDowntimeMs: 0, abortOnDowntime: true }),
    });
    await eventually(async () => (await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'api' })).spec?.replicas === 2, 'api raised to 2 by the drain');
    await tc.core.deleteNamespacedPod({ namespace: ns, name: 'db-0', gracePeriodSeconds: 0 });
    const { report } = await running;

    expect(report.availability).toMatchObject({ aborted: true, passed: false });
    expect(report.nodes[0]!.error).toMatch(/availability gate broken \(abort-on-downtime\): gate-abort-surge\/db: down/);
    const change = report.nodes[0]!.workloadChanges.find((c) => c.workload === `Deployment/${ns}/api`);
    expect(change).toMatchObject({ change: 'replicas 1 → 2 → 1', restored: true });
    const api = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    expect(api.spec?.replicas).toBe(1);
    expect(api.metadata?.labels?.[LABEL_SCALED]).toBeUndefined();
    // The old api pod was not evicted: the abort came first.
    expect(report.nodes[0]!.results.find((r) => r.pod.startsWith(`${ns}/api-`))?.outcome).not.toBe('migrated');
    await tc.cluster.kubectl(['uncordon', W1]);
  }, 120_000);

  it('restore-after leaves the drained node schedulable', async () => {
    const ns = namespace('gate-restore');
    await deployOn(tc, W1, ns, 'web', 2);
    await service(ns, 'web', 'web', 2);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 45_000, availability: gate({ restoreAfter: true }) });

    expect(report.success).toBe(true);
    expect(report.nodes[0]!.uncordoned).toBe(true);
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBeFalsy();
    expect(report.summary).toMatch(/uncordoned again at the end \(restore-after\)/);
    // The pods did leave the node: a real drain, then the node back in service.
    expect((await podsOf(tc, ns, 'web')).filter((p) => p.spec?.nodeName === W1 && !p.metadata?.deletionTimestamp)).toEqual([]);
  }, 60_000);
});

describe('which Services are watched', () => {
  // Shared by the tests of this block: deleted after the last one.
  const ns = 'gate-select';
  beforeAll(async () => {
    await deployOn(tc, W1, ns, 'front', 1);
    await deployOn(tc, 'w2', ns, 'back', 1);
    await service(ns, 'front', 'front', 1, { tier: 'front' });
    await service(ns, 'back', 'back', 1, { tier: 'back' });
  }, 60_000);
  afterAll(async () => {
    await deleteNamespace(tc, ns);
  }, 120_000);

  const watched = async (availability: AvailabilityOptions, nodes = [W1]) => {
    const { report } = await drain(tc, { nodes, operation: 'plan', availability });
    return report.availability?.services.map((s) => s.service);
  };

  it('auto: the Services with a ready endpoint on a drained node', async () => {
    expect(await watched(gate({}))).toContain(`${ns}/front`);
    expect(await watched(gate({}))).not.toContain(`${ns}/back`);
  }, 60_000);

  it('an explicit list, a namespace list, a selector, and off', async () => {
    expect(await watched(gate({ selection: { mode: 'services', services: [`${ns}/back`] } }))).toEqual([`${ns}/back`]);
    expect(await watched(gate({ selection: { mode: 'namespaces', namespaces: [ns] } }))).toEqual([`${ns}/back`, `${ns}/front`]);
    expect(await watched(gate({ selection: { mode: 'selector', selector: 'tier=back' } }))).toEqual([`${ns}/back`]);
    expect(await watched(gate({ selection: { mode: 'off' } }))).toBeUndefined();
  }, 60_000);

  it('operation: plan fails a zero-downtime gate on a Service the drain would take to zero, changing nothing', async () => {
    const before = await nodeVersions();
    const { report } = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'evict', availability: gate({ maxDowntimeMs: 0 }) });
    expect(report.success).toBe(false);
    expect(report.availability?.measured).toBe(false);
    const front = serviceReport(report, `${ns}/front`);
    expect(front).toMatchObject({ expectedZero: true, passed: false });
    expect(front.failure).toMatch(new RegExp(`^${ns}/front: the drain is expected to take it to zero ready endpoints \\(max-downtime 0s\\)`));
    expect(await nodeVersions()).toEqual(before);
    // With surge the plan brings a replacement up first: not expected at zero, the gate passes.
    // A dry run evicts nothing, so it is judged like a plan: on what the plan expects.
    const dry = await drain(tc, { nodes: [W1], dryRun: true, migration: 'evict', availability: gate({ maxDowntimeMs: 0 }) });
    expect(dry.report.availability?.measured).toBe(false);
    expect(serviceReport(dry.report, `${ns}/front`)).toMatchObject({ expectedZero: true, passed: false });
    expect(await nodeVersions()).toEqual(before);
    const surge = await drain(tc, { nodes: [W1], operation: 'plan', migration: 'surge', availability: gate({ maxDowntimeMs: 0 }) });
    expect(serviceReport(surge.report, `${ns}/front`)).toMatchObject({ expectedZero: false, passed: true });
  }, 60_000);

  it('refuses a Service, a namespace or a selector that names nothing, before any change', async () => {
    const before = await nodeVersions();
    const refused = async (availability: AvailabilityOptions): Promise<InputError> => {
      const err = await drain(tc, { nodes: [W1], availability }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InputError);
      return err as InputError;
    };
    const missing = await refused(gate({ selection: { mode: 'services', services: [`${ns}/front`, `${ns}/nope`] } }));
    expect(missing.input).toBe('availability');
    expect(missing.message).toMatch(new RegExp(`no Service "${ns}/nope" in the cluster`));
    expect((await refused(gate({ selection: { mode: 'namespaces', namespaces: ['no-such-ns'] } }))).message).toMatch(/no namespace "no-such-ns"/);
    expect((await refused(gate({ selection: { mode: 'selector', selector: 'tier=nothing' } }))).message).toMatch(/matches no Service/);
    expect(await nodeVersions()).toEqual(before);
  }, 60_000);
});

describe('probes', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // Loopback only: /ok always answers 200, /down always 503.
    server = createServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : 503;
      res.end('x');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('probes each URL during the drain and fails a 0s gate on the one that failed', async () => {
    const ns = namespace('gate-probe');
    await deployOn(tc, W1, ns, 'web', 1, { readyDelay: '1s' });

    const { report } = await drain(tc, {
      nodes: [W1],
      migration: 'surge',
      timeoutMs: 45_000,
      availability: gate({ probeUrls: [`${base}/ok`, `${base}/down`], probeIntervalMs: 50, maxDowntimeMs: 0 }),
    });

    const [ok, down] = report.availability!.probes;
    expect(ok).toMatchObject({ url: `${base}/ok`, failures: 0, passed: true });
    expect(ok!.requests).toBeGreaterThan(0);
    expect(down).toMatchObject({ url: `${base}/down`, passed: false });
    expect(down!.failures).toBe(down!.requests);
    expect(report.availability!.failures).toEqual([expect.stringMatching(new RegExp(`^${base}/down: \\d+ failed request\\(s\\)`))]);
    expect(report.success).toBe(false);
  }, 60_000);
});

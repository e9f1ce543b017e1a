// What other drain tools' annotations, labels and options ask of a drain (issue 21), on a real
// control plane: Karpenter's and Cluster Autoscaler's do-not-disrupt annotations (pods and the
// Node), Cluster API's cluster.x-k8s.io/drain label, and forced progress only when an input asks
// for it by name (disable-eviction, force-after). Each with the case that must not change.
// Assertions are on what the cluster was left with first, then on the report.
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULT_AVAILABILITY } from '../../src/engine/availability/types.js';
import type { DrainOptions, RunReport } from '../../src/engine/types.js';
import { createPdb, deployment, drain, ensureNamespace, eventually, findPod, memoryLogger, namespacesDeletedAfterEach, pdb, pinTo, useCluster, waitReady } from './support.js';

const W1 = 'w1';
const tc = useCluster({ nodes: 3 });

const testNamespace = namespacesDeletedAfterEach(tc);

/** A Deployment whose pods all land on w1, its pod template changed by `template` first (setup). */
async function deployOnW1(ns: string, name: string, replicas: number, template: { labels?: Record<string, string>; annotations?: Record<string, string>; readyDelay?: string } = {}): Promise<V1Pod[]> {
  await ensureNamespace(tc, ns);
  const body = deployment(ns, name, replicas, { ...(template.readyDelay && { readyDelay: template.readyDelay }) });
  const meta = body.spec!.template.metadata!;
  meta.labels = { ...meta.labels, ...template.labels };
  meta.annotations = { ...meta.annotations, ...template.annotations };
  const unpin = await pinTo(tc, W1);
  try {
    await tc.apps.createNamespacedDeployment({ namespace: ns, body });
    const pods = await waitReady(tc, ns, name, replicas);
    if (!pods.every((p) => p.spec?.nodeName === W1)) throw new Error(`${ns}/${name}: not every pod landed on ${W1}`);
    return pods;
  } finally {
    await unpin();
  }
}

/** A pod without a controller, bound to w1 (kwok runs it). */
async function barePodOnW1(ns: string, name: string, labels: Record<string, string>): Promise<void> {
  await ensureNamespace(tc, ns);
  await tc.core.createNamespacedPod({
    namespace: ns,
    body: { metadata: { name, namespace: ns, labels }, spec: { nodeName: W1, restartPolicy: 'Never', containers: [{ name: 'c', image: 'registry.invalid/job:1' }] } },
  });
  await eventually(async () => (await tc.core.readNamespacedPod({ namespace: ns, name })).status?.phase === 'Running', `${ns}/${name} Running`);
}

const readPod = (ns: string, name: string) => findPod(tc, ns, name);

/** The pod is still there, on w1, not being deleted. */
async function untouched(ns: string, name: string): Promise<boolean> {
  const p = await readPod(ns, name);
  return p !== undefined && p.spec?.nodeName === W1 && !p.metadata?.deletionTimestamp;
}

async function w1Cordoned(): Promise<boolean> {
  return (await tc.core.readNode({ name: W1 })).spec?.unschedulable === true;
}

async function nodeEvents(reason: string) {
  return (await tc.core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.kind=Node,involvedObject.name=${W1}` })).items.filter((e) => e.reason === reason);
}

const nameOf = (p: V1Pod) => p.metadata!.name!;
const node = (report: RunReport) => report.nodes[0]!;

describe('do-not-disrupt annotations', () => {
  it.each([
    ['karpenter.sh/do-not-disrupt', 'true', 'dnd-karpenter'],
    ['cluster-autoscaler.kubernetes.io/safe-to-evict', 'false', 'dnd-autoscaler'],
  ])('a pod with %s=%s refuses the drain before any change, naming the pod and the annotation; respect-do-not-disrupt: false drains it and says so', async (key, value, name) => {
    const ns = testNamespace(name);
    const [pod] = await deployOnW1(ns, 'web', 1, { annotations: { [key]: value } });
    const podName = `${ns}/${nameOf(pod!)}`;

    const refused = await drain(tc, { nodes: [W1], timeoutMs: 60_000 });

    expect(await w1Cordoned()).toBe(false);
    expect(await untouched(ns, nameOf(pod!))).toBe(true);
    expect(refused.report.success).toBe(false);
    expect(node(refused.report).error).toContain(`pod ${podName} has annotation ${key}=${value}: it must not be disrupted`);
    expect(node(refused.report).plan!.pods.find((p) => `${p.namespace}/${p.name}` === podName)).toMatchObject({ action: 'refuse', reason: expect.stringContaining(`annotation ${key}=${value}`) });

    const overridden = await drain(tc, { nodes: [W1], timeoutMs: 60_000, respectDoNotDisrupt: false });

    expect(await readPod(ns, nameOf(pod!))).toBeUndefined();
    expect(overridden.report.success).toBe(true);
    expect(node(overridden.report).plan!.blockers).toContainEqual(expect.objectContaining({ kind: 'do-not-disrupt-overridden', pod: podName, fatal: false }));
    // One replica: moved by a surge (the default migration) or a plain eviction, never left.
    expect(['evicted', 'migrated']).toContain(node(overridden.report).results.find((r) => r.pod === podName)?.outcome);
    expect(overridden.report.summary).toContain(`do-not-disrupt overridden for ${podName} (respect-do-not-disrupt: false)`);
  }, 240_000);

  it('values the tools do not honour (do-not-disrupt "false", safe-to-evict "true") change nothing: the pod is evicted', async () => {
    const ns = testNamespace('dnd-other-values');
    const [pod] = await deployOnW1(ns, 'web', 1, { annotations: { 'karpenter.sh/do-not-disrupt': 'false', 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'true' } });

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 60_000 });

    expect(await readPod(ns, nameOf(pod!))).toBeUndefined();
    expect(report.success).toBe(true);
    expect(node(report).plan!.blockers.filter((b) => b.kind.includes('do-not-disrupt'))).toEqual([]);
  }, 240_000);

  it('the Node annotated karpenter.sh/do-not-disrupt=true is refused before any change; respect-do-not-disrupt: false drains it', async () => {
    const ns = testNamespace('dnd-node');
    const [pod] = await deployOnW1(ns, 'web', 1);
    await tc.cluster.kubectl(['annotate', 'node', W1, 'karpenter.sh/do-not-disrupt=true']);
    try {
      const refused = await drain(tc, { nodes: [W1], timeoutMs: 60_000 });

      expect(await w1Cordoned()).toBe(false);
      expect(await untouched(ns, nameOf(pod!))).toBe(true);
      expect(node(refused.report).error).toContain(`node ${W1} has annotation karpenter.sh/do-not-disrupt=true: it must not be drained`);

      const overridden = await drain(tc, { nodes: [W1], timeoutMs: 60_000, respectDoNotDisrupt: false });

      expect(await readPod(ns, nameOf(pod!))).toBeUndefined();
      expect(overridden.report.success).toBe(true);
      expect(node(overridden.report).plan!.blockers).toContainEqual(expect.objectContaining({ kind: 'do-not-disrupt-overridden', pod: W1 }));
    } finally {
      await tc.cluster.kubectl(['annotate', 'node', W1, 'karpenter.sh/do-not-disrupt-']);
    }
  }, 240_000);
});

describe('the cluster.x-k8s.io/drain label', () => {
  it('skip: the pod stays and is listed as staying; a value Cluster API does not know is drained as usual', async () => {
    const ns = testNamespace('label-skip');
    const [kept] = await deployOnW1(ns, 'agent', 1, { labels: { 'cluster.x-k8s.io/drain': 'skip' } });
    const [moved] = await deployOnW1(ns, 'web', 1, { labels: { 'cluster.x-k8s.io/drain': 'sometimes' } });

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 60_000 });

    expect(await untouched(ns, nameOf(kept!))).toBe(true);
    expect(await readPod(ns, nameOf(moved!))).toBeUndefined();
    expect(report.success).toBe(true);
    const keptKey = `${ns}/${nameOf(kept!)}`;
    expect(node(report).plan!.pods.find((p) => `${p.namespace}/${p.name}` === keptKey)).toMatchObject({ action: 'skip', reason: expect.stringContaining('label cluster.x-k8s.io/drain=skip') });
    expect(node(report).results.find((r) => r.pod === keptKey)).toMatchObject({ outcome: 'skipped' });
    expect(['evicted', 'migrated']).toContain(node(report).results.find((r) => r.pod === `${ns}/${nameOf(moved!)}`)?.outcome);
  }, 240_000);

  it('wait-completed: not evicted; the drain waits until the pod completes or is deleted', async () => {
    const ns = testNamespace('label-wait');
    const label = { 'cluster.x-k8s.io/drain': 'wait-completed' };
    await barePodOnW1(ns, 'job-a', label);
    await barePodOnW1(ns, 'job-b', { 'cluster.x-k8s.io/drain': 'WaitCompleted' });
    const logger = memoryLogger();

    const running = drain(tc, { nodes: [W1], timeoutMs: 120_000 }, { logger });
    // Both waits have started before the pods finish: the drain itself waited for them.
    await eventually(async () => ['job-a', 'job-b'].every((n) => logger.lines.some((l) => l.includes(`${ns}/${n} is not evicted`) && l.includes('waiting until it completes'))), 'the drain waiting for both jobs');
    expect(await untouched(ns, 'job-a')).toBe(true);
    await tc.cluster.kubectl(['-n', ns, 'patch', 'pod', 'job-a', '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Succeeded"}}']);
    await tc.core.deleteNamespacedPod({ namespace: ns, name: 'job-b' });
    const { report } = await running;

    // job-a completed on its own and was never evicted: it is still there, Succeeded.
    const jobA = await readPod(ns, 'job-a');
    expect(jobA).toMatchObject({ status: { phase: 'Succeeded' } });
    expect(jobA?.metadata?.deletionTimestamp).toBeUndefined();
    expect(report.success).toBe(true);
    expect(node(report).results.find((r) => r.pod === `${ns}/job-a`)).toMatchObject({ outcome: 'completed', message: expect.stringMatching(/^it completed \(Succeeded\) while the drain waited/) });
    expect(node(report).results.find((r) => r.pod === `${ns}/job-b`)).toMatchObject({ outcome: 'completed', message: expect.stringMatching(/^it was deleted while the drain waited/) });
  }, 240_000);

  it('wait-completed: a pod that never completes ends the drain at its timeout, named with its label, and is never evicted', async () => {
    const ns = testNamespace('label-wait-timeout');
    await barePodOnW1(ns, 'job', { 'cluster.x-k8s.io/drain': 'wait-completed' });

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 5_000 });

    expect(await untouched(ns, 'job')).toBe(true);
    expect(report.success).toBe(false);
    expect(node(report).results.find((r) => r.pod === `${ns}/job`)).toMatchObject({ outcome: 'blocked' });
    expect(node(report).error).toMatch(/^timeout of 5s expired/);
    expect(node(report).error).toContain(`waiting for it to complete: label cluster.x-k8s.io/drain=wait-completed: not evicted; the drain waits until it completes (pod ${ns}/job)`);
  }, 240_000);
});

describe('forced progress, only when an input asks for it', () => {
  /** One replica behind a PDB that never allows an eviction (minAvailable 1), moved by plain eviction. */
  async function guarded(ns: string, readyDelay?: string): Promise<string> {
    const [pod] = await deployOnW1(ns, 'web', 1, { ...(readyDelay && { readyDelay }) });
    await createPdb(tc, ns, pdb(ns, 'web', 'web', { minAvailable: 1 }), 0);
    return nameOf(pod!);
  }
  const evictOnly: Partial<DrainOptions> = { nodes: [W1], migration: 'evict' };

  it('without disable-eviction or force-after the pod waits on its PDB until the timeout and is never deleted', async () => {
    const ns = testNamespace('force-none');
    const pod = await guarded(ns);

    const { report } = await drain(tc, { ...evictOnly, timeoutMs: 8_000 });

    expect(await untouched(ns, pod)).toBe(true);
    expect(node(report).results.find((r) => r.pod === `${ns}/${pod}`)).toMatchObject({ outcome: 'blocked', pdb: `${ns}/web` });
    expect(node(report).results.some((r) => r.bypass !== undefined || r.outcome === 'force-deleted')).toBe(false);
    expect(node(report).plan!.blockers.filter((b) => b.kind === 'budget-bypassed')).toEqual([]);
    expect(await nodeEvents('SafeDrainBudgetBypassed')).toEqual([]);
  }, 240_000);

  it('disable-eviction deletes the pod instead of evicting it: said in the plan, the result, the summary and a Warning Event, and judged by the gate', async () => {
    const ns = testNamespace('force-disable');
    // The replacement is Ready 3 s after it starts: the PDB is unmet meanwhile.
    const pod = await guarded(ns, '3s');

    const { report } = await drain(tc, { ...evictOnly, timeoutMs: 120_000, disableEviction: true, availability: { ...DEFAULT_AVAILABILITY, maxDowntimeMs: 0 } });

    expect(await readPod(ns, pod)).toBeUndefined();
    const key = `${ns}/${pod}`;
    expect(node(report).plan!.blockers).toContainEqual(expect.objectContaining({ kind: 'budget-bypassed', pod: key, message: expect.stringContaining(`PDB ${ns}/web is bypassed: disable-eviction deletes pod ${key}`) }));
    expect(node(report).results.find((r) => r.pod === key)).toMatchObject({
      outcome: 'force-deleted',
      bypass: { pod: key, by: 'disable-eviction', pdb: `${ns}/web`, waitedMs: 0 },
      budgetWaits: 0,
    });
    expect(node(report).timeline).toContainEqual(expect.objectContaining({ subject: key, message: expect.stringContaining(`bypassing PDB ${ns}/web (disable-eviction)`) }));
    expect(report.summary).toContain(`1 pod deleted instead of evicted (disable-eviction: budgets bypassed: PDB ${ns}/web)`);
    const events = await eventually(async () => {
      const found = await nodeEvents('SafeDrainBudgetBypassed');
      return found.length > 0 ? found : undefined;
    }, 'the bypass Event on the node');
    expect(events[0]).toMatchObject({ type: 'Warning', message: expect.stringContaining(`Pod ${key} deleted instead of evicted, bypassing PDB ${ns}/web`) });
    // The drain itself succeeded; the gate (max-downtime 0s) judged the unmet budget and failed the run.
    expect(node(report).success).toBe(true);
    expect(report.outcome).toBe('gate-failed');
    expect(report.availability?.bypasses).toEqual([expect.objectContaining({ pod: key, pdb: `${ns}/web`, by: 'disable-eviction', healthyBefore: 1, minHealthy: 0, passed: false })]);
    expect(report.availability?.failures).toContainEqual(expect.stringMatching(new RegExp(`^pod ${key} deleted bypassing PDB ${ns}/web \\(disable-eviction\\): its budget was unmet for`)));
  }, 240_000);

  it('force-after: the pod is deleted once it has waited that long on its PDB, and the wait is in the report', async () => {
    const ns = testNamespace('force-after');
    const pod = await guarded(ns);

    const { report } = await drain(tc, { ...evictOnly, timeoutMs: 120_000, forceAfterMs: 2_000 });

    expect(await readPod(ns, pod)).toBeUndefined();
    const key = `${ns}/${pod}`;
    expect(report.success).toBe(true);
    expect(node(report).plan!.blockers).toContainEqual(expect.objectContaining({ kind: 'budget-bypassed', pod: key, message: expect.stringContaining('after 2s, the pod is deleted without the budget\'s consent (force-after)') }));
    const result = node(report).results.find((r) => r.pod === key)!;
    expect(result).toMatchObject({ outcome: 'force-deleted', bypass: { pod: key, by: 'force-after', pdb: `${ns}/web` } });
    expect(result.budgetWaits).toBeGreaterThan(0);
    expect(result.bypass!.waitedMs).toBeGreaterThanOrEqual(2_000);
    expect(report.availability?.bypasses).toEqual([expect.objectContaining({ pod: key, by: 'force-after' })]);
  }, 240_000);

  it('neither forces what the plan refuses for safety: an unmanaged pod without force stays, and nothing is changed', async () => {
    const ns = testNamespace('force-unmanaged');
    await barePodOnW1(ns, 'bare', { app: 'bare' });

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 30_000, disableEviction: true });

    expect(await untouched(ns, 'bare')).toBe(true);
    expect(await w1Cordoned()).toBe(false);
    expect(node(report).error).toMatch(/bare has no controller; set force: true/);
  }, 240_000);
});

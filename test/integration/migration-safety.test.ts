// Surge migration under crashes, races and waits that could never end (issue 8, items 5–7), on a
// real control plane with real actors: the CLI as a child process killed with SIGKILL, a second
// writer changing replicas, a GitOps-style revert, a pause mid-rollout, a pod no node can take.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment } from '@kubernetes/client-node';
import { KubeClient } from '../../src/engine/kube/client.js';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
import { WorkloadMigrations } from '../../src/engine/execute/migrate.js';
import { systemClock } from '../../src/engine/clock.js';
import { runSafeDrain } from '../../src/engine/run.js';
import { DEFAULT_OPTIONS, type DrainOptions, type RunReport, type WorkloadChange } from '../../src/engine/types.js';
import { exitedWithin, runCli, startCli } from './cli-process.js';
import { deployOn, ensureNamespace, eventually, memoryLogger, namespacesDeletedAfterEach, pdb, podsOf, useCluster, waitReady, deployment, type TestCluster } from './support.js';

const W1 = 'w1';
const MARKER_LABEL = 'safe-drain.io/scaled';
const MARKER_ANNOTATIONS = ['safe-drain.io/original-replicas', 'safe-drain.io/raised-replicas', 'safe-drain.io/scaled-for-node'];

const tc = useCluster({ nodes: 3 });

// Each test's namespace goes after it, passed or failed, so no test meets another's pods on w1.
const testNamespace = namespacesDeletedAfterEach(tc);

type Strategy = NonNullable<V1Deployment['spec']>['strategy'];
const RECREATE: Strategy = { type: 'Recreate' };
const SURGING: Strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };

/** One Deployment `hello` with its pods on w1 and a PDB, observed by the disruption controller. */
async function setup(
  ns: string,
  o: { replicas?: number; strategy?: Strategy; readyDelay?: string; budget?: { minAvailable?: number | string; maxUnavailable?: number | string } } = {},
): Promise<void> {
  const replicas = o.replicas ?? 1;
  await deployOn(tc, W1, ns, 'hello', replicas, { strategy: o.strategy, readyDelay: o.readyDelay });
  await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'hello', 'hello', o.budget ?? { minAvailable: 1 }) });
  await eventually(async () => {
    const p = await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'hello' });
    return p.status?.observedGeneration === p.metadata?.generation && p.status?.currentHealthy === replicas;
  }, 'PDB observed');
}

async function readHello(ns: string): Promise<V1Deployment> {
  return tc.apps.readNamespacedDeployment({ namespace: ns, name: 'hello' });
}

/** safe-drain's marker of a temporary raise, as left on the object (empty when none). */
function markerOf(d: V1Deployment): string[] {
  return [
    ...(d.metadata?.labels?.[MARKER_LABEL] !== undefined ? [`label ${MARKER_LABEL}`] : []),
    ...MARKER_ANNOTATIONS.filter((a) => d.metadata?.annotations?.[a] !== undefined),
  ];
}

/** Calls `act` once, the first time the Deployment satisfies `when` (a real second actor). */
async function onDeployment(tc: TestCluster, ns: string, when: (d: V1Deployment) => boolean, act: (d: V1Deployment) => Promise<void>): Promise<{ fired: () => boolean; stop: () => void }> {
  let fired = false;
  const watch = new ResourceWatch<V1Deployment>(tc.kc, { path: `/apis/apps/v1/namespaces/${ns}/deployments`, fieldSelector: 'metadata.name=hello' });
  watch.subscribe((_type, d) => {
    if (fired || !when(d)) return;
    fired = true;
    void act(d).catch((err) => console.error(`test actor failed: ${(err as Error).message}`));
  });
  await watch.start();
  return { fired: () => fired, stop: () => watch.stop() };
}

/** runSafeDrain with timeout 0 (the default) and a test-side guard: old code that waits forever ends "cancelled". */
async function drainUnbounded(opts: Partial<DrainOptions>, guardMs: number): Promise<{ report: RunReport; text: string }> {
  const guard = AbortSignal.timeout(guardMs);
  const logger = memoryLogger();
  const report = await runSafeDrain(
    { ...DEFAULT_OPTIONS, nodes: [W1], timeoutMs: 0, ...opts },
    { kubeconfigPath: tc.cluster.kubeconfigPath, logger, origin: 'integration-test', signal: guard },
  );
  return { report, text: `${JSON.stringify(report)}\n${logger.lines.join('\n')}` };
}

function cliDrain(): string[] {
  return ['drain', '--node', W1, '--kubeconfig', tc.cluster.kubeconfigPath];
}

describe('item 5: a temporary raise survives a crash and is undone exactly', () => {
  it('SIGKILL while replicas is raised, then a rerun: replicas is exactly the original and the node is drained', async () => {
    const ns = testNamespace('crash-raise');
    // The replacement takes 8 s to be Ready, so the CLI is killed while it waits with replicas raised.
    await setup(ns, { strategy: RECREATE, readyDelay: '8s' });

    const run = startCli([...cliDrain(), '--verbose']);
    const raised = await onDeployment(tc, ns, (d) => d.spec?.replicas === 2, async () => {
      run.child.kill('SIGKILL');
    });
    const killed = await exitedWithin(run, 90_000, 'replicas raised to 2');
    raised.stop();
    expect(raised.fired()).toBe(true);
    expect(killed.signal).toBe('SIGKILL');
    // What the crash left: replicas raised (with safe-drain's marker on the object).
    expect((await readHello(ns)).spec?.replicas).toBe(2);

    // Bounded well inside the test's own timeout, so a rerun that hangs fails with its report and log.
    const rerun = await runCli([...cliDrain(), '--timeout', '150s', '--verbose']);

    expect({ code: rerun.code, output: rerun.code === 0 ? '' : `${rerun.stdout}\n${rerun.stderr}` }).toEqual({ code: 0, output: '' });
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(1);
    expect(markerOf(final)).toEqual([]);
    const onNode = (await podsOf(tc, ns, 'hello')).filter((p) => p.spec?.nodeName === W1 && !p.metadata?.deletionTimestamp);
    expect(onNode).toEqual([]);
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBe(true);
  }, 180_000);

  it('a leftover raise whose replicas someone changed since is left as is, and the run fails saying what to do', async () => {
    const ns = testNamespace('leftover-changed');
    await setup(ns, { strategy: RECREATE });
    // What a killed run leaves (raised 1 → 2 for w1), then someone scaled to 3 by hand.
    await tc.apps.patchNamespacedDeployment({
      namespace: ns,
      name: 'hello',
      body: [
        { op: 'add', path: '/metadata/labels/safe-drain.io~1scaled', value: 'true' },
        { op: 'add', path: '/metadata/annotations', value: { 'safe-drain.io/original-replicas': '1', 'safe-drain.io/raised-replicas': '2', 'safe-drain.io/scaled-for-node': W1 } },
        { op: 'replace', path: '/spec/replicas', value: 3 },
      ],
    });

    const { report } = await drainUnbounded({ timeoutMs: 45_000 }, 50_000);

    expect(report.success).toBe(false);
    const change = report.nodes[0]?.workloadChanges.find((c) => c.workload === `Deployment/${ns}/hello` && !c.restored);
    expect(change?.message).toMatch(/replicas is now 3, not the 2 safe-drain set \(original 1\): someone else changed it/);
    expect(change?.message).toMatch(new RegExp(`kubectl -n ${ns} label deployment/hello safe-drain.io/scaled-`));
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(3);
    expect(markerOf(final)).toEqual([`label ${MARKER_LABEL}`, ...MARKER_ANNOTATIONS]);
  }, 60_000);

  it('a concurrent change of replicas between safe-drain read and its raise is not overwritten', async () => {
    const ns = testNamespace('raise-race');
    await setup(ns, { strategy: RECREATE, readyDelay: '1s' });
    await tc.cluster.kubectl(['cordon', W1]);
    const seen: number[] = [];
    const history = new ResourceWatch<V1Deployment>(tc.kc, { path: `/apis/apps/v1/namespaces/${ns}/deployments`, fieldSelector: 'metadata.name=hello' });
    history.subscribe((_t, d) => seen.push(d.spec?.replicas ?? -1));
    await history.start();

    // Another writer (a person, an HPA) sets replicas 3 right after safe-drain read the
    // Deployment and right before its write lands: a real API call, in between.
    let raced = false;
    class RacingClient extends KubeClient {
      override async patchDeployment(namespace: string, name: string, body: object, dryRun: boolean): Promise<V1Deployment> {
        if (!raced) {
          raced = true;
          await tc.apps.patchNamespacedDeployment({ namespace, name, body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
        }
        return super.patchDeployment(namespace, name, body, dryRun);
      }
    }
    const changes: WorkloadChange[] = [];
    const migrations = new WorkloadMigrations({
      api: new RacingClient(tc.kc),
      clock: systemClock,
      logger: memoryLogger(),
      dryRun: false,
      run: 'test-run',
      mayWrite: () => true,
      record: (_node, c) => changes.push(c),
    });
    await migrations.migrate({
      node: W1,
      workload: { kind: 'Deployment', namespace: ns, name: 'hello', replicas: 1, readyReplicas: 1 },
      moving: { total: 1, ready: 1 },
      signal: AbortSignal.timeout(120_000),
      evictOldPods: async () => undefined, // this test is about the raise and the restore
    });
    history.stop();
    const change = changes[0]!;

    expect(raced).toBe(true);
    expect(change.restored).toBe(true);
    expect(change.change).toBe('replicas 3 → 4 → 3');
    // 3 is never replaced by a raise computed from the stale 1.
    expect(seen.slice(seen.indexOf(3))).not.toContain(2);
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(3);
    expect(markerOf(final)).toEqual([]);
  }, 60_000);
});

describe('item 6: every migration wait ends on its own evidence (timeout 0)', () => {
  it('a Deployment paused while its rollout restart is under way (new ReplicaSet not full size): a clear error, nothing left raised', async () => {
    const ns = testNamespace('wait-paused');
    // Two replicas, maxSurge 1: paused, the new ReplicaSet never grows past 1, so the rollout never ends.
    await setup(ns, { replicas: 2, strategy: SURGING, readyDelay: '6s', budget: { minAvailable: 2 } });
    const pauser = await onDeployment(
      tc,
      ns,
      (d) => d.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'] !== undefined,
      async () => {
        await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hello', body: [{ op: 'add', path: '/spec/paused', value: true }] });
      },
    );

    const { report, text } = await drainUnbounded({}, 70_000);
    pauser.stop();

    expect(pauser.fired()).toBe(true);
    expect(report.success).toBe(false);
    expect(text).toMatch(/Deployment\/wait-paused\/hello: was paused while its rollout restart was under way/);
    expect(text).toMatch(/rollout resume deployment\/hello/);
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(2);
    expect(markerOf(final)).toEqual([]);
  }, 90_000);

  it('a Deployment already paused is never rolled (it would never roll): it is scaled up, which the controller does while paused, and restored', async () => {
    const ns = testNamespace('paused-scale');
    await setup(ns, { strategy: SURGING, readyDelay: '1s' });
    await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hello', body: [{ op: 'add', path: '/spec/paused', value: true }] });

    const { report } = await drainUnbounded({}, 40_000);

    expect(report.success).toBe(true);
    expect(report.nodes[0]?.workloadChanges).toEqual([expect.objectContaining({ workload: `Deployment/${ns}/hello`, change: 'replicas 1 → 2 → 1', restored: true })]);
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(1);
    expect(final.spec?.paused).toBe(true);
    expect(markerOf(final)).toEqual([]);
  }, 60_000);

  it('replicas reverted by someone else while safe-drain waits (GitOps): a clear error, the marker removed, replicas as the reverter set', async () => {
    const ns = testNamespace('wait-revert');
    await setup(ns, { strategy: RECREATE, readyDelay: '10s' });
    const gitops = await onDeployment(tc, ns, (d) => d.spec?.replicas === 2, async () => {
      // What a GitOps controller applies: its own desired replicas, no resourceVersion.
      await tc.apps.patchNamespacedDeployment({ namespace: ns, name: 'hello', body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] });
    });

    const { report, text } = await drainUnbounded({}, 70_000);
    gitops.stop();

    expect(gitops.fired()).toBe(true);
    expect(report.success).toBe(false);
    expect(text).toMatch(/Deployment\/wait-revert\/hello: replicas was changed to 1 by someone else while safe-drain waited/);
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(1);
    expect(markerOf(final)).toEqual([]);
  }, 90_000);

  it('a new pod no node can take (nodeSelector only w1 matches): a clear error with the scheduler message, replicas restored', async () => {
    const ns = testNamespace('wait-unschedulable');
    await ensureNamespace(tc, ns);
    await tc.cluster.kubectl(['label', 'node', W1, 'only-here=yes', '--overwrite']);
    try {
      await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'hello', 1, { strategy: RECREATE, nodeSelector: { 'only-here': 'yes' } }) });
      await waitReady(tc, ns, 'hello', 1);
      await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: pdb(ns, 'hello', 'hello', { minAvailable: 1 }) });
      await eventually(async () => (await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'hello' })).status?.currentHealthy === 1, 'PDB observed');

      const { report, text } = await drainUnbounded({}, 130_000);

      expect(report.success).toBe(false);
      expect(text).toMatch(/Deployment\/wait-unschedulable\/hello: its new pod wait-unschedulable\/hello-\S+ stayed Unschedulable for 30s \(scheduler: "0\/\d+ nodes are available/);
      const final = await readHello(ns);
      expect(final.spec?.replicas).toBe(1);
      expect(markerOf(final)).toEqual([]);
      expect(report.nodes[0]?.workloadChanges).toEqual([expect.objectContaining({ workload: `Deployment/${ns}/hello`, restored: true })]);
    } finally {
      await tc.cluster.kubectl(['label', 'node', W1, 'only-here-']);
    }
  }, 150_000);
});

describe('item 7: a budget no replica count satisfies', () => {
  it('maxUnavailable 0 on a Recreate Deployment is refused in the plan, before any change', async () => {
    const ns = testNamespace('budget-zero-recreate');
    await setup(ns, { strategy: RECREATE, budget: { maxUnavailable: 0 } });

    // A bound, so the old behaviour (scale up, then 429 forever) ends too.
    const { report, text } = await drainUnbounded({ timeoutMs: 30_000 }, 50_000);

    expect(report.success).toBe(false);
    const blocker = report.nodes[0]?.plan?.blockers.find((b) => b.kind === 'pdb-never-allows');
    expect(blocker).toMatchObject({ fatal: true, pdbs: [`${ns}/hello`] });
    expect(blocker?.message).toMatch(/however many replicas run \(maxUnavailable 0/);
    expect(text).toMatch(/Relax the PDB/);
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBeFalsy();
    const final = await readHello(ns);
    expect(final.spec?.replicas).toBe(1);
    expect(markerOf(final)).toEqual([]);
    expect((await podsOf(tc, ns, 'hello')).map((p) => p.spec?.nodeName)).toEqual([W1]);
  }, 60_000);

  it('maxUnavailable 0 with a surging strategy: migrated by a rollout restart', async () => {
    const ns = testNamespace('budget-zero-surging');
    await setup(ns, { strategy: SURGING, budget: { maxUnavailable: 0 } });

    const { report } = await drainUnbounded({ timeoutMs: 45_000 }, 50_000);

    expect(report.success).toBe(true);
    expect(report.nodes[0]?.workloadChanges).toEqual([expect.objectContaining({ workload: `Deployment/${ns}/hello`, change: 'rollout restart', restored: true })]);
    const running = (await waitReady(tc, ns, 'hello', 1)).filter((p) => !p.metadata?.deletionTimestamp);
    expect(running.every((p) => p.spec?.nodeName !== W1)).toBe(true);
  }, 60_000);
});

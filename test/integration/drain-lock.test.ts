// The per-node drain lock (engine/execute/drain-lock.ts) on the real control plane: two runs on
// one node never both act on it (the API server's resourceVersion precondition picks one), a
// live run's raise is never "restored" by another, a dead run's lock is taken over, and the
// Action's post step removes the lock its killed main step left.
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1Node } from '@kubernetes/client-node';
import { ANNOTATION_DRAIN_LOCK, LOCK_LEASE_MS, localIdentity, type LockHolder } from '../../src/engine/execute/drain-lock.js';
import { ANNOTATION_ORIGINAL_REPLICAS, LABEL_SCALED } from '../../src/engine/execute/restore.js';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
import type { RunReport } from '../../src/engine/types.js';
import { createPdb, deleteNamespace, deployOn, drain, pdb, podsOf, useCluster } from './support.js';

const W1 = 'w1';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const tc = useCluster({ nodes: 3 });

const namespaces: string[] = [];
afterEach(async () => {
  // No test leaves a lock for the next one, whatever it asserted.
  await annotateLock(null).catch(() => undefined);
  for (const ns of namespaces.splice(0)) await deleteNamespace(tc, ns);
}, 180_000);

/** A Recreate Deployment of 1 replica on w1 under minAvailable 1: the drain must raise replicas (1 → 2). */
async function soloOnW1(ns: string, readyDelay = '3s'): Promise<void> {
  namespaces.push(ns);
  await deployOn(tc, W1, ns, 'solo', 1, { strategy: { type: 'Recreate' }, readyDelay });
  await createPdb(tc, ns, pdb(ns, 'solo', 'solo', { minAvailable: 1 }), 0);
}

/** Every replicas value the Deployment took, in order, as the watch saw them. */
async function replicasSeen(ns: string): Promise<{ values: number[]; raises: () => number; stop: () => void }> {
  const values: number[] = [];
  const watch = new ResourceWatch<V1Deployment>(tc.kc, { path: `/apis/apps/v1/namespaces/${ns}/deployments`, fieldSelector: 'metadata.name=solo' });
  watch.subscribe((_type, d) => {
    const r = d.spec?.replicas ?? 1;
    if (values[values.length - 1] !== r) values.push(r);
  });
  await watch.start();
  // A raise: a step up from the value before.
  const raises = () => values.filter((v, i) => i > 0 && v > values[i - 1]!).length;
  return { values, raises, stop: () => watch.stop() };
}

async function readNode(): Promise<V1Node> {
  return tc.core.readNode({ name: W1 });
}

function annotateLock(holder: LockHolder | null): Promise<unknown> {
  return tc.core.patchNode(
    { name: W1, body: { metadata: { annotations: { [ANNOTATION_DRAIN_LOCK]: holder ? JSON.stringify(holder) : null } } } },
    mergePatch,
  );
}

const errorsOf = (r: RunReport): string => [r.error, ...r.nodes.map((n) => n.error)].filter(Boolean).join('; ');

async function expectNothingLeft(ns: string): Promise<void> {
  const d = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'solo' });
  expect({
    replicas: d.spec?.replicas,
    label: d.metadata?.labels?.[LABEL_SCALED],
    original: d.metadata?.annotations?.[ANNOTATION_ORIGINAL_REPLICAS],
    lock: (await readNode()).metadata?.annotations?.[ANNOTATION_DRAIN_LOCK],
  }).toEqual({ replicas: 1, label: undefined, original: undefined, lock: undefined });
}

describe('two drains of one node', () => {
  it('started at once: exactly one drains, the other is refused before any change naming the holder; one raise only', async () => {
    const ns = 'lock-at-once';
    await soloOnW1(ns);
    const seen = await replicasSeen(ns);
    const [a, b] = await Promise.all([drain(tc, { nodes: [W1] }), drain(tc, { nodes: [W1] })]);
    seen.stop();

    const reports = [a.report, b.report];
    const winner = reports.filter((r) => r.success);
    const loser = reports.filter((r) => !r.success);
    expect({ winners: winner.length, losers: loser.length, loserError: loser.map(errorsOf) }).toEqual({
      winners: 1,
      losers: 1,
      loserError: [expect.stringMatching(new RegExp(`node ${W1}: another safe-drain run holds its drain lock \\(host \\S+, pid ${process.pid}, integration-test, since .*nothing was changed`))],
    });
    expect(loser[0]!.nodes[0]!.workloadChanges).toEqual([]);
    expect(loser[0]!.nodes[0]!.results).toEqual([]);
    expect({ raises: seen.raises(), max: Math.max(...seen.values) }).toEqual({ raises: 1, max: 2 });
    await expectNothingLeft(ns);
  }, 60_000);

  it('a second run started while the first holds a raise neither "restores" that live raise nor raises again', async () => {
    const ns = 'lock-mid-raise';
    // The replacement is Ready only after 6 s: the first run holds replicas at 2 that long.
    await soloOnW1(ns, '6s');
    const seen = await replicasSeen(ns);
    let second: Promise<{ report: RunReport }> | undefined;
    const watch = new ResourceWatch<V1Deployment>(tc.kc, { path: `/apis/apps/v1/namespaces/${ns}/deployments`, fieldSelector: 'metadata.name=solo' });
    watch.subscribe((_type, d) => {
      if (!second && d.spec?.replicas === 2) second = drain(tc, { nodes: [W1] });
    });
    await watch.start();
    const first = await drain(tc, { nodes: [W1] });
    watch.stop();
    expect(second).toBeDefined();
    const other = await second!;
    seen.stop();

    expect({ first: first.report.success, firstError: errorsOf(first.report) }).toEqual({ first: true, firstError: '' });
    expect(other.report.success).toBe(false);
    expect(errorsOf(other.report)).toContain('another safe-drain run holds its drain lock');
    expect(other.report.nodes[0]!.workloadChanges).toEqual([]); // it restored nothing of the live run's
    // One raise, restored once, by the run that made it.
    expect(seen.values).toEqual([1, 2, 1]);
    await expectNothingLeft(ns);
  }, 90_000);
});

describe('a dead run\'s lock', () => {
  /** A pid that existed on this host and no longer does. */
  function deadPid(): number {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    return Number(r.stdout.toString());
  }

  it('a lock whose process on this host is gone is taken over at once, the drain runs, and the lock is released', async () => {
    const ns = 'lock-dead-pid';
    await soloOnW1(ns, '1s');
    const now = new Date().toISOString();
    await annotateLock({ ...localIdentity('killed-run'), pid: deadPid(), origin: 'a killed run', acquired: now, renewed: now });

    const { report, log } = await drain(tc, { nodes: [W1] });

    expect({ success: report.success, error: errorsOf(report) }).toEqual({ success: true, error: '' });
    expect(log.join('\n')).toMatch(/took over the drain lock of an earlier run \(host \S+, pid \d+, a killed run, since .*\): its process \(pid \d+ on \S+\) no longer exists/);
    expect(report.nodes[0]!.timeline.map((t) => t.message)).toContainEqual(expect.stringContaining('took over the drain lock of an earlier run'));
    expect((await podsOf(tc, ns, 'solo')).filter((p) => p.spec?.nodeName === W1 && !p.metadata?.deletionTimestamp)).toEqual([]);
    await expectNothingLeft(ns);
  }, 60_000);

  it('a lock of another host is taken over only once it was not renewed for the lease; a live one refuses, changing nothing', async () => {
    const ns = 'lock-other-host';
    await soloOnW1(ns, '1s');
    const live: LockHolder = {
      holder: 'elsewhere', host: 'another-runner', pid: 4242, scope: 'x', origin: 'https://example.invalid/run/7',
      acquired: new Date(Date.now() - 60_000).toISOString(), renewed: new Date().toISOString(),
    };
    await annotateLock(live);

    const refused = await drain(tc, { nodes: [W1] });
    expect(refused.report.success).toBe(false);
    expect(errorsOf(refused.report)).toContain(
      `node ${W1}: another safe-drain run holds its drain lock (host another-runner, pid 4242, https://example.invalid/run/7, since ${live.acquired}; it was renewed`,
    );
    expect(errorsOf(refused.report)).toContain(`kubectl annotate node ${W1} ${ANNOTATION_DRAIN_LOCK}-`);
    const node = await readNode();
    expect({ cordoned: node.spec?.unschedulable ?? false, lock: node.metadata?.annotations?.[ANNOTATION_DRAIN_LOCK] }).toEqual({ cordoned: false, lock: JSON.stringify(live) });
    // plan and dry-run take no lock: they run beside a live drain.
    for (const opts of [{ operation: 'plan' as const }, { dryRun: true }]) {
      const r = await drain(tc, { nodes: [W1], ...opts });
      expect({ opts, error: errorsOf(r.report) }).toEqual({ opts, error: '' });
    }
    // uncordon restores leftovers too: refused the same way.
    expect(errorsOf((await drain(tc, { nodes: [W1], operation: 'uncordon' })).report)).toContain('another safe-drain run holds its drain lock');

    await annotateLock({ ...live, renewed: new Date(Date.now() - LOCK_LEASE_MS - 5_000).toISOString() });
    const { report } = await drain(tc, { nodes: [W1] });
    expect({ success: report.success, error: errorsOf(report) }).toEqual({ success: true, error: '' });
    await expectNothingLeft(ns);
  }, 60_000);
});

describe('the Action\'s post step', () => {
  it('removes the lock its killed main step left and restores the raise under it, saying so', async () => {
    const ns = 'lock-post';
    await soloOnW1(ns, '1s');
    // What a main step SIGKILLed mid-raise leaves: its lock (holder id saved as step state) and the marked raise.
    const now = new Date().toISOString();
    await annotateLock({ ...localIdentity('main-step-holder'), pid: 9_999_999, origin: 'main step', acquired: now, renewed: now });
    await tc.apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'solo',
        body: {
          metadata: { labels: { [LABEL_SCALED]: 'true' }, annotations: { [ANNOTATION_ORIGINAL_REPLICAS]: '1', 'safe-drain.io/raised-replicas': '2', 'safe-drain.io/scaled-for-node': W1 } },
          spec: { replicas: 2 },
        },
      },
      mergePatch,
    );

    const env = { INPUT_NODE: W1, 'STATE_drain-lock-holder': 'main-step-holder', KUBECONFIG: tc.cluster.kubeconfigPath };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const out: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const { post } = await import('../../src/action/post.js');
      await post();
    } finally {
      write.mockRestore();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      process.exitCode = undefined; // setFailed would set it; asserted below through its message
    }
    const text = out.join('');
    expect(text).not.toContain('::error');
    expect(text).toContain(`node ${W1}: removed the drain lock left by the drain step (it did not end normally)`);
    expect(text).toContain('restored a leftover replica raise');
    await expectNothingLeft(ns);
  }, 60_000);
});

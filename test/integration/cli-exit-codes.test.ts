// The bundled CLI (node dist/cli.js, bundled from this checkout) as a kubectl user runs it, on a
// real control plane: commands with node names or -l, --help per command, and every exit code
// produced by the situation it stands for — 0 a drain done, 1 a drain a PDB blocks, 2 an input
// the cluster refuses, 3 a Service that went down, 4 a server nobody listens on and credentials
// the API server refuses. Each run's kubeconfig comes from KUBECONFIG, as a user's would.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../src/engine/types.js';
import { bundleDir } from '../bundle.js';
import { runProcess } from './cli-process.js';
import { createPdb, deleteNamespace, deployOn, exposeWithReadyEndpoint, pdb, useCluster } from './support.js';

const tc = useCluster({
  nodes: [
    { name: 'w1', labels: { pool: 'blue' } },
    { name: 'w2', labels: { pool: 'blue' } },
    { name: 'w3', labels: { pool: 'green' } },
  ],
});

let bundle: ReturnType<typeof bundleDir> | undefined;
let dist: string;
beforeAll(() => {
  bundle = bundleDir();
  dist = bundle.dir;
}, 300_000);
afterAll(() => bundle?.remove());

/** `safe-drain ARGS`, the bundle run by this Node, with the cluster's kubeconfig in KUBECONFIG. */
function safeDrain(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, [join(dist, 'cli.js'), ...args], { KUBECONFIG: tc.cluster.kubeconfigPath, ...env });
}

const report = (stdout: string) => JSON.parse(stdout) as RunReport;
const unschedulable = async (node: string) => (await tc.core.readNode({ name: node })).spec?.unschedulable === true;

/** A kubeconfig for `server` with the local cluster's CA and the given token. */
function kubeconfigFor(name: string, server: string, token: string): string {
  const cluster = tc.kc.getCurrentCluster()!;
  const ca = cluster.caData ?? readFileSync(cluster.caFile!).toString('base64');
  const path = join(mkdtempSync(join(tmpdir(), 'safe-drain-kc-')), `${name}.kubeconfig`);
  writeFileSync(
    path,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: "${server}", certificate-authority-data: ${ca} }\n` +
      `users:\n- name: u\n  user: { token: ${token} }\ncontexts:\n- name: ctx\n  context: { cluster: c, user: u }\ncurrent-context: ctx\n`,
  );
  return path;
}

/** A loopback port with nothing listening on it: taken from the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("kubectl's habits", () => {
  it('`drain --help` lists only the drain flags, with an example; `plan --help` leaves out what only a drain uses', async () => {
    const drain = await safeDrain(['drain', '--help']);
    expect(drain.status).toBe(0);
    expect(drain.stdout).toMatch(/^Usage: safe-drain drain \[NODE\.\.\.\] \[flags\]/);
    expect(drain.stdout).toMatch(/-l, --selector <selector> +label selector of the nodes, as kubectl -l/);
    expect(drain.stdout).toContain('  safe-drain drain w1\n');
    const plan = await safeDrain(['plan', '--help']);
    expect(plan.status).toBe(0);
    for (const flag of ['--timeout', '--grace-period', '--dry-run', '--probe-urls']) expect(plan.stdout).not.toContain(flag);
  }, 60_000);

  it('`plan -l pool=blue` plans both blue nodes and changes nothing; exit 0', async () => {
    const run = await safeDrain(['plan', '-l', 'pool=blue']);
    expect(run.stderr).not.toMatch(/^error:/m);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Plan for node w1 \(Ready, not cordoned\)/m);
    expect(run.stdout).toMatch(/^Plan for node w2 \(Ready, not cordoned\)/m);
    expect(run.stdout).not.toContain('Plan for node w3');
    expect(run.stdout).toMatch(/^safe-drain plan succeeded in /m);
    expect(await unschedulable('w1')).toBe(false);
  }, 120_000);

  it('`drain w1` cordons w1 and moves its pods; exit 0, outcome ok', async () => {
    const ns = 'habits';
    await deployOn(tc, 'w1', ns, 'web', 2);
    try {
      const run = await safeDrain(['drain', 'w1', '--timeout', '2m', '-o', 'json']);
      expect(run.status).toBe(0);
      expect(report(run.stdout)).toMatchObject({ outcome: 'ok', success: true, options: { operation: 'drain', nodes: ['w1'] } });
      expect(await unschedulable('w1')).toBe(true);
      const pods = (await tc.core.listNamespacedPod({ namespace: ns })).items.filter((p) => !p.metadata?.deletionTimestamp);
      expect(pods.filter((p) => p.spec?.nodeName === 'w1')).toEqual([]);
    } finally {
      await deleteNamespace(tc, ns);
    }
  }, 180_000);

  it('`cordon --node w3` (the alias) cordons w3; exit 0', async () => {
    const run = await safeDrain(['cordon', '--node', 'w3']);
    expect(run.status).toBe(0);
    expect(await unschedulable('w3')).toBe(true);
  }, 60_000);
});

describe('exit codes', () => {
  it('1 (incomplete): a PDB with maxUnavailable 0 holds the drain until its timeout; the plan names the PDB once for its four pods', async () => {
    const ns = 'blocked';
    // Recreate: the Deployment cannot be rolled out pod by pod, so nothing but the budget can move it.
    await deployOn(tc, 'w3', ns, 'web', 4, { strategy: { type: 'Recreate' } });
    await createPdb(tc, ns, pdb(ns, 'web', 'web', { maxUnavailable: 0 }), 0);
    try {
      const plan = await safeDrain(['plan', 'w3']);
      expect(plan.status).toBe(1);
      const blockers = plan.stdout.slice(plan.stdout.indexOf('Blockers:'), plan.stdout.indexOf('\n\n', plan.stdout.indexOf('Blockers:')));
      expect(blockers.split('\n')).toEqual(['Blockers:', expect.stringMatching(/^ {2}Blocks the drain: PDB can never allow an eviction: 4 pods \(blocked\/web-[^)]+\) \[PDB blocked\/web\]: PDB blocked\/web \(maxUnavailable 0/)]);
      // The log says it once too.
      expect(plan.stderr.match(/BLOCKS \[pdb-never-allows\]/g)).toHaveLength(1);
      expect(plan.stderr).toMatch(/BLOCKS \[pdb-never-allows\] 4 pods \(blocked\/web-/);

      // The plan refuses before any change, exit 1 as well: nothing was cordoned.
      const drain = await safeDrain(['drain', 'w3', '--timeout', '20s', '-o', 'json']);
      expect(drain.status).toBe(1);
      expect(report(drain.stdout)).toMatchObject({ outcome: 'incomplete', success: false });
      expect(await unschedulable('w3')).toBe(false);

      // With plain evictions the drain does start, and the budget holds every pod until the timeout.
      const evict = await safeDrain(['drain', 'w3', '--migration', 'evict', '--timeout', '5s', '-o', 'json']);
      expect(evict.status).toBe(1);
      const held = report(evict.stdout);
      expect(held.outcome).toBe('incomplete');
      expect(held.nodes[0]?.blocked.map((b) => b.pdb)).toEqual(['blocked/web', 'blocked/web', 'blocked/web', 'blocked/web']);
      expect(await unschedulable('w3')).toBe(true);
    } finally {
      await deleteNamespace(tc, ns);
    }
  }, 240_000);

  it('2 (bad-input): a node the cluster does not have, named with the known ones; a bad flag value; no kubeconfig anywhere', async () => {
    const unknown = await safeDrain(['drain', 'w9', '-o', 'json']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('error: NODE: no node named "w9" in the cluster. Known nodes: w1, w2, w3.');
    expect(report(unknown.stdout)).toMatchObject({ outcome: 'bad-input', summary: expect.stringContaining('Nothing was changed') });

    const flag = await safeDrain(['drain', 'w1', '--timeout', '90']);
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/^error: option --timeout: "90" has no unit/);

    const home = mkdtempSync(join(tmpdir(), 'safe-drain-home-'));
    const none = await safeDrain(['plan', 'w1'], { KUBECONFIG: '', HOME: home, KUBERNETES_SERVICE_HOST: '' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain(`error: no kubeconfig found: no --kubeconfig given, KUBECONFIG is not set, ${home}/.kube/config does not exist`);
    expect(none.stderr).toContain('Pass --kubeconfig FILE, set KUBECONFIG, or write ~/.kube/config');
    expect(none.stderr).not.toContain('localhost:8080');
    expect(await unschedulable('w1')).toBe(false);
  }, 120_000);

  it('3 (gate-failed): a plain drain takes the only replica behind a Service down; max-downtime 0s fails', async () => {
    const ns = 'gate';
    await deployOn(tc, 'w2', ns, 'web', 1, { readyDelay: '3s' });
    await exposeWithReadyEndpoint(tc, ns, 'web');
    try {
      const run = await safeDrain(['drain', 'w2', '--migration', 'evict', '--availability', `${ns}/web`, '--max-downtime', '0s', '--timeout', '2m', '-o', 'json']);
      expect(run.status).toBe(3);
      expect(run.stderr).toMatch(/error: availability gate failed: gate\/web: down [0-9.]+ s \(max-downtime 0s\)/);
      const gate = report(run.stdout);
      expect(gate).toMatchObject({ outcome: 'gate-failed', success: false, nodes: [{ node: 'w2', success: true }] });
      expect(gate.availability?.services[0]).toMatchObject({ service: `${ns}/web`, minReady: 0, passed: false });
    } finally {
      await deleteNamespace(tc, ns);
    }
  }, 240_000);

  it('4 (no-access): a loopback port nothing listens on, named with where the kubeconfig came from', async () => {
    const port = await closedPort();
    const path = kubeconfigFor('closed', `https://127.0.0.1:${port}`, 'any');
    const run = await safeDrain(['plan', 'w1', '-o', 'json'], { KUBECONFIG: path });
    expect(run.status).toBe(4);
    expect(run.stderr).toContain(`error: cannot reach the API server https://127.0.0.1:${port} (kubeconfig from KUBECONFIG=${path}):`);
    expect(run.stderr).not.toContain('--kubeconfig');
    expect(report(run.stdout)).toMatchObject({ outcome: 'no-access', summary: expect.stringContaining('Nothing was changed') });
  }, 120_000);

  it('4 (no-access): credentials the API server refuses (401)', async () => {
    const path = kubeconfigFor('refused', tc.kc.getCurrentCluster()!.server, 'not-a-token-this-cluster-issued');
    const run = await safeDrain(['drain', 'w1', '--kubeconfig', path]);
    expect(run.status).toBe(4);
    expect(run.stderr).toContain(`refused the credentials of the kubeconfig from --kubeconfig ${path} (401 Unauthorized). Nothing was changed.`);
    expect(await unschedulable('w1')).toBe(false);
  }, 120_000);
});

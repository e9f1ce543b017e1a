// `npm run bench`: safe-drain against `kubectl drain`, both run as child processes of this one on
// the same local cluster (real control plane + kwok nodes) and the same workload placement.
// Prints, per scenario: wall time, API requests per evicted pod, peak RSS, and the ratios.
//   BENCH_PODS=N (default 30) pods on the drained node; BENCH_SCENARIOS=plain,pdb
// `npm run bench -- --scale`: 1,000 nodes / 10,000 pods (bench/scale-bench.ts).
// `npm run bench -- --reaction`: budget reaction, from the audit log (bench/reaction-bench.ts).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1Deployment } from '@kubernetes/client-node';
import { ensureBinaries, startCluster, type LocalCluster } from '../cluster/src/index.js';

const PODS = Number(process.env.BENCH_PODS ?? 30);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'plain,pdb').split(',');
const NODE = 'w1';
const OUT = 'bench-results';

interface Measured {
  tool: 'kubectl drain' | 'safe-drain';
  seconds: number;
  requests: number;
  evicted: number;
  peakRssMiB?: number;
  exitCode: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
  });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

class Bench {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  constructor(readonly cluster: LocalCluster, readonly kubectlPath: string) {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
  }

  /** A fresh namespace with PODS pods of one Deployment, all on w1 (the other nodes cordoned meanwhile). */
  async place(ns: string, withPdb: boolean): Promise<void> {
    for (const n of this.cluster.nodes) await this.cluster.kubectl(['uncordon', n]);
    for (const n of this.cluster.nodes.filter((x) => x !== NODE)) await this.cluster.kubectl(['cordon', n]);
    await this.core.createNamespace({ body: { metadata: { name: ns } } });
    const labels = { app: 'bench' };
    const d: V1Deployment = {
      metadata: { name: 'bench', namespace: ns },
      spec: {
        replicas: PODS,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.invalid/bench:1', resources: { requests: { cpu: '10m', memory: '8Mi' } } }] } },
      },
    };
    await this.apps.createNamespacedDeployment({ namespace: ns, body: d });
    await until('pods ready on w1', async () => (await this.apps.readNamespacedDeployment({ namespace: ns, name: 'bench' })).status?.readyReplicas === PODS);
    for (const n of this.cluster.nodes.filter((x) => x !== NODE)) await this.cluster.kubectl(['uncordon', n]);
    if (withPdb) {
      await this.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name: 'bench' }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } } });
      await until('PDB observed', async () => (await this.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'bench' })).status?.disruptionsAllowed === 1);
    }
  }

  async cleanup(ns: string): Promise<void> {
    await this.core.deleteNamespace({ name: ns });
    await until(`namespace ${ns} gone`, async () => {
      try {
        await this.core.readNamespace({ name: ns });
        return false;
      } catch {
        return true;
      }
    });
    await this.cluster.kubectl(['uncordon', NODE]);
  }

  async kubectlDrain(): Promise<Measured> {
    // -v=6 logs one line per API request: that is how its requests are counted.
    const r = await run(this.kubectlPath, ['--kubeconfig', this.cluster.kubeconfigPath, 'drain', NODE, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=600s', '-v=6']);
    // One "Response" line per request at -v=6 (client-go transport/round_trippers.go).
    const requests = r.stderr.split('\n').filter((l) => /round_trippers/.test(l) && /"Response"/.test(l)).length;
    if (requests === 0) console.warn('  (could not count kubectl requests from its -v=6 log; first lines follow)\n' + r.stderr.split('\n').slice(0, 5).join('\n'));
    const evicted = (r.stdout.match(/evicted$/gm) ?? []).length;
    return { tool: 'kubectl drain', seconds: r.seconds, requests, evicted, exitCode: r.code };
  }

  async safeDrain(): Promise<Measured> {
    const r = await run(process.execPath, ['dist/cli.js', 'drain', '--node', NODE, '--kubeconfig', this.cluster.kubeconfigPath, '--timeout', '10m', '--migration', 'evict', '--output', 'json']);
    const report = JSON.parse(r.stdout) as { apiRequests: number; peakRssMiB: number; nodes: { results: { outcome: string }[] }[] };
    const evicted = report.nodes[0]?.results.filter((x) => x.outcome === 'evicted').length ?? 0;
    return { tool: 'safe-drain', seconds: r.seconds, requests: report.apiRequests, evicted, peakRssMiB: report.peakRssMiB, exitCode: r.code };
  }
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 3 });
  const rows: { scenario: string; kubectl: Measured; safeDrain: Measured }[] = [];
  try {
    const kubectlPath = join(await ensureBinaries(), 'kubectl');
    const b = new Bench(cluster, kubectlPath);
    for (const scenario of SCENARIOS) {
      const withPdb = scenario === 'pdb';
      console.log(`\n== ${scenario}: ${PODS} pods on ${NODE}${withPdb ? ', PDB maxUnavailable 1' : ', no PDB'}`);
      await b.place(`bench-${scenario}-k`, withPdb);
      const kubectl = await b.kubectlDrain();
      console.log(`  kubectl drain: ${kubectl.seconds.toFixed(2)} s, ${kubectl.requests} requests, ${kubectl.evicted} evicted, exit ${kubectl.exitCode}`);
      await b.cleanup(`bench-${scenario}-k`);
      await b.place(`bench-${scenario}-s`, withPdb);
      const safeDrain = await b.safeDrain();
      console.log(`  safe-drain:    ${safeDrain.seconds.toFixed(2)} s, ${safeDrain.requests} requests, ${safeDrain.evicted} evicted, peak RSS ${safeDrain.peakRssMiB} MiB, exit ${safeDrain.exitCode}`);
      await b.cleanup(`bench-${scenario}-s`);
      rows.push({ scenario, kubectl, safeDrain });
    }
  } finally {
    await cluster.stop();
  }
  const lines = [
    `| scenario | kubectl drain (s) | safe-drain (s) | time ratio safe/kubectl | kubectl req/pod | safe-drain req/pod | safe-drain peak RSS (MiB) |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows.map(({ scenario, kubectl: k, safeDrain: s }) =>
      `| ${scenario} (${PODS} pods) | ${k.seconds.toFixed(2)} | ${s.seconds.toFixed(2)} | ${(s.seconds / k.seconds).toFixed(2)} | ${(k.requests / Math.max(1, k.evicted)).toFixed(2)} | ${(s.requests / Math.max(1, s.evicted)).toFixed(2)} | ${s.peakRssMiB ?? '?'} |`,
    ),
  ];
  console.log(`\n${lines.join('\n')}`);
  console.log('\nsafe-drain requests include its fixed costs (permission checks, node and PDB lists, watches): per pod they shrink as pods grow.');
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'bench.json'), JSON.stringify({ pods: PODS, rows }, null, 2));
  writeFileSync(join(OUT, 'bench.md'), `${lines.join('\n')}\n`);
  const bad = rows.filter((r) => r.kubectl.exitCode !== 0 || r.safeDrain.exitCode !== 0);
  if (bad.length) {
    console.error(`a drain failed in: ${bad.map((r) => r.scenario).join(', ')}`);
    process.exitCode = 1;
  }
}

const fail = (err: unknown): void => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
};
if (process.argv.includes('--scale')) import('./scale-bench.js').then((m) => m.scaleBench()).catch(fail);
else if (process.argv.includes('--reaction')) import('./reaction-bench.js').then((m) => m.reactionBench()).catch(fail);
else main().catch(fail);

// `npm run bench`: safe-drain against `kubectl drain`, both run as child processes of this one on
// the same local cluster (real control plane + kwok nodes) and the same workload placement.
// Prints, per scenario: wall time, API requests per evicted pod, peak RSS, and the ratios.
//   BENCH_PODS=N (default 30) pods on the drained node; BENCH_SCENARIOS=plain,pdb,gate
//   gate: the availability gate's own cost (issue 10): safe-drain alone, the pods behind a Service,
//   `--availability off` against `--availability auto` (watching that Service's EndpointSlices),
//   alternated BENCH_GATE_RUNS times each (default 2); API requests and peak RSS must stay within
//   10% (the run exits 1 otherwise).
//   BENCH_CLI: the bundled CLI to run (default dist/cli.js).
// `npm run bench -- --scale`: 1,000 nodes / 10,000 pods (bench/scale-bench.ts).
// `npm run bench -- --reaction`: budget reaction, from the audit log (bench/reaction-bench.ts).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1Deployment } from '@kubernetes/client-node';
import { ensureBinaries, startCluster, type LocalCluster } from '../cluster/src/index.js';

const PODS = Number(process.env.BENCH_PODS ?? 30);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'plain,pdb,gate').split(',');
const CLI = process.env.BENCH_CLI ?? 'dist/cli.js';
const GATE_RUNS = Number(process.env.BENCH_GATE_RUNS ?? 2);
/** The gate may cost at most this share more API requests and peak RSS than no gate (issue 10). */
const GATE_BUDGET = 0.1;
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
  async place(ns: string, withPdb: boolean, withService = false): Promise<void> {
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
    if (withService) {
      // What `availability: auto` watches: a Service with ready endpoints on the drained node.
      await this.core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'bench' }, spec: { selector: labels, ports: [{ port: 80 }] } } });
      await until('every pod a ready endpoint of the Service', async () => {
        const slices = await this.cluster.kubectl(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=bench', '-o', 'json']);
        const items = (JSON.parse(slices) as { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }).items;
        return items.flatMap((x) => x.endpoints ?? []).filter((e) => e.conditions?.ready).length === PODS;
      });
    }
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

  async safeDrain(extraArgs: string[] = []): Promise<Measured & { watchedServices?: number }> {
    const r = await run(process.execPath, [CLI, 'drain', '--node', NODE, '--kubeconfig', this.cluster.kubeconfigPath, '--timeout', '10m', '--migration', 'evict', '--output', 'json', ...extraArgs]);
    let report: { apiRequests: number; peakRssMiB: number; nodes: { results: { outcome: string }[] }[]; availability?: { services: unknown[] } };
    try {
      report = JSON.parse(r.stdout) as typeof report;
    } catch {
      throw new Error(`${CLI} ${extraArgs.join(' ')} printed no JSON report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
    }
    const evicted = report.nodes[0]?.results.filter((x) => x.outcome === 'evicted').length ?? 0;
    return {
      tool: 'safe-drain',
      seconds: r.seconds,
      requests: report.apiRequests,
      evicted,
      peakRssMiB: report.peakRssMiB,
      exitCode: r.code,
      ...(report.availability ? { watchedServices: report.availability.services.length } : {}),
    };
  }
}

interface GateRow {
  off: Measured[];
  auto: (Measured & { watchedServices?: number })[];
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The gate's cost: the same drain with `--availability off` and `auto`, alternated. */
async function gateCost(b: Bench): Promise<GateRow> {
  const row: GateRow = { off: [], auto: [] };
  console.log(`\n== gate: ${PODS} pods on ${NODE} behind a Service, no PDB; safe-drain --availability off vs auto, ${GATE_RUNS} runs each`);
  for (let i = 0; i < GATE_RUNS; i++) {
    for (const mode of ['off', 'auto'] as const) {
      const ns = `bench-gate-${mode}-${i}`;
      await b.place(ns, false, true);
      const m = await b.safeDrain(['--availability', mode]);
      console.log(
        `  availability ${mode.padEnd(4)}: ${m.seconds.toFixed(2)} s, ${m.requests} requests, ${m.evicted} evicted, peak RSS ${m.peakRssMiB} MiB, exit ${m.exitCode}` +
          (mode === 'auto' ? `, ${m.watchedServices ?? 0} Service(s) watched` : ''),
      );
      await b.cleanup(ns);
      row[mode].push(m);
    }
  }
  return row;
}

async function main(): Promise<void> {
  const cluster = await startCluster({ nodes: 3 });
  const rows: { scenario: string; kubectl: Measured; safeDrain: Measured }[] = [];
  let gate: GateRow | undefined;
  try {
    const kubectlPath = join(await ensureBinaries(), 'kubectl');
    const b = new Bench(cluster, kubectlPath);
    for (const scenario of SCENARIOS) {
      if (scenario === 'gate') {
        gate = await gateCost(b);
        continue;
      }
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
  if (rows.length > 0) {
    console.log(`\n${lines.join('\n')}`);
    console.log('\nsafe-drain requests include its fixed costs (permission checks, node and PDB lists, watches): per pod they shrink as pods grow.');
  }
  const gateLines: string[] = [];
  let gateOver: string[] = [];
  if (gate) {
    const req = { off: mean(gate.off.map((m) => m.requests)), auto: mean(gate.auto.map((m) => m.requests)) };
    const rss = { off: mean(gate.off.map((m) => m.peakRssMiB ?? NaN)), auto: mean(gate.auto.map((m) => m.peakRssMiB ?? NaN)) };
    const secs = { off: mean(gate.off.map((m) => m.seconds)), auto: mean(gate.auto.map((m) => m.seconds)) };
    const pct = (x: { off: number; auto: number }) => `${x.auto >= x.off ? '+' : ''}${(((x.auto - x.off) / x.off) * 100).toFixed(1)}%`;
    gateOver = [
      ...(req.auto > req.off * (1 + GATE_BUDGET) ? [`API requests ${pct(req)}`] : []),
      ...(!(rss.auto <= rss.off * (1 + GATE_BUDGET)) ? [`peak RSS ${pct(rss)}`] : []),
    ];
    gateLines.push(
      `| safe-drain, ${PODS} pods behind a Service (mean of ${GATE_RUNS} runs each) | availability off | availability auto | auto vs off |`,
      `| --- | ---: | ---: | ---: |`,
      `| API requests | ${req.off.toFixed(1)} | ${req.auto.toFixed(1)} | ${pct(req)} |`,
      `| peak RSS (MiB) | ${rss.off.toFixed(1)} | ${rss.auto.toFixed(1)} | ${pct(rss)} |`,
      `| wall time (s) | ${secs.off.toFixed(2)} | ${secs.auto.toFixed(2)} | ${pct(secs)} |`,
    );
    console.log(`\n${gateLines.join('\n')}`);
    console.log(
      gateOver.length === 0
        ? `\nthe gate's cost is within ${GATE_BUDGET * 100}% of no gate (API requests and peak RSS); wall time is not judged (on a shared machine it varies more from run to run than the gate could add)`
        : `\nTHE GATE COSTS MORE THAN ${GATE_BUDGET * 100}%: ${gateOver.join(', ')}`,
    );
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'bench.json'), JSON.stringify({ pods: PODS, rows, ...(gate ? { gate } : {}) }, null, 2));
  writeFileSync(join(OUT, 'bench.md'), [rows.length ? lines.join('\n') : '', gateLines.join('\n')].filter(Boolean).join('\n\n') + '\n');
  const bad = [
    ...rows.filter((r) => r.kubectl.exitCode !== 0 || r.safeDrain.exitCode !== 0).map((r) => r.scenario),
    ...(gate && [...gate.off, ...gate.auto].some((m) => m.exitCode !== 0) ? ['gate'] : []),
  ];
  if (bad.length) {
    console.error(`a drain failed in: ${bad.join(', ')}`);
    process.exitCode = 1;
  }
  if (gateOver.length) process.exitCode = 1;
}

const fail = (err: unknown): void => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
};
if (process.argv.includes('--scale')) import('./scale-bench.js').then((m) => m.scaleBench()).catch(fail);
else if (process.argv.includes('--reaction')) import('./reaction-bench.js').then((m) => m.reactionBench()).catch(fail);
else main().catch(fail);

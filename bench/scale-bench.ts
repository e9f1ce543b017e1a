// `npm run bench -- --scale`: safe-drain on 1,000 nodes / 10,000 pods (the cluster's scale mode:
// one kwok plays the scale nodes), against `kubectl drain -l` of the same nodes. Both tools are
// child processes of this one, each with its own admin user, so the API server's audit log counts
// their requests independently of what either says about itself; GNU time gives their peak RSS.
//
//   1. 3 + BENCH_SCALE_NODES (1000) nodes; the last BENCH_POOL_NODES (50) are the "pool".
//   2. 100 Deployments x 100 replicas (PDB maxUnavailable 10% each), 1 DaemonSet, 3 StatefulSets of 10,
//      placed by the scheduler on every node but the pool (the DaemonSet also on the pool).
//   3. plan of one node (median of 3 runs), then drain of that node (default options).
//   4. the pool: 10 Deployments x 50 replicas (PDB maxUnavailable 10%) placed on the pool alone
//      (the other nodes cordoned meanwhile), then `kubectl drain -l pool`; the same placement again
//      in a fresh namespace, then `safe-drain drain -l pool` with max-unavailable-nodes 10 (when
//      the CLI has it).
// Writes bench-results/scale.json and scale.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, PolicyV1Api, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { createScaleWorkloads, ensureBinaries, inBatches, startCluster, type LocalCluster } from '../cluster/src/index.js';
import { auditOffset, countUsersPolicy, marginalPerEvictedPod, median, pinnedCli, readAudit, requestsBy, requestsByClass, runChild, sleep, until, type ChildRun, type RequestsByClass } from './support.js';

const SCALE_NODES = Number(process.env.BENCH_SCALE_NODES ?? 1000);
const DEPLOYMENTS = Number(process.env.BENCH_SCALE_DEPLOYMENTS ?? 100);
const REPLICAS = Number(process.env.BENCH_SCALE_REPLICAS ?? 100);
const POOL_NODES = Number(process.env.BENCH_POOL_NODES ?? 50);
const POOL_DEPLOYMENTS = 10;
const MAX_UNAVAILABLE_NODES = 10;
const POOL_LABEL = 'safe-drain.local/bench-pool';
const SD_USER = 'safe-drain-bench';
const KUBECTL_USER = 'kubectl-bench';
const OUT = 'bench-results';
export const SCALE_TARGETS = { planSeconds: 2, peakRssMiB: 150, requestsPerEvictedPod: 3, selectorDrainRatio: 0.5 };

interface ToolRun {
  seconds: number;
  exitCode: number;
  /** Requests counted in the audit log (this tool's own user). */
  requests: number;
  /** The same requests by what they are for (support.ts classifyRequest). */
  byClass: RequestsByClass;
  /** What safe-drain's report says it made (a cross-check of the audit count). */
  reportedRequests?: number;
  evicted: number;
  peakRssMiB?: number;
}

interface SafeDrainReport {
  success: boolean;
  error?: string;
  apiRequests?: number;
  peakRssMiB?: number;
  durationMs: number;
  nodes: { node: string; results: { outcome: string }[] }[];
}

function parseReport(r: ChildRun): SafeDrainReport {
  try {
    return JSON.parse(r.stdout) as SafeDrainReport;
  } catch {
    throw new Error(`safe-drain printed no JSON report (exit ${r.code}): ${r.stderr.slice(-1500)}`);
  }
}

class ScaleBench {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly pool: string[];
  readonly rest: string[];
  constructor(readonly cluster: LocalCluster, readonly kubectlPath: string, readonly cli: string) {
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
    this.pool = cluster.scaleNodes.slice(-POOL_NODES);
    this.rest = [...cluster.nodes, ...cluster.scaleNodes.slice(0, -POOL_NODES)];
  }

  private get audit(): string {
    return this.cluster.auditLogPath!;
  }

  async setCordoned(nodes: string[], unschedulable: boolean): Promise<void> {
    await inBatches(nodes, 16, async (name) => {
      await this.core.patchNode({ name, body: { spec: { unschedulable } } }, MERGE_PATCH);
    });
  }

  /** Nodes not Ready: none may be, or the placement (and what a drain does) is not what it seems. */
  async notReadyNodes(): Promise<string[]> {
    const nodes = await this.core.listNode();
    return nodes.items
      .filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True')
      .map((n) => n.metadata!.name!);
  }

  /** Pods per node (DaemonSet pods left out), read page by page. */
  async podsPerNode(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    let cont: string | undefined;
    do {
      const page = await this.core.listPodForAllNamespaces({ limit: 2000, _continue: cont });
      for (const p of page.items as V1Pod[]) {
        if (!p.spec?.nodeName || p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet')) continue;
        counts.set(p.spec.nodeName, (counts.get(p.spec.nodeName) ?? 0) + 1);
      }
      cont = page.metadata?._continue || undefined;
    } while (cont);
    return counts;
  }

  /** POOL_DEPLOYMENTS Deployments with a PDB each, every pod on the pool (the other nodes cordoned while they are placed). */
  async placePool(ns: string): Promise<number> {
    const replicas = POOL_NODES;
    await this.setCordoned(this.pool, false);
    await this.setCordoned(this.rest, true);
    try {
      await this.core.createNamespace({ body: { metadata: { name: ns } } });
      await Promise.all(
        Array.from({ length: POOL_DEPLOYMENTS }, async (_, i) => {
          const name = `p${i}`;
          const labels = { app: name };
          await this.apps.createNamespacedDeployment({
            namespace: ns,
            body: {
              metadata: { name },
              spec: {
                replicas,
                selector: { matchLabels: labels },
                template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.invalid/pool:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
              },
            },
          });
          await this.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body: { metadata: { name }, spec: { maxUnavailable: '10%', selector: { matchLabels: labels } } } });
        }),
      );
      await until(`pool workloads in ${ns} Ready, budgets observed`, async () => {
        const [ds, pdbs] = await Promise.all([this.apps.listNamespacedDeployment({ namespace: ns }), this.policy.listNamespacedPodDisruptionBudget({ namespace: ns })]);
        return (
          ds.items.filter((d) => d.status?.readyReplicas === replicas).length === POOL_DEPLOYMENTS &&
          pdbs.items.filter((p) => (p.status?.disruptionsAllowed ?? 0) > 0 && p.status?.observedGeneration === p.metadata?.generation).length === POOL_DEPLOYMENTS
        );
      }, 600_000, 1000);
    } finally {
      await this.setCordoned(this.rest, false);
    }
    return POOL_DEPLOYMENTS * replicas;
  }

  async removeNamespace(ns: string): Promise<void> {
    await this.core.deleteNamespace({ name: ns });
    await until(`namespace ${ns} gone`, async () => {
      try {
        await this.core.readNamespace({ name: ns });
        return false;
      } catch {
        return true;
      }
    }, 600_000, 1000);
  }

  async safeDrain(args: string[]): Promise<{ run: ToolRun; report: SafeDrainReport }> {
    const offset = auditOffset(this.audit);
    const r = await runChild(process.execPath, [this.cli, ...args, '--kubeconfig', this.cluster.kubeconfigFor(SD_USER), '--output', 'json']);
    await sleep(1000); // watches are logged when they end, just after the process
    const report = parseReport(r);
    const evicted = report.nodes.flatMap((n) => n.results).filter((x) => x.outcome === 'evicted').length;
    const events = readAudit(this.audit, offset);
    return {
      run: {
        seconds: r.seconds, exitCode: r.code, requests: requestsBy(events, SD_USER), byClass: requestsByClass(events, SD_USER), reportedRequests: report.apiRequests,
        evicted, peakRssMiB: r.peakRssMiB ?? report.peakRssMiB,
      },
      report,
    };
  }

  async kubectlDrain(selector: string): Promise<ToolRun> {
    const offset = auditOffset(this.audit);
    const r = await runChild(this.kubectlPath, [
      '--kubeconfig', this.cluster.kubeconfigFor(KUBECTL_USER), 'drain', '-l', selector, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=1800s',
    ]);
    await sleep(1000);
    if (r.code !== 0) console.error(`kubectl drain failed (exit ${r.code}): ${r.stderr.slice(-1500)}`);
    const events = readAudit(this.audit, offset);
    return {
      seconds: r.seconds, exitCode: r.code, requests: requestsBy(events, KUBECTL_USER), byClass: requestsByClass(events, KUBECTL_USER),
      evicted: (r.stdout.match(/ evicted$/gm) ?? []).length, peakRssMiB: r.peakRssMiB,
    };
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

// client-node's patch defaults to JSON Patch; cordon is a merge patch.
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Whether the CLI's `drain` takes `flag` (its own help since the subcommands; the global help before). */
async function cliSupports(cli: string, flag: string): Promise<boolean> {
  for (const args of [['drain', '--help'], ['--help']]) {
    if ((await runChild(process.execPath, [cli, ...args])).stdout.includes(flag)) return true;
  }
  return false;
}

export async function scaleBench(): Promise<void> {
  const started = Date.now();
  const loadAverageAtStart = loadavg();
  const pinned = pinnedCli();
  const log = (m: string): void => console.error(`[scale ${((Date.now() - started) / 1000).toFixed(0)} s] ${m}`);
  const cluster = await startCluster({
    nodes: 3,
    scaleNodes: SCALE_NODES,
    clientUsers: [SD_USER, KUBECTL_USER],
    auditPolicy: countUsersPolicy([SD_USER, KUBECTL_USER]),
    startTimeoutMs: 180_000 + SCALE_NODES * 300,
    log,
  });
  try {
    log(`safe-drain: dist/ copied, cli-main.js sha256 ${pinned.sha}`);
    const b = new ScaleBench(cluster, join(await ensureBinaries(), 'kubectl'), pinned.cli);
    await cluster.kubectl(['label', 'nodes', ...b.pool, `${POOL_LABEL}=drain`]);
    const w = await createScaleWorkloads(cluster, { deployments: DEPLOYMENTS, replicas: REPLICAS, avoidNodeLabel: POOL_LABEL, log });
    const perNode = await b.podsPerNode();
    const pods = [...perNode.values()].reduce((a, c) => a + c, 0) + cluster.nodes.length + cluster.scaleNodes.length; // + DaemonSet pods
    // A typical node: the median pod count among the scale nodes outside the pool.
    const candidates = cluster.scaleNodes.filter((n) => !b.pool.includes(n)).map((n) => [n, perNode.get(n) ?? 0] as const).sort((x, y) => x[1] - y[1]);
    const [target, targetPods] = candidates[Math.floor(candidates.length / 2)]!;
    const notReadyAfterPlacement = await b.notReadyNodes();
    if (notReadyAfterPlacement.length) log(`WARNING: nodes not Ready after placement: ${notReadyAfterPlacement.join(', ')}`);
    log(`${w.pods} pods Ready in ${w.seconds.toFixed(0)} s; one-node target ${target} (${targetPods} pods + DaemonSet)`);

    const plans: ToolRun[] = [];
    for (let i = 0; i < 3; i++) plans.push((await b.safeDrain(['plan', '--node', target])).run);
    log(`plan ${target}: ${plans.map((p) => `${p.seconds.toFixed(2)} s ${p.peakRssMiB} MiB ${p.requests} req`).join('; ')}`);

    const one = await b.safeDrain(['drain', '--node', target, '--timeout', '10m']);
    log(`drain ${target}: exit ${one.run.exitCode}, ${one.run.evicted} evicted, ${one.run.seconds.toFixed(2)} s, ${one.run.requests} requests (report: ${one.run.reportedRequests}), ${one.run.peakRssMiB} MiB`);
    if (one.run.exitCode !== 0) console.error(one.report.error ?? '');
    await b.setCordoned([target], false);

    const selector = `${POOL_LABEL}=drain`;
    const poolPodsK = await b.placePool('pool-kubectl');
    log(`pool placed: ${poolPodsK} pods on ${POOL_NODES} nodes; kubectl drain -l ${selector}`);
    const kubectl = await b.kubectlDrain(selector);
    log(`kubectl drain -l: exit ${kubectl.exitCode}, ${kubectl.evicted} evicted, ${kubectl.seconds.toFixed(2)} s, ${kubectl.requests} requests, ${kubectl.peakRssMiB} MiB`);
    await b.removeNamespace('pool-kubectl');
    await b.setCordoned(b.pool, false);

    const hasMaxUnavailable = await cliSupports(pinned.cli, '--max-unavailable-nodes');
    const poolPodsS = await b.placePool('pool-safe-drain');
    log(`pool placed again: ${poolPodsS} pods; safe-drain drain -l ${selector}${hasMaxUnavailable ? ` --max-unavailable-nodes ${MAX_UNAVAILABLE_NODES}` : ' (no --max-unavailable-nodes in this build: one node at a time)'}`);
    const sel = await b.safeDrain([
      'drain', '-l', selector, '--timeout', '30m', ...(hasMaxUnavailable ? ['--max-unavailable-nodes', String(MAX_UNAVAILABLE_NODES)] : []),
    ]);
    log(`safe-drain drain -l: exit ${sel.run.exitCode}, ${sel.run.evicted} evicted, ${sel.run.seconds.toFixed(2)} s, ${sel.run.requests} requests (report: ${sel.run.reportedRequests}), ${sel.run.peakRssMiB} MiB`);
    if (sel.run.exitCode !== 0) console.error(sel.report.error ?? '');

    const perPod = (r: ToolRun): number => r.requests / Math.max(1, r.evicted);
    const marginal = (r: ToolRun): number => marginalPerEvictedPod(r.byClass, r.evicted);
    const planSeconds = median(plans.map((p) => p.seconds));
    const peakRssMiB = Math.max(...[...plans, one.run, sel.run].map((r) => r.peakRssMiB ?? 0));
    const result: ScaleResult = {
      nodes: cluster.nodes.length + cluster.scaleNodes.length,
      pods,
      planSeconds,
      peakRssMiB,
      requestsPerEvictedPod: perPod(one.run),
      marginalRequestsPerEvictedPod: marginal(one.run),
      selectorDrain: {
        nodes: POOL_NODES,
        safeDrainSeconds: sel.run.seconds,
        kubectlSeconds: kubectl.seconds,
        maxUnavailableNodes: hasMaxUnavailable ? MAX_UNAVAILABLE_NODES : null,
        pods: poolPodsS,
        safeDrain: { ...sel.run, requestsPerEvictedPod: perPod(sel.run), marginalRequestsPerEvictedPod: marginal(sel.run) },
        kubectl: { ...kubectl, requestsPerEvictedPod: perPod(kubectl), marginalRequestsPerEvictedPod: marginal(kubectl) },
      },
      measuredAt: { start: new Date(started).toISOString(), end: new Date().toISOString() },
      gitCommit: gitCommit(),
      details: {
        loadAverageAtStart,
        loadAverageAtEnd: loadavg(),
        notReadyAfterPlacement,
        notReadyAtEnd: await b.notReadyNodes(),
        workloadsReadySeconds: w.seconds,
        oneNode: { node: target, pods: targetPods, ...one.run },
        plans,
      },
      targets: SCALE_TARGETS,
      cliSha256: pinned.sha,
    };
    const lines = scaleTable(result);
    console.log(`\n${lines.join('\n')}`);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'scale.json'), JSON.stringify(result, null, 2));
    writeFileSync(join(OUT, 'scale.md'), `${lines.join('\n')}\n`);
    if ([one.run, sel.run, kubectl].some((r) => r.exitCode !== 0)) {
      console.error('a drain failed: see above');
      process.exitCode = 1;
    }
  } finally {
    await cluster.stop();
    pinned.remove();
  }
}

interface ScaleResult {
  nodes: number;
  pods: number;
  planSeconds: number;
  peakRssMiB: number;
  requestsPerEvictedPod: number;
  /** Per evicted pod without the run's constant part (lists, watches, permission checks). */
  marginalRequestsPerEvictedPod: number;
  selectorDrain: {
    nodes: number;
    safeDrainSeconds: number;
    kubectlSeconds: number;
    maxUnavailableNodes: number | null;
    pods: number;
    safeDrain: ToolRun & { requestsPerEvictedPod: number; marginalRequestsPerEvictedPod: number };
    kubectl: ToolRun & { requestsPerEvictedPod: number; marginalRequestsPerEvictedPod: number };
  };
  measuredAt: { start: string; end: string };
  /** HEAD of the worktree when the benchmark ran (its dist/ is what was measured; see cliSha256). */
  gitCommit: string;
  details: { loadAverageAtStart: number[]; loadAverageAtEnd: number[]; notReadyAfterPlacement: string[]; notReadyAtEnd: string[]; workloadsReadySeconds: number; oneNode: ToolRun & { node: string; pods: number }; plans: ToolRun[] };
  targets: typeof SCALE_TARGETS;
  cliSha256: string;
}

/** "run 40, node 6, workload 3, pod 10" (other only when there is any). */
function classes(c: RequestsByClass): string {
  return (['run', 'node', 'workload', 'pod', 'other'] as const).filter((k) => k !== 'other' || c.other > 0).map((k) => `${k} ${c[k]}`).join(', ');
}

export function scaleTable(r: ScaleResult): string[] {
  const mark = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const s = r.selectorDrain;
  const ratio = s.safeDrainSeconds / s.kubectlSeconds;
  const one = r.details.oneNode;
  return [
    `| ${r.nodes} nodes, ${r.pods} pods | safe-drain | kubectl drain | target | |`,
    '| --- | ---: | ---: | ---: | --- |',
    `| plan one node (${one.pods} pods), process wall time, median of 3 | ${r.planSeconds.toFixed(2)} s | | <= ${SCALE_TARGETS.planSeconds} s | ${mark(r.planSeconds <= SCALE_TARGETS.planSeconds)} |`,
    `| peak RSS (worst of plan, one-node and ${s.nodes}-node drains) | ${r.peakRssMiB} MiB | ${s.kubectl.peakRssMiB ?? '?'} MiB | <= ${SCALE_TARGETS.peakRssMiB} MB | ${mark(r.peakRssMiB * 1.048576 <= SCALE_TARGETS.peakRssMiB)} |`,
    `| drain one node: wall time | ${one.seconds.toFixed(2)} s | | | |`,
    `| drain one node: API requests (audit log) / evicted pods | ${one.requests} / ${one.evicted} = ${r.requestsPerEvictedPod.toFixed(2)} | | | |`,
    `| drain one node: requests by kind: ${classes(one.byClass)} | | | | |`,
    `| drain one node: requests per evicted pod beyond the run's constant part (${one.byClass.run} lists, watches, permission checks) | ${r.marginalRequestsPerEvictedPod.toFixed(2)} | | <= ${SCALE_TARGETS.requestsPerEvictedPod} + a constant | ${mark(r.marginalRequestsPerEvictedPod <= SCALE_TARGETS.requestsPerEvictedPod)} |`,
    `| ${s.nodes}-node selector drain (${s.pods} pods), wall time${s.maxUnavailableNodes ? `, max-unavailable-nodes ${s.maxUnavailableNodes}` : ' (one node at a time: no max-unavailable-nodes yet)'} | ${s.safeDrainSeconds.toFixed(2)} s | ${s.kubectlSeconds.toFixed(2)} s | <= 0.5x kubectl | ${mark(ratio <= SCALE_TARGETS.selectorDrainRatio)} (${ratio.toFixed(2)}x) |`,
    `| ${s.nodes}-node drain: API requests / evicted pods | ${s.safeDrain.requests} / ${s.safeDrain.evicted} = ${s.safeDrain.requestsPerEvictedPod.toFixed(2)} | ${s.kubectl.requests} / ${s.kubectl.evicted} = ${s.kubectl.requestsPerEvictedPod.toFixed(2)} | | |`,
    `| ${s.nodes}-node drain: requests by kind | ${classes(s.safeDrain.byClass)} | ${classes(s.kubectl.byClass)} | | |`,
    `| ${s.nodes}-node drain: per evicted pod beyond the run's constant part | ${s.safeDrain.marginalRequestsPerEvictedPod.toFixed(2)} | ${s.kubectl.marginalRequestsPerEvictedPod.toFixed(2)} | <= ${SCALE_TARGETS.requestsPerEvictedPod} + a constant | ${mark(s.safeDrain.marginalRequestsPerEvictedPod <= SCALE_TARGETS.requestsPerEvictedPod)} |`,
  ];
}

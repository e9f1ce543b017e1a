// `npm run bench -- --reaction`: how fast safe-drain reacts when a PodDisruptionBudget allows the
// next eviction, measured from the API server's side (its audit log, microsecond timestamps), not
// from anything the engine reports about itself.
//
// Placement: 10 Deployments x 3 replicas on w1, a PDB maxUnavailable 1 each; every pod (so every
// replacement) turns Ready 2 s after it starts (a kwok stage delay). Draining w1 is 3 rounds per
// Deployment: evict, wait until the budget allows again (replacement Ready, disruption controller
// updates the PDB status), evict.
//   reaction     = eviction request received - the PDB status update (disruptionsAllowed >= 1) that allowed it
//   latency      = that PDB status update - the previous eviction of the same budget (what the cluster imposes)
//   lower bound  = max over budgets of the sum of its latencies (no drain can finish sooner)
//   first        = first eviction request received - process start
// BENCH_REACTION_RUNS (default 3) drains, each on a fresh placement. The CLI keeps Node's module
// compile cache; the benchmark gives it an empty one, so run 1 starts cold and the others warm
// (each run records which), as a CLI run for the first time and then again would.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import { POD_READY_DELAY_ANNOTATION, startCluster, type LocalCluster } from '../cluster/src/index.js';
import { auditMs, auditOffset, median, percentile, readAudit, requestTimeline, runChild, sleep, until, type AuditEvent, type TimelineEntry } from './support.js';

const RUNS = Number(process.env.BENCH_REACTION_RUNS ?? 3);
const DEPLOYMENTS = 10;
const REPLICAS = 3;
const READY_DELAY = '2s';
const NODE = 'w1';
const USER = 'safe-drain-bench';
const OUT = 'bench-results';
export const TARGETS = { reactionMedianMs: 50, reactionP99Ms: 200, firstEvictionMs: 1000, wallOverLowerBound: 1.15 };

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Request
  verbs: [create]
  resources: [{ group: "", resources: ["pods/eviction"] }]
- level: Request
  verbs: [update, patch]
  resources: [{ group: policy, resources: ["poddisruptionbudgets/status"] }]
- level: Metadata
  users: ["${USER}"]
  omitStages: [RequestReceived]
- level: None
`;

export interface ReactionRun {
  wallSeconds: number;
  lowerBoundSeconds: number;
  firstEvictionMs: number;
  /** Last successful eviction request, ms after process start (the rest of the wall time is the end of the run). */
  lastEvictionMs: number;
  /** Per budget, its successful evictions in ms after process start: where the wall time goes. */
  chains: Record<string, number[]>;
  reactionsMs: number[];
  latenciesMs: number[];
  evictions: number;
  refused429: number;
  exitCode: number;
  /** Evictions whose allowing PDB status was not found in the log (should be none). */
  unexplained: string[];
  /** The run's requests up to its first eviction, and from its last: where the time beyond the lower bound went. */
  startRequests: TimelineEntry[];
  endRequests: TimelineEntry[];
  /** Whether the CLI's module compile cache held this bundle already (run 1: no). */
  compileCache?: 'cold' | 'warm';
}

const names = Array.from({ length: DEPLOYMENTS }, (_, i) => `r${String(i).padStart(2, '0')}`);

async function place(cluster: LocalCluster, ns: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const others = cluster.nodes.filter((n) => n !== NODE);
  await cluster.kubectl(['uncordon', NODE]);
  await cluster.kubectl(['cordon', ...others]);
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await Promise.all(
    names.map(async (name) => {
      const labels = { app: name };
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name },
          spec: {
            replicas: REPLICAS,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels, annotations: { [POD_READY_DELAY_ANNOTATION]: READY_DELAY } },
              spec: { containers: [{ name: 'c', image: 'registry.invalid/bench:1', resources: { requests: { cpu: '10m', memory: '8Mi' } } }] },
            },
          },
        },
      });
      await policy.createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: { metadata: { name }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
      });
    }),
  );
  await until('Deployments Ready and budgets allowing 1', async () => {
    const [ds, pdbs] = await Promise.all([apps.listNamespacedDeployment({ namespace: ns }), policy.listNamespacedPodDisruptionBudget({ namespace: ns })]);
    return (
      ds.items.filter((d) => d.status?.readyReplicas === REPLICAS).length === DEPLOYMENTS &&
      pdbs.items.filter((p) => p.status?.disruptionsAllowed === 1 && p.status.observedGeneration === p.metadata?.generation).length === DEPLOYMENTS
    );
  });
  await cluster.kubectl(['uncordon', ...others]);
}

async function removeNamespace(cluster: LocalCluster, ns: string): Promise<void> {
  await cluster.kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=120s']);
  await cluster.kubectl(['uncordon', NODE]);
}

/** The budget of an evicted pod: pods are named <deployment>-<hash>-<id>. */
const budgetOf = (pod: string): string => pod.split('-')[0]!;

export function analyse(events: AuditEvent[], startedAtMs: number, endedAtMs: number, ns: string): Omit<ReactionRun, 'exitCode'> {
  const evictions = events.filter(
    (e) => e.stage === 'ResponseComplete' && e.objectRef?.subresource === 'eviction' && e.objectRef.namespace === ns && e.user.username === USER,
  );
  const ok = evictions.filter((e) => (e.responseStatus?.code ?? 0) < 300);
  const statuses = events
    .filter((e) => e.stage === 'ResponseComplete' && e.objectRef?.resource === 'poddisruptionbudgets' && e.objectRef.namespace === ns && (e.responseStatus?.code ?? 0) < 300)
    .map((e) => ({ pdb: e.objectRef!.name!, received: auditMs(e.requestReceivedTimestamp), done: auditMs(e.stageTimestamp), allowed: e.requestObject?.status?.disruptionsAllowed ?? 0 }));
  // When a status update took effect: its completion, or, when an eviction arrived between its
  // receipt and its completion (the watch event leaves when the write commits, the update's
  // completion is logged after it), its receipt: that eviction's reaction is then at most this.
  const effectiveAt = (st: (typeof statuses)[number], evictionAt: number): number => (st.done <= evictionAt ? st.done : st.received);
  const reactionsMs: number[] = [];
  const latenciesMs: number[] = [];
  const unexplained: string[] = [];
  let lowerBoundMs = 0;
  const chains: Record<string, number[]> = {};
  for (const name of names) {
    const mine = ok.map((e) => ({ pod: e.objectRef!.name!, at: auditMs(e.requestReceivedTimestamp) })).filter((e) => budgetOf(e.pod) === name).sort((a, b) => a.at - b.at);
    chains[name] = mine.map((e) => Math.round(e.at - startedAtMs));
    let sum = 0;
    for (let k = 1; k < mine.length; k++) {
      const prev = mine[k - 1]!;
      const cur = mine[k]!;
      // The status that allowed it: where the budget's last run of allowing updates before the
      // eviction began (an earlier allowing update, later set back to 0, allowed nothing).
      const before = statuses
        .filter((s) => s.pdb === name && s.received <= cur.at)
        .map((s) => ({ ...s, at: effectiveAt(s, cur.at) }))
        .filter((s) => s.at > prev.at)
        .sort((a, b) => a.at - b.at);
      let start = before.length;
      while (start > 0 && before[start - 1]!.allowed >= 1) start--;
      const allowing = start < before.length ? before[start] : undefined;
      if (!allowing) {
        unexplained.push(`${ns}/${cur.pod}`);
        continue;
      }
      reactionsMs.push(cur.at - allowing.at);
      latenciesMs.push(allowing.at - prev.at);
      sum += allowing.at - prev.at;
    }
    lowerBoundMs = Math.max(lowerBoundMs, sum);
  }
  const first = Math.min(...evictions.map((e) => auditMs(e.requestReceivedTimestamp)));
  const last = Math.max(...ok.map((e) => auditMs(e.requestReceivedTimestamp)));
  return {
    wallSeconds: (endedAtMs - startedAtMs) / 1000,
    lowerBoundSeconds: lowerBoundMs / 1000,
    firstEvictionMs: first - startedAtMs,
    lastEvictionMs: last - startedAtMs,
    startRequests: requestTimeline(events, USER, startedAtMs, startedAtMs, first),
    endRequests: requestTimeline(events, USER, startedAtMs, last, endedAtMs),
    chains,
    reactionsMs,
    latenciesMs,
    evictions: ok.length,
    refused429: evictions.filter((e) => e.responseStatus?.code === 429).length,
    unexplained,
  };
}

export interface ReactionSummary {
  runs: ReactionRun[];
  reactionMedianMs: number;
  reactionP99Ms: number;
  firstEvictionMs: number;
  wallOverLowerBound: number;
}

export function summarise(runs: ReactionRun[]): ReactionSummary {
  const reactions = runs.flatMap((r) => r.reactionsMs);
  return {
    runs,
    reactionMedianMs: median(reactions),
    reactionP99Ms: percentile(reactions, 99),
    firstEvictionMs: Math.max(...runs.map((r) => r.firstEvictionMs)),
    wallOverLowerBound: Math.max(...runs.map((r) => r.wallSeconds / r.lowerBoundSeconds)),
  };
}

export function reactionTable(s: ReactionSummary): string[] {
  const mark = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const walls = s.runs.map((r) => `${r.wallSeconds.toFixed(2)} / ${r.lowerBoundSeconds.toFixed(2)}`).join(', ');
  const firsts = s.runs.map((r) => `${r.firstEvictionMs.toFixed(0)}${r.compileCache ? ` ${r.compileCache}` : ''}`).join(', ') + ' ms';
  return [
    '| budget reaction (10 Deployments x 3, PDB maxUnavailable 1, replacements Ready after 2 s) | measured | target | |',
    '| --- | ---: | ---: | --- |',
    `| reaction: PDB status allowing -> eviction request, median (${s.runs.reduce((n, r) => n + r.reactionsMs.length, 0)} evictions) | ${s.reactionMedianMs.toFixed(1)} ms | <= ${TARGETS.reactionMedianMs} ms | ${mark(s.reactionMedianMs <= TARGETS.reactionMedianMs)} |`,
    `| reaction p99 | ${s.reactionP99Ms.toFixed(1)} ms | <= ${TARGETS.reactionP99Ms} ms | ${mark(s.reactionP99Ms <= TARGETS.reactionP99Ms)} |`,
    `| process start -> first eviction (worst of ${s.runs.length} runs: ${firsts}) | ${s.firstEvictionMs.toFixed(0)} ms | <= ${TARGETS.firstEvictionMs} ms | ${mark(s.firstEvictionMs <= TARGETS.firstEvictionMs)} |`,
    `| wall time / lower bound (worst run; per run: wall / bound s: ${walls}) | ${s.wallOverLowerBound.toFixed(2)}x | <= ${TARGETS.wallOverLowerBound}x | ${mark(s.wallOverLowerBound <= TARGETS.wallOverLowerBound)} |`,
  ];
}

export async function reactionBench(): Promise<void> {
  const cluster = await startCluster({ nodes: 3, auditPolicy: AUDIT_POLICY, clientUsers: [USER], log: (m) => console.error(`[cluster] ${m}`) });
  const runs: ReactionRun[] = [];
  const measuredAt = new Date().toISOString();
  const loadAtStart = loadavg();
  const compileCacheDir = resolve(OUT, 'reaction-compile-cache');
  rmSync(compileCacheDir, { recursive: true, force: true });
  try {
    const auditLog = cluster.auditLogPath!;
    for (let i = 0; i < RUNS; i++) {
      const ns = `reaction-${i}`;
      await place(cluster, ns);
      const offset = auditOffset(auditLog);
      const r = await runChild(
        process.execPath,
        ['dist/cli.js', 'drain', '--node', NODE, '--kubeconfig', cluster.kubeconfigFor(USER), '--migration', 'evict', '--timeout', '5m', '--output', 'json'],
        { ...process.env, NODE_COMPILE_CACHE: compileCacheDir },
      );
      await sleep(500); // the audit log is written synchronously; this only covers a late watch close
      const a = analyse(readAudit(auditLog, offset), r.startedAtMs, r.endedAtMs, ns);
      runs.push({ ...a, exitCode: r.code, compileCache: i === 0 ? 'cold' : 'warm' });
      console.log(
        `run ${i + 1}: exit ${r.code}, ${a.evictions} evicted, ${a.refused429} refused (429), wall ${a.wallSeconds.toFixed(2)} s, lower bound ${a.lowerBoundSeconds.toFixed(2)} s, ` +
          `first eviction ${a.firstEvictionMs.toFixed(0)} ms, last ${a.lastEvictionMs.toFixed(0)} ms, reaction median ${median(a.reactionsMs).toFixed(1)} ms max ${Math.max(...a.reactionsMs).toFixed(1)} ms` +
          (a.unexplained.length ? `, NO allowing status found for ${a.unexplained.join(', ')}` : ''),
      );
      if (r.code !== 0) console.error(r.stderr.slice(-2000));
      const engineStart = (() => {
        try {
          return `${Date.parse((JSON.parse(r.stdout) as { startedAt: string }).startedAt) - r.startedAtMs} ms`;
        } catch {
          return 'unknown (no JSON report)';
        }
      })();
      console.log(`  engine started (report.startedAt) at +${engineStart} after process start`);
      const show = (t: TimelineEntry[]) => t.map((e) => `    +${e.receivedMs} -> +${e.answeredMs} ms  ${e.what}`).join('\n');
      console.log(`  requests up to the first eviction (received -> answered, ms after start):\n${show(a.startRequests)}`);
      console.log(`  requests from the last eviction to the exit at +${Math.round(a.wallSeconds * 1000)} ms:\n${show(a.endRequests)}`);
      console.log(`  evictions per budget (ms after start): ${Object.entries(a.chains).map(([k, v]) => `${k} ${v.join(' ')}`).join('; ')}`);
      mkdirSync(OUT, { recursive: true });
      writeFileSync(join(OUT, `reaction-run-${i + 1}.report.json`), r.stdout);
      writeFileSync(
        join(OUT, `reaction-run-${i + 1}.audit.json`),
        JSON.stringify({ startedAtMs: r.startedAtMs, endedAtMs: r.endedAtMs, events: readAudit(auditLog, offset) }, null, 1),
      );
      await removeNamespace(cluster, ns);
    }
  } finally {
    await cluster.stop();
  }
  const s = summarise(runs);
  const lines = reactionTable(s);
  console.log(`\n${lines.join('\n')}`);
  mkdirSync(OUT, { recursive: true });
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'dist'], { encoding: 'utf8' }).trim() !== '';
  const machine = { measuredAt, commit: dirty ? `${commit} (+ uncommitted changes)` : commit, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg() };
  console.log(`measured ${measuredAt} at ${machine.commit}, load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} at the start, ${machine.loadAverageAtEnd.map((l) => l.toFixed(2)).join(' ')} at the end`);
  writeFileSync(join(OUT, 'reaction.json'), JSON.stringify({ targets: TARGETS, ...machine, ...s }, null, 2));
  writeFileSync(join(OUT, 'reaction.md'), `${lines.join('\n')}\n`);
  if (runs.some((r) => r.exitCode !== 0 || r.evictions !== DEPLOYMENTS * REPLICAS)) {
    console.error('a drain failed or did not evict every pod');
    process.exitCode = 1;
  }
}

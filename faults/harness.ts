// What every fault scenario shares: the cluster and its clients, the drain's identity (a
// ServiceAccount bound to the shipped ClusterRole, as a user would run it), workloads placed on
// a node, the CLI as a real child process, the "changes left" snapshot, and the check that the
// CLI's report agrees with the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, RbacAuthorizationV1Api,
  type V1ClusterRole, type V1Deployment, type V1PodDisruptionBudget,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { POD_READY_DELAY_ANNOTATION, type LocalCluster } from '../cluster/src/index.js';
import type { RunReport } from '../src/engine/types.js';
import { expectValidReport } from '../test/report-schema.js';
import { isReady, Recorder } from './recorder.js';
import { deletePodsOffTargets } from './placement.js';
import { entryCommand } from '../test/bundle.js';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
/** Every scenario namespace starts with this; the recorder looks only there. */
export const NS_PREFIX = 'fault-';
export const DRAINER = { namespace: 'kube-system', name: 'safe-drain-faults' };
/**
 * The shared cluster of the matrix: a stopped kubelet makes its node NotReady after 20 s (Leases
 * renewed every 5 s, so a 10 s etcd pause does not), within the matrix's time.
 */
export const FAULT_CLUSTER = { nodes: 3, nodeMonitorGracePeriod: '20s', nodeLeaseDurationSeconds: 20 };
/** Kept on a Deployment after a migration on purpose (history, see src/engine/execute/restore.ts); not a leftover. */
const HISTORY_ANNOTATION = 'safe-drain.io/migration';

export interface FaultContext {
  cluster: LocalCluster;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
  recorder: Recorder;
  /** The drainer's token (ServiceAccount) and a kubeconfig with it, straight to the API server. */
  token: string;
  kubeconfig: string;
  /** A kubeconfig for the same identity through another server URL (the fault proxy). */
  kubeconfigVia(server: string, name: string): string;
  /** Seconds of the fault-free reference drain, once measured. */
  baselineSeconds?: number;
  log(msg: string): void;
}

export async function createContext(cluster: LocalCluster, log: (m: string) => void = () => undefined): Promise<FaultContext> {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const role = parse(readFileSync(join(REPO, 'rbac/safe-drain-clusterrole.yaml'), 'utf8')) as V1ClusterRole;
  const exists = (err: unknown): void => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  await core.createNamespacedServiceAccount({ namespace: DRAINER.namespace, body: { metadata: { name: DRAINER.name } } }).catch(exists);
  await rbac.createClusterRole({ body: { ...role, metadata: { name: DRAINER.name } } }).catch(exists);
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name: DRAINER.name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: DRAINER.name },
        subjects: [{ kind: 'ServiceAccount', name: DRAINER.name, namespace: DRAINER.namespace }],
      },
    })
    .catch(exists);
  const tr = await core.createNamespacedServiceAccountToken({
    namespace: DRAINER.namespace,
    name: DRAINER.name,
    body: { spec: { expirationSeconds: 4 * 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${DRAINER.namespace}/${DRAINER.name}`);
  const current = kc.getCurrentCluster()!;
  const ca = current.caData ?? readFileSync(current.caFile!).toString('base64');
  const kubeconfigVia = (server: string, name: string): string => {
    const path = join(cluster.stateDir, `faults-${name}.kubeconfig.json`);
    const cfg = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server, 'certificate-authority-data': ca } }],
      users: [{ name: DRAINER.name, user: { token } }],
      contexts: [{ name: 'faults', context: { cluster: 'local', user: DRAINER.name } }],
      'current-context': 'faults',
    };
    writeFileSync(path, JSON.stringify(cfg), { mode: 0o600 });
    return path;
  };
  const recorder = new Recorder(kc, (ns) => ns.startsWith(NS_PREFIX));
  await recorder.start();
  return {
    cluster, kc, core, apps: kc.makeApiClient(AppsV1Api), policy: kc.makeApiClient(PolicyV1Api), recorder, token,
    kubeconfig: kubeconfigVia(cluster.apiServerUrl, 'direct'),
    kubeconfigVia,
    log,
  };
}

// ---- workloads ------------------------------------------------------------------------------

export interface WorkloadSpec {
  name: string;
  replicas: number;
  recreate?: boolean;
  /** kwok makes new pods Ready only after this long: replacements are observably slow. */
  readyDelay?: string;
  pdb?: { minAvailable?: number; maxUnavailable?: number };
}

/** The usual mix: budget waits (3 replicas, maxUnavailable 1) and the scale-up path (Recreate, minAvailable 1). */
export const STANDARD: WorkloadSpec[] = [
  { name: 'web', replicas: 3, readyDelay: '2s', pdb: { maxUnavailable: 1 } },
  { name: 'solo', replicas: 1, recreate: true, readyDelay: '2s', pdb: { minAvailable: 1 } },
];

function deploymentOf(ns: string, w: WorkloadSpec): V1Deployment {
  const labels = { app: w.name };
  return {
    metadata: { name: w.name, namespace: ns, labels },
    spec: {
      replicas: w.replicas,
      selector: { matchLabels: labels },
      ...(w.recreate && { strategy: { type: 'Recreate' } }),
      template: {
        metadata: { labels, ...(w.readyDelay && { annotations: { [POD_READY_DELAY_ANNOTATION]: w.readyDelay } }) },
        spec: { containers: [{ name: 'app', image: 'registry.invalid/sample:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
      },
    },
  };
}

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
}

/**
 * Creates the workloads in `ns` with every pod on `node` (the other nodes cordoned while they
 * schedule), their PDBs, and waits until each PDB has observed all its pods healthy.
 */
export async function place(ctx: FaultContext, node: string | string[], ns: string, workloads: WorkloadSpec[]): Promise<void> {
  const targets = Array.isArray(node) ? node : [node];
  await ctx.core.createNamespace({ body: { metadata: { name: ns } } }).catch((err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  });
  const others = ctx.cluster.nodes.filter((n) => !targets.includes(n));
  for (const n of others) await ctx.cluster.kubectl(['cordon', n]);
  try {
    for (const w of workloads) await ctx.apps.createNamespacedDeployment({ namespace: ns, body: deploymentOf(ns, w) });
    for (const w of workloads) {
      // 90 s: row 3 places its pods behind an API server without watch cache that compacts
      // every 3 s, where the simulated kubelet relists after every 410; on a loaded 2-core
      // machine (load 6-8) that took over 60 s twice in a row (12:05 UTC, 2026-11-28).
      const placed = () =>
        until(async () => {
          const pods = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${w.name}` })).items;
          const onTargets = await deletePodsOffTargets(ctx.core, ns, pods, targets);
          return onTargets.filter(isReady).length === w.replicas;
        }, `${w.replicas} ready pods of ${ns}/${w.name} on ${targets.join(',')}`, 90_000);
      try {
        await placed();
      } catch (err) {
        // Seen after several kube-apiserver restarts: a simulated kubelet (kwok) stuck in its own
        // backoff. Restart it once, saying so, and wait again; a second failure is the scenario's.
        const where = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${w.name}` })).items
          .map((p) => `${p.metadata?.name} on ${p.spec?.nodeName ?? '(unscheduled)'}${isReady(p) ? ' ready' : ''}${p.metadata?.deletionTimestamp ? ' deleting' : ''}`)
          .join('; ');
        console.warn(`[faults] ${(err as Error).message} (pods: ${where || 'none'}): restarting the simulated kubelet of ${targets.join(', ')} and waiting again`);
        for (const n of targets) {
          await ctx.cluster.stopKubelet(n);
          await ctx.cluster.startKubelet(n);
        }
        await placed();
      }
    }
  } finally {
    for (const n of others) await ctx.cluster.kubectl(['uncordon', n]);
  }
  for (const w of workloads) {
    if (!w.pdb) continue;
    const body: V1PodDisruptionBudget = { metadata: { name: w.name, namespace: ns }, spec: { selector: { matchLabels: { app: w.name } }, ...w.pdb } };
    await ctx.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body });
  }
  for (const w of workloads) {
    if (!w.pdb) continue;
    await until(async () => {
      const p = await ctx.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: w.name });
      return p.status?.observedGeneration === p.metadata?.generation && p.status?.currentHealthy === w.replicas;
    }, `PDB ${ns}/${w.name} observed`);
  }
}

/**
 * After a fault on the control plane (API server restarted, etcd paused), the simulated kubelets
 * re-establish their watches on their own schedule: the next scenario waits until each node runs
 * a fresh pod (bound to it directly) before placing its workloads.
 */
export async function waitKubeletsServing(ctx: FaultContext, timeoutMs = 120_000): Promise<void> {
  // "default": a fresh namespace has no ServiceAccount for a moment, and pods there are refused (403).
  // Waited out when deleted: a bare pod left on a node would make the next drain of it refuse.
  const ns = 'default';
  const stamp = Date.now().toString(36);
  try {
    for (const node of ctx.cluster.nodes) {
      await ctx.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: `fault-probe-${node}-${stamp}`, labels: { 'safe-drain-faults/probe': stamp } },
          spec: { nodeName: node, terminationGracePeriodSeconds: 0, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] },
        },
      });
    }
    await until(async () => {
      const pods = (await ctx.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.name?.endsWith(stamp));
      return pods.length === ctx.cluster.nodes.length && pods.every(isReady);
    }, 'a fresh pod Ready on every node (kubelets serving again)', timeoutMs);
  } finally {
    await ctx.cluster.kubectl(['-n', ns, 'delete', 'pods', '-l', `safe-drain-faults/probe=${stamp}`, '--wait=true', '--timeout=60s'], { timeoutMs: 90_000 }).catch(() => undefined);
  }
}

/** Deletes scenario namespaces without waiting (their pods are off the drained nodes already, or go with them). */
export async function removeNamespaces(ctx: FaultContext, namespaces: string[], wait = false): Promise<void> {
  for (const ns of namespaces) {
    await ctx.cluster.kubectl(['delete', 'namespace', ns, '--ignore-not-found', `--wait=${wait}`, '--timeout=90s']).catch(() => undefined);
  }
}

// ---- changes left ---------------------------------------------------------------------------

/** Deployment replicas and safe-drain.io/* labels and annotations of Deployments and nodes, flattened. */
export async function snapshot(ctx: FaultContext, namespaces: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const marks = (prefix: string, m: Record<string, string> | undefined, kind: string): void => {
    for (const [k, v] of Object.entries(m ?? {})) if (k.startsWith('safe-drain.io/') && k !== HISTORY_ANNOTATION) out.set(`${prefix} ${kind} ${k}`, v);
  };
  for (const ns of namespaces) {
    for (const d of (await ctx.apps.listNamespacedDeployment({ namespace: ns })).items) {
      const p = `Deployment ${ns}/${d.metadata?.name}`;
      out.set(`${p} replicas`, String(d.spec?.replicas));
      marks(p, d.metadata?.labels, 'label');
      marks(p, d.metadata?.annotations, 'annotation');
    }
  }
  for (const n of (await ctx.core.listNode()).items) {
    marks(`Node ${n.metadata?.name}`, n.metadata?.labels, 'label');
    marks(`Node ${n.metadata?.name}`, n.metadata?.annotations, 'annotation');
  }
  return out;
}

export function changesBetween(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).map((k) => `${k}: ${before.get(k) ?? '(none)'} -> ${after.get(k) ?? '(none)'}`);
}

// ---- the CLI as a child process -------------------------------------------------------------

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  report?: RunReport;
  ms: number;
  /** The scenario's hard bound was hit and the process SIGKILLed. */
  hung: boolean;
}

export interface CliRun {
  child: ChildProcess;
  startedAt: number;
  done: Promise<CliResult>;
  /** Resolves when a stderr line matches (false when the process ended first). */
  line(re: RegExp): Promise<boolean>;
  /** Sends `signal`; for SIGTERM, SIGKILL follows after graceMs when still alive (the Actions runner). */
  kill(signal: 'SIGTERM' | 'SIGKILL', graceMs?: number): void;
}

/** Starts `safe-drain <args> --output json -v` as one node process (SIGKILL hits the process talking to the API). */
export function startDrain(args: string[], hardBoundMs: number): CliRun {
  const child = spawn(process.execPath, [...entryCommand('cli'), ...args, '--output', 'json', '-v'], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startedAt = Date.now();
  let stdout = '';
  let stderr = '';
  const lineWaiters = new Set<{ re: RegExp; resolve: (v: boolean) => void }>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of [...lineWaiters]) {
      if (w.re.test(stderr)) {
        lineWaiters.delete(w);
        w.resolve(true);
      }
    }
  });
  let hung = false;
  const bound = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, hardBoundMs);
  let killTimer: NodeJS.Timeout | undefined;
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(bound);
      if (killTimer) clearTimeout(killTimer);
      for (const w of lineWaiters) w.resolve(false);
      let report: RunReport | undefined;
      try {
        report = JSON.parse(stdout) as RunReport;
      } catch {
        report = undefined;
      }
      // A report the CLI printed must match the published schema (a killed run may print none).
      try {
        if (report) expectValidReport(report, `the CLI's JSON report (safe-drain ${args.join(' ')})`);
      } catch (err) {
        reject(err as Error);
        return;
      }
      resolve({ code, signal, stdout, stderr, report, ms: Date.now() - startedAt, hung });
    });
  });
  return {
    child,
    startedAt,
    done,
    line: (re) => (re.test(stderr) ? Promise.resolve(true) : new Promise((resolve) => lineWaiters.add({ re, resolve }))),
    kill(signal, graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      if (signal === 'SIGTERM') killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    },
  };
}

// ---- outcome --------------------------------------------------------------------------------

export type Outcome = 'completed' | 'failed with report' | 'failed without report' | 'cancelled with report' | 'killed' | 'hung';

export function outcomeOf(r: CliResult): Outcome {
  if (r.hung) return 'hung';
  if (r.signal === 'SIGKILL' || r.code === null) return 'killed';
  if (r.code === 0 && r.report?.success) return 'completed';
  if (r.report && (r.report.error || r.report.nodes.some((n) => n.error || n.blocked.length))) {
    return /cancel/i.test(JSON.stringify(r.report.error ?? r.report.nodes.map((n) => n.error))) ? 'cancelled with report' : 'failed with report';
  }
  return 'failed without report';
}

/**
 * Disagreements between the report and the cluster: pods reported evicted still on the node
 * (not terminating), and the node's cordon state other than reported.
 */
export async function reportDisagreements(ctx: FaultContext, report: RunReport | undefined): Promise<string[]> {
  if (!report) return [];
  const out: string[] = [];
  for (const n of report.nodes) {
    const node = await ctx.core.readNode({ name: n.node });
    const cordoned = node.spec?.unschedulable === true;
    const reported = n.cordoned && !n.uncordoned;
    if (cordoned !== reported) out.push(`node ${n.node}: report says cordoned=${reported}, cluster says ${cordoned}`);
    for (const r of n.results) {
      if (!['evicted', 'migrated', 'deleted', 'evicted-not-confirmed'].includes(r.outcome)) continue;
      const [namespace, name] = r.pod.split('/') as [string, string];
      try {
        const pod = await ctx.core.readNamespacedPod({ namespace, name });
        const terminating = pod.metadata?.deletionTimestamp !== undefined;
        if (!terminating || r.outcome !== 'evicted-not-confirmed') {
          if (!terminating) out.push(`pod ${r.pod}: report says ${r.outcome}, still on ${pod.spec?.nodeName} and not terminating`);
        }
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    }
  }
  return out;
}

/** The report names what is done and what is left (a failed run must). */
export function reportNamesWhatIsLeft(report: RunReport | undefined): boolean {
  if (!report) return false;
  if (report.success) return true;
  return report.error !== undefined || report.nodes.some((n) => n.error !== undefined || n.blocked.length > 0) || report.summary.length > 0;
}

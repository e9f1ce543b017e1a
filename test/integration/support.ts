// Shared helpers for integration tests: a real control plane per test file (cluster/src), a
// client for it, the engine driven as the shells drive it, and watchers that record what the
// cluster did so tests assert on observed behaviour, never on timing.
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import {
  AppsV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1ClusterRole,
  type V1Deployment,
  type V1Pod,
  type V1PodDisruptionBudget,
} from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureBinaries, POD_READY_DELAY_ANNOTATION, startCluster, type LocalCluster } from '../../cluster/src/index.js';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
import { runSafeDrain } from '../../src/engine/run.js';
import { DEFAULT_OPTIONS, type DrainOptions, type Logger, type RunReport } from '../../src/engine/types.js';
import { expectValidReport } from '../report-schema.js';
import { deletePodsOffTargets } from '../../faults/placement.js';

export interface TestCluster {
  cluster: LocalCluster;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
}

export async function startTestCluster(opts: Parameters<typeof startCluster>[0] = {}): Promise<TestCluster> {
  const cluster = await startCluster(opts);
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return {
    cluster,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    policy: kc.makeApiClient(PolicyV1Api),
  };
}

/** A cold Go build of the control plane on 2 busy cores (~12 min measured), with room. */
const BINARIES_BUILD_TIMEOUT_MS = 40 * 60_000;
/**
 * Bound on a cluster's start, binaries built: measured 6-8 s, up to ~15 s with the integration
 * workers and a real-nodes cluster beside it on 2 cores. The cluster's own bound comes first and
 * says which component did not come up.
 */
const CLUSTER_START_TIMEOUT_MS = 45_000;

/**
 * One cluster for the whole test file: started in beforeAll, stopped in afterAll, and every node
 * made schedulable again after each test. Returns the TestCluster (usable inside tests only).
 */
export function useCluster(opts: Parameters<typeof startCluster>[0] = {}, { uncordonAfterEach = true } = {}): TestCluster {
  let current: TestCluster | undefined;
  // A cold machine builds the binaries first (scripts/test.sh builds them before this stage):
  // a build, not a test step, so it has its own bound.
  beforeAll(() => ensureBinaries(), BINARIES_BUILD_TIMEOUT_MS);
  beforeAll(async () => {
    current = await startTestCluster({ startTimeoutMs: CLUSTER_START_TIMEOUT_MS, ...opts });
  }, CLUSTER_START_TIMEOUT_MS + 10_000);
  afterAll(async () => {
    await current?.cluster.stop();
  }, 60_000);
  if (uncordonAfterEach) {
    afterEach(async () => {
      for (const n of current?.cluster.nodes ?? []) await current!.cluster.kubectl(['uncordon', n]);
    }, 30_000);
  }
  return new Proxy({} as TestCluster, {
    get(_target, prop) {
      if (!current) throw new Error('the test cluster is not started (use it inside a test)');
      return current[prop as keyof TestCluster];
    },
  });
}

/** A Logger that keeps every line (tests can assert on what a user would read). */
export function memoryLogger(echo = !!process.env.SAFE_DRAIN_TEST_LOG): Logger & { lines: string[] } {
  const lines: string[] = [];
  const started = Date.now();
  // Milliseconds since the logger was made: when a test fails on timing, its log says when.
  const push = (level: string) => (m: string) => {
    lines.push(`+${Date.now() - started}ms ${level}: ${m}`);
    if (echo) console.log(`${level}: ${m}`);
  };
  return {
    lines,
    info: push('info'),
    warn: push('warn'),
    error: push('error'),
    debug: push('debug'),
    group: async (name, fn) => {
      lines.push(`group: ${name}`);
      return fn();
    },
  };
}

export async function drain(
  tc: TestCluster,
  opts: Partial<DrainOptions>,
  extra: { kubeconfigPath?: string; logger?: Logger & { lines: string[] }; signal?: AbortSignal; checksOutageBoundMs?: number } = {},
): Promise<{ report: RunReport; log: string[] }> {
  const logger = extra.logger ?? memoryLogger();
  const report = await runSafeDrain(
    { ...DEFAULT_OPTIONS, nodes: [], ...opts },
    {
      kubeconfigPath: extra.kubeconfigPath ?? tc.cluster.kubeconfigPath,
      logger,
      origin: 'integration-test',
      ...(extra.signal && { signal: extra.signal }),
      ...(extra.checksOutageBoundMs !== undefined && { checksOutageBoundMs: extra.checksOutageBoundMs }),
    },
  );
  // The report as it would be written to a file: every report a test sees matches the published schema.
  expectValidReport(report, 'the run report');
  return { report, log: logger.lines };
}

/** The pod of that name, or undefined when there is none. */
export async function findPod(tc: TestCluster, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await tc.core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Deletes a namespace and waits until it is gone, so the next test's drain does not meet its pods. */
export async function deleteNamespace(tc: TestCluster, name: string): Promise<void> {
  await tc.core.deleteNamespace({ name }).catch(() => undefined);
  await eventually(async () => {
    try {
      await tc.core.readNamespace({ name });
      return false;
    } catch (err) {
      return (err as { code?: number }).code === 404;
    }
  }, `namespace ${name} deleted`, 120_000);
}

/**
 * Namespaces the running test makes, deleted (and waited out) after it, pass or fail, so that one
 * failure does not spill into the next test: `const ns = namespace('pdb-serial')` in the test.
 */
export function namespacesDeletedAfterEach(tc: TestCluster): (name: string) => string {
  const made: string[] = [];
  afterEach(async () => {
    for (const ns of made.splice(0)) await deleteNamespace(tc, ns);
  }, 120_000);
  return (name) => {
    made.push(name);
    return name;
  };
}

export async function ensureNamespace(tc: TestCluster, name: string): Promise<void> {
  try {
    await tc.core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

export function deployment(
  namespace: string,
  name: string,
  replicas: number,
  extra: {
    nodeSelector?: Record<string, string>;
    strategy?: V1Deployment['spec'] extends infer S ? (S extends { strategy?: infer T } ? T : never) : never;
    priorityClassName?: string;
    emptyDir?: boolean;
    /** kwok makes the pods Ready only after this long (e.g. "1s"): a replacement is observably not Ready for a while. */
    readyDelay?: string;
  } = {},
): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      strategy: extra.strategy,
      template: {
        metadata: { labels, annotations: extra.readyDelay ? { [POD_READY_DELAY_ANNOTATION]: extra.readyDelay } : undefined },
        spec: {
          nodeSelector: extra.nodeSelector,
          priorityClassName: extra.priorityClassName,
          containers: [{ name: 'app', image: 'registry.invalid/sample:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
          volumes: extra.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : undefined,
        },
      },
    },
  };
}

export function pdb(namespace: string, name: string, app: string, spec: { minAvailable?: number | string; maxUnavailable?: number | string }): V1PodDisruptionBudget {
  return { metadata: { name, namespace }, spec: { selector: { matchLabels: { app } }, ...spec } };
}

/** Creates a PDB and waits until the disruption controller reports `allowed` for it (setup). */
export async function createPdb(tc: TestCluster, ns: string, body: V1PodDisruptionBudget, allowed: number): Promise<void> {
  await tc.policy.createNamespacedPodDisruptionBudget({ namespace: ns, body });
  await eventually(async () => {
    const p = await tc.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: body.metadata!.name! });
    return (p.status?.observedGeneration ?? -1) >= (p.metadata?.generation ?? 0) && p.status?.disruptionsAllowed === allowed;
  }, `PDB ${ns}/${body.metadata?.name} observed with ${allowed} allowed`);
}

export function isPodReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * Makes a Running pod not Ready, as a kubelet reports a failing readiness probe; kwok leaves it so
 * for an hour. `confirm: false` when something may evict the pod at once (it is then gone).
 */
export async function makeNotReady(tc: TestCluster, ns: string, name: string, { confirm = true } = {}): Promise<void> {
  await tc.cluster.kubectl(['-n', ns, 'annotate', 'pod', name, `${POD_READY_DELAY_ANNOTATION}=1h`]);
  await tc.cluster.kubectl([
    '-n', ns, 'patch', 'pod', name, '--subresource=status', '--type=strategic',
    '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'ContainersReady', status: 'False' }] } }),
  ]);
  if (!confirm) return;
  await eventually(async () => {
    const p = await tc.core.readNamespacedPod({ namespace: ns, name });
    return p.status?.phase === 'Running' && !isPodReady(p);
  }, `${ns}/${name} Running and not Ready`);
}

/** Polls `fn` until it returns a truthy value (setup only; never used to assert timing). */
export async function eventually<T>(fn: () => Promise<T | undefined | false | null>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

export async function podsOf(tc: TestCluster, namespace: string, app: string): Promise<V1Pod[]> {
  return (await tc.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

/** A Service `name` over the pods labelled app=`name`, once its EndpointSlices show a ready endpoint (setup). */
export async function exposeWithReadyEndpoint(tc: TestCluster, namespace: string, name: string): Promise<void> {
  await tc.core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } } });
  const discovery = tc.kc.makeApiClient(DiscoveryV1Api);
  await eventually(async () => {
    const slices = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${name}` });
    return slices.items.some((s) => s.endpoints?.some((e) => e.conditions?.ready));
  }, `the Service ${namespace}/${name} with a ready endpoint`);
}

/** Waits until the Deployment has `n` ready pods (setup). */
export async function waitReady(tc: TestCluster, namespace: string, app: string, n: number): Promise<V1Pod[]> {
  return eventually(async () => {
    const pods = (await podsOf(tc, namespace, app)).filter((p) => !p.metadata?.deletionTimestamp && isPodReady(p));
    return pods.length >= n ? pods : undefined;
  }, `${n} ready pods of ${namespace}/${app}`);
}

/**
 * Creates `replicas` pods of a new Deployment (in a namespace made if missing) that all land on
 * `node`: the other nodes are cordoned while they schedule, and made schedulable again after.
 */
export async function deployOn(
  tc: TestCluster,
  node: string,
  ns: string,
  name: string,
  replicas: number,
  extra: Parameters<typeof deployment>[3] = {},
): Promise<V1Pod[]> {
  await ensureNamespace(tc, ns);
  const unpin = await pinTo(tc, node);
  try {
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, name, replicas, extra) });
    return await eventually(async () => {
      const live = (await podsOf(tc, ns, name)).filter((p) => !p.metadata?.deletionTimestamp);
      const ready = (await deletePodsOffTargets(tc.core, ns, live, [node])).filter(isPodReady);
      return ready.length >= replicas && ready.length === live.length ? ready : undefined;
    }, `${replicas} ready pods of ${ns}/${name}, all on ${node}`);
  } finally {
    await unpin();
  }
}

/** Cordons every node but `keep`, so the next pods land on `keep`; returns a function undoing it. */
export async function pinTo(tc: TestCluster, keep: string): Promise<() => Promise<void>> {
  const others = tc.cluster.nodes.filter((n) => n !== keep);
  for (const n of others) await tc.cluster.kubectl(['cordon', n]);
  return async () => {
    for (const n of others) await tc.cluster.kubectl(['uncordon', n]);
  };
}

/**
 * When `what` first happened among the observations: fails, naming it, when it never did (Math.min
 * of no value is Infinity, which would pass every "before" and "at most" check).
 */
export function firstTime<T>(events: Observation<T>[], what: string, happened: (e: Observation<T>) => boolean): number {
  const times = events.filter(happened).map((e) => e.at);
  if (times.length === 0) throw new Error(`never observed: ${what}`);
  return Math.min(...times);
}

export interface Observation<T> {
  at: number;
  type: string;
  obj: T;
}

/** Records every watch event of a collection until stop() (the engine's ResourceWatch: reconnects, resumes). */
export async function record<T extends KubernetesObject>(
  tc: TestCluster,
  path: string,
  query: { fieldSelector?: string; labelSelector?: string } = {},
): Promise<{ events: Observation<T>[]; stop: () => void }> {
  const events: Observation<T>[] = [];
  const watch = new ResourceWatch<T>(tc.kc, { path, ...query });
  watch.subscribe((type, obj) => events.push({ at: Date.now(), type, obj }));
  await watch.start();
  return { events, stop: () => watch.stop() };
}

/** The ClusterRole this project ships (rbac/safe-drain-clusterrole.yaml). */
export const shippedClusterRole = parse(readFileSync(new URL('../../rbac/safe-drain-clusterrole.yaml', import.meta.url), 'utf8')) as V1ClusterRole;

/** A kubeconfig whose only identity is a ServiceAccount token bound to `role` (created as `name`). */
export async function kubeconfigForRole(tc: TestCluster, role: V1ClusterRole, name: string): Promise<string> {
  const rbac = tc.kc.makeApiClient(RbacAuthorizationV1Api);
  await tc.core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name } } });
  await rbac.createClusterRole({ body: { ...role, metadata: { name } } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'kube-system' }],
    },
  });
  const tr = await tc.core.createNamespacedServiceAccountToken({ namespace: 'kube-system', name, body: { spec: { expirationSeconds: 3600 } } });
  const cluster = tc.kc.getCurrentCluster()!;
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData ?? Buffer.from(readFileSync(cluster.caFile!)).toString('base64') } }],
    users: [{ name, user: { token: tr.status!.token } }],
    contexts: [{ name, context: { cluster: 'local', user: name } }],
    'current-context': name,
  };
  const path = join(tc.cluster.stateDir, `${name}.kubeconfig.json`);
  writeFileSync(path, JSON.stringify(cfg), { mode: 0o600 });
  return path;
}

// The three migration paths, measured on any backend:
//  a. the default: the kubelet stops; Kubernetes waits for the node-monitor grace period and
//     the 300 s default tolerations before rebuilding the pod elsewhere;
//  b. a plain drain (safe-drain, migration: evict, no PDB): a single replica still goes dark
//     while its replacement starts;
//  c. safe-drain with a PDB minAvailable 1 and migration: surge: no moment without a ready endpoint.
// The sample app models a real service that takes SAMPLE_APP_STARTUP_SECONDS (8 s) to start and
// is Ready only then, on every backend (e2e/sample-app.ts): b measures the gap a plain drain
// leaves while the replacement starts, c shows the surge path waits for it. b and c judge only
// the drain window (from the drain's start until the replacement is Ready and has settled):
// samples taken before the drain starts say nothing about it.
// In b and c safe-drain runs with its availability gate on the app's Service (report only), and
// each scenario checks that safe-drain's reported downtime agrees with this harness's own
// measurement (the oracle: HTTP requests on kind and real nodes, an EndpointSlice watch on the
// local backend) within AVAILABILITY_AGREEMENT_SECONDS. Only b and c: `E2E_SCENARIOS=b,c` (or
// `npm run e2e -- --scenarios b,c`) leaves out the 300 s of a.
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  PolicyV1Api,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
  type V1PodDisruptionBudget,
} from '@kubernetes/client-node';
import { DEFAULT_AVAILABILITY, type ServiceAvailability } from '../src/engine/availability/types.js';
import { ResourceWatch } from '../src/engine/kube/watch.js';
import { runSafeDrain } from '../src/engine/run.js';
import { reportSchemaProblems } from '../test/report-schema.js';
import { DEFAULT_OPTIONS, type DrainOptions, type Logger } from '../src/engine/types.js';
import type { AvailabilitySample, ClusterBackend } from './backend.js';
import {
  availabilityTransitions,
  describeFailedSamples,
  downtimeFromSamples,
  mergeTimelines,
  samplesWithin,
  type SampleWindow,
  type TimelineEvent,
} from './availability.js';
import { SAMPLE_APP_POD_ANNOTATIONS, SAMPLE_APP_READINESS_PROBE, SAMPLE_APP_STARTUP_SECONDS } from './sample-app.js';

export type ScenarioId = 'a-kubelet-stop-default' | 'b-plain-drain' | 'c-safe-drain-surge';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: ScenarioId;
  title: string;
  downtimeSeconds: number;
  /** Seconds from the scenario's start (the kubelet stop or the drain start). */
  events: Record<string, number>;
  passed: boolean;
  checks: Check[];
  timeline: TimelineEvent[];
  samples: AvailabilitySample[];
  startedAt: number;
  /** The span downtimeSeconds and the availability checks are about (epoch ms). */
  window: SampleWindow;
  /**
   * b and c: what safe-drain's own availability gate reported for the app's Service (its
   * EndpointSlices, watched by the engine), beside this harness's measurement (the oracle).
   */
  safeDrainAvailability?: { service: string; downtimeSeconds: number; minReady: number; initialReady: number };
}

/** How far safe-drain's reported downtime may be from the harness's own measurement (issue 10). */
export const AVAILABILITY_AGREEMENT_SECONDS = 0.5;

const APP = 'helloworld';
/** How late after the toleration runs out the taint-eviction controller may act and still pass. */
export const TOLERATION_SLACK_SECONDS = 30;
export const DEFAULT_TOLERATION_SECONDS = 300;

interface Ctx {
  backend: ClusterBackend;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
  log: (m: string) => void;
}

export function makeContext(backend: ClusterBackend, log: (m: string) => void): Ctx {
  const kc = new KubeConfig();
  kc.loadFromFile(backend.kubeconfigPath);
  return { backend, kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), policy: kc.makeApiClient(PolicyV1Api), log };
}

const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The sample service (e2e/sample-app.ts): Deployment helloworld (1 replica, Ready only
 * SAMPLE_APP_STARTUP_SECONDS after start) and its Service, in a fresh namespace.
 */
async function deployHelloworld(ctx: Ctx, ns: string, withPdb: boolean): Promise<V1Pod> {
  const labels = { app: APP };
  await ctx.core.createNamespace({ body: { metadata: { name: ns } } });
  await ctx.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: APP, namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { ...SAMPLE_APP_POD_ANNOTATIONS, ...ctx.backend.samplePodAnnotations } },
          spec: {
            // No tolerations here: the API server's DefaultTolerationSeconds adds the 300 s ones.
            containers: [
              {
                name: APP,
                image: ctx.backend.sampleImage,
                args: ctx.backend.sampleArgs,
                ports: [{ containerPort: 8080 }],
                readinessProbe: { ...SAMPLE_APP_READINESS_PROBE, httpGet: { ...SAMPLE_APP_READINESS_PROBE.httpGet } },
              },
            ],
          },
        },
      },
    },
  });
  await ctx.core.createNamespacedService({
    namespace: ns,
    body: { metadata: { name: APP, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }], type: 'NodePort' } },
  });
  if (withPdb) {
    await ctx.policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: APP, namespace: ns }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
    });
  }
  const pod = await until('helloworld Ready', 180_000, async () => {
    const pods = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` })).items;
    return pods.find((p) => isReady(p) && !p.metadata?.deletionTimestamp);
  });
  if (withPdb) {
    await until('PDB observed', 60_000, async () => {
      const p = await ctx.policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: APP });
      return p.status?.observedGeneration === p.metadata?.generation && p.status?.currentHealthy === 1;
    });
  }
  return pod;
}

/**
 * Records watch events of a path (with their arrival time) until stop(). Through the engine's
 * ResourceWatch, which reconnects and resumes: a scenario outlasts any single watch connection.
 */
async function recordWatch<T extends KubernetesObject>(kc: KubeConfig, path: string, query: { fieldSelector?: string; labelSelector?: string } = {}) {
  const events: { at: number; type: string; obj: T }[] = [];
  const watch = new ResourceWatch<T>(kc, { path, ...query });
  watch.subscribe((type, obj) => events.push({ at: Date.now(), type, obj }));
  await watch.start();
  return { events, stop: () => watch.stop() };
}

function engineLogger(log: (m: string) => void, timeline: TimelineEvent[]): Logger {
  const push = (level: string) => (m: string) => {
    if (level !== 'debug') timeline.push({ at: Date.now(), source: 'safe-drain', message: m });
    if (level !== 'debug') log(`    safe-drain ${level}: ${m}`);
  };
  return { info: push('info'), warn: push('warn'), error: push('error'), debug: push('debug'), group: (_n, fn) => fn() };
}

function finish(
  scenario: ScenarioId,
  title: string,
  startedAt: number,
  samples: AvailabilitySample[],
  marks: Record<string, number | undefined>,
  checks: Check[],
  extra: TimelineEvent[],
  window: SampleWindow,
  safeDrainAvailability?: ScenarioResult['safeDrainAvailability'],
): ScenarioResult {
  const downtime = downtimeFromSamples(samplesWithin(samples, window));
  const events: Record<string, number> = {};
  for (const [k, v] of Object.entries(marks)) if (v !== undefined) events[k] = Math.round((v - startedAt) / 10) / 100;
  const timeline = mergeTimelines(
    availabilityTransitions(samples),
    Object.entries(marks)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ({ at: v!, source: 'cluster', message: k })),
    extra,
  );
  return {
    scenario,
    title,
    downtimeSeconds: downtime.totalSeconds,
    events,
    passed: checks.every((c) => c.ok),
    checks,
    timeline,
    samples,
    startedAt,
    window,
    ...(safeDrainAvailability ? { safeDrainAvailability } : {}),
  };
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

function firstAt<T>(events: { at: number; obj: T }[], pred: (o: T) => boolean): number | undefined {
  return events.find((e) => pred(e.obj))?.at;
}

function taint(n: V1Node, effect: string) {
  return n.spec?.taints?.find((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === effect);
}

/** a. Stop the kubelet and let Kubernetes do what it does by default. */
export async function scenarioKubeletStop(ctx: Ctx): Promise<ScenarioResult> {
  const ns = 'e2e-a';
  const pod = await deployHelloworld(ctx, ns, false);
  const node = pod.spec!.nodeName!;
  const tolerations = pod.spec?.tolerations ?? [];
  const has300 = (key: string) => tolerations.some((t) => t.key === key && t.effect === 'NoExecute' && t.tolerationSeconds === DEFAULT_TOLERATION_SECONDS);
  const probe = await ctx.backend.startAvailabilityProbe({ namespace: ns, service: APP, port: 80 });
  const nodes = await recordWatch<V1Node>(ctx.kc, '/api/v1/nodes', { fieldSelector: `metadata.name=${node}` });
  const pods = await recordWatch<V1Pod>(ctx.kc, `/api/v1/namespaces/${ns}/pods`);
  const startedAt = Date.now();
  ctx.log(`  stopping the kubelet of ${node}; Kubernetes defaults from here (this takes over 5 minutes)`);
  await ctx.backend.stopKubelet(node);
  let replacement: V1Pod | undefined;
  try {
    replacement = await until('a replacement Ready on another node', (60 + DEFAULT_TOLERATION_SECONDS + 240) * 1000, async () => {
      const ps = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` })).items;
      return ps.find((p) => p.spec?.nodeName !== node && isReady(p) && !p.metadata?.deletionTimestamp);
    });
    // Let the probe see the endpoint come back.
    await until('service available again', 60_000, async () => {
      const eps = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` })).items;
      return eps.some((p) => p.spec?.nodeName !== node && isReady(p));
    });
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    nodes.stop();
    pods.stop();
  }
  const window: SampleWindow = { from: startedAt, to: Date.now() };
  const samples = await probe.stop();
  await ctx.backend.startKubelet(node);

  const notReadyAt = firstAt(nodes.events, (n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True');
  const noScheduleAt = firstAt(nodes.events, (n) => !!taint(n, 'NoSchedule'));
  const noExecuteAt = firstAt(nodes.events, (n) => !!taint(n, 'NoExecute'));
  const noExecuteAdded = nodes.events.map((e) => taint(e.obj, 'NoExecute')?.timeAdded).find((t) => t);
  const evicted = pods.events.find((e) => e.obj.metadata?.name === pod.metadata?.name && e.obj.metadata?.deletionTimestamp);
  const evictedAt = evicted?.at;
  const reason = evicted?.obj.status?.conditions?.find((c) => c.type === 'DisruptionTarget')?.reason;
  const replacementReadyAt = firstAt(pods.events, (p) => p.metadata?.name !== pod.metadata?.name && isReady(p) && p.spec?.nodeName !== node);
  const taintTime = noExecuteAdded ? new Date(noExecuteAdded).getTime() : noExecuteAt;
  const afterTaint = evictedAt !== undefined && taintTime !== undefined ? (evictedAt - taintTime) / 1000 : undefined;
  const downtime = downtimeFromSamples(samplesWithin(samples, window));
  const checks = [
    check('pod carries the default 300 s not-ready toleration (added by the API server)', has300('node.kubernetes.io/not-ready'), JSON.stringify(tolerations)),
    check('pod carries the default 300 s unreachable toleration (added by the API server)', has300('node.kubernetes.io/unreachable'), ''),
    check('node went NotReady', notReadyAt !== undefined, `at +${notReadyAt !== undefined ? ((notReadyAt - startedAt) / 1000).toFixed(1) : '?'} s`),
    check('node got unreachable:NoSchedule', noScheduleAt !== undefined, ''),
    check('node got unreachable:NoExecute', noExecuteAt !== undefined, ''),
    check(
      `pod evicted no earlier than ${DEFAULT_TOLERATION_SECONDS} s after the NoExecute taint, within ${TOLERATION_SLACK_SECONDS} s slack`,
      afterTaint !== undefined && afterTaint >= DEFAULT_TOLERATION_SECONDS - 1 && afterTaint <= DEFAULT_TOLERATION_SECONDS + TOLERATION_SLACK_SECONDS,
      `evicted ${afterTaint?.toFixed(1)} s after the taint (DisruptionTarget reason ${reason ?? 'none'})`,
    ),
    check('replacement Ready on another node', replacement !== undefined && replacementReadyAt !== undefined, replacement?.spec?.nodeName ?? ''),
    check('downtime measured and > 0', downtime.totalSeconds > 0, `${downtime.totalSeconds} s`),
  ];
  await ctx.core.deleteNamespace({ name: ns }).catch(() => undefined);
  return finish(
    'a-kubelet-stop-default',
    'Kubelet stopped, Kubernetes defaults (grace period + 300 s tolerations)',
    startedAt,
    samples,
    { 'kubelet-stopped': startedAt, 'node-not-ready': notReadyAt, 'tainted-noschedule': noScheduleAt, 'tainted-noexecute': noExecuteAt, 'pod-evicted': evictedAt, 'replacement-ready': replacementReadyAt },
    checks,
    [],
    window,
  );
}

async function drainScenario(ctx: Ctx, id: ScenarioId, title: string, ns: string, withPdb: boolean, options: Partial<DrainOptions>): Promise<ScenarioResult> {
  const pod = await deployHelloworld(ctx, ns, withPdb);
  const node = pod.spec!.nodeName!;
  const probe = await ctx.backend.startAvailabilityProbe({ namespace: ns, service: APP, port: 80 });
  const pods = await recordWatch<V1Pod>(ctx.kc, `/api/v1/namespaces/${ns}/pods`);
  const pdbs = await recordWatch<V1PodDisruptionBudget>(ctx.kc, `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`);
  const engineTimeline: TimelineEvent[] = [];
  const startedAt = Date.now();
  ctx.log(`  draining ${node} with safe-drain (migration: ${options.migration})`);
  // safe-drain's availability gate watches the app's Service (report only: no limit), so its
  // figure can be held against this harness's own measurement below.
  const service = `${ns}/${APP}`;
  const availability = { ...DEFAULT_AVAILABILITY, selection: { mode: 'services' as const, services: [service] } };
  const report = await runSafeDrain(
    { ...DEFAULT_OPTIONS, nodes: [node], timeoutMs: 300_000, availability, ...options },
    { kubeconfigPath: ctx.backend.kubeconfigPath, logger: engineLogger(ctx.log, engineTimeline), origin: `e2e ${id}` },
  );
  const drainedAt = Date.now();
  const replacement = await until('replacement Ready', 180_000, async () => {
    const ps = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: `app=${APP}` })).items;
    return ps.find((p) => p.spec?.nodeName !== node && isReady(p) && !p.metadata?.deletionTimestamp);
  });
  // Settle: the probe sees the replacement's endpoint (kube-proxy programs it after Ready).
  await new Promise((r) => setTimeout(r, 2000));
  pods.stop();
  pdbs.stop();
  // The drain window: the drain's start until now (replacement Ready and settled).
  const window: SampleWindow = { from: startedAt, to: Date.now() };
  const samples = await probe.stop();
  const inWindow = samplesWithin(samples, window);

  const evictedAt = firstAt(pods.events, (p) => p.metadata?.name === pod.metadata?.name && !!p.metadata?.deletionTimestamp);
  const replacementReadyAt = firstAt(pods.events, (p) => p.metadata?.name !== pod.metadata?.name && isReady(p) && p.spec?.nodeName !== node);
  const startup = replacementStartupSeconds(pods.events.map((e) => e.obj), pod.metadata?.name, node);
  const downtime = downtimeFromSamples(inWindow);
  const failedLines = describeFailedSamples(inWindow, startedAt);
  const n = await ctx.core.readNode({ name: node });
  const left = (await ctx.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })).items.filter(
    (p) => p.metadata?.namespace === ns && !p.metadata?.deletionTimestamp,
  );
  const d = await ctx.apps.readNamespacedDeployment({ namespace: ns, name: APP });
  const budgetViolations = pdbs.events.filter((e) => (e.obj.status?.currentHealthy ?? 0) < (e.obj.status?.desiredHealthy ?? 0));
  const reported: ServiceAvailability | undefined = report.availability?.services.find((x) => x.service === service);
  const disagreement = reported ? Math.abs(reported.downtimeSeconds - downtime.totalSeconds) : undefined;
  const checks: Check[] = [
    check('safe-drain reported success', report.success, report.summary),
    check("safe-drain's report matches docs/report.schema.json", reportSchemaProblems(report) === undefined, reportSchemaProblems(report) ?? 'it does'),
    check(
      `safe-drain's reported downtime for ${service} agrees with the harness's measurement within ${AVAILABILITY_AGREEMENT_SECONDS} s`,
      disagreement !== undefined && disagreement <= AVAILABILITY_AGREEMENT_SECONDS,
      reported
        ? `safe-drain ${reported.downtimeSeconds.toFixed(3)} s (EndpointSlices, ready ${reported.initialReady} → min ${reported.minReady}), harness ${downtime.totalSeconds.toFixed(3)} s (${ctx.backend.name === 'local' ? 'EndpointSlice watch' : 'HTTP requests'}), difference ${disagreement!.toFixed(3)} s`
        : `the report has no availability for ${service} (availability: ${JSON.stringify(report.availability ?? null)})`,
    ),
    check('node cordoned', n.spec?.unschedulable === true, ''),
    check('no movable pod of the app left on the node', left.length === 0, left.map((p) => p.metadata?.name).join(', ')),
    check('replacement Ready on another node', !!replacement, replacement.spec?.nodeName ?? ''),
    check('replicas restored to 1', d.spec?.replicas === 1, `replicas ${d.spec?.replicas}`),
    check(
      `the sample app models a slow start: the replacement became Ready no sooner than ${SAMPLE_APP_STARTUP_SECONDS} s after it was created`,
      startup !== undefined && startup >= SAMPLE_APP_STARTUP_SECONDS,
      startup === undefined ? 'no Ready transition of the replacement observed' : `${startup} s from creation to Ready (whole seconds, API timestamps)`,
    ),
  ];
  const windowDetail = `${inWindow.length} samples in the drain window (+0 s to +${((window.to - startedAt) / 1000).toFixed(1)} s)`;
  if (id === 'b-plain-drain') {
    checks.push(check('a single replica goes dark during a plain drain (downtime > 0)', downtime.totalSeconds > 0, `${downtime.totalSeconds} s down; ${windowDetail}`));
  } else {
    checks.push(
      check(
        'not one observed moment without a ready endpoint during the drain',
        inWindow.length > 0 && failedLines.length === 0,
        failedLines.length === 0
          ? `${windowDetail}, none failed`
          : `${downtime.totalSeconds} s down; ${windowDetail}; failed samples (time from the drain's start): ${failedLines.join('; ')}`,
      ),
    );
    checks.push(check('the PDB was never violated (currentHealthy >= desiredHealthy in every observed status)', budgetViolations.length === 0, `${pdbs.events.length} PDB events`));
  }
  await ctx.core.deleteNamespace({ name: ns }).catch(() => undefined);
  await ctx.core.patchNode({ name: node, body: [{ op: 'replace', path: '/spec/unschedulable', value: false }] }).catch(() => undefined);
  return finish(
    id,
    title,
    startedAt,
    samples,
    { 'drain-started': startedAt, 'pod-evicted': evictedAt, 'replacement-ready': replacementReadyAt, 'drain-finished': drainedAt },
    checks,
    engineTimeline,
    window,
    reported ? { service, downtimeSeconds: reported.downtimeSeconds, minReady: reported.minReady, initialReady: reported.initialReady } : undefined,
  );
}

/**
 * Seconds from creation to the Ready transition of the first replacement pod (not `original`,
 * not on `node`) seen Ready, from API timestamps (whole seconds); undefined if none was seen.
 */
function replacementStartupSeconds(observed: V1Pod[], original: string | undefined, node: string): number | undefined {
  const p = observed.find((x) => x.metadata?.name !== original && x.spec?.nodeName !== node && isReady(x));
  const created = p?.metadata?.creationTimestamp;
  const ready = p?.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
  if (!created || !ready) return undefined;
  return Math.round((new Date(ready).getTime() - new Date(created).getTime()) / 1000);
}

export function scenarioPlainDrain(ctx: Ctx): Promise<ScenarioResult> {
  return drainScenario(ctx, 'b-plain-drain', 'Plain drain, no PDB (safe-drain migration: evict)', 'e2e-b', false, { migration: 'evict' });
}

export function scenarioSafeDrain(ctx: Ctx): Promise<ScenarioResult> {
  return drainScenario(ctx, 'c-safe-drain-surge', 'safe-drain, PDB minAvailable 1, migration: surge', 'e2e-c', true, { migration: 'surge' });
}

// Bad input that only the cluster can judge fails before any change, naming the input and the
// fix; and what a run leaves for people: Events on the node, wait-for-replacements.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ANNOTATION_ORIGINAL_REPLICAS,
  ANNOTATION_RAISED_REPLICAS,
  ANNOTATION_SCALED_FOR_NODE,
  LABEL_SCALED,
} from '../../src/engine/execute/restore.js';
import type { V1Pod } from '@kubernetes/client-node';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
import type { AvailabilityReport } from '../../src/engine/availability/types.js';
import { InputError, type RunReport } from '../../src/engine/types.js';
import { ClusterUnreachable, EXIT_CODES } from '../../src/engine/errors.js';
import { deployOn, deployment, drain, ensureNamespace, exposeWithReadyEndpoint, namespacesDeletedAfterEach, pinTo, useCluster, waitReady } from './support.js';
import { expectValidReport } from '../report-schema.js';
import { runActionStep } from './action-step.js';
import { REPO, entryCommand } from '../bundle.js';
import { runProcess } from './cli-process.js';

const tc = useCluster({ nodes: [{ name: 'w1', labels: { pool: 'blue' } }, { name: 'w2', labels: { pool: 'green' } }, { name: 'w3', labels: { pool: 'green' } }] });
const namespace = namespacesDeletedAfterEach(tc);

/** Well formed, but nothing answers at its server. */
const UNREACHABLE_KUBECONFIG =
  'apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: { server: "https://127.0.0.1:1" }\nusers:\n- name: u\n  user: { token: t }\ncontexts:\n- name: c\n  context: { cluster: x, user: u }\ncurrent-context: c\n';

async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('cluster-checked inputs', () => {
  it('an unknown node is named, with the known nodes, and nothing changes', async () => {
    const before = (await tc.core.listNode()).items.map((n) => n.metadata?.resourceVersion);
    const e = await inputError(drain(tc, { nodes: ['w1', 'w9'] }));
    expect(e.input).toBe('node');
    expect(e.message).toMatch(/no node named "w9"/);
    expect(e.fix).toMatch(/Known nodes: w1, w2, w3/);
    expect((await tc.core.listNode()).items.map((n) => n.metadata?.resourceVersion)).toEqual(before);
  }, 60_000);

  it('a selector matching nothing, and a malformed one', async () => {
    const none = await inputError(drain(tc, { selector: 'pool=red' }));
    expect(none.input).toBe('selector');
    expect(none.message).toMatch(/matches no node/);
    const bad = await inputError(drain(tc, { selector: 'pool in (a' }));
    expect(bad.input).toBe('selector');
  }, 60_000);

  it('a kubeconfig pointing at no server', async () => {
    const path = `${tc.cluster.stateDir}/nowhere.kubeconfig`;
    writeFileSync(path, UNREACHABLE_KUBECONFIG);
    // Not bad input: the kubeconfig is well formed; the server does not answer (exit code 4).
    // The checks' 20 s outage bound shortened: what is asserted is the verdict, not the wait.
    const e = await drain(tc, { nodes: ['w1'] }, { kubeconfigPath: path, checksOutageBoundMs: 500 }).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(ClusterUnreachable);
    expect((e as ClusterUnreachable).outcome).toBe('no-access');
    expect((e as Error).message).toMatch(/cannot reach the API server https:\/\/127\.0\.0\.1:1/);
  }, 60_000);
});

describe('what a drain leaves behind', () => {
  it('drains the nodes a selector picks in drain order, records Events on each node, and waits for replacements', async () => {
    const ns = namespace('leaves');
    await ensureNamespace(tc, ns);
    const unpin = await pinTo(tc, 'w2');
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'web', 2) });
    await waitReady(tc, ns, 'web', 2);
    await unpin();

    const { report } = await drain(tc, { selector: 'pool=green', waitForReplacements: true, migration: 'evict', timeoutMs: 45_000 });

    expect(report.success).toBe(true);
    // Drain order: fewest pods to move first (w3 has none), then by name.
    expect(report.nodes.map((n) => n.node)).toEqual(['w3', 'w2']);
    expect(report.drainOrder?.nodes).toEqual(['w3', 'w2']);
    // w2's pods could only go to w1 (w3 is green too, cordoned by the same run): they are all Ready there.
    const pods = await waitReady(tc, ns, 'web', 2);
    expect(pods.every((p) => p.spec?.nodeName === 'w1')).toBe(true);
    expect(report.nodes.find((n) => n.node === 'w2')!.timeline.some((t) => /replacement Ready/.test(t.message))).toBe(true);
    const events = (await tc.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node,involvedObject.name=w2' })).items;
    const reasons = events.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['SafeDrainCordoned', 'SafeDrainStarted', 'SafeDrainSucceeded']));
    expect(events.find((e) => e.reason === 'SafeDrainStarted')?.message).toMatch(/integration-test/);
  }, 60_000);

  it('wait-for-replacements returns only once a replacement is Ready, not on a workload status the eviction has not reached yet', async () => {
    const ns = namespace('replaced');
    const [original] = await deployOn(tc, 'w3', ns, 'slow', 1, { readyDelay: '2s' });
    // kube-controller-manager frozen (SIGSTOP) until the evicted pod is gone: the Deployment's
    // status still counts it as ready when the drain starts waiting, and no replacement exists
    // before kcm resumes (then one is Ready only 2 s after it starts).
    const kcm = tc.cluster.processes()['kube-controller-manager'];
    if (!kcm) throw new Error('no kube-controller-manager process recorded');
    const resume = () => process.kill(kcm, 'SIGCONT');
    const pods = new ResourceWatch<V1Pod>(tc.kc, { path: `/api/v1/namespaces/${ns}/pods` });
    pods.subscribe((type, pod) => {
      if (type === 'DELETED' && pod.metadata?.uid === original!.metadata?.uid) resume();
    });
    let report: RunReport;
    try {
      await pods.start();
      process.kill(kcm, 'SIGSTOP');
      ({ report } = await drain(tc, { nodes: ['w3'], waitForReplacements: true, migration: 'evict', timeoutMs: 45_000 }));
    } finally {
      resume();
      pods.stop();
    }

    expect(report.success).toBe(true);
    const replacement = (await waitReady(tc, ns, 'slow', 1))[0]!;
    expect(replacement.spec?.nodeName).not.toBe('w3');
    // The run says when it saw the replacement Ready; the pod's Ready condition says when it
    // became Ready (truncated to the second, so never later than the truth). Saying it before
    // that is the bug (the old wait read the Deployment's stale readyReplicas).
    const said = report.nodes[0]!.timeline.find((t) => t.message.startsWith('replacement Ready'));
    expect(said).toBeDefined();
    const becameReady = replacement.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime;
    expect(becameReady).toBeDefined();
    expect(Date.parse(report.startedAt) + said!.at).toBeGreaterThanOrEqual(new Date(becameReady!).getTime());
  }, 60_000);
});

// --- the shells as real processes ------------------------------------------------------------------

/** Runs a shell (test/bundle.ts entryCommand) as its own process, as users and the runner start it. */
function runEntry(entry: Parameters<typeof entryCommand>[0], args: string[], env: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, [...entryCommand(entry), ...args], env, REPO);
}

/** What would show that the node was touched: its resourceVersion and cordon. */
async function nodeState(name: string) {
  const node = await tc.core.readNode({ name });
  return { resourceVersion: node.metadata?.resourceVersion, unschedulable: node.spec?.unschedulable ?? false };
}

/** A kubeconfig for a ServiceAccount with no permission at all: every access check is denied. */
async function kubeconfigWithoutPermissions(): Promise<string> {
  const name = 'no-permissions';
  await tc.core.createNamespacedServiceAccount({ namespace: 'kube-system', body: { metadata: { name } } }).catch(() => undefined);
  const tr = await tc.core.createNamespacedServiceAccountToken({ namespace: 'kube-system', name, body: { spec: { expirationSeconds: 3600 } } });
  const cluster = tc.kc.getCurrentCluster()!;
  const ca = cluster.caData ?? readFileSync(cluster.caFile!).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{ name: local, cluster: { server: "${cluster.server}", certificate-authority-data: ${ca} } }]`,
    `users: [{ name: ${name}, user: { token: ${tr.status!.token} } }]`,
    `contexts: [{ name: ${name}, context: { cluster: local, user: ${name} } }]`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

// Issue 8 item 15: inputs the engine cannot honour used to be clamped or rounded into something
// else (600h fired after 1 ms, 0.4ms meant no timeout, "," drained nothing and succeeded).
describe('inputs the engine cannot honour are refused before any change', () => {
  it.each([
    [['--timeout', '600h'], 'option --timeout: "600h" is longer than the maximum 596h31m23.647s'],
    [['--timeout', '0.4ms'], 'option --timeout: "0.4ms" is shorter than 1ms'],
    [['--skip-wait-for-delete-timeout', '2160000'], 'option --skip-wait-for-delete-timeout: 2160000 is too large'],
    [['--grace-period', '99999999999'], 'option --grace-period: 99999999999 is too large'],
    // The availability gate's inputs (issue 10); a Service that does not exist is judged by the cluster.
    [['--max-downtime', 'soon'], 'option --max-downtime: "soon" is not a duration'],
    [['--min-ready-ratio', '2'], 'option --min-ready-ratio: 2 is not above 0 and at most 1'],
    [['--probe-urls', 'ftp://10.0.0.1/health'], 'option --probe-urls: "ftp://10.0.0.1/health" is not an http or https URL'],
    [['--availability', 'default/no-such-service'], 'option --availability: no Service "default/no-such-service" in the cluster'],
  ])('the CLI with %p: exit 2, a JSON report naming the option, node w1 untouched', async (flags, message) => {
    const before = await nodeState('w1');
    const run = await runEntry('cli', ['drain', '--node', 'w1', ...flags, '--kubeconfig', tc.cluster.kubeconfigPath, '-o', 'json']);
    expect(run.stderr).toContain(`error: ${message}`);
    const report = expectValidReport(JSON.parse(run.stdout) as RunReport, 'the CLI\'s JSON report');
    expect(report.success).toBe(false);
    expect(report.error).toContain(message);
    expect(report.summary).toContain('Nothing was changed');
    expect(run.status).toBe(2);
    expect(await nodeState('w1')).toEqual(before);
  }, 60_000);

  it('the Action with node: "," fails naming the input instead of draining nothing and succeeding', async () => {
    const step = await runActionStep({ node: ',', kubeconfig: readFileSync(tc.cluster.kubeconfigPath, 'utf8') });
    expect(step.stdout).toContain('::error::Input "node": "," names no node');
    expect(step.status).toBe(1);
    expect(step.report?.success).toBe(false);
  }, 60_000);
});

// Issue 10: the availability gate through the Action, as the runner runs it.
describe('the availability gate in the Action', () => {
  it('a bad gate input fails the step naming it; nothing changes', async () => {
    const before = await nodeState('w1');
    const kubeconfig = readFileSync(tc.cluster.kubeconfigPath, 'utf8');
    const step = await runActionStep({ node: 'w1', kubeconfig, 'max-downtime': 'soon' });
    expect(step.status).toBe(1);
    expect(step.stdout).toContain('::error::Input "max-downtime": "soon" is not a duration');
    const missing = await runActionStep({ node: 'w1', kubeconfig, availability: 'default/no-such-service' });
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain('::error::Input "availability": no Service "default/no-such-service" in the cluster');
    expect(missing.summary).toContain('Nothing was changed');
    expect(await nodeState('w1')).toEqual(before);
  }, 60_000);

  /** A single-replica Deployment on w1 behind a Service with a ready endpoint (setup). */
  async function singleReplicaBehindService(ns: string): Promise<void> {
    await ensureNamespace(tc, ns);
    const unpin = await pinTo(tc, 'w1');
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'web', 1, { readyDelay: '3s' }) });
    await waitReady(tc, ns, 'web', 1);
    await unpin();
    await exposeWithReadyEndpoint(tc, ns, 'web');
  }

  it('a drain that takes a Service down fails the step at max-downtime 0s, naming it; outputs, summary and restore-after', async () => {
    const ns = namespace('action-gate');
    await singleReplicaBehindService(ns);

    const step = await runActionStep({
      node: 'w1',
      kubeconfig: readFileSync(tc.cluster.kubeconfigPath, 'utf8'),
      migration: 'evict',
      timeout: '2m',
      availability: `${ns}/web`,
      'max-downtime': '0s',
      'restore-after': 'true',
    });

    expect(step.status).toBe(1);
    expect(step.stdout).toMatch(/::error::safe-drain drain failed\. Availability gate failed: action-gate\/web: down [0-9.]+ s \(max-downtime 0s\)\./);
    const availability = JSON.parse(step.outputs.availability!) as AvailabilityReport;
    expect(availability).toMatchObject({ passed: false, selection: `services: ${ns}/web`, measured: true });
    expect(availability.services[0]).toMatchObject({ service: `${ns}/web`, initialReady: 1, minReady: 0, passed: false });
    expect(step.report?.availability).toEqual(availability);
    expect(step.summary).toContain('### Availability gate: failed');
    expect(step.summary).toContain('xychart-beta');
    // restore-after: the node this run cordoned is schedulable again, although the gate failed.
    expect((await nodeState('w1')).unschedulable).toBe(false);
  }, 90_000);

  it('the CLI: the same gate failure exits 3 (gate-failed), names the Service on stderr, and --output json carries availability', async () => {
    const ns = namespace('cli-gate');
    await singleReplicaBehindService(ns);
    const run = await runEntry('cli', [
      'drain',
      '--node',
      'w1',
      '--migration',
      'evict',
      '--timeout',
      '2m',
      '--availability',
      `${ns}/web`,
      '--max-downtime',
      '0s',
      '--restore-after',
      '--kubeconfig',
      tc.cluster.kubeconfigPath,
      '-o',
      'json',
    ]);
    expect(run.status).toBe(EXIT_CODES['gate-failed']);
    expect(run.stderr).toMatch(/error: availability gate failed: cli-gate\/web: down [0-9.]+ s \(max-downtime 0s\)/);
    const report = expectValidReport(JSON.parse(run.stdout) as RunReport, 'the CLI\'s JSON report');
    expect(report.outcome).toBe('gate-failed');
    expect(report.availability).toMatchObject({ passed: false, services: [expect.objectContaining({ service: `${ns}/web`, passed: false })] });
    expect((await nodeState('w1')).unschedulable).toBe(false);
  }, 60_000);
});

// Issue 8 item 16 (the shells' side): outputs, job summary and report file on every path.
describe('a run that stops on an error still publishes its results', () => {
  it('a missing permission: the Action step sets every output, writes the report and a summary saying nothing changed', async () => {
    const before = await nodeState('w1');
    const step = await runActionStep({ node: 'w1', kubeconfig: await kubeconfigWithoutPermissions() });
    expect(step.status).toBe(1);
    expect(step.stdout).toMatch(/::error::safe-drain failed: missing Kubernetes permissions: .*create pods\/eviction/);
    expect(step.outputs).toMatchObject({ evicted: '[]', skipped: '[]', blocked: '[]' });
    expect(Number(step.outputs['duration-seconds'])).toBeGreaterThanOrEqual(0);
    expect(step.report).toMatchObject({ success: false, nodes: [], options: { nodes: ['w1'] } });
    expect(step.report?.error).toContain('missing Kubernetes permissions');
    expect(step.summary).toContain('## safe-drain drain failed');
    expect(step.summary).toContain('missing Kubernetes permissions');
    expect(step.summary).toContain('Nothing was changed');
    expect(await nodeState('w1')).toEqual(before);
  }, 60_000);

  it('an unreachable cluster: the Action step and the CLI (--output json) both report it', async () => {
    const path = join(tc.cluster.stateDir, 'unreachable.kubeconfig');
    writeFileSync(path, UNREACHABLE_KUBECONFIG);
    // Both wait out the checks' real 20 s outage bound: side by side.
    const [step, run] = await Promise.all([
      runActionStep({ node: 'w1', kubeconfig: UNREACHABLE_KUBECONFIG }),
      runEntry('cli', ['plan', '--node', 'w1', '--kubeconfig', path, '--output', 'json']),
    ]);
    expect(step.status).toBe(1);
    expect(step.outputs).toMatchObject({ evicted: '[]', skipped: '[]', blocked: '[]' });
    expect(step.report?.error).toMatch(/cannot reach the API server https:\/\/127\.0\.0\.1:1 \(kubeconfig from the kubeconfig input\)/);
    expect(step.outputs.outcome).toBe('no-access');
    expect(step.summary).toContain('cannot reach the API server');
    expect(step.summary).toContain('Nothing was changed');

    expect(run.status).toBe(4);
    const report = expectValidReport(JSON.parse(run.stdout) as RunReport, 'the CLI\'s JSON report');
    expect(report).toMatchObject({ success: false, outcome: 'no-access', options: { operation: 'plan' } });
    expect(report.error).toMatch(new RegExp(`^cannot reach the API server https://127\\.0\\.0\\.1:1 \\(kubeconfig from --kubeconfig ${path}\\)`));
    expect(report.error).not.toContain('--kubeconfig:');
    expect(report.summary).toContain('Nothing was changed');
  }, 90_000);
});

// The Action's post step (post-if: always()) after a drain step that was killed mid-scale-up:
// the Deployment still carries safe-drain's raise, as restore.ts records it.
describe('the Action post step', () => {
  /** A Deployment as a killed surge migration leaves it: replicas raised, marker for `node`. */
  async function leftRaise(ns: string, name: string, node: string, replicas: number, original: number, raised: number) {
    await ensureNamespace(tc, ns);
    const body = deployment(ns, name, replicas);
    body.metadata = {
      ...body.metadata,
      labels: { ...body.metadata?.labels, [LABEL_SCALED]: 'true' },
      annotations: { [ANNOTATION_ORIGINAL_REPLICAS]: String(original), [ANNOTATION_RAISED_REPLICAS]: String(raised), [ANNOTATION_SCALED_FOR_NODE]: node },
    };
    await tc.apps.createNamespacedDeployment({ namespace: ns, body });
  }

  it('restores a raise left for its node exactly, leaves other nodes\' alone, and fails naming one it cannot restore', async () => {
    const ns = namespace('post-step');
    await leftRaise(ns, 'web', 'w1', 3, 1, 3); // still at the raised value: restored
    await leftRaise(ns, 'other', 'w2', 2, 1, 2); // another node's: not this step's business
    const kubeconfig = readFileSync(tc.cluster.kubeconfigPath, 'utf8');

    const ok = await runActionStep({ node: 'w1', kubeconfig }, 'post');
    expect(ok.stdout).not.toContain('::error::');
    expect(ok.status).toBe(0);
    const web = await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'web' });
    expect(web.spec?.replicas).toBe(1);
    expect(web.metadata?.labels?.[LABEL_SCALED]).toBeUndefined();
    expect(web.metadata?.annotations?.[ANNOTATION_ORIGINAL_REPLICAS]).toBeUndefined();
    expect(ok.stdout).toContain('Deployment/post-step/web');
    expect((await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'other' })).spec?.replicas).toBe(2);

    // Someone changed replicas since the raise: the post step must not overwrite it, and says what to do.
    await tc.cluster.kubectl(['-n', ns, 'scale', 'deployment/other', '--replicas=5']);
    const left = await runActionStep({ node: 'w2', kubeconfig }, 'post');
    expect(left.status).toBe(1);
    expect(left.stdout).toMatch(/::error::safe-drain post: 1 Deployment\(s\) still carry a temporary replica raise/);
    expect(left.stdout).toContain('Deployment/post-step/other');
    expect(left.stdout).toContain('kubectl -n post-step scale deployment/other --replicas=1');
    expect((await tc.apps.readNamespacedDeployment({ namespace: ns, name: 'other' })).spec?.replicas).toBe(5);
  }, 60_000);
});

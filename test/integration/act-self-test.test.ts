// The Action run by a real Actions runner implementation: nektos/act (scripts/act-install.sh
// builds it from the Go module proxy) in self-hosted mode (steps run on this machine) against a
// local control plane whose nodes carry the self-test's kind node names.
//
// 1. .github/workflows/self-test.yml, every step after the kind cluster's creation, unchanged:
//    deploy, plan, drain, then the availability gate (a refused input, a surge drain that passes
//    max-downtime 0s, a plan and a plain drain that fail it). The workflow's own steps assert the
//    outputs (on failure too), the report file and the summary; here: every step succeeded and
//    the runner log never contains the kind kubeconfig's client key, in any form.
// 2. The example workflows (examples/workflows), "as a user runs them" where this machine can:
//    the pre-merge resilience test from its deploy step on (no kind, no image build here), the
//    release gate whole, with `uses: ./` for `your-org/safe-drain@v1`.
//
// What is derived, not copied: actions/checkout cannot be fetched here, so a first `run:` step
// copies a checkout (action.yml, examples/ and this run's bundle as dist/) into the workspace;
// remote actions (setup, kind, upload-artifact) are left out; `kind` on PATH is a stand-in that
// answers `kind get kubeconfig` with a kubeconfig of the local cluster (inline client-key-data, as
// kind writes it) whose server is a loopback proxy to it, and `kind delete cluster` by recording
// the deletion and closing that proxy: the cluster is then gone for the action, as on GitHub, where
// the action's post steps run after every main step, so after a step that deletes the cluster.
// kubectl is the cluster's own. Every script step is the workflow's own.
//
// act cannot be built (no Go, no module proxy): the test fails, it does not skip.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { FakeGitHub } from './fake-github.js';
import { startFaultProxy, type FaultProxy } from '../../faults/net-proxy.js';
import { bundleDir } from '../bundle.js';
import { deleteNamespace, useCluster } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** How the examples name the action; the act run reads it as `./` (as scripts/lint-workflows.sh does). */
const EXAMPLE_ACTION = 'your-org/safe-drain@v1';
/**
 * Bounds on one act run, about 3x the measured (under load 15 on 2 cores): the self-test job
 * ~140 s, an example workflow ~35 s. A run past its bound is killed and fails with its log.
 */
const SELF_TEST_RUN_MS = 420_000;
const EXAMPLE_RUN_MS = 120_000;

interface Step {
  id?: string;
  name?: string;
  run?: string;
  uses?: string;
  with?: Record<string, unknown>;
  [k: string]: unknown;
}
interface Job {
  env?: Record<string, string>;
  steps: Step[];
  [k: string]: unknown;
}
interface Workflow {
  jobs: Record<string, Job>;
  [k: string]: unknown;
}

const readWorkflow = (path: string): Workflow => parse(readFileSync(join(root, path), 'utf8')) as Workflow;
const selfTest = readWorkflow('.github/workflows/self-test.yml');
const job = selfTest.jobs['self-test'];
if (!job) throw new Error('.github/workflows/self-test.yml has no job "self-test"');
const CLUSTER = job.env?.CLUSTER;
if (!CLUSTER) throw new Error('self-test job has no env CLUSTER');

// The local cluster's nodes are named as kind names the self-test's nodes.
const tc = useCluster({ nodes: [{ name: `${CLUSTER}-worker` }, { name: `${CLUSTER}-worker2` }] });

let work: string;
let act: string;
let repo: string;
let bin: string;

// act is built by scripts/test.sh beside the Go build of the cluster binaries; a file run on its
// own builds it here (a build, not a test step: its own bound).
beforeAll(() => {
  const install = spawnSync('bash', [join(root, 'scripts/act-install.sh')], { encoding: 'utf8', timeout: 900_000 });
  if (install.status !== 0) {
    throw new Error(`nektos/act could not be built or found (scripts/act-install.sh exited ${install.status}): ${install.stderr}\nThe act checks did NOT run.`);
  }
  act = install.stdout.trim().split('\n').pop()!;
  work = mkdtempSync(join(tmpdir(), 'safe-drain-act-'));
  // The checkout the first step of each run copies: action.yml, this run's bundle as dist/, examples/.
  repo = join(work, 'repo');
  mkdirSync(repo, { recursive: true });
  const bundle = bundleDir();
  try {
    cpSync(bundle.dir, join(repo, 'dist'), { recursive: true });
  } finally {
    bundle.remove();
  }
  cpSync(join(root, 'action.yml'), join(repo, 'action.yml'));
  cpSync(join(root, 'examples'), join(repo, 'examples'), { recursive: true });
  bin = join(work, 'bin');
  mkdirSync(bin);
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The copy step that stands in for actions/checkout, then `steps` with the action as `./`. */
function withCheckout(steps: Step[]): Step[] {
  const local = steps
    .filter((s) => !s.uses || s.uses === './' || s.uses === EXAMPLE_ACTION)
    .map((s) => (s.uses === EXAMPLE_ACTION ? { ...s, uses: './' } : s));
  return [{ name: 'copy the checkout (actions/checkout cannot be fetched here)', run: 'cp -a "$SAFE_DRAIN_CHECKOUT"/. .' }, ...local];
}

/** The steps after the one with id `afterId` (the cluster's creation, the image's build). */
function stepsAfter(j: Job, afterId: string, file: string): Step[] {
  const i = j.steps.findIndex((s) => s.id === afterId);
  if (i < 0) throw new Error(`${file}: no step with id "${afterId}"`);
  return j.steps.slice(i + 1);
}

interface ActRun {
  status: number | null;
  log: string;
}

/**
 * Runs one derived workflow through act in a fresh git repository; the log is kept in `work`.
 * Asynchronous: this process keeps serving what the workflow requests meanwhile (a probe URL).
 */
async function runAct(name: string, workflow: Workflow, boundMs: number, args: string[] = [], event = 'workflow_dispatch'): Promise<ActRun> {
  const dir = join(work, name);
  mkdirSync(join(dir, '.github/workflows'), { recursive: true });
  writeFileSync(join(dir, '.github/workflows/run.yml'), stringify(workflow));
  const git = (...a: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=safe-drain-test', '-c', 'user.email=test@invalid', ...a], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${a.join(' ')}: ${r.stderr}`);
  };
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', name);
  const child = spawn(
    act,
    [
      event,
      '-W', '.github/workflows/run.yml',
      '-P', 'ubuntu-latest=-self-hosted',
      '--no-cache-server',
      '--env', `SAFE_DRAIN_CHECKOUT=${repo}`,
      '--env', `KUBECONFIG=${tc.cluster.kubeconfigPath}`,
      ...args,
    ],
    {
      cwd: dir,
      // The action runs with this Node (node24); `kind` is the stand-in, kubectl the cluster's.
      env: { ...process.env, KUBECONFIG: tc.cluster.kubeconfigPath, PATH: `${bin}:${tc.cluster.binDir}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  // Bound: a workflow whose step hangs is killed (its steps have their own, shorter, timeouts).
  const killer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  }).finally(() => clearTimeout(killer));
  writeFileSync(join(work, `${name}.log`), log);
  return { status, log };
}

function expectSucceeded(run: ActRun, what: string): void {
  if (run.status === 0) return;
  // Each step's verdict and every error annotation first, then the log's end.
  const verdicts = run.log.split('\n').filter((l) => /Success - |Failure - |Failed but continue|::error|error=/.test(l));
  throw new Error(`act exited ${run.status} running ${what}; steps:\n${verdicts.join('\n')}\nlog end:\n${run.log.slice(-5000)}`);
}

/** Every form the client key could leak in: the base64 value, its PEM body lines, and 24-char pieces of both. */
function keyForms(kubeconfig: string): string[] {
  const value = /client-key-data:\s*(\S+)/.exec(kubeconfig)?.[1];
  if (!value) throw new Error('the local kubeconfig has no inline client-key-data: nothing to check');
  const pem = Buffer.from(value, 'base64').toString('utf8');
  const body = pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
  const pieces = (s: string) => Array.from({ length: Math.max(1, Math.floor((s.length - 24) / 12) + 1) }, (_, i) => s.slice(i * 12, i * 12 + 24));
  return [value, ...body, ...pieces(value), ...body.flatMap(pieces), pieces(body.join(''))].flat().filter((s) => s.length >= 16);
}

/**
 * `kind` for the self-test: `get kubeconfig --name CLUSTER` prints `kubeconfig`; `delete cluster
 * --name CLUSTER` records the deletion in `deletions` (one line each), which makes the cluster gone
 * for the action (kindApiServer); anything else is an error.
 */
function writeKindStandIn(kubeconfig: string, deletions: string): void {
  writeFileSync(
    join(bin, 'kind'),
    [
      '#!/bin/sh',
      `case "$*" in`,
      `  "get kubeconfig --name ${CLUSTER}") exec cat '${kubeconfig}' ;;`,
      `  "delete cluster --name ${CLUSTER}") echo "$*" >> '${deletions}'; echo "kind stand-in: deleted cluster ${CLUSTER}"; exit 0 ;;`,
      'esac',
      'echo "kind stand-in: unexpected: $*" >&2; exit 1',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'kind'), 0o755);
}

/**
 * The kind cluster's API server as the action reaches it: a loopback proxy to the local cluster
 * that resets every connection once `deleted()` (a deleted kind cluster's port answers nothing).
 */
async function kindApiServer(deleted: () => boolean): Promise<FaultProxy> {
  const u = new URL(tc.cluster.apiServerUrl);
  return startFaultProxy({ target: { host: u.hostname, port: Number(u.port) }, refuse: deleted });
}

/** The local cluster's kubeconfig with its server replaced by `server`. */
function kubeconfigVia(server: string): string {
  const kubeconfig = parse(readFileSync(tc.cluster.kubeconfigPath, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const c of kubeconfig.clusters) c.cluster.server = server;
  const path = join(work, 'kind.kubeconfig');
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
  return path;
}

describe('self-test.yml through nektos/act (self-hosted mode, local cluster)', () => {
  let run: ActRun;
  let deletions: string;
  let apiServer: FaultProxy | undefined;
  beforeAll(async () => {
    deletions = join(work, 'kind-deletions');
    apiServer = await kindApiServer(() => existsSync(deletions));
    writeKindStandIn(kubeconfigVia(apiServer.url), deletions);
    const steps = withCheckout(stepsAfter(job, 'cluster', 'self-test.yml'));
    run = await runAct('self-test', { name: 'self-test (act)', on: 'workflow_dispatch', jobs: { 'self-test': { 'runs-on': 'ubuntu-latest', env: job.env, steps } } }, SELF_TEST_RUN_MS);
  }, SELF_TEST_RUN_MS + 30_000);
  afterAll(async () => {
    await apiServer?.close();
    await deleteNamespace(tc, job.env!.NS!);
  }, 120_000);

  it('runs the action\'s post steps against a live cluster: none after a step deleted it', () => {
    // Post steps run in reverse order after every main step, as on GitHub.
    const posts = [...run.log.matchAll(/Run Post (.+)$/gm)].map((m) => ({ step: m[1]!.trim(), at: m.index }));
    expect(posts.map((p) => p.step)).toEqual(expect.arrayContaining(['safe-drain drain', 'gate - drain the pod\'s node with surge, max-downtime 0s, restore-after']));
    const deletedAt = run.log.indexOf(`kind stand-in: deleted cluster ${CLUSTER}`);
    const afterDeletion = deletedAt < 0 ? [] : posts.filter((p) => p.at > deletedAt).map((p) => p.step);
    expect({ postStepsAfterTheClusterWasDeleted: afterDeletion }).toEqual({ postStepsAfterTheClusterWasDeleted: [] });
    for (const p of posts) expect(run.log).toContain(`Success - Post ${p.step}`);
  });

  it('runs every step after the cluster: deploy, plan, drain, and the gate (its steps assert outputs, report and summary)', () => {
    expectSucceeded(run, 'self-test.yml');
    for (const step of [
      'safe-drain plan',
      'safe-drain drain',
      'gate - the bad input was refused before any change, naming the input',
      'gate - passed with 0 s down, node schedulable again, report and summary carry it',
      'gate - the plan failed the gate, expecting the Service at zero, and changed nothing',
      'gate - the drain finished, then failed the gate naming the Service and its downtime',
    ]) {
      expect(run.log).toContain(`Success - Main ${step}`);
    }
    // The failing gate steps failed (continue-on-error), they were not skipped.
    expect(run.log.match(/Failed but continue next step/g)?.length).toBe(3);
    // The plain drain's gate failure, as the workflow wrote it to the summary: Service and downtime.
    const failures = run.log.split('\n').filter((l) => l.includes('gate failed as expected:'));
    console.log(`act self-test, plain drain of the single replica:\n${failures.join('\n')}`);
    expect(failures.join('\n')).toMatch(new RegExp(`gate failed as expected: ${job.env!.NS}/helloworld: down \\d+(\\.\\d+)? s \\(max-downtime 0s\\)`));
  });

  it('masks the kind kubeconfig credentials: the client key appears nowhere in the runner log', () => {
    const kubeconfig = readFileSync(tc.cluster.kubeconfigPath, 'utf8');
    // The kubeconfig reached the log (act echoes step outputs, GitHub echoes the `with:` values), masked.
    expect(run.log).toMatch(/Success - Main kubeconfig content for the action/);
    const leaked = keyForms(kubeconfig).filter((form) => run.log.includes(form));
    expect(leaked).toEqual([]);
    expect(run.log).toContain('client-key-data: ***');
  });
});

describe('the example workflows through nektos/act (after cluster creation, local cluster)', () => {
  it('pre-merge resilience test: deploys the app, drains its node with the gate at 0s, leaves the node schedulable', async () => {
    const file = 'examples/workflows/pre-merge-resilience.yml';
    const wf = readWorkflow(file);
    const j = wf.jobs['drain-test'];
    if (!j) throw new Error(`${file} has no job "drain-test"`);
    // The user's manifests: the demo app (one replica, PDB minAvailable 1, 8 s start-up).
    const env = { ...j.env, APP_MANIFESTS: 'examples/helloworld.yaml', APP_NAMESPACE: 'demo', APP_SELECTOR: 'app=helloworld' };
    const run = await runAct('pre-merge', { ...wf, on: 'workflow_dispatch', jobs: { 'drain-test': { ...j, env, steps: withCheckout(stepsAfter(j, 'image', file)) } } }, EXAMPLE_RUN_MS);
    try {
      expectSucceeded(run, file);
      expect(run.log).toContain('Success - Main drain it with the availability gate at 0s');
      expect(run.log).toContain('Success - Main what the gate measured');
      expect(run.log).toMatch(/demo\/helloworld: down 0 s/);
    } finally {
      await deleteNamespace(tc, 'demo');
    }
  }, EXAMPLE_RUN_MS + 60_000);

  it('release gate: plans and drains the selected pool with the gate and a probe URL, then promotes', async () => {
    const file = 'examples/workflows/release-gate.yml';
    const wf = readWorkflow(file);
    const gate = wf.jobs.gate;
    if (!gate) throw new Error(`${file} has no job "gate"`);
    const [pool, other] = tc.cluster.nodes as [string, string];
    // The staging pool: one node, labelled, running the demo app.
    await tc.cluster.kubectl(['label', 'node', pool, 'safe-drain.io/release-gate=true', '--overwrite']);
    await tc.cluster.kubectl(['cordon', other]);
    await tc.cluster.kubectl(['apply', '-f', join(root, 'examples/helloworld.yaml')]);
    await tc.cluster.kubectl(['-n', 'demo', 'rollout', 'status', 'deployment/helloworld', '--timeout=120s']);
    await tc.cluster.kubectl(['uncordon', other]);
    // The public URL the gate probes: a server on loopback that answers 200.
    const server: Server = createServer((_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    try {
      const kubeconfig = Buffer.from(readFileSync(tc.cluster.kubeconfigPath)).toString('base64');
      const jobs = { ...wf.jobs, gate: { ...gate, steps: withCheckout(gate.steps) } };
      const run = await runAct('release-gate', { ...wf, on: 'workflow_dispatch', jobs }, EXAMPLE_RUN_MS, [
        '--secret', `STAGING_KUBECONFIG=${kubeconfig}`,
        '--var', 'GATE_NODE_SELECTOR=safe-drain.io/release-gate=true',
        '--var', `GATE_PROBE_URLS=${url}`,
      ]);
      expectSucceeded(run, file);
      expect(run.log).toContain('Success - Main plan the drain with the gate (changes nothing)');
      expect(run.log).toContain('Success - Main drain the pool one node at a time with the gate');
      expect(run.log).toMatch(/service demo\/helloworld: down 0 s/);
      expect(run.log).toMatch(new RegExp(`probe ${url.replace(/[.]/g, '\\.')}: 0/[1-9]\\d* failed`));
      expect(run.log).toContain('Success - Main promote');
      // restore-after: the pool's node takes pods again.
      expect(await tc.cluster.kubectl(['get', 'node', pool, '-o', 'jsonpath={.spec.unschedulable}'])).not.toBe('true');
    } finally {
      server.close();
      await deleteNamespace(tc, 'demo');
      await tc.cluster.kubectl(['label', 'node', pool, 'safe-drain.io/release-gate-']);
    }
  }, EXAMPLE_RUN_MS + 60_000);
});

describe('the pull-request comment through nektos/act (a pull_request event, a loopback GitHub API)', () => {
  it('plans, comments once on the pull request with the plan and the verdict, and keeps the outcome', async () => {
    const github = new FakeGitHub();
    const apiUrl = await github.start();
    try {
      const wf = readWorkflow('test/integration/fixtures/pr-comment-workflow.yml');
      const j = wf.jobs.plan;
      if (!j) throw new Error('pr-comment-workflow.yml has no job "plan"');
      const event = join(work, 'pull-request-event.json');
      writeFileSync(event, JSON.stringify({ action: 'synchronize', number: 7, pull_request: { number: 7, head: { ref: 'change' }, base: { ref: 'main' } } }));
      const run = await runAct('pr-comment', { ...wf, jobs: { plan: { ...j, steps: withCheckout(j.steps) } } }, EXAMPLE_RUN_MS, [
        '-e', event,
        '--env', `GITHUB_API_URL=${apiUrl}`,
        '--env', 'GITHUB_REPOSITORY=your-org/app',
        '--secret', 'GITHUB_TOKEN=act-token',
        '--var', `SAFE_DRAIN_NODE=${tc.cluster.nodes[0]}`,
      ], 'pull_request');
      expectSucceeded(run, 'pr-comment-workflow.yml');
      expect(run.log).toContain('Success - Main the comment did not change the outcome');
      expect(github.requests.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual(['GET /repos/your-org/app/issues/7/comments', 'POST /repos/your-org/app/issues/7/comments']);
      expect(github.requests.every((r) => r.authorization === 'token act-token')).toBe(true);
      expect(github.comments).toHaveLength(1);
      expect(github.comments[0]?.body).toMatch(/^<!-- safe-drain comment: pr-comment\/plan -->\n\n### safe-drain plan: passed/);
      expect(github.comments[0]?.body).toContain(`Plan for node ${tc.cluster.nodes[0]}`);
      expect(run.log).toContain('Commented on pull request #7');
    } finally {
      await github.stop();
    }
  }, EXAMPLE_RUN_MS + 60_000);
});

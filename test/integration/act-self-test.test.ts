// The self-test workflow's credential masking, checked with a real Actions runner: nektos/act
// (scripts/act-install.sh builds it from the Go module proxy) runs the steps of
// .github/workflows/self-test.yml that handle the kubeconfig — the step that produces it, then
// `uses: ./` plan and drain with it — in self-hosted mode (steps run on this machine) against a
// local control plane whose nodes carry the self-test's kind node names. The runner log must not
// contain the client key, in any form, anywhere.
//
// What is derived, not copied: actions/checkout cannot be fetched here, so a first `run:` step
// copies a checkout (action.yml + a freshly bundled dist/) into the workspace; `kind` on PATH is
// a stand-in that answers `kind get kubeconfig` with the local cluster's kubeconfig (inline
// client-key-data, as kind writes it). The masking step's script is the workflow's own, unchanged.
//
// act cannot be built (no Go, no module proxy): the test fails, it does not skip.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { useCluster } from './support.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

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
}

const selfTest = parse(readFileSync(join(root, '.github/workflows/self-test.yml'), 'utf8')) as { jobs: Record<string, Job> };
const job = selfTest.jobs['self-test'];
if (!job) throw new Error('.github/workflows/self-test.yml has no job "self-test"');
const CLUSTER = job.env?.CLUSTER;
if (!CLUSTER) throw new Error('self-test job has no env CLUSTER');

// The local cluster's nodes are named as kind names the self-test's nodes.
const tc = useCluster({ nodes: [{ name: `${CLUSTER}-worker` }, { name: `${CLUSTER}-worker2` }] });

let work: string;
let act: string;

beforeAll(() => {
  const install = spawnSync('bash', [join(root, 'scripts/act-install.sh')], { encoding: 'utf8', timeout: 900_000 });
  if (install.status !== 0) {
    throw new Error(`nektos/act could not be built or found (scripts/act-install.sh exited ${install.status}): ${install.stderr}\nThe masking check did NOT run.`);
  }
  act = install.stdout.trim().split('\n').pop()!;
  work = mkdtempSync(join(tmpdir(), 'safe-drain-act-'));
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The self-test steps that carry the kubeconfig, by id, unchanged; a copy step in front. */
function derivedWorkflow(): string {
  const byId = (id: string): Step => {
    const s = job!.steps.find((x) => x.id === id);
    if (!s) throw new Error(`self-test.yml: no step with id "${id}"`);
    return s;
  };
  const steps: Step[] = [
    { name: 'copy the checkout (actions/checkout cannot be fetched here)', run: 'cp -a "$SAFE_DRAIN_CHECKOUT"/. .' },
    byId('kubeconfig'),
    byId('plan'),
    byId('drain'),
  ];
  for (const s of steps.slice(2)) expect(s.uses).toBe('./');
  return stringify({ name: 'self-test (masking check)', on: 'workflow_dispatch', jobs: { 'self-test': { 'runs-on': 'ubuntu-latest', env: job!.env, steps } } });
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

describe('self-test.yml through nektos/act (self-hosted mode, local cluster)', () => {
  it('masks the kind kubeconfig credentials: the client key appears nowhere in the runner log', () => {
    const repo = join(work, 'repo');
    const bin = join(work, 'bin');
    mkdirSync(join(repo, '.github/workflows'), { recursive: true });
    mkdirSync(bin);
    const bundle = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outdir', join(repo, 'dist')], { cwd: root, encoding: 'utf8' });
    if (bundle.status !== 0) throw new Error(`bundle failed: ${bundle.stderr}`);
    cpSync(join(root, 'action.yml'), join(repo, 'action.yml'));
    writeFileSync(join(repo, '.github/workflows/self-test.yml'), derivedWorkflow());
    const git = (...args: string[]) => {
      const r = spawnSync('git', ['-c', 'user.name=safe-drain-test', '-c', 'user.email=test@invalid', ...args], { cwd: repo, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    };
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'masking check');

    const kubeconfig = readFileSync(tc.cluster.kubeconfigPath, 'utf8');
    // A stand-in for `kind get kubeconfig --name CLUSTER`; anything else is an error.
    writeFileSync(
      join(bin, 'kind'),
      `#!/bin/sh\nif [ "$1 $2 $3 $4" = "get kubeconfig --name ${CLUSTER}" ]; then exec cat '${tc.cluster.kubeconfigPath}'; fi\necho "kind stand-in: unexpected: $*" >&2; exit 1\n`,
    );
    chmodSync(join(bin, 'kind'), 0o755);

    const run = spawnSync(
      act,
      [
        'workflow_dispatch',
        '-W', '.github/workflows/self-test.yml',
        '-j', 'self-test',
        '-P', 'ubuntu-latest=-self-hosted',
        '--no-cache-server',
        '--env', `SAFE_DRAIN_CHECKOUT=${repo}`,
      ],
      {
        cwd: repo,
        encoding: 'utf8',
        timeout: 300_000,
        // The action runs with this Node (node24); `kind` is the stand-in.
        env: { ...process.env, PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}` },
      },
    );
    const log = `${run.stdout}\n${run.stderr}`;
    writeFileSync(join(work, 'act.log'), log);
    if (run.status !== 0) throw new Error(`act exited ${run.status} (${run.error?.message ?? ''}); log:\n${log.slice(-6000)}`);

    // The job ran the steps under test; the kubeconfig reached the log (act echoes step outputs,
    // GitHub echoes the `with:` values), masked.
    expect(log).toMatch(/Success - Main kubeconfig content for the action/);
    expect(log).toMatch(/Success - Main safe-drain plan/);
    expect(log).toMatch(/Success - Main safe-drain drain/);
    const leaked = keyForms(kubeconfig).filter((form) => log.includes(form));
    expect(leaked).toEqual([]);
    expect(log).toContain('client-key-data: ***');
  }, 600_000);
});

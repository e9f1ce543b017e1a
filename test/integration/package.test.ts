// The npm package as a user gets it: `npm pack` of this checkout (package.json's `files`, with
// dist/ bundled from the code under test), installed into an empty directory, and its
// `safe-drain` bin run: --help, and a plan against the local control plane.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import packageJson from '../../package.json' with { type: 'json' };
import { REPO, bundleInto, removeDir } from '../bundle.js';
import { runProcess } from './cli-process.js';
import { useCluster } from './support.js';

const tc = useCluster({ nodes: 2 });

let work: string;
let tarball: string;
let bin: string;

/** npm (on PATH, as scripts/test.sh sets it up), run in `cwd`; throws with its output when it fails. */
function npm(args: string[], cwd: string): string {
  const run = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    timeout: 300_000,
  });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'safe-drain-package-'));
  // The checkout as `npm pack` sees it, with dist/ bundled from the sources under test.
  const checkout = join(work, 'checkout');
  mkdirSync(checkout);
  for (const entry of ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'rbac', 'docs']) cpSync(join(REPO, entry), join(checkout, entry), { recursive: true });
  bundleInto(join(checkout, 'dist'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], checkout)) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, packed[0]!.filename);
  // An empty directory; the dependencies come from npm's cache when they are there.
  const install = join(work, 'install');
  mkdirSync(install);
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], install);
  bin = join(install, 'node_modules', '.bin', 'safe-drain');
}, 600_000);

afterAll(() => removeDir(work));

describe('npm pack and install', () => {
  it('packs the CLI bundle, the ClusterRole, the report schema and the LICENSE; no sources, no Action bundle', () => {
    const listed = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8' }).stdout.trim().split('\n').sort();
    expect(listed).toEqual(
      ['LICENSE', 'README.md', 'dist/cli-main.js', 'dist/cli.js', 'docs/report.schema.json', 'package.json', 'rbac/safe-drain-clusterrole.yaml'].map((f) => `package/${f}`),
    );
    expect(packageJson.license).toBe('MIT');
  });

  it('installs a safe-drain bin that answers --help', async () => {
    expect(readdirSync(dirname(bin))).toContain('safe-drain');
    const help = await runProcess(bin, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: safe-drain <command> [NODE...] [flags]');
    const version = await runProcess(bin, ['--version']);
    expect(version.stdout.trim()).toBe(packageJson.version);
  }, 60_000);

  it('plans a node of the local cluster', async () => {
    const [node] = tc.cluster.nodes as [string];
    const plan = await runProcess(bin, ['plan', node, '-o', 'json'], { KUBECONFIG: tc.cluster.kubeconfigPath });
    expect(plan.stderr).not.toMatch(/^error:/m);
    expect(plan.status).toBe(0);
    expect(JSON.parse(plan.stdout)).toMatchObject({ outcome: 'ok', options: { operation: 'plan', nodes: [node] }, nodes: [{ node, success: true }] });
  }, 120_000);
});

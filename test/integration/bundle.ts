// The bundled CLI as users run it: scripts/bundle.mjs into a directory of its own (dist/ is
// not committed by feature branches, and a test must run the bundle of the code under test),
// started as a real process with no node_modules near it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectValidReport } from '../report-schema.js';
import { asksForJson } from './cli-process.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Bundles dist/ into `outdir` (a new temporary directory by default); returns it. */
export function bundleDist(outdir = mkdtempSync(join(tmpdir(), 'safe-drain-dist-'))): string {
  const build = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outdir', outdir], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`bundle failed: ${build.stderr}`);
  return outdir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export interface Exited {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `executable args` (e.g. node dist/cli.js ...) from an empty directory, asynchronously (the
 * cluster's processes log through this process's pipes). With `-o json`, the report it printed
 * is checked against the published schema.
 */
export function runProcess(executable: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { cwd: tmpdir(), env: { ...process.env, NODE_OPTIONS: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        if (status !== null && asksForJson(args)) expectValidReport(JSON.parse(stdout) as unknown, `the JSON report of ${args.join(' ')}`);
        resolve({ status, stdout, stderr });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    });
  });
}

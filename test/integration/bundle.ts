// The bundle as users run it: scripts/bundle.mjs into a directory of its own (a test runs the
// bundle of the code under test, not the dist/ last committed), with no node_modules near it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

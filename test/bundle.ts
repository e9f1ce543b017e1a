// The bundle (scripts/bundle.mjs) the tests run, built once per run: scripts/test.sh builds it
// before the stages and names its directory in SAFE_DRAIN_BUNDLE_DIR; a test file run on its own
// builds its own into a temporary directory (bundleDir), or runs the sources through tsx
// (entryCommand).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_FILES = ['index.js', 'post.js', 'cli.js', 'cli-main.js'];

/** A directory with the bundle's files; remove() deletes it when this call built it. */
export function bundleDir(): { dir: string; remove: () => void } {
  const given = process.env.SAFE_DRAIN_BUNDLE_DIR;
  if (given) {
    const missing = BUNDLE_FILES.filter((f) => !existsSync(join(given, f)));
    if (missing.length > 0) throw new Error(`SAFE_DRAIN_BUNDLE_DIR=${given} lacks ${missing.join(', ')}`);
    return { dir: given, remove: () => undefined };
  }
  const dir = bundleInto(mkdtempSync(join(tmpdir(), 'safe-drain-dist-')));
  return { dir, remove: () => removeDir(dir) };
}

/** Bundles the sources into `outdir` (scripts/bundle.mjs); returns it. */
export function bundleInto(outdir: string): string {
  const build = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outdir', outdir], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`bundle failed: ${build.stderr}`);
  return outdir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

const ENTRIES = {
  cli: { bundled: 'cli.js', source: 'src/cli/main.ts' },
  action: { bundled: 'index.js', source: 'src/action/index.ts' },
  post: { bundled: 'post.js', source: 'src/action/post-entry.ts' },
} as const;

/**
 * The node arguments that start a shell (the CLI, the Action's main or post step) as its own
 * process, run from the repository root: this run's bundle when scripts/test.sh built one (what
 * users run, and it starts in ~0.15 s, against ~1.3 s CPU for tsx compiling the sources: the fault
 * matrix and kill-anywhere start it ~100 times), else the sources through tsx.
 */
export function entryCommand(entry: keyof typeof ENTRIES): string[] {
  const dir = process.env.SAFE_DRAIN_BUNDLE_DIR;
  return dir ? [join(dir, ENTRIES[entry].bundled)] : ['--import', 'tsx', ENTRIES[entry].source];
}

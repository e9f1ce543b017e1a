// Locates (building on first use) the control-plane binaries: cluster/build/build-binaries.sh
// builds them from the Go module proxy into a cache and prints the bin dir on its last line.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
export type BinaryName = (typeof BINARIES)[number];

const buildScript = resolve(dirname(fileURLToPath(import.meta.url)), '../build/build-binaries.sh');

/**
 * The Kubernetes release the local clusters run (e.g. v1.32.13): `npm run compat` sets it per
 * version. Unset: the build script's default (the newest supported release).
 */
export const K8S_VERSION_ENV = 'SAFE_DRAIN_K8S_VERSION';

const cached = new Map<string, Promise<string>>();

/**
 * Runs the build script for `version` (a no-op after the first build; waits on its lock if another
 * process is building), streaming its progress to our stderr, and returns the bin dir.
 * SAFE_DRAIN_BIN_DIR skips the script and uses that directory as is.
 */
export function ensureBinaries(version: string = process.env[K8S_VERSION_ENV] ?? ''): Promise<string> {
  let binDir = cached.get(version);
  if (!binDir) {
    binDir = run(version).catch((err: unknown) => {
      cached.delete(version);
      throw err;
    });
    cached.set(version, binDir);
  }
  return binDir;
}

async function run(version: string): Promise<string> {
  const override = process.env.SAFE_DRAIN_BIN_DIR;
  if (override) {
    checkBinDir(override);
    return override;
  }
  const stdout = await new Promise<string>((res, rej) => {
    const child = spawn('bash', [buildScript, ...(version ? [version] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    child.on('error', rej);
    // 'close', not 'exit': only then has all of stdout been read (the bin dir is its last line).
    child.on('close', (code) =>
      code === 0 ? res(out) : rej(new Error(`${buildScript} failed with exit code ${code} (its log is on stderr above)`)),
    );
  });
  const binDir = stdout.trim().split('\n').pop()?.trim() ?? '';
  checkBinDir(binDir);
  return binDir;
}

function checkBinDir(binDir: string): void {
  for (const b of BINARIES) {
    if (!existsSync(join(binDir, b))) throw new Error(`binary ${b} missing in ${JSON.stringify(binDir)}`);
  }
}

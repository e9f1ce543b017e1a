// The real-nodes images, built locally by scripts/build-node-image.sh (debootstrap + docker
// import, FROM-scratch pod images; cached by content hash, never pulled).
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RealNodeImages {
  /** The node image: Debian + containerd + kubelet + kube-proxy. */
  node: string;
  /** The pod sandbox image (containerd's sandbox_image). */
  pause: string;
  /** The sample web server: GET / answers the pod's hostname on :8080; SIGTERM handled. */
  web: string;
}

const script = resolve(dirname(fileURLToPath(import.meta.url)), '../../../scripts/build-node-image.sh');

let cached: Promise<RealNodeImages> | undefined;

/** Builds (first run: debootstrap, a few minutes) or finds the images; progress on our stderr. */
export function ensureNodeImages(): Promise<RealNodeImages> {
  cached ??= build().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function build(): Promise<RealNodeImages> {
  const out = await new Promise<string>((res, rej) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res(stdout) : rej(new Error(`${script} failed with exit code ${code} (its log is on stderr above)`))));
  });
  const kv = Object.fromEntries(
    out
      .split('\n')
      .map((l) => l.trim().split('='))
      .filter((p) => p.length === 2) as [string, string][],
  );
  const { node, pause, web } = kv;
  if (!node || !pause || !web) throw new Error(`${script} printed no node=/pause=/web= lines:\n${out}`);
  return { node, pause, web };
}

// Can the kind backend run on this machine? Checks, in order, each one that kind needs:
//   1. a reachable Docker daemon         (`docker info`)
//   2. the kind CLI                      (`kind version`; the workflows `go install` it)
//   3. the node image, present or pulled (`docker image inspect` / `docker pull`)
//   4. privileged containers             (`docker run --privileged` of that image)
// and reports every failing one, so the suite can print a loud SKIP that never reads as a pass
// (kindSkipBanner). On this project's own machines (no image pulls, privileged containers
// refused) it answers ok: false; on a GitHub-hosted ubuntu runner, ok: true.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KIND_VERSION, kindNodeImage } from './kind-util.js';

const run = promisify(execFile);

export type KindAvailability = { ok: true } | { ok: false; reason: string };

export interface KindDetectOptions {
  /** Node image tag or reference (default: kind-util's default version). */
  kubernetesVersion?: string;
  kindBinary?: string;
  dockerBinary?: string;
  /** Pull the node image when absent (default true; it is needed for `kind create` anyway). */
  pull?: boolean;
  /** Bound on the pull, ms (default 10 min). */
  pullTimeoutMs?: number;
}

/** Last non-empty line of a failed command's stderr (or its message), for a one-line reason. */
export function commandError(e: unknown): string {
  const err = e as { stderr?: string | Buffer; message?: string; code?: string | number; killed?: boolean };
  if (err.code === 'ENOENT') return 'command not found';
  if (err.killed) return 'timed out';
  const text = (err.stderr ? err.stderr.toString() : '').trim() || err.message || String(e);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^Run '.*--help'/.test(l));
  return lines[lines.length - 1] ?? text;
}

/** Does a `docker run --privileged` failure mean privileged containers are refused? */
export function isPrivilegeRefusal(stderr: string): boolean {
  return /operation not permitted|apply caps|permission denied|privileged.*(not allowed|refused|forbidden)|authorization denied/i.test(stderr);
}

export async function kindAvailability(opts: KindDetectOptions = {}): Promise<KindAvailability> {
  const docker = opts.dockerBinary ?? 'docker';
  const kind = opts.kindBinary ?? process.env.KIND ?? 'kind';
  const image = kindNodeImage(opts.kubernetesVersion ?? process.env.KIND_NODE_VERSION);
  const problems: string[] = [];

  try {
    await run(docker, ['info', '--format', '{{.ServerVersion}}'], { timeout: 30_000 });
  } catch (e) {
    return { ok: false, reason: `Docker daemon not reachable (${docker} info: ${commandError(e)})` };
  }

  try {
    await run(kind, ['version'], { timeout: 30_000 });
  } catch (e) {
    problems.push(`kind CLI unavailable (${kind} version: ${commandError(e)}), install it with: go install sigs.k8s.io/kind@${KIND_VERSION}`);
  }

  let haveImage = await run(docker, ['image', 'inspect', image], { timeout: 30_000 }).then(
    () => true,
    () => false,
  );
  if (!haveImage && opts.pull !== false) {
    try {
      await run(docker, ['pull', image], { timeout: opts.pullTimeoutMs ?? 600_000, maxBuffer: 16 * 1024 * 1024 });
      haveImage = true;
    } catch (e) {
      problems.push(`cannot pull node image ${image} (${commandError(e)})`);
    }
  } else if (!haveImage) {
    problems.push(`node image ${image} not present locally and pulling disabled`);
  }

  const privileged = await privilegedCheck(docker, haveImage ? image : undefined);
  if (privileged) problems.push(privileged);

  return problems.length === 0 ? { ok: true } : { ok: false, reason: problems.join('; ') };
}

/** undefined when privileged containers run; otherwise why not (or why it could not be told). */
async function privilegedCheck(docker: string, nodeImage: string | undefined): Promise<string | undefined> {
  let image = nodeImage;
  if (!image) {
    // Any local image tells a refusal apart: the runtime refuses before the entrypoint runs.
    const { stdout } = await run(docker, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { timeout: 30_000 }).catch(() => ({ stdout: '' }));
    image = stdout.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.includes('<none>'));
    if (!image) return 'privileged containers: not verified (no local image to try)';
  }
  try {
    await run(docker, ['run', '--rm', '--privileged', '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', 'true'], { timeout: 120_000 });
    return undefined;
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? '');
    if (isPrivilegeRefusal(stderr)) return `privileged containers refused (${commandError(e)})`;
    // Started but the entrypoint was missing/failed: privileged mode itself was accepted.
    if (!nodeImage && /executable file not found|no such file or directory/i.test(stderr)) return undefined;
    return `privileged containers: check failed (${commandError(e)})`;
  }
}

/** The loud, unmistakable line(s) the e2e suite prints when it skips the kind backend. */
export function kindSkipBanner(reason: string): string {
  const bar = '!'.repeat(100);
  return [bar, `!! SKIPPED (NOT A PASS): kind backend cannot run here: ${reason}`, '!! No kind scenario ran; nothing about kind was verified.', bar].join('\n');
}

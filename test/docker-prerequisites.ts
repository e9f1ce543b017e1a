// What the Docker-backed test files (test/docker, test/real-nodes) need, and what they report when
// it is missing: a loudly named skipped test, or a failing one with SAFE_DRAIN_REQUIRE_DOCKER=1
// (scripts/test.sh and CI): never a pass.
import { it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Prerequisites = { ok: true } | { ok: false; reason: string };

/** Node >= 22 (testcontainers 12) and a Docker daemon that answers. */
export async function dockerPrerequisites(): Promise<Prerequisites> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) return { ok: false, reason: `testcontainers 12 needs Node >= 22, this is Node ${process.versions.node}` };
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 20_000 });
  } catch (e) {
    return { ok: false, reason: `Docker daemon not reachable (run scripts/start-docker.sh): ${firstLine(e)}` };
  }
  return { ok: true };
}

/** The last non-empty line of a failed command's stderr, else its message. */
export function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  const text = (err.stderr && err.stderr.trim()) || err.message || String(e);
  return text.split('\n').filter((l) => l.trim() !== '').slice(-1)[0] ?? text;
}

/** Registers, in place of the file's tests, the test that says they did not run and why. */
export function notRunHere(what: string, reason: string): void {
  const banner = `SKIPPED (not a pass): ${what} did not run: ${reason}`;
  console.warn(`\n${'!'.repeat(100)}\n!! ${banner}\n${'!'.repeat(100)}\n`);
  if (process.env.SAFE_DRAIN_REQUIRE_DOCKER === '1') {
    it('Docker is available (SAFE_DRAIN_REQUIRE_DOCKER=1)', () => {
      throw new Error(banner);
    });
  } else {
    it.skip(banner, () => undefined);
  }
}

// scripts/pull-images.sh against a fake `docker` that refuses a set number of pulls with a given
// error (the workflows' pre-pull of Docker Hub images): retries, says "rate limit" only when
// Docker Hub said so, and fails with what to do once the attempts are used up.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/pull-images.sh', import.meta.url));
const RATE_LIMITED =
  'Error response from daemon: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit';
const NO_NETWORK = 'Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pull-images-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A docker whose first `failures` pulls print `error`; it records every call. */
function fakeDocker(failures: number, error: string): string {
  const docker = join(dir, 'docker');
  writeFileSync(join(dir, 'error'), `${error}\n`);
  writeFileSync(
    docker,
    `#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/calls"
n=$(cat "$here/count" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$here/count"
[ "$1" = pull ] || exit 2
if [ "$n" -le ${failures} ]; then cat "$here/error" >&2; exit 1; fi
echo "Status: Downloaded newer image for $2"
`,
  );
  chmodSync(docker, 0o755);
  return docker;
}

function pull(docker: string, images: string[], attempts = 3) {
  const r = spawnSync('bash', [script, ...images], {
    encoding: 'utf8',
    env: { ...process.env, DOCKER: docker, PULL_ATTEMPTS: String(attempts), PULL_BACKOFF_SECONDS: '0', GITHUB_ACTIONS: 'true' },
  });
  const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
  return { status: r.status, out: r.stdout + r.stderr, calls };
}

describe('scripts/pull-images.sh', () => {
  it('retries a rate-limited pull, names the rate limit, and succeeds when a later attempt does', () => {
    const r = pull(fakeDocker(2, RATE_LIMITED), ['busybox:1.37.0']);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual(['pull busybox:1.37.0', 'pull busybox:1.37.0', 'pull busybox:1.37.0']);
    expect(r.out).toContain('::warning::Docker Hub RATE LIMIT: pull of busybox:1.37.0 refused (attempt 1/3)');
    expect(r.out).toContain('pulled busybox:1.37.0 (attempt 3/3)');
  });

  it('fails once every attempt was rate-limited, saying which secrets let the workflow pull as a user', () => {
    const r = pull(fakeDocker(99, RATE_LIMITED), ['kindest/node:v1.37.0'], 2);
    expect(r.status).toBe(1);
    expect(r.calls).toHaveLength(2);
    expect(r.out).toMatch(/::error::could not pull kindest\/node:v1\.37\.0: Docker Hub rate-limited .*DOCKERHUB_USERNAME and DOCKERHUB_TOKEN/);
  });

  it('does not call other failures a rate limit', () => {
    const r = pull(fakeDocker(99, NO_NETWORK), ['busybox:1.37.0'], 2);
    expect(r.status).toBe(1);
    expect(r.out).not.toMatch(/rate.limit/i);
    expect(r.out).toContain('::error::could not pull busybox:1.37.0 after 2 attempts: ' + NO_NETWORK);
  });

  it('pulls every image given, and reports failure if any one failed', () => {
    const r = pull(fakeDocker(3, NO_NETWORK), ['a:1', 'b:2'], 3);
    // a:1 uses all three attempts and fails; b:2 then succeeds at once.
    expect(r.calls).toEqual(['pull a:1', 'pull a:1', 'pull a:1', 'pull b:2']);
    expect(r.status).toBe(1);
    expect(r.out).toContain('pulled b:2 (attempt 1/3)');
  });
});

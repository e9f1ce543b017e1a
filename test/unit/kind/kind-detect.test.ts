// kindAvailability against fake `docker` / `kind` executables (shell scripts whose behaviour is
// set per test in a `state` file beside them — jest's process.env does not reach child
// processes): every check and every combination of failures, without a Docker daemon.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandError, isPrivilegeRefusal, kindAvailability, kindSkipBanner } from '../../../e2e/backends/kind-detect.js';
import { KIND_NODE_IMAGES } from '../../../e2e/backends/kind-util.js';

let dir: string;
let docker: string;
let kind: string;
let calls: string;

const FAKE_DOCKER = `#!/bin/sh
here=$(dirname "$0")
. "$here/state"
echo "docker $*" >> "$here/calls"
case "$1" in
  info) [ "$FAKE_DAEMON" = up ] && { echo 28.0.0; exit 0; }
        echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
  image) [ "$FAKE_IMAGE" = present ] && exit 0; echo "Error: No such image: $3" >&2; exit 1 ;;
  pull) [ "$FAKE_PULL" = ok ] && exit 0
        echo 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' >&2; exit 1 ;;
  images) echo "safe-drain/busybox:local"; exit 0 ;;
  run) [ "$FAKE_PRIV" = ok ] && exit 0
       echo "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown" >&2
       echo "Run 'docker run --help' for more information" >&2; exit 125 ;;
esac
exit 2
`;

function env(o: Record<string, string>): void {
  writeFileSync(join(dir, 'state'), Object.entries(o).map(([k, v]) => `${k}=${v}\n`).join(''));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kind-detect-'));
  docker = join(dir, 'docker');
  kind = join(dir, 'kind');
  calls = join(dir, 'calls');
  writeFileSync(docker, FAKE_DOCKER);
  writeFileSync(kind, '#!/bin/sh\necho "kind v0.33.0 go1.26 linux/amd64"\n');
  chmodSync(docker, 0o755);
  chmodSync(kind, 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dockerCalls = (): string[] => readFileSync(calls, 'utf8').trim().split('\n');

describe('kindAvailability', () => {
  it('ok when the daemon answers, kind runs, the image is there and privileged containers start', async () => {
    writeFileSync(calls, '');
    env({ FAKE_DAEMON: 'up', FAKE_IMAGE: 'present', FAKE_PULL: 'fail', FAKE_PRIV: 'ok' });
    await expect(kindAvailability({ dockerBinary: docker, kindBinary: kind, kubernetesVersion: 'v1.36.4' })).resolves.toEqual({ ok: true });
    // The privileged check runs the node image itself, and nothing was pulled.
    expect(dockerCalls()).toContain(`docker run --rm --privileged --network none --entrypoint /bin/sh ${KIND_NODE_IMAGES['v1.36.4']} -c true`);
    expect(dockerCalls().some((c) => c.startsWith('docker pull'))).toBe(false);
  });

  it('pulls a missing node image', async () => {
    writeFileSync(calls, '');
    env({ FAKE_DAEMON: 'up', FAKE_IMAGE: 'absent', FAKE_PULL: 'ok', FAKE_PRIV: 'ok' });
    await expect(kindAvailability({ dockerBinary: docker, kindBinary: kind, kubernetesVersion: 'v1.35.8' })).resolves.toEqual({ ok: true });
    expect(dockerCalls()).toContain(`docker pull ${KIND_NODE_IMAGES['v1.35.8']}`);
  });

  it('stops at an unreachable daemon', async () => {
    writeFileSync(calls, '');
    env({ FAKE_DAEMON: 'down' });
    const r = await kindAvailability({ dockerBinary: docker, kindBinary: kind });
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^Docker daemon not reachable .*Is the docker daemon running\?/) });
    expect(dockerCalls()).toEqual(['docker info --format {{.ServerVersion}}']);
  });

  it('no docker binary at all', async () => {
    env({});
    const r = await kindAvailability({ dockerBinary: join(dir, 'no-docker'), kindBinary: kind });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/Docker daemon not reachable .*command not found/);
  });

  it('this machine: no kind, no pull, privileged refused — every reason, one line', async () => {
    writeFileSync(calls, '');
    env({ FAKE_DAEMON: 'up', FAKE_IMAGE: 'absent', FAKE_PULL: 'fail', FAKE_PRIV: 'refused' });
    const r = await kindAvailability({ dockerBinary: docker, kindBinary: join(dir, 'no-kind') });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).not.toContain('\n');
    const parts = r.reason.split('; ');
    expect(parts).toHaveLength(3);
    expect(parts[0]).toMatch(/^kind CLI unavailable .*command not found\), install it with: go install sigs\.k8s\.io\/kind@v0\.33\.0$/);
    expect(parts[1]).toMatch(/^cannot pull node image kindest\/node:v1\.37\.0@sha256:[0-9a-f]{64} \(.*no such host\)/);
    expect(parts[2]).toMatch(/^privileged containers refused \(.*apply caps: operation not permitted/);
    // Without the node image, the refusal is told apart on any local image.
    expect(dockerCalls()).toContain('docker run --rm --privileged --network none --entrypoint /bin/sh safe-drain/busybox:local -c true');
  });

  it('pull disabled: reports the missing image instead of pulling', async () => {
    writeFileSync(calls, '');
    env({ FAKE_DAEMON: 'up', FAKE_IMAGE: 'absent', FAKE_PULL: 'ok', FAKE_PRIV: 'ok' });
    const r = await kindAvailability({ dockerBinary: docker, kindBinary: kind, pull: false });
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/not present locally and pulling disabled/) });
    expect(dockerCalls().some((c) => c.startsWith('docker pull'))).toBe(false);
  });
});

describe('helpers', () => {
  it('commandError: the last meaningful stderr line', () => {
    expect(commandError({ stderr: 'first\nthe real error\nRun \'docker run --help\' for more information\n' })).toBe('the real error');
    expect(commandError({ code: 'ENOENT', message: 'spawn kind ENOENT' })).toBe('command not found');
    expect(commandError({ killed: true, message: 'x' })).toBe('timed out');
    expect(commandError(new Error('plain'))).toBe('plain');
  });

  it('isPrivilegeRefusal', () => {
    expect(isPrivilegeRefusal('runc create failed: unable to start container process: unable to apply caps: operation not permitted')).toBe(true);
    expect(isPrivilegeRefusal('docker: Error response from daemon: authorization denied by plugin')).toBe(true);
    expect(isPrivilegeRefusal('exec: "/bin/sh": stat /bin/sh: no such file or directory')).toBe(false);
  });

  it('kindSkipBanner reads as a skip, never as a pass', () => {
    const b = kindSkipBanner('no kind');
    expect(b).toContain('SKIPPED (NOT A PASS)');
    expect(b).toContain('no kind');
    expect(b).not.toMatch(/\bpassed\b|\bOK\b/);
  });
});

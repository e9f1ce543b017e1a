// scripts/jest-failures.mjs: the lines that end scripts/test.sh's log when tests failed, so a CI
// log's tail names them.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function failureLines(results: unknown): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'jest-failures-'));
  try {
    const file = join(dir, 'results.json');
    writeFileSync(file, JSON.stringify(results));
    return execFileSync(process.execPath, ['scripts/jest-failures.mjs', file, 'integration tests'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('scripts/jest-failures.mjs', () => {
  it('names each failed test by file and name, and a suite that failed to run by its first useful line', () => {
    const lines = failureLines({
      testResults: [
        {
          name: '/tmp/x/test/integration/faults-api.test.ts',
          status: 'failed',
          assertionResults: [
            { status: 'passed', fullName: 'fault matrix: api 0 no fault' },
            { status: 'failed', fullName: 'fault matrix: api 4 etcd paused' },
          ],
        },
        { name: '/tmp/x/test/integration/drain.test.ts', status: 'failed', message: '\n  ● Test suite failed to run\n\n    SyntaxError: Unexpected token\n', assertionResults: [] },
        { name: '/tmp/x/test/integration/pods.test.ts', status: 'passed', assertionResults: [{ status: 'passed', fullName: 'ok' }] },
      ],
    });
    expect(lines).toEqual([
      '-- integration tests failed: test/integration/faults-api.test.ts > fault matrix: api 4 etcd paused',
      '-- integration tests failed to run: test/integration/drain.test.ts: SyntaxError: Unexpected token',
    ]);
  });

  it('prints nothing when every test passed', () => {
    expect(failureLines({ testResults: [{ name: '/r/test/unit/a.test.ts', status: 'passed', assertionResults: [{ status: 'passed', fullName: 'a' }] }] })).toEqual([]);
  });
});

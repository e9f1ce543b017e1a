// npm run compat (compat/): the releases it runs are the supported range's oldest and one middle
// minor; jest's report is read into version × file rows without ever turning a file that did not
// run into a pass; the kind workflow's matrix covers every supported minor.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { allPassed, COMPAT_FILES, compatRows, compatVersions, renderCompatTable, type JestReport } from '../../compat/results.js';
import { SUPPORTED_MINORS } from '../../src/engine/kube/server-version.js';

const minorOf = (release: string): number => Number(/^v1\.(\d+)\.\d+$/.exec(release)?.[1]);

describe('compat releases', () => {
  it('oldest is the oldest supported minor; middle lies strictly inside the range', () => {
    const { oldest, middle } = compatVersions();
    expect(minorOf(oldest)).toBe(SUPPORTED_MINORS.oldest);
    expect(minorOf(middle)).toBeGreaterThan(SUPPORTED_MINORS.oldest);
    expect(minorOf(middle)).toBeLessThan(SUPPORTED_MINORS.newest);
  });

  it('the kind workflow runs every supported minor, each with a kind release and a digest-pinned image', () => {
    const workflow = parse(readFileSync('.github/workflows/e2e.yml', 'utf8')) as {
      jobs: { kind: { strategy: { matrix: { include: { kubernetes: string; kind: string; image: string }[] } } } };
    };
    const entries = workflow.jobs.kind.strategy.matrix.include;
    const minors = entries.map((e) => minorOf(e.kubernetes)).sort((a, b) => a - b);
    const expected = Array.from({ length: SUPPORTED_MINORS.newest - SUPPORTED_MINORS.oldest + 1 }, (_, i) => SUPPORTED_MINORS.oldest + i);
    expect(minors).toEqual(expected);
    for (const e of entries) {
      expect(e.kind).toMatch(/^v0\.\d+\.\d+$/);
      expect(e.image).toMatch(new RegExp(`^kindest/node:${e.kubernetes.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
    }
  });
});

describe('compatRows', () => {
  const result = (file: string, statuses: string[], extra: Partial<JestReport['testResults'][number]> = {}) => ({
    name: `/work/repo/test/integration/${file}`,
    status: statuses.includes('failed') ? 'failed' : 'passed',
    assertionResults: statuses.map((status) => ({ status })),
    ...extra,
  });

  it('counts each file\'s passed and failed tests', () => {
    const report: JestReport = {
      testResults: [
        result('migration.test.ts', ['passed', 'passed', 'failed']),
        result('node-pools.test.ts', ['passed']),
      ],
    };
    expect(compatRows('v1.32.13', ['test/integration/migration.test.ts', 'test/integration/node-pools.test.ts'], report)).toEqual([
      { version: 'v1.32.13', file: 'migration.test.ts', passed: 2, failed: 1 },
      { version: 'v1.32.13', file: 'node-pools.test.ts', passed: 1, failed: 0 },
    ]);
  });

  it('a file missing from the report, or whose suite failed outside its tests, is a failure', () => {
    const report: JestReport = { testResults: [result('availability.test.ts', [], { status: 'failed', testExecError: { message: 'cluster did not start' } })] };
    const rows = compatRows('v1.34.11', COMPAT_FILES, report);
    expect(rows.find((r) => r.file === 'availability.test.ts')).toMatchObject({ passed: 0, failed: 1 });
    expect(rows.find((r) => r.file === 'planner-parity.test.ts')).toMatchObject({ passed: 0, failed: 1 });
    expect(compatRows('v1.34.11', COMPAT_FILES, undefined).every((r) => r.failed === 1)).toBe(true);
    expect(allPassed(rows)).toBe(false);
  });

  it('a skipped test is not a pass', () => {
    const rows = compatRows('v1.32.13', ['test/integration/migration.test.ts'], { testResults: [result('migration.test.ts', ['passed', 'pending'])] });
    expect(rows[0]).toMatchObject({ passed: 1, failed: 1 });
    expect(allPassed(rows)).toBe(false);
  });

  it('does not take migration-safety.test.ts for migration.test.ts', () => {
    const rows = compatRows('v1.32.13', ['test/integration/migration.test.ts'], { testResults: [result('migration-safety.test.ts', ['passed'])] });
    expect(rows[0]).toMatchObject({ passed: 0, failed: 1 });
  });
});

describe('renderCompatTable', () => {
  it('a row per file, a column per version', () => {
    const table = renderCompatTable([
      { version: 'v1.32.13', file: 'migration.test.ts', passed: 5, failed: 0 },
      { version: 'v1.34.11', file: 'migration.test.ts', passed: 4, failed: 1 },
    ]);
    expect(table.split('\n')).toEqual([
      '| test file | Kubernetes v1.32.13 | Kubernetes v1.34.11 |',
      '|---|---|---|',
      '| migration.test.ts | passed (5) | FAILED (1 of 5) |',
    ]);
  });
});

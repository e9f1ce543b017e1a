// What `npm run compat` runs and how it reads and shows the outcome: the fixed subset of the
// integration suite, the releases (compat/versions.json), jest's --json report reduced to one
// row per version and file, and the version × file table. No I/O but reading versions.json, so
// the unit tests cover it.
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compatibility subset: planning parity, eviction answers, migration, the gate, the pool drain. */
export const COMPAT_FILES = [
  'test/integration/planner-parity.test.ts',
  'test/integration/eviction-answers.test.ts',
  'test/integration/migration.test.ts',
  'test/integration/availability.test.ts',
  'test/integration/node-pools.test.ts',
] as const;

export interface CompatVersions {
  /** The oldest supported minor's release: what .ci/run runs. */
  oldest: string;
  /** One minor between the oldest and the newest. */
  middle: string;
}

export function compatVersions(): CompatVersions {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'versions.json');
  const { oldest, middle } = JSON.parse(readFileSync(file, 'utf8')) as Partial<CompatVersions>;
  if (!oldest || !middle) throw new Error(`${file}: "oldest" and "middle" must name Kubernetes releases`);
  return { oldest, middle };
}

/** One cell of the table and one entry of compat-results/summary.json. */
export interface CompatRow {
  version: string;
  /** The test file's name, e.g. migration.test.ts. */
  file: string;
  passed: number;
  failed: number;
}

/** The parts of jest's --json report read here. */
export interface JestReport {
  testResults: {
    name: string;
    status?: string;
    message?: string;
    testExecError?: unknown;
    assertionResults: { status: string; fullName?: string }[];
  }[];
}

/**
 * One row per file of `files`: its passed and failed tests. A file that did not run, or whose
 * suite failed outside any test (a cluster that did not start, a compile error), counts one
 * failure; a skipped or todo test counts as failed too: the table is green only where every test ran and passed.
 */
export function compatRows(version: string, files: readonly string[], report: JestReport | undefined): CompatRow[] {
  return files.map((path) => {
    const file = basename(path);
    const result = report?.testResults.find((r) => r.name.endsWith(`/${path}`) || basename(r.name) === file);
    if (!result) return { version, file, passed: 0, failed: 1 };
    const passed = result.assertionResults.filter((a) => a.status === 'passed').length;
    const notPassed = result.assertionResults.length - passed;
    const suiteFailed = result.testExecError !== undefined || (result.status === 'failed' && notPassed === 0);
    return { version, file, passed, failed: notPassed + (suiteFailed ? 1 : 0) };
  });
}

/** Markdown table, a row per test file and a column per version: "passed (n)" or "FAILED (f of n)". */
export function renderCompatTable(rows: CompatRow[]): string {
  const versions = [...new Set(rows.map((r) => r.version))];
  const files = [...new Set(rows.map((r) => r.file))];
  const cell = (r: CompatRow | undefined): string => {
    if (!r) return 'not run';
    const total = r.passed + r.failed;
    return r.failed === 0 && r.passed > 0 ? `passed (${r.passed})` : `FAILED (${r.failed} of ${total})`;
  };
  const lines = [
    `| test file | ${versions.map((v) => `Kubernetes ${v}`).join(' | ')} |`,
    `|---|${versions.map(() => '---').join('|')}|`,
    ...files.map((f) => `| ${f} | ${versions.map((v) => cell(rows.find((r) => r.version === v && r.file === f))).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** Every row green: tests ran and none failed. */
export function allPassed(rows: CompatRow[]): boolean {
  return rows.length > 0 && rows.every((r) => r.failed === 0 && r.passed > 0);
}

// Generated documentation does not drift: the README's inputs/outputs tables are action.yml's,
// and docs/report.schema.json is RunReport's (scripts/docs.mts --check). The schema accepts the
// reports the shells' fixtures make and refuses one with a field it does not know.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expectValidReport } from '../report-schema.js';
import { runReport } from './fixtures/run-report.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('generated docs', () => {
  it('README tables and report schema are up to date (npx tsx scripts/docs.mts)', () => {
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/docs.mts', '--check'], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 60_000);
});

describe('report schema', () => {
  it('accepts a report of a drained node and one of a refused run', () => {
    expect(() => expectValidReport(runReport())).not.toThrow();
    expect(() => expectValidReport(runReport({ success: false }, { outcome: 'bad-input', nodes: [], error: 'Input "node": no node given', warnings: ['x'] }))).not.toThrow();
  });

  it('refuses a report with an unknown field or outcome, naming where', () => {
    expect(() => expectValidReport({ ...runReport(), surprise: 1 })).toThrow(/must NOT have additional properties .*"additionalProperty":"surprise"/);
    expect(() => expectValidReport({ ...runReport(), outcome: 'fine' })).toThrow(/\/outcome must be equal to one of the allowed values/);
  });
});

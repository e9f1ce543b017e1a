// The test files measured longest start first, also where jest has no cached durations (a fresh CI
// machine); test/durations.json is measured, so it must name the files that exist.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error plain JS module of the jest configuration, no types
import { longestFirst, readDurations } from '../longest-first-sequencer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const test = (file: string) => ({ path: join('/repo', file) });
const names = (tests: { path: string }[]) => tests.map((t) => t.path.slice('/repo/'.length));

describe('longestFirst', () => {
  it('starts the measured files longest first, then the others in jest\'s order', () => {
    const seconds = { 'test/integration/b.test.ts': 30, 'test/integration/d.test.ts': 300, 'test/integration/e.test.ts': 45 };
    const jestOrder = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => test(`test/integration/${n}.test.ts`));
    expect(names(longestFirst(jestOrder, seconds, '/repo'))).toEqual([
      'test/integration/d.test.ts',
      'test/integration/e.test.ts',
      'test/integration/b.test.ts',
      'test/integration/a.test.ts',
      'test/integration/c.test.ts',
      'test/integration/f.test.ts',
    ]);
  });
});

describe('test/durations.json', () => {
  const seconds = readDurations() as Record<string, number>;
  const testFiles = (dir: string) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => `${dir}/${f}`);

  it('names only test files that exist (a renamed or split file would keep a stale place)', () => {
    expect(Object.keys(seconds).filter((f) => !existsSync(join(root, f)))).toEqual([]);
  });

  it('has a measured time for every file of the cluster projects (an unmeasured one starts last)', () => {
    const slow = [...testFiles('test/integration'), ...testFiles('test/real-nodes'), ...testFiles('test/docker')];
    expect(slow.length).toBeGreaterThan(10);
    expect(slow.filter((f) => seconds[f] === undefined)).toEqual([]);
  });
});

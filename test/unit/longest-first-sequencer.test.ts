// The integration files known to be longest start first, even where jest has no cached durations.
import { describe, expect, it } from '@jest/globals';
// @ts-expect-error plain JS module of the jest configuration, no types
import { LONGEST_FIRST, longestFirst } from '../longest-first-sequencer.js';

const test = (name: string) => ({ path: `/repo/test/integration/${name}` });

describe('longestFirst', () => {
  it('puts the known long files first in their order and keeps the order of the rest', () => {
    const jestOrder = ['pods.test.ts', 'kill-anywhere.test.ts', 'drain.test.ts', 'faults.test.ts', 'cluster.test.ts'].map(test);
    expect(longestFirst(jestOrder).map((t: { path: string }) => t.path.split('/').pop())).toEqual([
      'faults.test.ts',
      'kill-anywhere.test.ts',
      'pods.test.ts',
      'drain.test.ts',
      'cluster.test.ts',
    ]);
  });
  it('names the longest file first', () => {
    expect((LONGEST_FIRST as string[])[0]).toBe('faults.test.ts');
  });
});

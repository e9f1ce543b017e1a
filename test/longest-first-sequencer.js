// Which test files start first. jest orders them by the durations it cached on earlier runs (in
// the OS temp dir); a fresh CI machine has none, and jest then starts the biggest files first,
// so the integration stage's longest file (faults.test.ts, ~10 min, a small file) could start
// last and run alone at the end while the other worker idles. The files named here start first,
// longest first, whatever jest knows; every other file keeps jest's own order after them.
import path from 'node:path';
import Sequencer from '@jest/test-sequencer';

/** Measured on 2 cores (in band, 2026-11-28), longest first. */
export const LONGEST_FIRST = [
  'faults.test.ts',
  'kill-anywhere.test.ts',
  'migration-safety.test.ts',
  'availability.test.ts',
  'inputs.test.ts',
  'act-self-test.test.ts',
];

export function longestFirst(ordered) {
  const rank = (test) => {
    const i = LONGEST_FIRST.indexOf(path.basename(test.path));
    return i < 0 ? LONGEST_FIRST.length : i;
  };
  // Array.prototype.sort is stable: the rest keep jest's order.
  return [...ordered].sort((a, b) => rank(a) - rank(b));
}

export default class LongestFirstSequencer extends Sequencer {
  async sort(tests) {
    return longestFirst(await super.sort(tests));
  }
}

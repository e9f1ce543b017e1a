// Which test files start first. jest orders files by the durations it cached on earlier runs (in
// the OS temp dir); a fresh CI machine has none, and jest then starts the biggest files first, so
// a long small file could start last and run alone at the end while the other workers idle.
// Here the files with a measured duration (test/durations.json, written from a CI run's results by
// scripts/jest-times.mjs --write) start first, longest first: each worker takes the longest file
// left. Files without one keep jest's own order, after them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Sequencer from '@jest/test-sequencer';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Seconds per test file (path relative to the repository, forward slashes), as measured. */
export function readDurations(file = path.join(root, 'test', 'durations.json')) {
  return JSON.parse(readFileSync(file, 'utf8')).seconds;
}

/** `ordered` (jest's order) with the measured files first, longest first; the rest after, in jest's order. */
export function longestFirst(ordered, seconds, rootDir = root) {
  const measured = (test) => seconds[path.relative(rootDir, test.path).split(path.sep).join('/')];
  const rank = (test) => measured(test) ?? -1;
  // Array.prototype.sort is stable: equal ranks (the unmeasured files) keep jest's order.
  return [...ordered].sort((a, b) => rank(b) - rank(a));
}

export default class LongestFirstSequencer extends Sequencer {
  async sort(tests) {
    return longestFirst(await super.sort(tests), readDurations());
  }
}

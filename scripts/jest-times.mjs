// Per-file times of a jest run, for the CI log and for the sequencer (test/longest-first-sequencer.js).
//   node scripts/jest-times.mjs RESULTS.json...            print each file's wall time, longest first,
//                                                          and its tests that took 10 s or more
//   node scripts/jest-times.mjs --write RESULTS.json...    also record the files' times in
//                                                          test/durations.json (files that no longer
//                                                          exist are dropped from it)
// RESULTS.json: jest --json --outputFile output (scripts/test.sh keeps one per stage).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const durationsFile = join(root, 'test', 'durations.json');
const SLOW_TEST_MS = 10_000;

const args = process.argv.slice(2);
const write = args.includes('--write');
const files = args.filter((a) => a !== '--write');
if (files.length === 0) {
  console.error('usage: node scripts/jest-times.mjs [--write] RESULTS.json...');
  process.exit(2);
}

/** The file's path in the repository (results of another checkout, e.g. a fresh clone's .ci/run, too). */
const rel = (p) => {
  const r = relative(root, p).split(sep).join('/');
  return r.startsWith('../') ? p.slice(p.lastIndexOf('/test/') + 1) : r;
};
const rows = [];
for (const file of files) {
  const results = JSON.parse(readFileSync(file, 'utf8'));
  for (const r of results.testResults) {
    const tests = r.assertionResults ?? [];
    rows.push({
      file: rel(r.name),
      seconds: (r.endTime - r.startTime) / 1000,
      status: r.status,
      tests: tests.length,
      slow: tests.filter((t) => (t.duration ?? 0) >= SLOW_TEST_MS).map((t) => ({ title: t.fullName ?? t.title, seconds: t.duration / 1000, status: t.status })),
    });
  }
}
rows.sort((a, b) => b.seconds - a.seconds);
const total = rows.reduce((s, r) => s + r.seconds, 0);
console.log(`per-file wall time, longest first (${rows.length} files, ${total.toFixed(0)} s in all):`);
for (const r of rows) {
  console.log(`${r.seconds.toFixed(1).padStart(8)} s  ${r.file}  (${r.tests} tests${r.status === 'failed' ? ', FAILED' : ''})`);
  for (const t of r.slow) console.log(`${''.padStart(12)}${t.seconds.toFixed(1).padStart(7)} s  ${t.title}${t.status === 'passed' ? '' : ` [${t.status}]`}`);
}

if (write) {
  const previous = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, 'utf8')).seconds : {};
  const seconds = Object.fromEntries(Object.entries(previous).filter(([f]) => existsSync(join(root, f))));
  for (const r of rows) seconds[r.file] = Math.round(r.seconds);
  const sorted = Object.fromEntries(Object.entries(seconds).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(durationsFile, `${JSON.stringify({ note: 'Wall time per test file in seconds, measured by .ci/run (scripts/jest-times.mjs --write); read by test/longest-first-sequencer.js.', seconds: sorted }, null, 2)}\n`);
  console.log(`${rel(durationsFile)}: ${Object.keys(sorted).length} files`);
}

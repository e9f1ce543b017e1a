// The failed tests of a jest run, one line each, for the end of scripts/test.sh's log (a CI log's
// tail then names them).
//   node scripts/jest-failures.mjs RESULTS.json STAGE
import { readFileSync } from 'node:fs';

const [file, stage] = process.argv.slice(2);
const results = JSON.parse(readFileSync(file, 'utf8'));
const testPath = (name) => name.slice(name.lastIndexOf('/test/') + 1);
const firstUsefulLine = (message = '') =>
  message
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.includes('Test suite failed to run')) ?? '';

for (const suite of results.testResults) {
  const failed = suite.assertionResults.filter((t) => t.status === 'failed');
  for (const t of failed) console.log(`-- ${stage} failed: ${testPath(suite.name)} > ${t.fullName}`);
  if (suite.status === 'failed' && failed.length === 0) {
    console.log(`-- ${stage} failed to run: ${testPath(suite.name)}: ${firstUsefulLine(suite.message)}`.slice(0, 240));
  }
}

// `npm run compat`: the compatibility subset of the integration suite (compat/results.ts
// COMPAT_FILES) on the oldest supported Kubernetes minor and one middle minor
// (compat/versions.json), each test file on its own control plane of that release: the tests
// read SAFE_DRAIN_K8S_VERSION through cluster/src. Each release's binaries are built first (cached
// per release). Prints the version × file table; writes compat-results/summary.json as
// [{ version, file, passed, failed }] and each run's jest report beside it. Exit 1 unless all green.
//   npm run compat                          oldest and middle
//   npm run compat -- --only oldest         the oldest only (.ci/run)
//   npm run compat -- --versions v1.33.13   other releases (comma-separated)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinaries, K8S_VERSION_ENV } from '../cluster/src/index.js';
import { allPassed, COMPAT_FILES, compatRows, compatVersions, renderCompatTable, type CompatRow, type JestReport } from './results.js';

const OUT = process.env.COMPAT_RESULTS ?? 'compat-results';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function chosenVersions(): string[] {
  const listed = arg('versions');
  if (listed) return listed.split(',').map((v) => v.trim()).filter(Boolean);
  const known = compatVersions();
  const only = arg('only');
  if (only === undefined) return [known.oldest, known.middle];
  if (only !== 'oldest' && only !== 'middle') throw new Error(`--only takes oldest or middle, not "${only}"`);
  return [known[only]];
}

/** Runs the subset on `version` (two files at a time, each its own cluster); resolves jest's report, if it wrote one. */
async function runSubset(version: string): Promise<JestReport | undefined> {
  const reportFile = join(OUT, `jest-${version}.json`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(
      'npx',
      ['jest', '--runTestsByPath', ...COMPAT_FILES, '--selectProjects', 'integration', '--maxWorkers=2', '--json', `--outputFile=${reportFile}`],
      { stdio: 'inherit', env: { ...process.env, [K8S_VERSION_ENV]: version, NODE_OPTIONS: '--experimental-vm-modules' } },
    );
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (!existsSync(reportFile)) {
    console.error(`!!!!! Kubernetes ${version}: jest wrote no report (exit ${code}): every file counts as failed`);
    return undefined;
  }
  return JSON.parse(readFileSync(reportFile, 'utf8')) as JestReport;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const rows: CompatRow[] = [];
  for (const version of chosenVersions()) {
    const started = Date.now();
    console.error(`\n===== Kubernetes ${version}: building (or finding) its binaries`);
    let report: JestReport | undefined;
    try {
      console.error(`binaries: ${await ensureBinaries(version)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      console.error(`===== Kubernetes ${version}: ${COMPAT_FILES.length} test files`);
      report = await runSubset(version);
    } catch (err) {
      console.error(`!!!!! Kubernetes ${version}: ${(err as Error).message}: every file counts as failed`);
    }
    rows.push(...compatRows(version, COMPAT_FILES, report));
    console.error(`===== Kubernetes ${version}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify(rows, null, 2)}\n`);
  const table = renderCompatTable(rows);
  writeFileSync(join(OUT, 'summary.md'), `${table}\n`);
  console.log(`\n${table}\n`);
  console.log(`${rows.reduce((n, r) => n + r.passed, 0)} passed, ${rows.reduce((n, r) => n + r.failed, 0)} failed (${join(OUT, 'summary.json')})`);
  process.exitCode = allPassed(rows) ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

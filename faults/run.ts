// `npm run faults`: the fault matrix on one local cluster. Prints one table and writes
// fault-results/summary.json (one entry per scenario). `npm run faults -- <id substring>...` runs
// only the matching scenarios (plus the fault-free reference when nothing else measures it).
// Exit code 1 when a scenario failed or could not be run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type LocalCluster } from '../cluster/src/index.js';
import { createContext, FAULT_CLUSTER, REPO } from './harness.js';
import { recorderSelfCheck, runScenario, SCENARIOS, type ScenarioResult } from './scenarios.js';


export function table(results: ScenarioResult[]): string {
  const rows = [
    ['fault', 'outcome', 'evictions outside budget', 'changes left', 'drain time (s)', 'time lost to the fault (s)', 'passed'],
    ...results.map((r) => [
      r.fault, r.outcome, String(r.evictionsOutsideBudget), String(r.changesLeft), r.seconds.toFixed(1),
      r.lostSeconds === undefined ? '—' : r.lostSeconds.toFixed(1), r.notRun ? `NOT RUN: ${r.notRun}` : r.passed ? 'yes' : 'NO',
    ]),
  ];
  const right = new Set([2, 3, 4, 5]);
  const lines = rows.map((r) => `| ${r.join(' | ')} |`);
  lines.splice(1, 0, `| ${rows[0]!.map((_, i) => (right.has(i) ? '---:' : '---')).join(' | ')} |`);
  return lines.join('\n');
}

export function summaryOf(results: ScenarioResult[]): object[] {
  return results.map(({ fault, outcome, evictionsOutsideBudget, changesLeft, seconds, passed }) => ({
    fault, outcome, evictionsOutsideBudget, changesLeft, seconds, passed,
  }));
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const chosen = SCENARIOS.filter((s, i) => i === 0 || filters.length === 0 || filters.some((f) => s.id.includes(f)));
  const log = (m: string): void => void process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const started = Date.now();
  let cluster: LocalCluster | undefined;
  const results: ScenarioResult[] = [];
  try {
    cluster = await startCluster({ ...FAULT_CLUSTER, log });
    const ctx = await createContext(cluster, log);
    try {
      const broken = await recorderSelfCheck(ctx);
      if (broken.length) throw new Error(`the independent recorder failed its self-check: ${broken.join('; ')}`);
      log('recorder self-check: an eviction forced past a PDB is counted');
      for (const s of chosen) {
        log(`${s.fault} ...`);
        const r = await runScenario(ctx, s);
        results.push(r);
        log(`${s.fault}: ${r.outcome}, passed ${r.passed}${r.notes.length ? `\n  ${r.notes.join('\n  ')}` : ''}`);
      }
    } finally {
      ctx.recorder.stop();
    }
  } finally {
    await cluster?.stop();
  }
  const dir = join(REPO, 'fault-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summaryOf(results), null, 2)}\n`);
  writeFileSync(join(dir, 'details.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${table(results)}\n\n${results.filter((r) => r.passed).length}/${results.length} passed in ${Math.round((Date.now() - started) / 1000)} s; fault-results/summary.json written\n`);
  return results.every((r) => r.passed) ? 0 : 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`faults: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

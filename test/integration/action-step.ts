// A step of the Action run as the runner runs it: a node process with its inputs in INPUT_*, its
// outputs, job summary and state in files, and the report file it names read back (and checked
// against the published schema).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../../src/engine/types.js';
import { expectValidReport } from '../report-schema.js';
import { REPO, entryCommand } from '../bundle.js';
import { runProcess } from './cli-process.js';

export interface StepRun {
  status: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  report?: RunReport;
  summary: string;
}

/**
 * Runs `entry` ('action' or 'post': test/bundle.ts entryCommand; or a bundled .js) with `inputs`;
 * `env` adds to the runner's variables (GITHUB_EVENT_NAME, GITHUB_API_URL, ...).
 */
export async function runActionStep(inputs: Record<string, string>, entry: 'action' | 'post' | string = 'action', env: NodeJS.ProcessEnv = {}): Promise<StepRun> {
  const dir = mkdtempSync(join(tmpdir(), 'safe-drain-step-'));
  const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary.md'), GITHUB_STATE: join(dir, 'state') };
  for (const path of Object.values(files)) writeFileSync(path, '');
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]));
  try {
    const args = entry === 'action' || entry === 'post' ? entryCommand(entry) : [entry];
    const exited = await runProcess(process.execPath, args, { ...inputEnv, ...files, RUNNER_TEMP: dir, KUBECONFIG: '', ...env }, REPO);
    const outputs = parseOutputFile(readFileSync(files.GITHUB_OUTPUT, 'utf8'));
    const report = outputs.report ? expectValidReport(JSON.parse(readFileSync(outputs.report, 'utf8')) as RunReport, "the Action's report file") : undefined;
    return { ...exited, outputs, ...(report && { report }), summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GITHUB_OUTPUT's `name<<DELIMITER\nvalue\nDELIMITER` entries. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]!] = m[3]!;
  return outputs;
}

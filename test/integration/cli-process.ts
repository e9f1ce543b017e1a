// The CLI as a real child process (one node process, no npx wrapper, so a SIGKILL hits the
// process that talks to the API server), for tests that kill it mid-drain.
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { expectValidReport } from '../report-schema.js';
import { entryCommand } from '../bundle.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process has exited (code null when killed by a signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function startCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [...entryCommand('cli'), ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // A process that ended on its own with --output json printed a report: it must match the schema.
      try {
        if (code !== null && asksForJson(args)) expectValidReport(JSON.parse(stdout) as unknown, `the CLI's JSON report (safe-drain ${args.join(' ')})`);
        resolve({ code, signal, stdout, stderr });
      } catch (err) {
        reject(err as Error);
      }
    });
  });
  return { child, exited };
}

/** `-o json`, `--output json`, `--output=json`. */
export function asksForJson(args: string[]): boolean {
  return args.some((arg, i) => ((arg === '-o' || arg === '--output') && args[i + 1] === 'json') || arg === '--output=json' || arg === '-ojson');
}

/**
 * Its exit, or after `ms` a SIGKILL and an error carrying what it printed: a run that never
 * reaches the moment a test waits for fails with its own log, not with jest's bare timeout.
 */
export async function exitedWithin(run: CliRun, ms: number, waitingFor: string): Promise<Awaited<CliRun['exited']>> {
  // The kill makes `exited` resolve too: whether the bound was hit decides, not which came first.
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    run.child.kill('SIGKILL');
  }, ms);
  const r = await run.exited;
  clearTimeout(timer);
  if (late) throw new Error(`the CLI did not exit within ${ms / 1000} s (waiting for ${waitingFor}); its output:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs the CLI to its end. */
export async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return startCli(args).exited;
}

export interface Exited {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `executable args` (node dist/cli.js ..., node --import tsx src/...) to its end, in `cwd`
 * (default: a directory with no node_modules near it). Asynchronous: the cluster's processes log
 * through this process's pipes. NODE_OPTIONS cleared: jest's --experimental-vm-modules is not for
 * the shells. With `-o json`, the report it printed is checked against the published schema.
 */
export function runProcess(executable: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = tmpdir()): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { cwd, env: { ...process.env, NODE_OPTIONS: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => {
      try {
        if (status !== null && asksForJson(args)) expectValidReport(JSON.parse(stdout) as unknown, `the JSON report of ${args.join(' ')}`);
        resolve({ status, stdout, stderr });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }
    });
  });
}

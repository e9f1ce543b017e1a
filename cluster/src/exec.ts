import { spawn } from 'node:child_process';

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs a command to completion; resolves stdout, rejects with stderr in the message. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        const err = new Error(`${cmd.split('/').pop()} ${args.join(' ')}: ${why}: ${stderr.trim() || stdout.trim()}`);
        Object.assign(err, { code, stdout, stderr });
        reject(err);
      }
    });
    child.stdin.on('error', () => undefined); // EPIPE when the command exits early
    child.stdin.end(opts.input ?? '');
  });
}

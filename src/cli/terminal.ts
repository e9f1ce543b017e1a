// The CLI's side of the terminal: progress lines on stderr, who runs the drain, Ctrl-C.
import { hostname, userInfo } from 'node:os';
import { cancelOnSignals, type Cancellation } from '../engine/cancel.js';
import type { Logger } from '../engine/types.js';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };

export function terminalLogger(io: CliIo, verbose: boolean): Logger {
  // Piped output (CI logs, files) gets timestamps; an interactive terminal does not need them.
  const stamp = () => (io.stderr.isTTY ? '' : `${new Date().toISOString()} `);
  const write = (prefix: string, message: string, where?: { node?: string; pod?: string }) => {
    const subject = [where?.node && `node ${where.node}`, where?.pod && `pod ${where.pod}`].filter(Boolean).join(', ');
    io.stderr.write(`${stamp()}${prefix}${subject ? `[${subject}] ` : ''}${message}\n`);
  };
  return {
    info: (message) => write('', message),
    warn: (message, where) => write('warning: ', message, where),
    error: (message, where) => write('error: ', message, where),
    debug: (message) => (verbose ? write('debug: ', message) : undefined),
    async group(name, fn) {
      write('', `== ${name}`);
      return fn();
    },
  };
}

/** Names the person and machine in the Kubernetes Events safe-drain records. */
export function cliOrigin(): string {
  try {
    return `safe-drain CLI (${userInfo().username}@${hostname()})`;
  } catch {
    return `safe-drain CLI (${hostname()})`; // userInfo() throws for uids without a passwd entry
  }
}

/** First Ctrl-C: stop and clean up (uncordon, restore workloads). Second: quit right away. */
export function listenForCancellation(io: CliIo): Cancellation {
  return cancelOnSignals((name, alreadyCancelled) => {
    if (alreadyCancelled) process.exit(130);
    io.stderr.write(`\nReceived ${name}: cancelling and cleaning up (press Ctrl-C again to quit now).\n`);
  });
}

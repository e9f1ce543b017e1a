// The `safe-drain` CLI: the Action's inputs as --kebab-case flags. Flag values go back to
// strings and through the same parseOptions as the Action, so both shells accept and refuse
// exactly the same things. Progress goes to stderr, results to stdout.
// Exit codes: 0 success, 1 the drain failed, 2 bad input.
import { realpathSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { cancelOnSignals, type Cancellation } from '../engine/cancel.js';
import { errorText } from '../engine/kube/errors.js';
import { bestKnownOptions, parseOptions } from '../engine/options.js';
import { changesBeforeError, failedRunReport } from '../engine/report/failed-run.js';
import { renderPlanText, renderResultText } from '../engine/report/text.js';
import { runSafeDrain } from '../engine/run.js';
import { InputError, type DrainOptions, type Logger, type RunReport } from '../engine/types.js';
import { EXIT_CODES, SafeDrainError, outcomeOfError } from '../engine/errors.js';
import { EXIT_BAD_INPUT, EXIT_SUCCESS } from './exit-codes.js';

export { EXIT_BAD_INPUT, EXIT_DRAIN_FAILED, EXIT_SUCCESS } from './exit-codes.js';

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

export interface CliInvocation {
  options: DrainOptions;
  kubeconfigPath?: string;
  context?: string;
  output: 'text' | 'json';
  verbose: boolean;
}

/** Flags that take true/false; `--flag` alone means true and `--no-flag` means false. */
const BOOLEAN_FLAGS = [
  'ignore-daemonsets',
  'delete-emptydir-data',
  'force',
  'dry-run',
  'wait-for-replacements',
  'uncordon-on-failure',
  'abort-on-downtime',
  'restore-after',
];
const OPERATIONS = ['drain', 'cordon', 'uncordon', 'plan'];

function buildProgram(io: CliIo): Command {
  const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
  return new Command('safe-drain')
    .description('Drain a Kubernetes node without taking the services on it down: plan, cordon, PDB-aware eviction, zero-downtime migration.')
    .version(packageJson.version)
    .argument('[operation]', `${OPERATIONS.join(' | ')} (same as --operation)`)
    .option('--node <name>', 'node to act on; repeat the flag or separate names with commas', collect)
    .option('-l, --selector <selector>', 'label selector of the nodes to act on (instead of --node)')
    .option('--operation <operation>', `${OPERATIONS.join(' | ')} (default: drain)`)
    .addOption(booleanOption('ignore-daemonsets', 'leave DaemonSet pods on the node (default: true)'))
    .addOption(booleanOption('delete-emptydir-data', 'evict pods using emptyDir, losing that data (default: false)'))
    .addOption(booleanOption('force', 'evict pods not managed by a controller (default: false)'))
    .option('--grace-period <seconds>', "termination grace period; -1 = each pod's own (default: -1)")
    .option('--pod-selector <selector>', 'only evict pods matching this label selector')
    .option('--timeout <duration>', 'bound on draining one node, e.g. 90s, 10m, 1h30m; 0 = none (default: 0)')
    .option('--skip-wait-for-delete-timeout <seconds>', 'do not wait for pods deleted longer ago than this; 0 = off (default: 0)')
    .addOption(booleanOption('dry-run', 'plan and report, change nothing; also server/client/none (default: false)'))
    .option('--max-concurrent-evictions <n>', 'evictions in flight at once, across all nodes of the run (default: 10)')
    .option('--max-unavailable-nodes <n>', 'nodes drained at once: a count or a percentage of the selected nodes (default: 1)')
    .addOption(booleanOption('wait-for-replacements', 'wait until evicted pods are replaced and ready (default: false)'))
    .addOption(booleanOption('uncordon-on-failure', 'uncordon the node again if the drain fails (default: false)'))
    .option('--migration <mode>', 'surge (replacement first) | evict (default: surge)')
    .option(
      '--availability <services>',
      'Services the availability gate watches: auto | off | namespace/name,... | "namespaces: a,b" | "selector: app=web" (default: auto)',
    )
    .option('--probe-urls <urls>', 'http(s) URLs probed while draining; repeat the flag or separate with commas', collect)
    .option('--probe-interval <duration>', 'time between two requests to one probe URL (default: 250ms)')
    .option('--max-downtime <duration>', 'fail when a Service had no ready endpoint longer than this, e.g. 0s; unset = report only')
    .option('--min-ready-ratio <ratio>', 'fail when a Service fell below this share of its ready endpoints, e.g. 0.5')
    .addOption(booleanOption('abort-on-downtime', 'stop evicting as soon as the gate breaks, restore, report (default: false)'))
    .addOption(booleanOption('restore-after', 'uncordon the nodes this run cordoned at the end (default: false)'))
    .option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .addOption(new Option('-o, --output <format>', 'result format on stdout').choices(['text', 'json']).default('text'))
    .option('-v, --verbose', 'also print debug messages')
    .addHelpText('after', '\nBoolean flags accept --flag, --flag=false and --no-flag. Exit codes: 0 success, 1 drain failed, 2 bad input.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
}

function booleanOption(name: string, description: string): Option {
  return new Option(`--${name} [bool]`, description);
}

/**
 * `--force` alone becomes `--force=true` and `--no-force` becomes `--force=false`, so a boolean
 * flag never swallows the next argument (`--force drain`) and its value reaches parseOptions.
 */
export function normalizeBooleanFlags(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  const rest = end === -1 ? [] : argv.slice(end);
  const normalized = flags.map((arg) => {
    const name = arg.replace(/^--(no-)?/, '');
    if (!arg.startsWith('--') || !BOOLEAN_FLAGS.includes(name)) return arg;
    return `--${name}=${arg.startsWith('--no-') ? 'false' : 'true'}`;
  });
  return [...normalized, ...rest];
}

/** Parses argv into options; throws InputError for bad values and CommanderError for bad usage. */
export function parseCliArgs(argv: string[], io: CliIo = silentIo): CliInvocation {
  const program = buildProgram(io);
  program.parse(normalizeBooleanFlags(argv), { from: 'user' });
  const flags = program.opts<Record<string, string | string[] | boolean | undefined>>();
  const positional = program.args[0];
  if (positional !== undefined && typeof flags.operation === 'string' && flags.operation !== positional) {
    throw new InputError('operation', `"${positional}" and --operation "${flags.operation}" disagree`, 'Give the operation once.');
  }
  const attribute = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const options = parseOptions((name) => {
    if (name === 'operation') return positional ?? (flags.operation as string | undefined);
    const value = flags[attribute(name)];
    return Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : undefined;
  });
  return {
    options,
    ...(typeof flags.kubeconfig === 'string' && { kubeconfigPath: flags.kubeconfig }),
    ...(typeof flags.context === 'string' && { context: flags.context }),
    output: flags.output === 'json' ? 'json' : 'text',
    verbose: flags.verbose === true,
  };
}

/**
 * Runs the CLI. Every path that ends in an error still prints a result: with `--output json`
 * always a JSON RunReport (success false, the error, whether anything was changed), in text the
 * error on stderr followed by what was changed.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const started = Date.now();
  let invocation: CliInvocation;
  try {
    invocation = parseCliArgs(argv, io);
  } catch (err) {
    return reportStartupError(err, argv, started, io);
  }
  const cancellation = listenForCancellation(io);
  try {
    const report = await runSafeDrain(invocation.options, {
      ...(invocation.kubeconfigPath !== undefined && { kubeconfigPath: invocation.kubeconfigPath }),
      ...(invocation.context !== undefined && { context: invocation.context }),
      logger: terminalLogger(io, invocation.verbose),
      origin: cliOrigin(),
      signal: cancellation.signal,
      // The plan table is shown once: at the end on stdout for plan/dry-run, else in the progress log.
      onPlan: (plan) => {
        if (!showsPlanAtEnd(invocation.options)) io.stderr.write(`${renderPlanText({ ...plan, blockers: [] })}\n`);
      },
    });
    if (report.availability && report.availability.failures.length > 0) {
      io.stderr.write(`error: availability gate failed: ${report.availability.failures.join('; ')}\n`);
    }
    io.stdout.write(`${invocation.output === 'json' ? JSON.stringify(report, null, 2) : renderText(report)}\n`);
    return EXIT_CODES[report.outcome];
  } catch (err) {
    const message = err instanceof InputError ? flagMessage(err) : err instanceof SafeDrainError ? err.message : `safe-drain failed: ${errorText(err)}`;
    printFailedRun(failedRunReport({ options: invocation.options, error: err, startedAt: started, message }), err, invocation.output, io);
    return EXIT_CODES[outcomeOfError(err)];
  } finally {
    cancellation.dispose();
  }
}

function reportStartupError(err: unknown, argv: string[], started: number, io: CliIo): number {
  if (err instanceof CommanderError) {
    // --help and --version end parsing through the same path, successfully.
    const done = ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(err.code);
    if (done) return EXIT_SUCCESS;
    // commander has already printed the usage error on stderr; the result still goes to stdout.
    const error = usageError(err);
    const report = failedRunReport({ options: bestKnownOptions(flagReader(normalizeBooleanFlags(argv))), error, startedAt: started });
    printResult(report, error, requestedOutput(argv), io);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof InputError) {
    const report = failedRunReport({ options: bestKnownOptions(flagReader(normalizeBooleanFlags(argv))), error: err, startedAt: started, message: flagMessage(err) });
    printFailedRun(report, err, requestedOutput(argv), io);
    return EXIT_BAD_INPUT;
  }
  throw err;
}

/** The error on stderr; then the result on stdout. */
function printFailedRun(report: RunReport, err: unknown, output: 'text' | 'json', io: CliIo): void {
  io.stderr.write(`error: ${report.error}\n`);
  printResult(report, err, output, io);
}

/** The JSON report, or in text the verdict and what the run left changed (the error is on stderr already). */
function printResult(report: RunReport, err: unknown, output: 'text' | 'json', io: CliIo): void {
  if (output === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(`safe-drain ${report.options.operation} FAILED\n${changesBeforeError(err, report.options)}\n`);
}

/** A commander usage error as an InputError: bad usage is bad input, and it changes nothing. */
function usageError(err: CommanderError): InputError {
  const text = err.message.replace(/^error: /, '');
  return new InputError('usage', text, 'See `safe-drain --help`.');
}

/** `-o json`, `--output json`, `--output=json`, `-ojson`: read from argv when parsing it failed. */
export function requestedOutput(argv: string[]): 'text' | 'json' {
  let output: string | undefined;
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') break;
    if (arg === '-o' || arg === '--output') output = argv[i + 1];
    else if (arg.startsWith('--output=')) output = arg.slice('--output='.length);
    else if (/^-o[^-]/.test(arg)) output = arg.slice(2).replace(/^=/, '');
  }
  return output === 'json' ? 'json' : 'text';
}

/** Raw `--name value` / `--name=value` flags, for naming the operation of a refused run. */
function flagReader(argv: string[]): (name: string) => string | undefined {
  return (name) => {
    if (name === 'operation' && argv[0] !== undefined && !argv[0].startsWith('-')) return argv[0];
    const flag = `--${name}`;
    const at = argv.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
    if (at === -1) return undefined;
    const arg = argv[at]!;
    return arg.includes('=') ? arg.slice(flag.length + 1) : argv[at + 1];
  };
}

/** InputError names Action inputs; on the command line the same names are flags. */
function flagMessage(err: InputError): string {
  return err.message.replace(/^Input "([^"]+)"/, 'option --$1');
}

/** Plans (and dry runs) end with the full plan on stdout; real runs show it in the progress log. */
function showsPlanAtEnd(options: DrainOptions): boolean {
  return options.operation === 'plan' || options.dryRun;
}

/** Plans (and dry runs) show the full plan; real runs show what happened. */
function renderText(report: RunReport): string {
  const showPlan = showsPlanAtEnd(report.options);
  const plans = showPlan ? report.nodes.flatMap((node) => (node.plan ? [renderPlanText(node.plan)] : [])) : [];
  return [...plans, renderResultText(report)].join('\n\n');
}

// --- terminal plumbing ---------------------------------------------------------------------------

function terminalLogger(io: CliIo, verbose: boolean): Logger {
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

function cliOrigin(): string {
  try {
    return `safe-drain CLI (${userInfo().username}@${hostname()})`;
  } catch {
    return `safe-drain CLI (${hostname()})`; // userInfo() throws for uids without a passwd entry
  }
}

/** First Ctrl-C: stop and clean up (uncordon, restore workloads). Second: quit right away. */
function listenForCancellation(io: CliIo): Cancellation {
  return cancelOnSignals((name, alreadyCancelled) => {
    if (alreadyCancelled) process.exit(130);
    io.stderr.write(`\nReceived ${name}: cancelling and cleaning up (press Ctrl-C again to quit now).\n`);
  });
}

const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };
const silentIo: CliIo = { stdout: { write: () => true }, stderr: { write: () => true } };

/** True when this module is the program being run (`tsx src/cli/main.ts`), not imported (dist/cli.js imports it). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** Runs the CLI on this process's argv and sets its exit code (dist/cli.js calls it after the Node version check). */
export async function runAsProgram(): Promise<void> {
  // `safe-drain plan ... | head` closes stdout early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  process.exitCode = await main(process.argv.slice(2));
}

if (isEntryPoint()) await runAsProgram();

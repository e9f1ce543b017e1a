// The `safe-drain` CLI: `safe-drain <drain|plan|cordon|uncordon> [NODE...] [flags]`, the
// Action's inputs as flags (commands.ts). Flag values go back to strings and through the same
// parseOptions as the Action, so both shells accept and refuse exactly the same things.
// Progress goes to stderr, results to stdout; the exit code is the run's outcome (errors.ts).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { EXIT_CODES, SafeDrainError, outcomeOfError } from '../engine/errors.js';
import { errorText } from '../engine/kube/errors.js';
import { bestKnownOptions, parseOptions } from '../engine/options.js';
import { changesBeforeError, failedRunReport } from '../engine/report/failed-run.js';
import { renderPlanText, renderResultText } from '../engine/report/text.js';
import { runSafeDrain } from '../engine/run.js';
import { InputError, type DrainOptions, type Operation, type RunReport } from '../engine/types.js';
import { BOOLEAN_FLAGS, COMMANDS, buildProgram } from './commands.js';
import { EXIT_BAD_INPUT, EXIT_SUCCESS } from './exit-codes.js';
import { cliOrigin, listenForCancellation, processIo, terminalLogger, type CliIo } from './terminal.js';

export { EXIT_BAD_INPUT, EXIT_DRAIN_FAILED, EXIT_GATE_FAILED, EXIT_NO_ACCESS, EXIT_SUCCESS } from './exit-codes.js';
export type { CliIo } from './terminal.js';

export interface CliInvocation {
  options: DrainOptions;
  kubeconfigPath?: string;
  context?: string;
  output: 'text' | 'json';
  verbose: boolean;
}

/**
 * `--force` alone becomes `--force=true` and `--no-force` becomes `--force=false`, so a boolean
 * flag never swallows the next argument (`--force w1`) and its value reaches parseOptions.
 * kubectl's `-v=N` / `--v=N` become `--verbose`.
 */
export function normalizeBooleanFlags(argv: string[]): string[] {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  const rest = end === -1 ? [] : argv.slice(end);
  const normalized = flags.map((arg) => {
    if (/^--?v=\d+$/.test(arg)) return '--verbose';
    const name = arg.replace(/^--(no-)?/, '');
    if (!arg.startsWith('--') || !BOOLEAN_FLAGS.includes(name)) return arg;
    return `--${name}=${arg.startsWith('--no-') ? 'false' : 'true'}`;
  });
  return [...normalized, ...rest];
}

/** Parses argv into options; throws InputError for bad values and CommanderError for bad usage. */
export function parseCliArgs(argv: string[], io: CliIo = silentIo): CliInvocation {
  refuseOperationFlag(argv);
  let parsed: { operation: Operation; nodes: string[]; flags: Record<string, unknown> } | undefined;
  const program = buildProgram(packageJson.version, { writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) }, (operation, nodes, flags) => {
    parsed = { operation, nodes, flags };
  });
  program.parse(normalizeBooleanFlags(argv), { from: 'user' });
  if (!parsed) throw missingCommand();
  const { operation, nodes, flags } = parsed;
  const names = [...nodes, ...((flags.node as string[] | undefined) ?? [])];
  checkNodeTarget(operation, names, flags.selector);
  const options = parseOptions((name) => {
    if (name === 'operation') return operation;
    if (name === 'node') return names.length > 0 ? names.join(',') : undefined;
    const value = flags[camelCase(name)];
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

/** Names or -l, exactly one of them, said as a kubectl user writes them. */
function checkNodeTarget(operation: Operation, names: string[], selector: unknown): void {
  if (names.length > 0 && selector !== undefined) {
    throw new InputError('selector', `node names (${names.join(', ')}) and a selector are both given`, 'Name the nodes or select them with -l, not both.');
  }
  if (names.length === 0 && selector === undefined) {
    throw new InputError('node', 'no node given', `Name the nodes (\`safe-drain ${operation} w1 w2\`) or select them with -l (\`safe-drain ${operation} -l pool=blue\`).`);
  }
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** `--operation` was the flag before the subcommands: refused, naming the form that replaced it. */
function refuseOperationFlag(argv: string[]): void {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  const at = flags.findIndex((arg) => arg === '--operation' || arg.startsWith('--operation='));
  if (at === -1) return;
  const value = flags[at]!.includes('=') ? flags[at]!.slice('--operation='.length) : (flags[at + 1] ?? 'drain');
  const operation = COMMANDS.find((c) => c === value) ?? 'drain';
  throw new InputError('operation', '--operation was replaced by commands', `Write the operation first: \`safe-drain ${operation} NODE...\` (e.g. \`safe-drain ${operation} w1\`, or \`-l pool=blue\`).`);
}

function missingCommand(): InputError {
  return new InputError('command', 'no command given', `Start with one of ${COMMANDS.join(', ')}, e.g. \`safe-drain drain w1\`; see \`safe-drain --help\``);
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
      shell: 'cli',
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
  const options = () => bestKnownOptions(flagReader(normalizeBooleanFlags(argv)));
  if (err instanceof CommanderError) {
    // --help and --version end parsing through the same path, successfully.
    if (err.exitCode === 0) return EXIT_SUCCESS;
    // Without a command, commander has printed the help on stderr: that says it all, in text.
    if (err.code === 'commander.help' && requestedOutput(argv) === 'text') return EXIT_BAD_INPUT;
    // commander has already printed the usage error on stderr; the result still goes to stdout.
    const error = err.code === 'commander.help' ? missingCommand() : usageError(err);
    printResult(failedRunReport({ options: options(), error, startedAt: started, message: flagMessage(error) }), error, requestedOutput(argv), io, commandIn(argv));
    return EXIT_BAD_INPUT;
  }
  if (err instanceof InputError) {
    printFailedRun(failedRunReport({ options: options(), error: err, startedAt: started, message: flagMessage(err) }), err, requestedOutput(argv), io, commandIn(argv));
    return EXIT_BAD_INPUT;
  }
  throw err;
}

/** The error on stderr; then the result on stdout. */
function printFailedRun(report: RunReport, err: unknown, output: 'text' | 'json', io: CliIo, command: string | undefined = report.options.operation): void {
  io.stderr.write(`error: ${report.error}\n`);
  printResult(report, err, output, io, command);
}

/** The JSON report, or in text the verdict and what the run left changed (the error is on stderr already). */
function printResult(report: RunReport, err: unknown, output: 'text' | 'json', io: CliIo, command: string | undefined): void {
  if (output === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const verdict = `safe-drain${command ? ` ${command}` : ''} FAILED (${report.outcome}, exit code ${EXIT_CODES[report.outcome]})`;
    io.stdout.write(`${verdict}\n${changesBeforeError(err, report.options)}\n`);
  }
}

/** The command argv names, if it names a known one (a refused run's verdict says which). */
function commandIn(argv: string[]): Operation | undefined {
  const first = argv.find((arg) => !arg.startsWith('-'));
  return COMMANDS.find((c) => c === first);
}

/** A commander usage error as an InputError: bad usage is bad input, and it changes nothing. */
function usageError(err: CommanderError): InputError {
  const text = err.message.replace(/^error: /, '');
  return new InputError('usage', text, 'See `safe-drain <command> --help`.');
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

/** Raw flags and NODE arguments, for naming the operation and nodes of a refused run. */
function flagReader(argv: string[]): (name: string) => string | undefined {
  return (name) => {
    if (name === 'operation') return commandIn(argv);
    const flag = `--${name}`;
    const at = argv.findIndex((arg) => arg === flag || arg.startsWith(`${flag}=`));
    if (at === -1) return name === 'node' ? nodeArguments(argv) : undefined;
    const arg = argv[at]!;
    return arg.includes('=') ? arg.slice(flag.length + 1) : argv[at + 1];
  };
}

/** The words after the command up to the first flag: its NODE arguments. */
function nodeArguments(argv: string[]): string | undefined {
  const start = argv.findIndex((arg) => COMMANDS.some((c) => c === arg));
  if (start === -1) return undefined;
  const end = argv.findIndex((arg, i) => i > start && arg.startsWith('-'));
  const names = argv.slice(start + 1, end === -1 ? undefined : end);
  return names.length > 0 ? names.join(',') : undefined;
}

/** InputError names Action inputs; on the command line the same names are flags, and `node` is also the NODE arguments. */
function flagMessage(err: InputError): string {
  return err.message.replace(/^Input "([^"]+)"/, (_, input: string) => {
    if (input === 'node') return 'NODE';
    if (input === 'selector') return 'option -l/--selector';
    if (input === 'command' || input === 'operation' || input === 'usage') return 'usage';
    return `option --${input}`;
  });
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

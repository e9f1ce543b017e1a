// The CLI shell with the engine mocked: flags → the same DrainOptions the Action would build,
// output formats and exit codes.
import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { RunContext } from '../../src/engine/run.js';
import { DEFAULT_OPTIONS, InputError, type DrainOptions, type RunReport } from '../../src/engine/types.js';
import { runReport } from './fixtures/run-report.js';
import { ClusterUnreachable } from '../../src/engine/errors.js';

const runSafeDrain = jest.fn<(options: DrainOptions, ctx: RunContext) => Promise<RunReport>>();
jest.unstable_mockModule('../../src/engine/run.js', () => ({ runSafeDrain }));

const { EXIT_BAD_INPUT, EXIT_DRAIN_FAILED, EXIT_SUCCESS, main, normalizeBooleanFlags, parseCliArgs, requestedOutput } = await import('../../src/cli/main.js');
const { COMMANDS } = await import('../../src/cli/commands.js');

const { minimumNodeMajor, unsupportedNodeMessage } = await import('../../src/cli/node-version.js');

const report = (success = true): RunReport => runReport({ success });

/** Captures what main() writes. */
function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text), isTTY: true } },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

beforeEach(() => {
  jest.clearAllMocks();
  runSafeDrain.mockResolvedValue(report());
});

describe('parseCliArgs', () => {
  it('gives the defaults for `drain NODE`', () => {
    expect(parseCliArgs(['drain', 'w1'])).toEqual({ options: { ...DEFAULT_OPTIONS, nodes: ['w1'] }, output: 'text', verbose: false });
  });

  it('takes node names as arguments, and --node (repeated, comma-separated) as an alias', () => {
    expect(parseCliArgs(['drain', 'w1', 'w2']).options.nodes).toEqual(['w1', 'w2']);
    expect(parseCliArgs(['cordon', '--node', 'w1', '--node=w2,w3']).options).toMatchObject({ operation: 'cordon', nodes: ['w1', 'w2', 'w3'] });
    expect(parseCliArgs(['uncordon', 'w1', '--node', 'w2']).options).toMatchObject({ operation: 'uncordon', nodes: ['w1', 'w2'] });
  });

  it('selects nodes with -l, as kubectl', () => {
    expect(parseCliArgs(['plan', '-l', 'pool=blue']).options).toMatchObject({ operation: 'plan', nodes: [], selector: 'pool=blue' });
  });

  it('refuses node names together with -l, and neither, in the words of the command line', () => {
    expect(() => parseCliArgs(['drain', 'w1', '-l', 'pool=blue'])).toThrow('node names (w1) and a selector are both given');
    expect(() => parseCliArgs(['drain'])).toThrow('Name the nodes (`safe-drain drain w1 w2`) or select them with -l');
  });

  it('maps every flag onto the shared option names', () => {
    const parsed = parseCliArgs([
      'drain',
      '-l',
      'pool=blue',
      '--no-ignore-daemonsets',
      '--delete-emptydir-data',
      '--force=yes',
      '--grace-period=30',
      '--pod-selector',
      'app in (web)',
      '--timeout',
      '5m',
      '--skip-wait-for-delete-timeout',
      '20',
      '--dry-run=server',
      '--max-concurrent-evictions',
      '4',
      '--max-unavailable-nodes',
      '10%',
      '--wait-for-replacements',
      '--uncordon-on-failure',
      '--migration',
      'evict',
      '--availability',
      'selector: tier in (web, api)',
      '--probe-urls',
      'http://127.0.0.1:8080/',
      '--probe-urls=https://shop.example/healthz',
      '--probe-interval',
      '1s',
      '--max-downtime',
      '0s',
      '--min-ready-ratio',
      '0.5',
      '--abort-on-downtime',
      '--restore-after',
      '--no-respect-do-not-disrupt',
      '--force-after',
      '2m',
      '--volume-detach-timeout=off',
      '--kubeconfig',
      '/tmp/kc',
      '--context',
      'prod',
      '-o',
      'json',
      '-v',
    ]);
    expect(parsed).toEqual({
      options: {
        nodes: [],
        selector: 'pool=blue',
        operation: 'drain',
        ignoreDaemonsets: false,
        deleteEmptydirData: true,
        force: true,
        gracePeriodSeconds: 30,
        podSelector: 'app in (web)',
        timeoutMs: 300_000,
        skipWaitForDeleteTimeoutSeconds: 20,
        dryRun: true,
        maxConcurrentEvictions: 4,
        maxUnavailableNodes: { percent: 10 },
        waitForReplacements: true,
        uncordonOnFailure: true,
        migration: 'evict',
        availability: {
          selection: { mode: 'selector', selector: 'tier in (web, api)' },
          probeUrls: ['http://127.0.0.1:8080/', 'https://shop.example/healthz'],
          probeIntervalMs: 1000,
          maxDowntimeMs: 0,
          minReadyRatio: 0.5,
          abortOnDowntime: true,
          restoreAfter: true,
        },
        respectDoNotDisrupt: false,
        disableEviction: false,
        forceAfterMs: 120_000,
        volumeDetachTimeoutMs: 'off',
      },
      kubeconfigPath: '/tmp/kc',
      context: 'prod',
      output: 'json',
      verbose: true,
    });
  });

  it('takes the operation from the command; --operation is refused naming the command that replaced it', () => {
    for (const command of COMMANDS) expect(parseCliArgs([command, 'w1']).options.operation).toBe(command);
    expect(() => parseCliArgs(['--operation', 'cordon', '--node', 'w1'])).toThrow('--operation was replaced by commands. Write the operation first: `safe-drain cordon NODE...`');
    expect(() => parseCliArgs(['plan', 'w1', '--operation=plan'])).toThrow(InputError);
  });

  it('offers each command only its own flags', () => {
    expect(() => parseCliArgs(['cordon', 'w1', '--force'])).toThrow("unknown option '--force=true'");
    expect(() => parseCliArgs(['plan', 'w1', '--timeout', '5m'])).toThrow("unknown option '--timeout'");
    expect(parseCliArgs(['plan', 'w1', '--max-downtime', '0s']).options.availability.maxDowntimeMs).toBe(0);
  });

  it('does not let a boolean flag swallow the node name after it', () => {
    expect(parseCliArgs(['plan', '--force', 'w1']).options).toMatchObject({ force: true, operation: 'plan', nodes: ['w1'] });
  });

  it("reads kubectl's -v=N as --verbose", () => {
    expect(parseCliArgs(['plan', 'w1', '-v=6']).verbose).toBe(true);
    expect(parseCliArgs(['plan', 'w1', '--v=2']).verbose).toBe(true);
  });

  it('leaves values after -- alone', () => {
    expect(normalizeBooleanFlags(['--force', '--', '--force'])).toEqual(['--force=true', '--', '--force']);
    expect(normalizeBooleanFlags(['--no-dry-run', '--nodeX'])).toEqual(['--dry-run=false', '--nodeX']);
  });

  it('refuses bad values with the shared parser', () => {
    expect(() => parseCliArgs(['drain', 'w1', '--timeout', '90'])).toThrow('Input "timeout": "90" has no unit');
    expect(() => parseCliArgs(['drain', 'w1', '--force=maybe'])).toThrow('"maybe" is not a boolean');
    expect(() => parseCliArgs(['delete', 'w1'])).toThrow("unknown command 'delete'");
  });
});

// Issue 8 item 17: the check dist/cli.js runs before loading anything else (the real old Node
// is run in test/integration/cli-bundle.test.ts).
describe('unsupportedNodeMessage', () => {
  it('names the required and the found version on an older Node', () => {
    expect(unsupportedNodeMessage('20.20.2', '>=24', '/usr/bin/node')).toBe(
      'safe-drain needs Node.js 24 or newer; /usr/bin/node is Node.js 20.20.2. Run it with Node.js 24+ (e.g. `nvm install 24`, or put a newer node first on PATH).',
    );
  });

  it('accepts the required major and newer', () => {
    expect(unsupportedNodeMessage('24.0.0', '>=24', 'node')).toBeUndefined();
    expect(unsupportedNodeMessage('26.1.0', '>= 24.1', 'node')).toBeUndefined();
  });

  it('reads the minimum from package.json engines, and refuses a range it cannot read', () => {
    expect(minimumNodeMajor('>=24')).toBe(24);
    expect(() => minimumNodeMajor('^24 || ^26')).toThrow('is not of the form ">=N"');
  });
});

describe('main', () => {
  it('runs the engine and prints the result text; exit 0', async () => {
    const { io, stdout } = capture();
    expect(await main(['drain', 'w1', '--kubeconfig', '/tmp/kc'], io)).toBe(EXIT_SUCCESS);
    const [options, ctx] = runSafeDrain.mock.calls[0]!;
    expect(options.nodes).toEqual(['w1']);
    expect(ctx.kubeconfigPath).toBe('/tmp/kc');
    expect(ctx.origin).toMatch(/^safe-drain CLI \(/);
    expect(stdout()).toContain('safe-drain drain succeeded in 3s');
    expect(stdout()).toContain('Node w1: cordoned (was not cordoned before); 1 pod evicted; drained.');
  });

  it('prints the RunReport as JSON with --output json', async () => {
    const { io, stdout } = capture();
    await main(['drain', 'w1', '--output', 'json'], io);
    expect(JSON.parse(stdout())).toEqual(report());
  });

  it('sends engine progress to stderr, debug only with --verbose', async () => {
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      ctx.logger.info('cordoning w1');
      ctx.logger.warn('PDB shop/web allows 0', { pod: 'shop/web-1' });
      ctx.logger.debug('details');
      return report();
    });
    const quiet = capture();
    await main(['drain', 'w1'], quiet.io);
    expect(quiet.stderr()).toBe('cordoning w1\nwarning: [pod shop/web-1] PDB shop/web allows 0\n');
    const verbose = capture();
    await main(['drain', 'w1', '--verbose'], verbose.io);
    expect(verbose.stderr()).toContain('debug: details\n');
    expect(verbose.stdout()).not.toContain('cordoning');
  });

  it('exits 1 when the drain fails', async () => {
    runSafeDrain.mockResolvedValue(report(false));
    expect(await main(['drain', 'w1'], capture().io)).toBe(EXIT_DRAIN_FAILED);
  });

  it('exits 1 when the engine throws', async () => {
    runSafeDrain.mockRejectedValue(new Error('connection refused'));
    const { io, stderr } = capture();
    expect(await main(['drain', 'w1'], io)).toBe(EXIT_DRAIN_FAILED);
    expect(stderr()).toBe('error: safe-drain failed: connection refused\n');
  });

  it('exits 2 for a bad flag value, naming the flag', async () => {
    const { io, stderr } = capture();
    expect(await main(['drain', 'w1', '--max-concurrent-evictions', '0'], io)).toBe(EXIT_BAD_INPUT);
    expect(stderr()).toMatch(/^error: option --max-concurrent-evictions: 0 is too small\./);
    expect(runSafeDrain).not.toHaveBeenCalled();
  });

  it('exits 2 without a command, showing the help on stderr', async () => {
    const bare = capture();
    expect(await main([], bare.io)).toBe(EXIT_BAD_INPUT);
    expect(bare.stderr()).toContain('Usage: safe-drain <command> [NODE...] [flags]');
    expect(bare.stdout()).toBe('');
    const json = capture();
    expect(await main(['-o', 'json'], json.io)).toBe(EXIT_BAD_INPUT);
    expect(JSON.parse(json.stdout())).toMatchObject({ outcome: 'bad-input', error: "usage: unknown option '-o'. See `safe-drain <command> --help`." });
  });

  it('exits 2 for an unknown flag or a stray argument', async () => {
    const unknown = capture();
    expect(await main(['drain', 'w1', '--nodes', 'w2'], unknown.io)).toBe(EXIT_BAD_INPUT);
    expect(unknown.stderr()).toContain("unknown option '--nodes'");
    expect(unknown.stdout()).toBe('safe-drain drain FAILED (bad-input, exit code 2)\nNothing was changed: safe-drain stopped before its first change.\n');
    expect(await main(['drain', 'w1', 'stray', '--selector', 'a=b'], capture().io)).toBe(EXIT_BAD_INPUT);
    expect(await main(['drain', 'w1', '-o', 'yaml'], capture().io)).toBe(EXIT_BAD_INPUT);
  });

  it('exits 2 for an InputError from the engine (e.g. unknown node)', async () => {
    runSafeDrain.mockRejectedValue(new InputError('node', 'no node "w9" in the cluster', 'Check `kubectl get nodes`.'));
    const { io, stderr } = capture();
    expect(await main(['drain', 'w9'], io)).toBe(EXIT_BAD_INPUT);
    expect(stderr()).toBe('error: NODE: no node "w9" in the cluster. Check `kubectl get nodes`.\n');
  });

  // Issue 8 item 16: every path prints a result; --output json always prints a JSON report.
  it('prints a failed JSON report for a refused flag value, naming the flag; nothing changed', async () => {
    const { io, stdout, stderr } = capture();
    expect(await main(['drain', '--node', 'w1', '--timeout', '600h', '-o', 'json'], io)).toBe(EXIT_BAD_INPUT);
    expect(runSafeDrain).not.toHaveBeenCalled();
    const printed = JSON.parse(stdout()) as RunReport;
    expect(printed).toMatchObject({ success: false, outcome: 'bad-input', nodes: [], options: { operation: 'drain', nodes: ['w1'] } });
    expect(printed.error).toMatch(/^option --timeout: "600h" is longer than the maximum/);
    expect(printed.summary).toContain('Nothing was changed');
    expect(stderr()).toMatch(/^error: option --timeout: "600h"/);
  });

  it('prints a failed JSON report for a usage error (unknown flag) with --output=json', async () => {
    const { io, stdout, stderr } = capture();
    expect(await main(['drain', 'w1', '--nodes', 'w2', '--output=json'], io)).toBe(EXIT_BAD_INPUT);
    expect(stderr()).toContain("unknown option '--nodes'");
    const printed = JSON.parse(stdout()) as RunReport;
    expect(printed.success).toBe(false);
    expect(printed.error).toContain("unknown option '--nodes'");
    expect(printed.summary).toContain('Nothing was changed');
  });

  it('prints a failed JSON report when the engine refuses an input (unknown node, unreachable cluster)', async () => {
    runSafeDrain.mockRejectedValue(new ClusterUnreachable('https://127.0.0.1:1', 'ECONNREFUSED'));
    const { io, stdout } = capture();
    expect(await main(['drain', 'w1', '-o', 'json'], io)).toBe(4);
    const printed = JSON.parse(stdout()) as RunReport;
    expect(printed.outcome).toBe('no-access');
    expect(printed.error).toMatch(/^cannot reach the API server https:\/\/127\.0\.0\.1:1: ECONNREFUSED\. Nothing was changed/);
    expect(printed.summary).toContain('Nothing was changed');
  });

  it('prints a failed JSON report when an error escapes the engine, saying it cannot tell what changed', async () => {
    runSafeDrain.mockRejectedValue(new Error('socket hang up'));
    const { io, stdout } = capture();
    expect(await main(['drain', 'w1', '--output', 'json'], io)).toBe(EXIT_DRAIN_FAILED);
    const printed = JSON.parse(stdout()) as RunReport;
    expect(printed.success).toBe(false);
    expect(printed.error).toBe('safe-drain failed: socket hang up');
    expect(printed.summary).toContain('cannot tell what it changed before this error: check w1');
  });

  it('in text, prints the error on stderr and what was changed on stdout', async () => {
    const { io, stdout, stderr } = capture();
    expect(await main(['drain', '--node', ','], io)).toBe(EXIT_BAD_INPUT);
    expect(stderr()).toBe('error: NODE: "," names no node (separators only). Set "node" to one or more node names, e.g. "w1" or "w1,w2".\n');
    expect(stdout()).toBe('safe-drain drain FAILED (bad-input, exit code 2)\nNothing was changed: safe-drain stopped before its first change.\n');
  });

  it('reads the requested output format from argv when parsing fails', () => {
    expect(requestedOutput(['-o', 'json'])).toBe('json');
    expect(requestedOutput(['--output=json'])).toBe('json');
    expect(requestedOutput(['-ojson'])).toBe('json');
    expect(requestedOutput(['--output', 'text'])).toBe('text');
    expect(requestedOutput(['--', '-o', 'json'])).toBe('text');
  });

  it('exits 0 for --help and --version', async () => {
    const help = capture();
    expect(await main(['--help'], help.io)).toBe(EXIT_SUCCESS);
    expect(help.stdout()).toContain('Usage: safe-drain <command> [NODE...] [flags]');
    for (const command of COMMANDS) expect(help.stdout()).toMatch(new RegExp(`^  ${command} \\[options\\] \\[NODE\\.\\.\\.\\]`, 'm'));
    const version = capture();
    expect(await main(['--version'], version.io)).toBe(EXIT_SUCCESS);
    expect(version.stdout()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("prints each command's own flags and examples with `<command> --help`", async () => {
    const drain = capture();
    expect(await main(['drain', '--help'], drain.io)).toBe(EXIT_SUCCESS);
    expect(drain.stdout()).toContain('Usage: safe-drain drain [NODE...] [flags]');
    expect(drain.stdout()).toMatch(/--timeout <duration> +give up draining a node/);
    expect(drain.stdout()).toContain("(default: true; kubectl's default is false, which refuses them)");
    expect(drain.stdout()).toContain('Examples:\n  safe-drain drain w1\n');
    for (const flag of ['--respect-do-not-disrupt [bool]', '--disable-eviction [bool]', '--force-after <duration>', '--volume-detach-timeout <duration>']) expect(drain.stdout()).toContain(flag);
    expect(drain.stdout()).toMatch(/--disable-eviction \[bool\] +delete pods instead of evicting them, as kubectl --disable-eviction: their PDBs are BYPASSED/);
    const cordon = capture();
    expect(await main(['cordon', '--help'], cordon.io)).toBe(EXIT_SUCCESS);
    expect(cordon.stdout()).toContain('  safe-drain cordon w1');
    for (const flag of ['--force', '--timeout', '--max-downtime', '--migration', '--disable-eviction', '--volume-detach-timeout']) expect(cordon.stdout()).not.toContain(flag);
    expect(cordon.stdout()).toContain('--dry-run');
  });

  it('prints the plan table for the plan operation', async () => {
    const planned = report();
    planned.options.operation = 'plan';
    planned.nodes[0] = {
      ...planned.nodes[0]!,
      operation: 'plan',
      plan: { node: 'w1', nodeReady: true, alreadyCordoned: false, pods: [], groups: [], blockers: [], fits: [] },
    };
    runSafeDrain.mockResolvedValue(planned);
    const { io, stdout } = capture();
    await main(['plan', 'w1'], io);
    expect(stdout()).toContain('Plan for node w1 (Ready, not cordoned): 0 pods, 0 eviction groups');
  });
});

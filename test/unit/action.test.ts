// The Action shell with @actions/core and the engine mocked, as the official typescript-action
// template does: mocks are registered before main.js is imported.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunContext } from '../../src/engine/run.js';
import { DEFAULT_OPTIONS, InputError, type DrainOptions, type RunReport } from '../../src/engine/types.js';
import { runReport } from './fixtures/run-report.js';

let inputs: Record<string, string> = {};
const summary = { addRaw: jest.fn((_markdown: string) => summary), write: jest.fn(async () => summary) };
const core = {
  getInput: jest.fn((name: string) => inputs[name] ?? ''),
  setSecret: jest.fn(),
  setOutput: jest.fn(),
  setFailed: jest.fn(),
  saveState: jest.fn(),
  info: jest.fn(),
  warning: jest.fn(),
  error: jest.fn(),
  debug: jest.fn(),
  group: jest.fn(async <T>(_name: string, fn: () => Promise<T>) => fn()),
  summary,
};
const runSafeDrain = jest.fn<(options: DrainOptions, ctx: RunContext) => Promise<RunReport>>();

jest.unstable_mockModule('@actions/core', () => core);
jest.unstable_mockModule('../../src/engine/run.js', () => ({ runSafeDrain }));

const { run, workflowRunOrigin } = await import('../../src/action/main.js');

const KUBECONFIG = 'apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: s3cr3t-token-value\n';

function report(fields: Partial<RunReport> = {}): RunReport {
  return runReport(
    {
      durationMs: 4200,
      results: [
        { pod: 'shop/web-1', outcome: 'evicted', budgetWaits: 0 },
        { pod: 'kube-system/agent-1', outcome: 'skipped', budgetWaits: 0 },
      ],
    },
    fields,
  );
}

function outputs(): Record<string, unknown> {
  return Object.fromEntries(core.setOutput.mock.calls.map(([name, value]) => [name as string, value]));
}

let runnerTemp: string;

beforeEach(() => {
  jest.clearAllMocks();
  runnerTemp = mkdtempSync(join(tmpdir(), 'safe-drain-action-test-'));
  process.env.RUNNER_TEMP = runnerTemp;
  inputs = { node: 'w1' };
  runSafeDrain.mockResolvedValue(report());
});

afterEach(() => {
  rmSync(runnerTemp, { recursive: true, force: true });
  delete process.env.RUNNER_TEMP;
});

describe('run', () => {
  it('passes the parsed inputs to the engine', async () => {
    inputs = { node: 'w1, w2', 'dry-run': 'server', timeout: '10m', 'max-concurrent-evictions': '2', context: 'prod' };
    await run();
    expect(runSafeDrain).toHaveBeenCalledTimes(1);
    const [options, ctx] = runSafeDrain.mock.calls[0]!;
    expect(options).toEqual({ ...DEFAULT_OPTIONS, nodes: ['w1', 'w2'], dryRun: true, timeoutMs: 600_000, maxConcurrentEvictions: 2 });
    expect(ctx.context).toBe('prod');
    expect(ctx.kubeconfigPath).toBeUndefined();
    expect(ctx.signal).toBeInstanceOf(AbortSignal);
    expect(core.setFailed).not.toHaveBeenCalled();
  });

  it('saves the id of its drain locks for the post step before the engine runs, and gives the engine the same id', async () => {
    runSafeDrain.mockImplementationOnce(async () => {
      expect(core.saveState).toHaveBeenCalledTimes(1); // saved before: a killed step still leaves it
      return report();
    });
    await run();
    const [name, holder] = core.saveState.mock.calls[0]! as [string, string];
    expect(name).toBe('drain-lock-holder');
    expect(holder).toMatch(/^[0-9a-f-]{36}$/);
    expect(runSafeDrain.mock.calls[0]![1].lockHolder).toBe(holder);
  });

  it('sets the outputs, writes the JSON report and the job summary', async () => {
    await run();
    const out = outputs();
    expect(out.evicted).toBe('["shop/web-1"]');
    expect(out.skipped).toBe('["kube-system/agent-1"]');
    expect(out.blocked).toBe('[]');
    expect(out['duration-seconds']).toBe('4.2');
    const reportPath = out.report as string;
    expect(reportPath.startsWith(runnerTemp)).toBe(true);
    expect(JSON.parse(readFileSync(reportPath, 'utf8'))).toEqual(report());
    expect(summary.addRaw).toHaveBeenCalledWith(expect.stringContaining('## safe-drain drain succeeded'));
    expect(summary.write).toHaveBeenCalled();
  });

  it('writes the kubeconfig to a 0600 file under RUNNER_TEMP, masks it, and removes it afterwards', async () => {
    inputs = { node: 'w1', kubeconfig: KUBECONFIG };
    let seen: { path: string; mode: number; text: string } | undefined;
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      const path = ctx.kubeconfigPath!;
      seen = { path, mode: statSync(path).mode & 0o777, text: readFileSync(path, 'utf8') };
      return report();
    });
    await run();
    expect(seen?.path.startsWith(runnerTemp)).toBe(true);
    expect(seen?.mode).toBe(0o600);
    expect(seen?.text).toBe(KUBECONFIG.trim());
    expect(existsSync(seen!.path)).toBe(false);
    const masked = core.setSecret.mock.calls.map(([value]) => value);
    expect(masked).toEqual(expect.arrayContaining([KUBECONFIG.trim(), Buffer.from(KUBECONFIG.trim()).toString('base64'), 's3cr3t-token-value']));
  });

  it('decodes a base64 kubeconfig and masks both forms', async () => {
    const encoded = Buffer.from(KUBECONFIG).toString('base64');
    inputs = { node: 'w1', kubeconfig: encoded };
    let text = '';
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      text = readFileSync(ctx.kubeconfigPath!, 'utf8');
      return report();
    });
    await run();
    expect(text).toBe(KUBECONFIG);
    const masked = core.setSecret.mock.calls.map(([value]) => value);
    expect(masked).toEqual(expect.arrayContaining([encoded, KUBECONFIG, 's3cr3t-token-value']));
  });

  it('removes the kubeconfig file when the engine fails', async () => {
    inputs = { node: 'w1', kubeconfig: KUBECONFIG };
    let path = '';
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      path = ctx.kubeconfigPath!;
      throw new Error('connection refused');
    });
    await run();
    expect(existsSync(path)).toBe(false);
    expect(core.setFailed).toHaveBeenCalledWith('safe-drain failed: connection refused');
  });

  it('fails with the InputError message for bad inputs, without calling the engine', async () => {
    inputs = { node: 'w1', timeout: '90' };
    await run();
    expect(runSafeDrain).not.toHaveBeenCalled();
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/^Input "timeout": "90" has no unit\. /));
  });

  it('fails with the InputError message the engine raises', async () => {
    runSafeDrain.mockRejectedValue(new InputError('node', 'no node "w9" in the cluster', 'Check the name.'));
    await run();
    expect(core.setFailed).toHaveBeenCalledWith('Input "node": no node "w9" in the cluster. Check the name. Nothing was changed.');
  });

  it('refuses a comment input that is not a boolean, before the engine runs', async () => {
    inputs = { node: 'w1', comment: 'please' };
    await run();
    expect(runSafeDrain).not.toHaveBeenCalled();
    expect(core.setFailed).toHaveBeenCalledWith('Input "comment": "please" is not a boolean. Use true or false. Nothing was changed.');
    expect(outputs().outcome).toBe('bad-input');
  });

  it('sets the outcome output and the warnings output (a JSON array), and runs the engine as the Action', async () => {
    runSafeDrain.mockResolvedValue(report({ success: false, outcome: 'gate-failed', warnings: ['the drain lock of w1 could not be released: 409 Conflict'] }));
    await run();
    expect(outputs().outcome).toBe('gate-failed');
    expect(JSON.parse(outputs().warnings as string)).toEqual(['the drain lock of w1 could not be released: 409 Conflict']);
    expect(runSafeDrain.mock.calls[0]![1].shell).toBe('action');
    runSafeDrain.mockResolvedValue(report());
    core.setOutput.mockClear();
    await run();
    expect(outputs()).toMatchObject({ outcome: 'ok', warnings: '[]' });
  });

  it('refuses a kubeconfig that is neither YAML nor base64', async () => {
    inputs = { node: 'w1', kubeconfig: '!!! not a kubeconfig !!!' };
    await run();
    expect(runSafeDrain).not.toHaveBeenCalled();
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('Input "kubeconfig"'));
  });

  it('publishes the outputs and then fails when the drain failed', async () => {
    const failed = report({ success: false, summary: 'Node w1: cordoned; drain failed: timed out.' });
    failed.nodes[0] = { ...failed.nodes[0]!, success: false, error: 'timed out after 10m' };
    runSafeDrain.mockResolvedValue(failed);
    await run();
    expect(outputs().evicted).toBe('["shop/web-1"]');
    expect(core.setFailed).toHaveBeenCalledWith('safe-drain drain failed (w1: timed out after 10m). Node w1: cordoned; drain failed: timed out.');
  });

  it('does not fail the step when the job summary cannot be written', async () => {
    summary.write.mockRejectedValueOnce(new Error('Unable to find environment variable for $GITHUB_STEP_SUMMARY'));
    await run();
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('Could not write the job summary'));
  });

  it('maps the engine logger to annotations titled with the node and pod', async () => {
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      ctx.logger.warn('PDB blocks eviction', { node: 'w1', pod: 'shop/web-1' });
      ctx.logger.error('eviction failed', { node: 'w1' });
      await ctx.logger.group('outer', () => ctx.logger.group('inner', async () => ctx.logger.info('inside')));
      return report();
    });
    await run();
    expect(core.warning).toHaveBeenCalledWith('PDB blocks eviction', { title: 'safe-drain: node w1, pod shop/web-1' });
    expect(core.error).toHaveBeenCalledWith('eviction failed', { title: 'safe-drain: node w1' });
    expect(core.group).toHaveBeenCalledTimes(1); // Actions log groups cannot nest
    expect(core.info).toHaveBeenCalledWith('-- inner');
    expect(core.info).toHaveBeenCalledWith('inside');
  });

  it('aborts the engine signal on SIGTERM (workflow cancelled)', async () => {
    let signal: AbortSignal | undefined;
    runSafeDrain.mockImplementation(async (_options, ctx) => {
      signal = ctx.signal;
      process.emit('SIGTERM', 'SIGTERM');
      return report();
    });
    await run();
    expect(signal?.aborted).toBe(true);
    expect(String(signal?.reason)).toContain('cancelled (SIGTERM)');
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });
});

// Issue 8 item 16: outputs, job summary and report file exist on every path, not only when the
// engine returns a report.
describe('run publishes a report when the run stops on an error', () => {
  /** The report file the step wrote, parsed. */
  function reportFile(): RunReport {
    return JSON.parse(readFileSync(outputs().report as string, 'utf8')) as RunReport;
  }
  function jobSummary(): string {
    return summary.addRaw.mock.calls.map(([markdown]) => markdown).join('');
  }

  it('for a refused input: empty outputs, a failed report naming the input, a summary saying nothing changed', async () => {
    inputs = { node: 'w1', operation: 'plan', timeout: '600h' };
    await run();
    expect(runSafeDrain).not.toHaveBeenCalled();
    const out = outputs();
    expect(out.evicted).toBe('[]');
    expect(out.skipped).toBe('[]');
    expect(out.blocked).toBe('[]');
    expect(Number(out['duration-seconds'])).toBeGreaterThanOrEqual(0);
    const file = reportFile();
    expect(file.success).toBe(false);
    expect(file.error).toMatch(/^Input "timeout": "600h" is longer than the maximum/);
    expect(file.options.operation).toBe('plan');
    expect(file.nodes).toEqual([]);
    expect(jobSummary()).toContain('## safe-drain plan failed');
    expect(jobSummary()).toContain('Input "timeout"');
    expect(jobSummary()).toContain('Nothing was changed');
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/^Input "timeout": .* Nothing was changed\.$/));
  });

  it('for a permission failure raised by the engine', async () => {
    // As kube/access.ts words it: the message itself says that nothing was changed.
    const denied = Object.assign(new Error('missing Kubernetes permissions: create pods/eviction (cluster-wide). Nothing was changed. Bind the identity.'), {
      name: 'PermissionError',
    });
    runSafeDrain.mockRejectedValue(denied);
    await run();
    expect(outputs().evicted).toBe('[]');
    const file = reportFile();
    expect(file.success).toBe(false);
    expect(file.error).toContain('create pods/eviction');
    expect(file.summary.match(/Nothing was changed/g)).toHaveLength(1);
    expect(jobSummary()).toContain('create pods/eviction');
    expect(core.setFailed).toHaveBeenCalledWith(
      'safe-drain failed: missing Kubernetes permissions: create pods/eviction (cluster-wide). Nothing was changed. Bind the identity.',
    );
  });

  it('for an error escaping the engine: says it cannot tell what changed, and how to check', async () => {
    inputs = { node: 'w1,w2' };
    runSafeDrain.mockRejectedValue(new Error('connect ECONNREFUSED 10.0.0.1:6443'));
    await run();
    expect(outputs().blocked).toBe('[]');
    const file = reportFile();
    expect(file.success).toBe(false);
    expect(file.error).toBe('connect ECONNREFUSED 10.0.0.1:6443');
    expect(file.summary).not.toContain('Nothing was changed');
    expect(file.summary).toContain('cannot tell what it changed before this error: check w1, w2');
    expect(jobSummary()).toContain('ECONNREFUSED');
    expect(core.setFailed).toHaveBeenCalledWith('safe-drain failed: connect ECONNREFUSED 10.0.0.1:6443');
  });

  it('still sets the outputs and fails the step when the report file cannot be written', async () => {
    process.env.RUNNER_TEMP = join(runnerTemp, 'missing', 'dir');
    inputs = { node: ',' };
    await run();
    expect(outputs().evicted).toBe('[]');
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('Could not write the report file'));
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('Input "node": "," names no node'));
  });
});

describe('outputs', () => {
  it('lists failed pods as blocked, with their message', async () => {
    runSafeDrain.mockResolvedValue(
      runReport({
        success: false,
        results: [
          { pod: 'shop/web-1', outcome: 'evicted', budgetWaits: 0 },
          { pod: 'shop/db-0', outcome: 'failed', message: 'eviction refused: more than one PDB selects the pod', budgetWaits: 0 },
          { pod: 'shop/api-1', outcome: 'blocked', pdb: 'shop/api', message: 'PDB shop/api allows 0', budgetWaits: 3 },
        ],
      }),
    );
    await run();
    expect(JSON.parse(outputs().blocked as string)).toEqual([
      { pod: 'shop/db-0', message: 'eviction refused: more than one PDB selects the pod' },
      { pod: 'shop/api-1', pdb: 'shop/api', message: 'PDB shop/api allows 0' },
    ]);
  });
});

describe('workflowRunOrigin', () => {
  it('names the workflow run, workflow and job', () => {
    expect(
      workflowRunOrigin({
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/infra',
        GITHUB_RUN_ID: '42',
        GITHUB_RUN_ATTEMPT: '2',
        GITHUB_WORKFLOW: 'Node rotation',
        GITHUB_JOB: 'drain',
      }),
    ).toBe('https://github.com/acme/infra/actions/runs/42/attempts/2 (workflow "Node rotation", job "drain")');
  });

  it('falls back to a plain name outside Actions', () => {
    expect(workflowRunOrigin({})).toBe('safe-drain GitHub Action');
  });
});

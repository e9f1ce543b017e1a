// The Action's post step, shell logic only: @actions/core mocked as in action.test.ts, and the
// engine parts (connect, node resolution, restoreLeftoverChanges) injected as fakes. What the
// restore does on a cluster is tested against the real control plane with the engine.
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../../src/engine/kube/client.js';
import type { PostLocks } from '../../src/action/post.js';
import { InputError, type DrainOptions, type Logger, type WorkloadChange } from '../../src/engine/types.js';

let inputs: Record<string, string> = {};
let state: Record<string, string> = {};
const core = {
  getInput: jest.fn((name: string) => inputs[name] ?? ''),
  setSecret: jest.fn(),
  setOutput: jest.fn(),
  setFailed: jest.fn(),
  getState: jest.fn((name: string) => state[name] ?? ''),
  info: jest.fn(),
  warning: jest.fn(),
  error: jest.fn(),
  debug: jest.fn(),
  group: jest.fn(async <T>(_name: string, fn: () => Promise<T>) => fn()),
  summary: {},
};
jest.unstable_mockModule('@actions/core', () => core);
// The real modules are not needed: the post step gets its engine parts injected.
jest.unstable_mockModule('../../src/engine/run.js', () => ({ runSafeDrain: jest.fn(), resolveNodes: jest.fn() }));
jest.unstable_mockModule('../../src/engine/execute/restore.js', () => ({ restoreLeftoverChanges: jest.fn() }));

const { post, POST_OUTAGE_BOUND_MS } = await import('../../src/action/post.js');
const { API_OUTAGE_BOUND_MS } = await import('../../src/engine/kube/client.js');
type Scope = { nodes: string[]; dryRun: boolean };

const client = { fake: 'client' } as unknown as KubeClient;
const connect = jest.fn((_path: string | undefined, _context: string | undefined) => client);
const resolveNodeNames = jest.fn(async (_client: KubeClient, _options: DrainOptions) => ['w2', 'w3']);
const restore = jest.fn(async (_client: KubeClient, _logger: Logger, _scope: Scope): Promise<WorkloadChange[]> => []);
const release = jest.fn(async (): Promise<string[]> => []);
const noLocks = (nodes: string[]): PostLocks => ({ acquired: nodes.map((node) => ({ node })), refused: [], release });
const lockNodes = jest.fn(async (_client: KubeClient, _logger: Logger, nodes: string[], _holder: string | undefined) => noLocks(nodes));
const deps = { connect, resolveNodeNames, restoreLeftoverChanges: restore, lockNodes };

const KUBECONFIG = 'apiVersion: v1\nkind: Config\n';
let runnerTemp: string;

beforeEach(() => {
  jest.clearAllMocks();
  runnerTemp = mkdtempSync(join(tmpdir(), 'safe-drain-post-test-'));
  process.env.RUNNER_TEMP = runnerTemp;
  inputs = { node: 'w1' };
  state = {};
});

afterEach(() => {
  rmSync(runnerTemp, { recursive: true, force: true });
  delete process.env.RUNNER_TEMP;
});

describe('post', () => {
  it('restores leftovers for the named nodes and passes dry-run through', async () => {
    inputs = { node: 'w1, w2', 'dry-run': 'true', context: 'prod' };
    await post(deps);
    expect(connect).toHaveBeenCalledWith(undefined, 'prod');
    expect(resolveNodeNames).not.toHaveBeenCalled();
    expect(restore).toHaveBeenCalledWith(client, expect.anything(), { nodes: ['w1', 'w2'], dryRun: true });
    expect(core.info).toHaveBeenCalledWith('safe-drain post: no temporary replica raise left for node w1, w2');
    expect(core.setFailed).not.toHaveBeenCalled();
  });

  it('resolves a selector to node names', async () => {
    inputs = { selector: 'pool=green' };
    await post(deps);
    expect(resolveNodeNames.mock.calls[0]![1]).toMatchObject({ selector: 'pool=green' });
    expect(restore.mock.calls[0]![2]).toEqual({ nodes: ['w2', 'w3'], dryRun: false });
  });

  it('writes the kubeconfig input to a file for the client and removes it afterwards', async () => {
    inputs = { node: 'w1', kubeconfig: KUBECONFIG };
    let seen = '';
    connect.mockImplementationOnce((path) => {
      seen = readFileSync(path!, 'utf8');
      return client;
    });
    await post(deps);
    const path = connect.mock.calls[0]![0]!;
    expect(path.startsWith(runnerTemp)).toBe(true);
    expect(seen).toBe(KUBECONFIG.trim());
    expect(existsSync(path)).toBe(false);
    expect(core.setSecret).toHaveBeenCalledWith(KUBECONFIG.trim());
  });

  it('warns about each leftover it restored', async () => {
    restore.mockResolvedValueOnce([
      { workload: 'Deployment/shop/web', change: 'replicas 2 → 1 (left by an interrupted run for node w1)', restored: true, message: 'replicas restored to 1' },
    ]);
    await post(deps);
    expect(core.warning).toHaveBeenCalledWith('Deployment/shop/web: replicas 2 → 1 (left by an interrupted run for node w1). replicas restored to 1', {
      title: 'safe-drain post: restored a leftover replica raise',
    });
    expect(core.setFailed).not.toHaveBeenCalled();
  });

  it('fails naming each Deployment it could not restore and the command to fix it', async () => {
    const fix = 'Check Deployment shop/api: set the replicas you want (the original was 1: kubectl -n shop scale deployment/api --replicas=1), then remove the marker';
    restore.mockResolvedValueOnce([
      { workload: 'Deployment/shop/web', change: 'replicas 2 → 1', restored: true },
      { workload: 'Deployment/shop/api', change: 'replicas left at 5', restored: false, message: `Deployment/shop/api: replicas is now 5. ${fix}` },
    ]);
    await post(deps);
    expect(core.setFailed).toHaveBeenCalledTimes(1);
    const message = core.setFailed.mock.calls[0]![0] as string;
    expect(message).toContain('1 Deployment(s) still carry a temporary replica raise');
    expect(message).toContain('Deployment/shop/api');
    expect(message).toContain('kubectl -n shop scale deployment/api --replicas=1');
    expect(message).not.toContain('Deployment/shop/web');
  });

  it('never throws: a failing restore fails the step with what to check, and the kubeconfig is still removed', async () => {
    inputs = { node: 'w1', kubeconfig: KUBECONFIG };
    restore.mockRejectedValueOnce(new Error('connect ECONNREFUSED 10.0.0.1:6443'));
    await expect(post(deps)).resolves.toBeUndefined();
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('ECONNREFUSED'));
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('kubectl get deployments -A -l safe-drain.io/scaled=true'));
    expect(existsSync(connect.mock.calls[0]![0]!)).toBe(false);
  });

  it('waits out a cluster that does not answer for a short bound only: it restores, it does not drain', async () => {
    let bound: number | undefined;
    restore.mockImplementationOnce(async (c) => {
      bound = c.outageBoundMs;
      return [];
    });
    await post(deps);
    expect(bound).toBe(POST_OUTAGE_BOUND_MS);
    expect(POST_OUTAGE_BOUND_MS).toBeLessThan(API_OUTAGE_BOUND_MS / 4);
  });

  it('does nothing for refused inputs (the main step already failed on them) and for plan', async () => {
    inputs = { node: 'w1', timeout: '600h' };
    await post(deps);
    inputs = { node: 'w1', operation: 'plan' };
    await post(deps);
    expect(connect).not.toHaveBeenCalled();
    expect(restore).not.toHaveBeenCalled();
    expect(core.setFailed).not.toHaveBeenCalled();
  });

  it('does nothing for a kubeconfig input the main step refused', async () => {
    inputs = { node: 'w1', kubeconfig: '!!! not a kubeconfig !!!' };
    await post(deps);
    expect(restore).not.toHaveBeenCalled();
    expect(core.setFailed).not.toHaveBeenCalled();
    expect(core.info).toHaveBeenCalledWith(expect.stringContaining('nothing to restore (Input "kubeconfig"'));
  });

  it('restores under the drain locks, as the main step\'s holder, and releases them', async () => {
    state = { 'drain-lock-holder': 'holder-of-main' };
    inputs = { node: 'w1, w2' };
    await post(deps);
    expect(lockNodes).toHaveBeenCalledWith(client, expect.anything(), ['w1', 'w2'], 'holder-of-main');
    expect(lockNodes.mock.invocationCallOrder[0]!).toBeLessThan(restore.mock.invocationCallOrder[0]!);
    expect(release.mock.invocationCallOrder[0]!).toBeGreaterThan(restore.mock.invocationCallOrder[0]!);
    expect(core.warning).not.toHaveBeenCalled();
  });

  it('leaves a node another live run holds to that run, and still restores the others', async () => {
    inputs = { node: 'w1, w2' };
    lockNodes.mockResolvedValueOnce({
      acquired: [{ node: 'w2' }],
      refused: [{ node: 'w1', reason: 'another safe-drain run holds its drain lock (host r2, pid 7, since 2026-11-28T05:00:00.000Z)', message: 'm' }],
      release,
    });
    await post(deps);
    expect(restore).toHaveBeenCalledWith(client, expect.anything(), { nodes: ['w2'], dryRun: false });
    expect(core.info).toHaveBeenCalledWith(expect.stringContaining('node w1: another safe-drain run holds its drain lock (host r2, pid 7'));
    expect(core.setFailed).not.toHaveBeenCalled();
  });

  it('reports the lock the killed main step left as a removed leftover, and fails on a lock it could not release', async () => {
    const holder = { holder: 'holder-of-main', host: 'runner', pid: 42, scope: 's', acquired: 'a', renewed: 'r' };
    lockNodes.mockResolvedValueOnce({
      acquired: [{ node: 'w1', previous: { holder, why: 'left by this holder id', sameHolder: true } }],
      refused: [],
      release: async () => ['node w1: could not release the drain lock (boom); remove it now: kubectl annotate node w1 safe-drain.io/drain-lock-'],
    });
    await post(deps);
    expect(core.warning).toHaveBeenCalledWith('node w1: removed the drain lock left by the drain step (it did not end normally)', {
      title: 'safe-drain post: removed a leftover drain lock',
    });
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('kubectl annotate node w1 safe-drain.io/drain-lock-'));
  });

  it('takes no lock for a dry run', async () => {
    inputs = { node: 'w1', 'dry-run': 'true' };
    await post(deps);
    expect(lockNodes).not.toHaveBeenCalled();
    expect(restore).toHaveBeenCalled();
  });

  it('does nothing when the selector matches no node', async () => {
    inputs = { selector: 'pool=red' };
    resolveNodeNames.mockRejectedValueOnce(new InputError('selector', '"pool=red" matches no node', 'Check the labels.'));
    await post(deps);
    expect(restore).not.toHaveBeenCalled();
    expect(core.setFailed).not.toHaveBeenCalled();
  });
});

// The engine's entry point, shared by the GitHub Action and the CLI: load credentials, check
// permissions, resolve the nodes, then drain them one at a time. Knows nothing of Actions.
import type { V1Node, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { checkAccess } from './kube/access.js';
import { KubeClient } from './kube/client.js';
import { loadKubeConfig } from './kube/config.js';
import { describeApiError, statusCode } from './kube/errors.js';
import { BudgetWaiter } from './execute/budget.js';
import { drainNode } from './execute/drain-node.js';
import { describeFinalState } from './report/state.js';
import { InputError, type DrainOptions, type Logger, type NodeReport, type RunReport } from './types.js';

export interface RunContext {
  /** Path of a kubeconfig file; default KUBECONFIG / ~/.kube/config. */
  kubeconfigPath?: string;
  context?: string;
  logger: Logger;
  /** Who runs the drain (workflow run URL, CLI user@host): goes into Events on the node. */
  origin?: string;
  signal?: AbortSignal;
}

export async function runSafeDrain(options: DrainOptions, ctx: RunContext): Promise<RunReport> {
  const started = Date.now();
  const { logger } = ctx;
  const signal = ctx.signal ?? new AbortController().signal;
  const kc = loadKubeConfig({ path: ctx.kubeconfigPath, context: ctx.context });
  const client = new KubeClient(kc);
  const server = kc.getCurrentCluster()?.server ?? '(unknown server)';

  await logger.group('Checking permissions', async () => {
    try {
      await checkAccess(client, options.operation, options.migration === 'surge', options.waitForReplacements);
    } catch (err) {
      if (statusCode(err) === undefined && !(err instanceof Error && err.name === 'PermissionError')) {
        throw new InputError(
          'kubeconfig',
          `cannot reach the API server ${server} (${describeApiError(err)})`,
          'Check that the kubeconfig points at a reachable cluster and that its credentials are valid.',
        );
      }
      throw err;
    }
    logger.info(`permissions for "${options.operation}" verified on ${server}`);
  });

  const nodes = await resolveNodes(client, options);
  logger.info(`nodes: ${nodes.map((n) => n.metadata?.name).join(', ')}`);

  const needsPdbs = options.operation === 'drain' || options.operation === 'plan';
  const pdbWatch = client.watch<V1PodDisruptionBudget>({
    path: '/apis/policy/v1/poddisruptionbudgets',
    list: () => client.listPdbs(),
    onError: (m) => logger.debug(m),
  });
  if (needsPdbs) await pdbWatch.start();
  const budgets = new BudgetWaiter(pdbWatch);

  const reports: NodeReport[] = [];
  try {
    for (const [i, target] of nodes.entries()) {
      // Fresh node list each time: the previous node is now cordoned, which changes capacity.
      const allNodes = await client.listNodes();
      const node = allNodes.find((n) => n.metadata?.name === target.metadata?.name) ?? target;
      const report = await drainNode(
        {
          client,
          options,
          logger,
          origin: ctx.origin ?? 'safe-drain',
          signal,
          pdbWatch,
          budgets,
          allNodes,
          runStart: started,
        },
        node,
      );
      reports.push(report);
      if (!report.success) {
        const rest = nodes.slice(i + 1).map((n) => n.metadata?.name);
        if (rest.length) logger.warn(`stopping after node ${report.node} failed; not touched: ${rest.join(', ')}`);
        break;
      }
    }
  } finally {
    budgets.close();
    pdbWatch.stop();
  }

  const run: RunReport = {
    version: 1,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    options,
    nodes: reports,
    success: reports.length === nodes.length && reports.every((r) => r.success),
    summary: '',
    apiRequests: client.requests,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  run.summary = describeFinalState(run);
  return run;
}

/** Nodes named by `node` must all exist; a `selector` must match at least one. */
export async function resolveNodes(client: KubeClient, options: DrainOptions): Promise<V1Node[]> {
  if (options.selector) {
    let nodes: V1Node[];
    try {
      nodes = await client.listNodes(options.selector);
    } catch (err) {
      if (statusCode(err) === 400) {
        throw new InputError('selector', `"${options.selector}" is not a valid label selector (${describeApiError(err)})`, 'Use the kubectl -l syntax, e.g. "pool=blue,zone in (a,b)".');
      }
      throw err;
    }
    if (nodes.length === 0) {
      throw new InputError('selector', `"${options.selector}" matches no node`, 'Check the labels with `kubectl get nodes --show-labels`.');
    }
    return nodes.sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }
  const found: V1Node[] = [];
  const missing: string[] = [];
  for (const name of options.nodes) {
    try {
      found.push(await client.getNode(name));
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      missing.push(name);
    }
  }
  if (missing.length > 0) {
    const known = (await client.listNodes()).map((n) => n.metadata?.name ?? '');
    throw new InputError(
      'node',
      `no node named ${missing.map((m) => `"${m}"`).join(', ')} in the cluster`,
      `Known nodes: ${known.slice(0, 20).join(', ')}${known.length > 20 ? ', …' : ''}.`,
    );
  }
  return found;
}

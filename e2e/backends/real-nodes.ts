// The real-nodes backend (E2E_BACKEND=real-nodes): the local control plane plus worker nodes that
// are Docker containers running a real kubelet, containerd and kube-proxy (cluster/src/real-nodes).
// The sample app is a real HTTP server (safe-drain.local/web, built locally), and availability is
// measured by real HTTP requests from outside the nodes: two probe containers on the nodes' Docker
// network (e2e/backends/http-probe.ts, every 150 ms each), one through the Service's NodePort on a
// node's IP, one through its ClusterIP. A ClusterIP is reachable only where a kube-proxy's rules
// are: the ClusterIP probe's own network namespace gets a route for the service range via a node
// (added with nsenter from the host; it goes away with the probe container). Any failed request of
// either probe is a failed sample.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVICE_CLUSTER_IP_RANGE } from '../../cluster/src/index.js';
import { startRealNodesCluster, type RealNodesCluster } from '../../cluster/src/real-nodes/index.js';
import type { AvailabilityProbe, AvailabilitySample, ClusterBackend, ProbeTarget } from '../backend.js';
import type { HttpProbe } from './http-probe.js';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Probe image: Debian's static busybox (sh, wget, timeout, usleep), built locally, never pulled. */
const PROBE_IMAGE = process.env.PROBE_IMAGE ?? 'safe-drain/busybox:local';
const PROBE_INTERVAL_MS = 150;
/** Bound for the probes' first successful request (the app is Ready before probing starts). */
const FIRST_OK_TIMEOUT_MS = 30_000;

export interface RealNodesBackendOptions {
  nodes?: number;
  log?: (msg: string) => void;
}

export async function startRealNodesBackend(opts: RealNodesBackendOptions = {}): Promise<ClusterBackend & { cluster: RealNodesCluster }> {
  const log = opts.log ?? ((m: string) => console.error(`[real-nodes] ${m}`));
  await run('bash', [join(repo, 'scripts', 'build-probe-image.sh')], { env: { ...process.env, PROBE_IMAGE }, timeout: 300_000 });
  // Real defaults: node-monitor-grace-period and the 300 s tolerations are not shortened.
  // SAFE_DRAIN_REAL_NODES_PRIVILEGED=1: --privileged node containers, where that is allowed.
  const privileged = process.env.SAFE_DRAIN_REAL_NODES_PRIVILEGED === '1';
  const cluster = await startRealNodesCluster({ nodes: opts.nodes ?? 3, privileged, log });
  return {
    name: 'real-nodes',
    cluster,
    kubeconfigPath: cluster.kubeconfigPath,
    nodes: cluster.nodes,
    sampleImage: cluster.images.web,
    // As the kind image (agnhost --delay-shutdown=5): on SIGTERM keep serving 5 s while the
    // endpoint's removal reaches every node's kube-proxy (cluster/build/node/web.sh).
    sampleArgs: ['--delay-shutdown=5'],
    stopKubelet: (node) => cluster.stopKubelet(node),
    startKubelet: (node) => cluster.startKubelet(node),
    startAvailabilityProbe: (target) => startServiceProbes(cluster, target, log),
    stop: () => cluster.stop(),
  };
}

interface ServiceJson {
  spec: { clusterIP?: string; ports?: { port: number; nodePort?: number }[] };
}

/**
 * Probes the Service through its NodePort (on the last node's IP) and its ClusterIP, each from its
 * own container on the nodes' network, every PROBE_INTERVAL_MS; resolves once both have answered.
 * stop() returns both probes' samples in time order, details prefixed "NodePort: " / "ClusterIP: ".
 */
export interface ServiceProbes extends AvailabilityProbe {
  /** Resolves once `predicate` holds for the ClusterIP probe's samples (since its route exists); rejects after `timeoutMs`. */
  waitForClusterIp(predicate: (samples: readonly AvailabilitySample[]) => boolean, timeoutMs: number): Promise<void>;
}

export async function startServiceProbes(cluster: RealNodesCluster, target: ProbeTarget, log: (m: string) => void): Promise<ServiceProbes> {
  const { startHttpProbe } = await import('./http-probe.js');
  const svc = JSON.parse(await cluster.kubectl(['-n', target.namespace, 'get', 'service', target.service, '-o', 'json'])) as ServiceJson;
  const port = svc.spec.ports?.find((p) => p.port === target.port);
  if (!port?.nodePort || !svc.spec.clusterIP) {
    throw new Error(`Service ${target.namespace}/${target.service} needs a ClusterIP and a NodePort for port ${target.port} (type: NodePort)`);
  }
  // Through the last node: the scenarios stop or drain the first ones; its kube-proxy keeps serving.
  const via = cluster.nodes[cluster.nodes.length - 1]!;
  const viaIp = cluster.nodeIp(via);
  const urls = {
    nodeport: `http://${viaIp}:${port.nodePort}/`,
    clusterip: `http://${svc.spec.clusterIP}:${target.port}/`,
  };
  const probes: Record<keyof typeof urls, HttpProbe | undefined> = { nodeport: undefined, clusterip: undefined };
  /** Samples of the ClusterIP probe before its route existed are not the Service's. */
  let routedAt = Infinity;
  try {
    for (const kind of ['nodeport', 'clusterip'] as const) {
      // concurrent: a request every interval even while earlier ones hang, so an outage's end is
      // seen within an interval (the e2e holds safe-drain's own figure against this, within 0.5 s).
      probes[kind] = await startHttpProbe({
        image: PROBE_IMAGE,
        url: urls[kind],
        network: cluster.network,
        pull: 'never',
        intervalMs: PROBE_INTERVAL_MS,
        timeoutSeconds: 1,
        concurrent: true,
      });
    }
    const pid = (await run('docker', ['inspect', '-f', '{{.State.Pid}}', probes.clusterip!.containerId])).stdout.trim();
    await run('nsenter', ['-t', pid, '-n', 'ip', 'route', 'replace', SERVICE_CLUSTER_IP_RANGE, 'via', viaIp]);
    routedAt = Date.now();
    for (const kind of ['nodeport', 'clusterip'] as const) {
      await probes[kind]!.waitFor((s) => s.some((x) => x.available && x.at >= routedAt), FIRST_OK_TIMEOUT_MS);
    }
  } catch (err) {
    await Promise.all(Object.values(probes).map((p) => p?.stop().catch(() => undefined)));
    throw new Error(`availability probes for ${target.namespace}/${target.service} did not start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  log(`probing ${urls.nodeport} (NodePort on ${via}) and ${urls.clusterip} (ClusterIP, routed via ${via}) every ${PROBE_INTERVAL_MS} ms each`);
  return {
    async waitForClusterIp(predicate, timeoutMs) {
      await probes.clusterip!.waitFor((samples) => predicate(samples.filter((x) => x.at >= routedAt)), timeoutMs);
    },
    async stop(): Promise<AvailabilitySample[]> {
      const [np, cip] = await Promise.all([probes.nodeport!.stop(), probes.clusterip!.stop()]);
      const tag = (kind: string, s: AvailabilitySample): AvailabilitySample => ({ ...s, detail: `${kind}: ${s.detail ?? ''}`.trim() });
      return [...np.map((s) => tag('NodePort', s)), ...cip.filter((s) => s.at >= routedAt).map((s) => tag('ClusterIP', s))].sort((a, b) => a.at - b.at);
    },
  };
}

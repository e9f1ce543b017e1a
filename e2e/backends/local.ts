// The local backend: a real control plane with one kwok process per node (cluster/src).
// kwok pods serve no traffic, so availability is what a Service client would get: whether
// the Service's EndpointSlices hold at least one ready endpoint, observed by watch (every
// change is a sample, so no outage between polls can hide).
import { KubeConfig, Watch, type V1EndpointSlice } from '@kubernetes/client-node';
import { startCluster, type LocalCluster } from '../../cluster/src/index.js';
import type { AvailabilityProbe, AvailabilitySample, ClusterBackend, ProbeTarget } from '../backend.js';

export async function startLocalBackend(opts: { nodes?: number } = {}): Promise<ClusterBackend & { cluster: LocalCluster }> {
  // Real defaults: node-monitor-grace-period and the 300 s tolerations are not shortened.
  const cluster = await startCluster({ nodes: opts.nodes ?? 3 });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return {
    name: 'local',
    cluster,
    kubeconfigPath: cluster.kubeconfigPath,
    nodes: cluster.nodes,
    sampleImage: 'registry.invalid/helloworld:1',
    stopKubelet: (node) => cluster.stopKubelet(node),
    startKubelet: (node) => cluster.startKubelet(node),
    startAvailabilityProbe: (target) => watchEndpoints(kc, target),
    stop: () => cluster.stop(),
  };
}

function readyEndpoints(slices: Map<string, V1EndpointSlice>): number {
  let n = 0;
  for (const s of slices.values()) for (const e of s.endpoints ?? []) if (e.conditions?.ready) n++;
  return n;
}

async function watchEndpoints(kc: KubeConfig, target: ProbeTarget): Promise<AvailabilityProbe> {
  const slices = new Map<string, V1EndpointSlice>();
  const samples: AvailabilitySample[] = [];
  const sample = () => {
    const ready = readyEndpoints(slices);
    samples.push({ at: Date.now(), available: ready > 0, detail: `${ready} ready endpoint(s)` });
  };
  const watch = new Watch(kc);
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 24 * 3600_000;
  let stopped = false;
  let ctl: AbortController | undefined;
  const connect = async (): Promise<void> => {
    ctl = await watch.watch(
      `/apis/discovery.k8s.io/v1/namespaces/${target.namespace}/endpointslices`,
      { labelSelector: `kubernetes.io/service-name=${target.service}`, timeoutSeconds: 3600 },
      (type, obj: V1EndpointSlice) => {
        const key = obj.metadata?.name ?? '';
        if (type === 'DELETED') slices.delete(key);
        else if (type === 'ADDED' || type === 'MODIFIED') slices.set(key, obj);
        else return;
        sample();
      },
      () => {
        // A closed watch would hide outages: reconnect (the initial ADDED events resync the state).
        if (!stopped) {
          slices.clear();
          void connect();
        }
      },
    );
  };
  await connect();
  return {
    stop: async () => {
      stopped = true;
      sample();
      ctl?.abort();
      return samples;
    },
  };
}

// The local backend: a real control plane with one kwok process per node (cluster/src).
// kwok pods serve no traffic, so availability is what a Service client would get: whether
// the Service's EndpointSlices hold at least one ready endpoint, observed by watch (every
// change is a sample, so no outage between polls can hide).
import { KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
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
    // kwok runs no container: any image name does. The sample app's start-up time comes from
    // the pod template itself (e2e/sample-app.ts), the same on every backend.
    sampleImage: 'registry.invalid/helloworld:1',
    stopKubelet: (node) => cluster.stopKubelet(node),
    startKubelet: (node) => cluster.startKubelet(node),
    startAvailabilityProbe: (target) => watchEndpoints(kc, target),
    stop: () => cluster.stop(),
  };
}

function readyEndpoints(slices: V1EndpointSlice[]): number {
  let n = 0;
  for (const s of slices) for (const e of s.endpoints ?? []) if (e.conditions?.ready) n++;
  return n;
}

async function watchEndpoints(kc: KubeConfig, target: ProbeTarget): Promise<AvailabilityProbe> {
  const samples: AvailabilitySample[] = [];
  // The engine's ResourceWatch reconnects and resumes, so no outage can hide between connections.
  const slices = new ResourceWatch<V1EndpointSlice>(kc, {
    path: `/apis/discovery.k8s.io/v1/namespaces/${target.namespace}/endpointslices`,
    labelSelector: `kubernetes.io/service-name=${target.service}`,
  });
  const sample = () => {
    const ready = readyEndpoints(slices.items());
    samples.push({ at: Date.now(), available: ready > 0, detail: `${ready} ready endpoint(s)` });
  };
  slices.subscribe(sample);
  await slices.start();
  // The first watch replays the current slices as ADDED events; wait until they are in.
  const deadline = Date.now() + 30_000;
  while (slices.items().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return {
    stop: async () => {
      sample();
      slices.stop();
      return samples;
    },
  };
}

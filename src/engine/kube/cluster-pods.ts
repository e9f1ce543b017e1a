// What planning needs from the pods of the whole cluster, gathered by ONE paged list per run
// (not one list per node): the full objects of the pods on the nodes being drained (they are
// planned pod by pod), and for every other node only the sum of what its pods request (all the
// capacity check uses). Each page is reduced and dropped, so memory grows with the drained
// nodes' pods, not with the cluster.
import type { V1Pod } from '@kubernetes/client-node';
import type { NodeCapacity } from '../types.js';
import { podRequests } from '../plan/capacity.js';
import type { KubeClient } from './client.js';

export interface ClusterPods {
  /** Full pod objects of the drained nodes, by node name (every drained node has an entry). */
  onDrainedNodes: Map<string, V1Pod[]>;
  /** Requests of the pods bound to each node (drained nodes included), by node name. */
  requested: Map<string, NodeCapacity['requested']>;
}

/** Pods that hold their requests on a node: bound and not finished (as the scheduler counts). */
function holdsResources(pod: V1Pod): boolean {
  return pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

/** Folds one page into `into`: pure, so it is tested without a cluster. */
export function reducePodPage(pods: V1Pod[], drained: ReadonlySet<string>, into: ClusterPods): void {
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    if (!node) continue; // not scheduled yet: holds nothing on any node
    if (drained.has(node)) into.onDrainedNodes.get(node)?.push(pod);
    if (!holdsResources(pod)) continue;
    const r = podRequests(pod);
    const sum = into.requested.get(node) ?? { cpuMillis: 0, memoryBytes: 0, pods: 0 };
    sum.cpuMillis += r.cpuMillis;
    sum.memoryBytes += r.memoryBytes;
    sum.pods++;
    into.requested.set(node, sum);
  }
}

export async function scanClusterPods(client: KubeClient, drainedNodes: string[]): Promise<ClusterPods> {
  const drained = new Set(drainedNodes);
  const result: ClusterPods = { onDrainedNodes: new Map(drainedNodes.map((n) => [n, []])), requested: new Map() };
  await client.scanAllPods((page) => reducePodPage(page, drained, result));
  return result;
}

// What planning needs from the pods of the whole cluster, gathered by ONE paged list per run
// (not one list per node): the full objects of the pods on the nodes being drained (they are
// planned pod by pod), and for every other node only the sum of what its pods request (all the
// capacity check uses). Each page is reduced and dropped, so memory grows with the drained
// nodes' pods, not with the cluster. A drain reads that list as JSON (its pod watch starts from
// it: scanClusterPods); a run that only plans reads the sums from the pods in protobuf and the
// drained nodes' pods from a small list per node (planClusterPods).
import type { V1Pod } from '@kubernetes/client-node';
import type { NodeCapacity } from '../types.js';
import { podRequests } from '../plan/capacity.js';
import type { KubeClient } from './client.js';
import { runBounded } from '../wait.js';

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

/** Adds what one page gathered (`page`) to the run's total (`into`), in page order. */
export function mergeClusterPods(page: ClusterPods, into: ClusterPods): void {
  for (const [node, pods] of page.onDrainedNodes) into.onDrainedNodes.get(node)?.push(...pods);
  for (const [node, r] of page.requested) {
    const sum = into.requested.get(node) ?? { cpuMillis: 0, memoryBytes: 0, pods: 0 };
    sum.cpuMillis += r.cpuMillis;
    sum.memoryBytes += r.memoryBytes;
    sum.pods += r.pods;
    into.requested.set(node, sum);
  }
}

const emptyScan = (drained: Iterable<string>): ClusterPods => ({ onDrainedNodes: new Map([...drained].map((n) => [n, []])), requested: new Map() });

/**
 * One paged list of the cluster's pods, reduced as it arrives; also returns the list's
 * resourceVersion (a watch starts there). `seen` is shown every pod (an index over the cluster's
 * pods; a page retried shows its pods again).
 */
export async function scanClusterPods(client: KubeClient, drainedNodes: Iterable<string>, seen?: (pod: V1Pod) => void): Promise<ClusterPods & { resourceVersion: string }> {
  const drained = new Set(drainedNodes);
  const result = { ...emptyScan(drained), resourceVersion: '' };
  await client.scanAllPods<ClusterPods>({
    start: () => emptyScan(drained),
    add: (page, pods) => {
      if (seen) for (const pod of pods) seen(pod);
      reducePodPage(pods, drained, page);
    },
    commit: (page, resourceVersion) => {
      mergeClusterPods(page, result);
      result.resourceVersion ||= resourceVersion;
    },
  });
  return result;
}

/** Per-node lists of the drained nodes' pods at once (a plan of a whole pool is not one round trip per node in a row). */
const NODE_LISTS_AT_ONCE = 8;

/**
 * The same as scanClusterPods for a run that only plans (a plan, a dry run): the sums from the
 * pods in protobuf, reduced to their footprint (kube/proto-list.ts), and the drained nodes' pods
 * whole from one list per node, asked for at the same time. The two are taken moments apart,
 * which a plan (a snapshot) does not mind; a drain's watch starts from its own list
 * (scanClusterPods), where every event after it must apply.
 */
export async function planClusterPods(client: KubeClient, drainedNodes: Iterable<string>): Promise<ClusterPods & { resourceVersion: string }> {
  const names = [...new Set(drainedNodes)];
  const result = { ...emptyScan(names), resourceVersion: '' };
  const none = new Set<string>(); // footprints are never kept as the drained nodes' pods
  const sums = client.scanPodFootprints<ClusterPods>({
    start: () => emptyScan([]),
    add: (page, pods) => reducePodPage(pods, none, page),
    commit: (page, resourceVersion) => {
      mergeClusterPods(page, result);
      result.resourceVersion ||= resourceVersion;
    },
  });
  const lists = runBounded(
    NODE_LISTS_AT_ONCE,
    names.map((node) => async () => {
      result.onDrainedNodes.set(node, await client.listPodsOnNode(node));
    }),
  );
  const [, settled] = await Promise.all([sums, lists]);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return result;
}

// Could another node take this pod's replacement? A small subset of the scheduler's filters:
// schedulable, Ready, nodeSelector, required node affinity, NoSchedule/NoExecute taints, and
// cpu/memory/pod-count requests against allocatable. Pod (anti-)affinity, topology spread,
// ports, volumes and extended resources are not checked, so a candidate is "probably fits".
import type { V1Container, V1Node, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import type { NodeCapacity, NodeFit } from '../types.js';
import { isNodeReady, podKey } from './pod.js';
import { cpuMillis, formatBytes, formatMillis, memoryBytes, quantityValue } from './quantity.js';
import { matchesNodeSelectorTerms } from './selector.js';

export interface PodRequests {
  cpuMillis: number;
  memoryBytes: number;
}

function containerRequests(c: V1Container): PodRequests {
  return { cpuMillis: cpuMillis(c.resources?.requests?.cpu), memoryBytes: memoryBytes(c.resources?.requests?.memory) };
}

function add(a: PodRequests, b: PodRequests): PodRequests {
  return { cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes };
}

function max(a: PodRequests, b: PodRequests): PodRequests {
  return { cpuMillis: Math.max(a.cpuMillis, b.cpuMillis), memoryBytes: Math.max(a.memoryBytes, b.memoryBytes) };
}

/**
 * What the scheduler reserves for the pod, per resource: max(sum(containers), each init container).
 * Sidecars (init containers with restartPolicy Always) keep running, so they add to the
 * containers and to every init container started after them. Pod-level requests (spec.resources,
 * kept by the API server from Kubernetes 1.34) replace that sum for each resource they name, as
 * in k8s.io/component-helpers resource.PodRequests. Pod overhead is added on top.
 */
export function podRequests(pod: V1Pod): PodRequests {
  const zero: PodRequests = { cpuMillis: 0, memoryBytes: 0 };
  let sidecars = zero;
  let initPeak = zero;
  for (const c of pod.spec?.initContainers ?? []) {
    if (c.restartPolicy === 'Always') {
      sidecars = add(sidecars, containerRequests(c));
      initPeak = max(initPeak, sidecars);
    } else {
      initPeak = max(initPeak, add(sidecars, containerRequests(c)));
    }
  }
  const containers = (pod.spec?.containers ?? []).map(containerRequests).reduce(add, zero);
  const overhead = { cpuMillis: cpuMillis(pod.spec?.overhead?.cpu), memoryBytes: memoryBytes(pod.spec?.overhead?.memory) };
  const podLevel = pod.spec?.resources?.requests ?? {};
  const summed = max(add(containers, sidecars), initPeak);
  const reserved = {
    cpuMillis: podLevel.cpu !== undefined ? cpuMillis(podLevel.cpu) : summed.cpuMillis,
    memoryBytes: podLevel.memory !== undefined ? memoryBytes(podLevel.memory) : summed.memoryBytes,
  };
  return add(reserved, overhead);
}

/** Does one toleration tolerate the taint? Empty key + Exists tolerates everything; empty effect any effect. */
export function toleratesTaint(toleration: V1Toleration, taint: V1Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  const operator = toleration.operator ?? 'Equal';
  if (!toleration.key) return operator === 'Exists';
  if (toleration.key !== taint.key) return false;
  if (operator === 'Exists') return true;
  return operator === 'Equal' && (toleration.value ?? '') === (taint.value ?? '');
}

export function formatTaint(taint: V1Taint): string {
  return `${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`;
}

// The scheduler lets pods that tolerate this taint onto a cordoned node (NodeUnschedulable plugin).
const UNSCHEDULABLE_TAINT: V1Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

function tolerated(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => toleratesTaint(t, taint));
}

/** Why `node` cannot take `pod` (short), or undefined if it can. */
export function rejectReason(pod: V1Pod, capacity: NodeCapacity, drainedNode?: string): string | undefined {
  const { node, requested } = capacity;
  const tolerations = pod.spec?.tolerations ?? [];

  if (node.metadata?.name === drainedNode) return 'node being drained';
  if (node.spec?.unschedulable && !tolerated(tolerations, UNSCHEDULABLE_TAINT)) return 'unschedulable';
  if (!isNodeReady(node)) return 'not Ready';

  const labels = node.metadata?.labels ?? {};
  const selectorMisses = Object.entries(pod.spec?.nodeSelector ?? {}).filter(([k, v]) => labels[k] !== v);
  if (selectorMisses.length > 0) {
    return `nodeSelector ${selectorMisses.map(([k, v]) => `${k}=${v}`).join(',')} does not match`;
  }
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !matchesNodeSelectorTerms(terms, node)) return 'required node affinity does not match';

  // PreferNoSchedule is only a preference; NoSchedule and NoExecute keep the pod off.
  const blocking = (node.spec?.taints ?? []).find((t) => t.effect !== 'PreferNoSchedule' && !tolerated(tolerations, t));
  if (blocking) return `taint ${formatTaint(blocking)} not tolerated`;

  return resourceShortfall(requestsOf(pod), node, requested);
}

// A plan checks each moved pod against every node of the cluster (and packing does it again):
// parse each pod's requests and each node's allocatable once, not once per pair. Keyed by the
// objects themselves, which planning never changes.
const requestsMemo = new WeakMap<V1Pod, PodRequests>();
const allocatableMemo = new WeakMap<object, { cpu: number; memory: number; pods: number }>();

function requestsOf(pod: V1Pod): PodRequests {
  let r = requestsMemo.get(pod);
  if (!r) requestsMemo.set(pod, (r = podRequests(pod)));
  return r;
}

export function allocatableOf(node: V1Node): { cpu: number; memory: number; pods: number } {
  // A resource missing from allocatable counts as 0, as for the scheduler.
  const allocatable = node.status?.allocatable ?? {};
  let a = allocatableMemo.get(allocatable);
  if (!a) allocatableMemo.set(allocatable, (a = { cpu: cpuMillis(allocatable.cpu), memory: memoryBytes(allocatable.memory), pods: quantityValue(allocatable.pods) }));
  return a;
}

function resourceShortfall(needs: PodRequests, node: V1Node, requested: NodeCapacity['requested']): string | undefined {
  const allocatable = allocatableOf(node);
  const freeCpu = allocatable.cpu - requested.cpuMillis;
  const freeMemory = allocatable.memory - requested.memoryBytes;
  const maxPods = allocatable.pods;
  const problems: string[] = [];
  if (requested.pods + 1 > maxPods) problems.push(`too many pods: ${requested.pods}/${maxPods}`);
  if (needs.cpuMillis > freeCpu) {
    problems.push(`insufficient cpu: needs ${formatMillis(needs.cpuMillis)}, free ${formatMillis(Math.max(0, freeCpu))}`);
  }
  if (needs.memoryBytes > freeMemory) {
    problems.push(`insufficient memory: needs ${formatBytes(needs.memoryBytes)}, free ${formatBytes(Math.max(0, freeMemory))}`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** How many candidate and rejected nodes a NodeFit names; the rest are counted (readable at 1,000 nodes). */
export const MAX_LISTED_NODES = 10;

/**
 * Nodes that could take `pod` (a replacement for it, really), each judged on its own against
 * what is requested now: two pods may both "fit" into room for one (plan/packing.ts places the
 * run's pods together). At most MAX_LISTED_NODES are named in each list; the counts say how many.
 */
export function fitPod(pod: V1Pod, nodes: NodeCapacity[], drainedNode = pod.spec?.nodeName): NodeFit {
  const fit: NodeFit = { pod: podKey(pod), candidates: [], rejected: {} };
  let candidates = 0;
  let rejected = 0;
  for (const capacity of nodes) {
    const name = capacity.node.metadata?.name ?? '';
    const reason = rejectReason(pod, capacity, drainedNode);
    if (reason === undefined) {
      if (candidates++ < MAX_LISTED_NODES) fit.candidates.push(name);
    } else if (rejected++ < MAX_LISTED_NODES) {
      fit.rejected[name] = reason;
    }
  }
  if (candidates > MAX_LISTED_NODES) fit.candidateCount = candidates;
  if (rejected > MAX_LISTED_NODES) fit.rejectedCount = rejected;
  return fit;
}

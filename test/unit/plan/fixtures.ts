// Small factories for objects shaped like @kubernetes/client-node's V1Pod, V1Node, V1PodDisruptionBudget.
import type {
  V1LabelSelector,
  V1Node,
  V1NodeSelectorTerm,
  V1Pod,
  V1PodDisruptionBudget,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';
import { DEFAULT_OPTIONS, type DrainOptions, type NodeCapacity, type PlanInput, type WorkloadInfo } from '../../../src/engine/types.js';

export const DRAINED = 'node-a';
/** The deletionTimestamp of `deleting` pods. */
export const DELETED_AT = '2025-01-01T00:00:00Z';
/** The planner's clock in planInput(): one minute after DELETED_AT. */
export const NOW = Date.parse(DELETED_AT) + 60_000;

interface Requests {
  cpu?: string;
  memory?: string;
}

export interface PodSpecOptions {
  namespace?: string;
  labels?: Record<string, string>;
  /** Controller owner; null for a bare pod. Default: ReplicaSet `<name>-rs`, apiVersion apps/v1. */
  owner?: { kind: string; name: string; apiVersion?: string } | null;
  phase?: string;
  ready?: boolean;
  deleting?: boolean;
  /** deletionTimestamp (ISO), implies deleting; default DELETED_AT. */
  deletedAt?: string;
  deletionGracePeriodSeconds?: number;
  mirror?: boolean;
  emptyDir?: boolean;
  priority?: number;
  priorityClassName?: string;
  requests?: Requests;
  /** One init container per entry; `sidecar` makes it restartPolicy Always. */
  init?: (Requests & { sidecar?: boolean })[];
  /** Requests of additional app containers. */
  moreContainers?: Requests[];
  nodeSelector?: Record<string, string>;
  affinity?: V1NodeSelectorTerm[];
  tolerations?: V1Toleration[];
  nodeName?: string;
}

export function makePod(name: string, o: PodSpecOptions = {}): V1Pod {
  const owner = o.owner === undefined ? { kind: 'ReplicaSet', name: `${name}-rs` } : o.owner;
  const container = (n: string, r?: Requests) => ({ name: n, image: 'app', resources: r ? { requests: { ...r } } : undefined });
  return {
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      uid: `uid-${name}`,
      labels: o.labels ?? { app: name },
      annotations: o.mirror ? { 'kubernetes.io/config.mirror': 'abc' } : undefined,
      deletionTimestamp: o.deleting || o.deletedAt ? new Date(o.deletedAt ?? DELETED_AT) : undefined,
      deletionGracePeriodSeconds: o.deletionGracePeriodSeconds,
      ownerReferences: owner
        ? [{ apiVersion: owner.apiVersion ?? 'apps/v1', kind: owner.kind, name: owner.name, uid: 'owner-uid', controller: true }]
        : undefined,
    },
    spec: {
      nodeName: o.nodeName ?? DRAINED,
      containers: [container('main', o.requests), ...(o.moreContainers ?? []).map((r, i) => container(`extra-${i}`, r))],
      initContainers: o.init?.map((r, i) => ({
        ...container(`init-${i}`, { cpu: r.cpu, memory: r.memory }),
        restartPolicy: r.sidecar ? 'Always' : undefined,
      })),
      volumes: o.emptyDir ? [{ name: 'scratch', emptyDir: {} }] : undefined,
      priority: o.priority,
      priorityClassName: o.priorityClassName,
      nodeSelector: o.nodeSelector,
      tolerations: o.tolerations,
      affinity: o.affinity
        ? { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: o.affinity } } }
        : undefined,
    },
    status: {
      phase: o.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: (o.ready ?? true) ? 'True' : 'False' }],
    },
  };
}

export interface NodeOptions {
  labels?: Record<string, string>;
  unschedulable?: boolean;
  /** Ready condition status; default 'True'. */
  ready?: 'True' | 'False' | 'Unknown';
  taints?: V1Taint[];
  allocatable?: Record<string, string>;
}

export function makeNode(name: string, o: NodeOptions = {}): V1Node {
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    spec: { unschedulable: o.unschedulable, taints: o.taints },
    status: {
      allocatable: o.allocatable ?? { cpu: '4', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: o.ready ?? 'True' }],
    },
  };
}

export function capacity(node: V1Node, requested: Partial<NodeCapacity['requested']> = {}): NodeCapacity {
  return { node, requested: { cpuMillis: 0, memoryBytes: 0, pods: 0, ...requested } };
}

export interface PdbOptions {
  namespace?: string;
  selector?: V1LabelSelector | null;
  minAvailable?: number | string;
  maxUnavailable?: number | string;
  healthy?: number;
  desired?: number;
  expected?: number;
  allowed?: number;
  generation?: number;
  /** Default: same as generation (observed). null: no status at all. */
  observedGeneration?: number | null;
  disruptedPods?: Record<string, Date>;
}

export function makePdb(name: string, o: PdbOptions = {}): V1PodDisruptionBudget {
  const generation = o.generation ?? 1;
  const observed = o.observedGeneration === undefined ? generation : o.observedGeneration;
  return {
    metadata: { name, namespace: o.namespace ?? 'default', generation },
    spec: {
      selector: o.selector === null ? undefined : (o.selector ?? { matchLabels: { app: 'web' } }),
      minAvailable: o.minAvailable,
      maxUnavailable: o.maxUnavailable,
    },
    status:
      observed === null
        ? undefined
        : {
            observedGeneration: observed,
            currentHealthy: o.healthy ?? 0,
            desiredHealthy: o.desired ?? 0,
            expectedPods: o.expected ?? 0,
            disruptionsAllowed: o.allowed ?? 0,
            disruptedPods: o.disruptedPods,
          },
  };
}

export function workload(kind: string, name: string, replicas: number, readyReplicas: number, namespace = 'default'): WorkloadInfo {
  return { kind, namespace, name, replicas, readyReplicas };
}

export function options(overrides: Partial<DrainOptions> = {}): DrainOptions {
  return { ...DEFAULT_OPTIONS, nodes: [DRAINED], ...overrides };
}

export function planInput(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    node: makeNode(DRAINED, {}),
    pods: [],
    pdbs: [],
    workloads: {},
    now: NOW,
    otherNodes: [capacity(makeNode('node-b'))],
    ...overrides,
  };
}

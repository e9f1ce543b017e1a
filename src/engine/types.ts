// Shared vocabulary of the engine. Everything here is plain data: the planner, the executor,
// the report and the two shells (src/action, src/cli) all speak in these types.
import type { V1LabelSelector, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { RunOutcome } from './errors.js';
import { DEFAULT_AVAILABILITY, type AvailabilityOptions, type AvailabilityReport } from './availability/types.js';

export type Operation = 'drain' | 'cordon' | 'uncordon' | 'plan';

/** How a workload that a plain eviction would take down is moved. */
export type Migration = 'surge' | 'evict';

/** Parsed, validated options. Names mirror `kubectl drain` where the meaning is the same. */
export interface DrainOptions {
  /** Explicit node names; exactly one of `nodes` / `selector` is set. */
  nodes: string[];
  /** Label selector for nodes (drained max-unavailable-nodes at a time). */
  selector?: string;
  operation: Operation;
  ignoreDaemonsets: boolean;
  deleteEmptydirData: boolean;
  force: boolean;
  /** -1: each pod's own terminationGracePeriodSeconds. */
  gracePeriodSeconds: number;
  podSelector?: string;
  /** Bound on the whole drain of one node, in ms; 0 = no bound. */
  timeoutMs: number;
  /**
   * Pods whose deletionTimestamp is older than this are not waited for (kubectl's
   * --skip-wait-for-delete-timeout), in seconds; 0 = off. On a NotReady/unreachable node the
   * engine applies `unreachableSkipWaitSeconds` regardless.
   */
  skipWaitForDeleteTimeoutSeconds: number;
  dryRun: boolean;
  /** Evictions in flight at once across the whole run (all nodes draining together). */
  maxConcurrentEvictions: number;
  /** How many selected nodes drain at once: a count, or a percentage of the selected nodes. */
  maxUnavailableNodes: NodeCount;
  waitForReplacements: boolean;
  uncordonOnFailure: boolean;
  migration: Migration;
  /** The availability gate (issue 10): which Services to watch, probes, limits. */
  availability: AvailabilityOptions;
}

export const DEFAULT_OPTIONS: Omit<DrainOptions, 'nodes'> = {
  operation: 'drain',
  ignoreDaemonsets: true,
  deleteEmptydirData: false,
  force: false,
  gracePeriodSeconds: -1,
  timeoutMs: 0,
  skipWaitForDeleteTimeoutSeconds: 0,
  dryRun: false,
  maxConcurrentEvictions: 10,
  maxUnavailableNodes: { count: 1 },
  waitForReplacements: false,
  uncordonOnFailure: false,
  migration: 'surge',
  availability: DEFAULT_AVAILABILITY,
};

/** A number of nodes as the user gave it: absolute, or a percentage of the selected nodes. */
export type NodeCount = { count: number } | { percent: number };

/** What kind of pod this is, for drain purposes (kubectl pkg/drain's filters, in its order). */
export type PodClass =
  | 'finished' // Succeeded/Failed: always deletable
  | 'terminating' // already has deletionTimestamp
  | 'daemonset' // owned by a DaemonSet: stays unless ignore-daemonsets is false (then refused)
  | 'mirror' // static pod mirror (kubernetes.io/config.mirror): cannot be evicted, stays
  | 'local-storage' // uses emptyDir: evicted only with delete-emptydir-data
  | 'unmanaged' // no controller: evicted only with force
  | 'movable'; // managed by a controller, nothing special

/** What the plan will do with a pod. */
export type PodAction =
  | 'evict' // Eviction API, waits for its PDB
  | 'migrate' // bring a replacement up first (surge), then evict
  | 'skip' // stays on the node (DaemonSet, mirror, filtered by pod-selector)
  | 'wait' // already terminating: only waited for
  | 'refuse'; // would need force / delete-emptydir-data / ignore-daemonsets=false: blocks the drain

export type BlockerKind =
  | 'needs-force' // unmanaged pod without force
  | 'needs-delete-emptydir-data' // emptyDir pod without delete-emptydir-data
  | 'daemonset-not-ignored' // ignore-daemonsets=false and a DaemonSet pod is present
  | 'multiple-pdbs' // more than one PDB selects the pod: the Eviction API answers 500
  | 'pdb-never-allows' // the PDB cannot allow a disruption by itself (minAvailable = replicas, misconfigured)
  | 'zero-ready' // eviction would leave the workload with no ready replica (downtime)
  | 'no-capacity' // no other schedulable node can take the pod
  | 'unavoidable-downtime'; // cannot surge (StatefulSet, bare pod...): downtime is expected

export interface Blocker {
  kind: BlockerKind;
  /** `namespace/name` of the pod concerned. */
  pod: string;
  /** PDB names involved, `namespace/name`. */
  pdbs?: string[];
  /** Human sentence: what is wrong and what the user can do. */
  message: string;
  /** true: the drain cannot complete as configured; false: it can, but with downtime/risk. */
  fatal: boolean;
}

export interface OwnerRef {
  kind: string;
  name: string;
}

/** The workload a pod belongs to, resolved through ReplicaSet → Deployment where applicable. */
export interface WorkloadInfo {
  kind: 'Deployment' | 'StatefulSet' | 'ReplicaSet' | 'DaemonSet' | 'Job' | 'ReplicationController' | string;
  namespace: string;
  name: string;
  /** spec.replicas (desired). */
  replicas: number;
  /**
   * Ready replicas: in a drain, counted live from the pods (execute/live-workloads.ts: Ready,
   * not terminating, not being taken off by this run); in a plan, the workload's status.
   */
  readyReplicas: number;
  /** spec.selector: which pods are its replicas (Deployment, StatefulSet, ReplicaSet). */
  selector?: V1LabelSelector;
  /** Deployment only: whether the rollout strategy allows a surge (RollingUpdate with maxSurge >= 1). */
  canSurge?: boolean;
  /** An HPA targets this workload (scaling it by hand would fight the HPA). */
  hpa?: string;
  /**
   * This run has just scaled it back from a leftover raise: its PDBs' status may still count the
   * raised pods, so its replicas are what a budget is judged against (plan/pdb.ts pdbNeverAllows).
   */
  restoredThisRun?: boolean;
  /**
   * Deployment only: spec.strategy resolved against replicas, and spec.paused. How a surge
   * migration moves it is derived, never stored: plan/migration.ts migrationOf(workload).
   */
  rollout?: RolloutStrategy;
}

/** How a Deployment is moved when a plain eviction would take it down (plan/migration.ts). */
export type MigrationMethod = 'rollout-restart' | 'scale-up' | 'evict';

/** A Deployment's rollout strategy, resolved against its replicas as the Deployment controller does. */
export interface RolloutStrategy {
  type: 'Recreate' | 'RollingUpdate';
  maxSurge: number;
  maxUnavailable: number;
  /** spec.paused: the controller still scales it, but never rolls it. */
  paused: boolean;
}

export interface PodPlan {
  namespace: string;
  name: string;
  uid: string;
  podClass: PodClass;
  action: PodAction;
  /** Why this action (short, human). */
  reason: string;
  /** Eviction group index (0 evicted first); undefined for pods not evicted. */
  group?: number;
  priority: number;
  priorityClassName?: string;
  owner?: OwnerRef;
  workload?: WorkloadInfo;
  /** PDBs selecting the pod, `namespace/name`. */
  pdbs: string[];
}

export interface NodeFit {
  /** `namespace/name` of the pod. */
  pod: string;
  /** Nodes that could take it (schedulable, selector/affinity/taints/requests fit). Empty = nowhere. */
  candidates: string[];
  /** Why other nodes were ruled out, by node name (at most MAX_LISTED_NODES; rejectedCount says how many). */
  rejected: Record<string, string>;
  /** Set when more nodes were ruled out than `rejected` lists. */
  rejectedCount?: number;
  /** Set when more nodes could take it than `candidates` lists. */
  candidateCount?: number;
  /**
   * Where the run-wide bin-packing (plan/packing.ts) put its replacement, together with every
   * other pod this run moves; absent when it fits nowhere, even alone.
   */
  placedOn?: string;
}

export interface DrainPlan {
  node: string;
  nodeReady: boolean;
  alreadyCordoned: boolean;
  pods: PodPlan[];
  /** Pods to evict, grouped in the order groups are run (Karpenter-style). */
  groups: PodPlan[][];
  blockers: Blocker[];
  fits: NodeFit[];
}

/** Everything the planner needs, fetched by kube/ and passed in as plain objects. */
export interface PlanInput {
  node: V1Node;
  pods: V1Pod[];
  /** PDBs in the namespaces of `pods`. */
  pdbs: V1PodDisruptionBudget[];
  /**
   * Workloads by `Kind/namespace/name` of the pod's controller owner (ReplicaSet keys resolve to
   * Deployment info). A DaemonSet is present only if it exists in apps/v1: a pod naming one that
   * is absent is not a DaemonSet pod (kubectl refuses it without force).
   */
  workloads: Record<string, WorkloadInfo>;
  /** When `pods` were observed, epoch ms: the planner's only clock (skip-wait-for-delete-timeout). */
  now: number;
  /** Other nodes and what is already requested on them, for the capacity check. */
  otherNodes: NodeCapacity[];
}

export interface NodeCapacity {
  node: V1Node;
  /** Sum of requests of pods already bound to the node (millicores, bytes, pod count). */
  requested: { cpuMillis: number; memoryBytes: number; pods: number };
}

/** One thing that happened to a pod during the run. */
export type PodOutcome =
  | 'evicted' // eviction accepted and the pod is gone
  | 'evicted-not-confirmed' // eviction accepted, deletion not confirmed (node unreachable / skip-wait timeout)
  | 'migrated' // replacement brought up first, then evicted
  | 'deleted' // finished pod deleted
  | 'skipped' // stayed on purpose
  | 'blocked' // still waiting on a PDB when the run ended
  | 'failed' // an error the user must act on
  | 'would-evict'; // dry run

export interface PodResult {
  pod: string;
  outcome: PodOutcome;
  message?: string;
  pdb?: string;
  /** ms since run start. */
  startedAt?: number;
  endedAt?: number;
  /** How many times the eviction was refused by a budget (429) before it went through. */
  budgetWaits: number;
}

/** A change safe-drain made to a workload (surge migration), and whether it was undone. */
export interface WorkloadChange {
  workload: string; // Kind/namespace/name
  change: string; // e.g. "replicas 1 → 2" or "rollout restart"
  restored: boolean;
  message?: string;
}

export interface TimelineEvent {
  /** ms since run start. */
  at: number;
  phase: 'plan' | 'cordon' | 'evict' | 'wait' | 'migrate' | 'uncordon' | 'done' | 'error';
  subject: string; // node or namespace/pod
  message: string;
}

export interface BlockedPod {
  pod: string;
  pdb?: string;
  /** e.g. "healthy 1 / desired 1 / allowed 0" */
  budget?: string;
  message: string;
}

export interface NodeReport {
  node: string;
  operation: Operation;
  dryRun: boolean;
  plan?: DrainPlan;
  wasCordoned: boolean;
  cordoned: boolean;
  /** true when uncordon-on-failure put it back. */
  uncordoned: boolean;
  results: PodResult[];
  workloadChanges: WorkloadChange[];
  blocked: BlockedPod[];
  timeline: TimelineEvent[];
  success: boolean;
  error?: string;
  durationMs: number;
}

export interface RunReport {
  version: 1;
  /** What the run came to, in the words a workflow branches on (errors.ts RunOutcome; the CLI's exit code). */
  outcome: RunOutcome;
  startedAt: string; // ISO
  durationMs: number;
  options: DrainOptions;
  nodes: NodeReport[];
  success: boolean;
  /**
   * Set when the run stopped on an error before any node report could be made (bad input,
   * missing permission, unreachable cluster, an unexpected error): what failed, as the user reads it.
   */
  error?: string;
  /** One-paragraph account of the cluster state at the end: what is cordoned, evicted, left. */
  summary: string;
  /**
   * What went wrong without changing the outcome, each once (a drain lock that could not be
   * released, an Event not recorded...): the Action's `warnings` output.
   */
  warnings?: string[];
  /**
   * The nodes in the order their drains start (max-unavailable-nodes at a time), and why that
   * order (plan/node-order.ts).
   */
  drainOrder?: { nodes: string[]; rule: string };
  /** API requests the engine made (lists, gets, patches, evictions, watch connections). */
  apiRequests?: number;
  /** Peak resident memory of the process that ran the engine, MiB (process.resourceUsage().maxRSS). */
  peakRssMiB?: number;
  /** What the drain did to the watched Services and probed URLs, and the gate's verdict. */
  availability?: AvailabilityReport;
}

/** Where the engine writes progress. The Action maps it to @actions/core, the CLI to the terminal. */
export interface Logger {
  info(message: string): void;
  warn(message: string, context?: { node?: string; pod?: string }): void;
  error(message: string, context?: { node?: string; pod?: string }): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log group named `name`. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

export { InputError } from './errors.js';

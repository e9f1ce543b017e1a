// A run's state while it runs: what each node has been through (facts recorded once, by the
// step that made them true) and the run-wide services the phases set up. It is not the report:
// report/build.ts reads it once, at the end, and derives every verdict from these facts.
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { AvailabilityMonitor } from '../availability/monitor.js';
import type { Clock } from '../clock.js';
import type { KubeClient } from '../kube/client.js';
import type { Watch } from '../kube/watch.js';
import type { DrainOptions, DrainPlan, Logger, NodeCapacity, PodResult, RunReport, TimelineEvent, WorkloadChange } from '../types.js';
import type { BudgetWaiter } from './budget.js';
import type { DrainLocks, LockIdentity } from './drain-lock.js';
import type { LiveWorkloads } from './live-workloads.js';
import type { WorkloadMigrations } from './migrate.js';
import type { PoolWatch } from './pool-watch.js';
import type { deadlineSignal } from '../wait.js';
import { EvictionSlots } from './slots.js';

/** What a run is given: the API, time, where it logs, what it was asked. */
export interface RunEnv {
  api: KubeClient;
  clock: Clock;
  logger: Logger;
  options: DrainOptions;
  /** Who runs it (workflow run URL, CLI user@host): goes into Events on the node. */
  origin: string;
  /** Identifies the run: its drain locks' holder and its raise markers. */
  identity: LockIdentity;
  /** Shows a node's plan as soon as it is made (the shells decide where). */
  onPlan?: (plan: DrainPlan) => void;
}

/** How a node's part of the run ended; the first ending recorded stands. */
export type NodeEnd =
  /** Its work ran to the end (whether every pod left is in its results). */
  | { kind: 'done' }
  /** Its plan has findings that refuse the drain: nothing was changed. */
  | { kind: 'refused' }
  /** Not worked on, because of something else (another node's refusal or failure, a lock). */
  | { kind: 'held-back'; why: string }
  /** Stopped by the run's deadline, a cancellation, the gate's abort or a lost lock. */
  | { kind: 'stopped'; why: string }
  /** An error stopped it (the API, a permission): `why` names it. */
  | { kind: 'failed'; why: string };

export class NodeRun {
  readonly name: string;
  node: V1Node;
  readonly wasCordoned: boolean;
  /** Cordoned as far as this run knows (it was, or this run cordoned it). */
  cordoned: boolean;
  /** This run made it schedulable again (uncordon-on-failure, restore-after, uncordon). */
  uncordoned = false;
  plan?: DrainPlan;
  /** The pods its first plan was made from. */
  plannedPods: V1Pod[] = [];
  readonly results: PodResult[] = [];
  readonly changes: WorkloadChange[] = [];
  /** What went wrong after its pods left (a replacement never Ready, ...). */
  readonly problems: string[] = [];
  private ending?: NodeEnd;
  /** ms spent planning and draining it. */
  durationMs = 0;

  constructor(node: V1Node) {
    this.node = node;
    this.name = node.metadata?.name ?? '';
    this.wasCordoned = node.spec?.unschedulable === true;
    this.cordoned = this.wasCordoned;
  }

  get end(): NodeEnd | undefined {
    return this.ending;
  }

  /** Records how the node's part ended, unless an ending is already recorded. */
  endWith(end: NodeEnd): void {
    this.ending ??= end;
  }
}

/** The run's services, set up by the phases that need them (and stopped by the finish). */
export interface RunServices {
  pdbs?: Watch<V1PodDisruptionBudget> & { stop(): void };
  budgets?: BudgetWaiter;
  pool?: PoolWatch;
  gate?: AvailabilityMonitor;
  locks?: DrainLocks;
  workloads?: LiveWorkloads;
  migrations?: WorkloadMigrations;
  /** Every node of the cluster and what its pods request (the capacity check). */
  capacity?: NodeCapacity[];
}

export class Run {
  readonly started: number;
  readonly nodes: NodeRun[];
  readonly services: RunServices = {};
  /** The run's one limit on evictions in flight (max-concurrent-evictions), across its nodes. */
  readonly slots: EvictionSlots;
  readonly timeline: { node: string; event: TimelineEvent }[] = [];
  /** What went wrong without changing the outcome, each once. */
  readonly warnings: string[] = [];
  /** Events sent without waiting; awaited before the run returns. */
  readonly background: Promise<void>[] = [];
  drainOrder?: RunReport['drainOrder'];
  /** Workloads (`Kind/ns/name`) this run just restored from an earlier run's raise. */
  readonly restoredWorkloads = new Set<string>();
  private readonly stopping = new AbortController();
  /** Aborts on cancellation, the gate's abort-on-downtime and a lost drain lock: the run stops before its next change. */
  readonly signal: AbortSignal = this.stopping.signal;
  /** The bound of the phases up to the first node's drain (phases.ts firstDeadline). */
  firstDeadline?: ReturnType<typeof deadlineSignal>;

  constructor(
    readonly env: RunEnv,
    nodes: V1Node[],
    started: number,
  ) {
    this.started = started;
    this.nodes = nodes.map((n) => new NodeRun(n));
    this.slots = new EvictionSlots(env.options.maxConcurrentEvictions);
  }

  /** Stops the run before its next change, for this reason (the first reason stands). */
  stop(reason: Error): void {
    this.stopping.abort(reason);
  }

  /** ms since the run started. */
  sinceStart(): number {
    return this.env.clock.now() - this.started;
  }

  /** A timeline entry for `node`. */
  mark(node: string, phase: TimelineEvent['phase'], subject: string, message: string): void {
    this.timeline.push({ node, event: { at: this.sinceStart(), phase, subject, message } });
  }

  /** Whether the run may still write for `node`: no lock is needed (a dry run, cordon), or it still holds the node's. */
  mayWrite(node: string): boolean {
    const locks = this.services.locks;
    return locks === undefined || locks.holds(node);
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  node(name: string): NodeRun | undefined {
    return this.nodes.find((n) => n.name === name);
  }
}

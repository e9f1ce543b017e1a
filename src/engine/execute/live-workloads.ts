// The workloads a drain touches, with their readiness read live and run-wide. A workload's
// status.readyReplicas trails its pods (its controller writes it after the pods change), and it
// cannot know what this run is about to take down on another node; a decision such as "these
// are its last ready replicas" must be taken on both. So a drain counts Ready replicas itself,
// from the run's one watch of the cluster's pods (every event, kept or not): pods matching the
// workload's selector that are Ready, not terminating, and not being taken off by this run on
// any of its nodes. The plan made each round reads these counts; planning and starting work
// happen in one synchronous step (drain-node.ts), so two nodes can never both decide on the same
// stale count.
import type { V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import type { WatchEventType } from '../kube/watch.js';
import { isPodReady, workloadIdentity, workloadKeyOf } from '../plan/pod.js';
import { matchesLabelSelector } from '../plan/selector.js';
import type { WorkloadInfo } from '../types.js';

interface IndexedPod {
  labels: Record<string, string>;
  /** Ready and not terminating: serving. */
  serving: boolean;
}

interface Tracked {
  namespace: string;
  selector: V1LabelSelector;
  serving: Set<string>;
}

/** Counts of serving pods per tracked workload, kept up to date from every pod of the cluster. */
export class ReadinessIndex {
  private readonly pods = new Map<string, Map<string, IndexedPod>>();
  private readonly tracked = new Map<string, Tracked>();

  /** A pod as listed or as a watch event announced it. */
  observe(type: WatchEventType, pod: V1Pod): void {
    const ns = pod.metadata?.namespace ?? '';
    const uid = pod.metadata?.uid ?? '';
    let inNs = this.pods.get(ns);
    if (type === 'DELETED') {
      inNs?.delete(uid);
    } else {
      if (!inNs) this.pods.set(ns, (inNs = new Map()));
      inNs.set(uid, { labels: pod.metadata?.labels ?? {}, serving: isPodReady(pod) && !pod.metadata?.deletionTimestamp });
    }
    const now = type === 'DELETED' ? undefined : inNs?.get(uid);
    for (const t of this.tracked.values()) {
      if (t.namespace !== ns) continue;
      if (now?.serving && matchesLabelSelector(t.selector, now.labels)) t.serving.add(uid);
      else t.serving.delete(uid);
    }
  }

  /** Forgets every pod (before a relist indexes them again). */
  clear(): void {
    this.pods.clear();
    for (const t of this.tracked.values()) t.serving.clear();
  }

  /** Starts counting a workload's serving pods (its namespace is scanned once). */
  track(id: string, namespace: string, selector: V1LabelSelector): void {
    if (this.tracked.has(id)) return;
    const serving = new Set<string>();
    for (const [uid, p] of this.pods.get(namespace) ?? []) if (p.serving && matchesLabelSelector(selector, p.labels)) serving.add(uid);
    this.tracked.set(id, { namespace, selector, serving });
  }

  /** UIDs of the workload's serving pods, or undefined when it is not tracked. */
  servingPods(id: string): ReadonlySet<string> | undefined {
    return this.tracked.get(id)?.serving;
  }
}

/**
 * The run's workloads (resolved once per owner, plan-input.ts fetchWorkloads) as the planner
 * reads them: in a drain with readiness counted live (ReadinessIndex) minus the pods this run is
 * taking off (`leaving`, on any node); without an index (a plan, a dry run) as their status said.
 */
export class LiveWorkloads {
  private readonly known: Record<string, WorkloadInfo> = {};
  /** Owner keys looked up once: one that does not exist is not asked for again every round. */
  private readonly tried = new Set<string>();
  /** Pods this run has started to take off, by workload identity: eviction or migration in flight. */
  private readonly leaving = new Map<string, Set<string>>();

  constructor(private readonly index?: ReadinessIndex) {}

  /** Pods whose owner was never looked up (now counted as looked up: the caller fetches them). */
  unresolved(pods: V1Pod[]): V1Pod[] {
    return pods.filter((p) => {
      const key = workloadKeyOf(p);
      if (key === undefined || this.tried.has(key)) return false;
      this.tried.add(key);
      return true;
    });
  }

  add(workloads: Record<string, WorkloadInfo>): void {
    for (const [key, w] of Object.entries(workloads)) {
      this.tried.add(key);
      this.known[key] = w;
      if (this.index && w.selector && w.kind !== 'DaemonSet') this.index.track(workloadIdentity(w), w.namespace, w.selector);
    }
  }

  /**
   * Workloads (`Kind/ns/name`) this run just scaled back from an earlier run's raise: their PDBs'
   * status may still count the raise's pods, so a budget is judged on their replicas (plan/pdb.ts).
   */
  markRestored(ids: ReadonlySet<string>): void {
    for (const w of Object.values(this.known)) if (ids.has(workloadIdentity(w))) w.restoredThisRun = true;
  }

  /** The planner's `workloads` for these pods' owners, readiness as of now. */
  snapshotFor(pods: V1Pod[]): Record<string, WorkloadInfo> {
    const out: Record<string, WorkloadInfo> = {};
    for (const pod of pods) {
      const key = workloadKeyOf(pod);
      const w = key === undefined ? undefined : this.known[key];
      if (w && !(key! in out)) out[key!] = { ...w, readyReplicas: this.readyReplicas(w) };
    }
    return out;
  }

  /** Serving pods of `w` not being taken off by this run; its status's count where not tracked. */
  readyReplicas(w: WorkloadInfo): number {
    const id = workloadIdentity(w);
    const serving = this.index?.servingPods(id);
    if (!serving) return w.readyReplicas;
    let leaving = 0;
    for (const uid of this.leaving.get(id) ?? []) if (serving.has(uid)) leaving++;
    return serving.size - leaving;
  }

  /** This run starts taking `podUid` off: it no longer counts as a ready replica of `w`. Returns the undo. */
  takeOff(w: WorkloadInfo | undefined, podUid: string): () => void {
    if (!w) return () => undefined;
    const id = workloadIdentity(w);
    let set = this.leaving.get(id);
    if (!set) this.leaving.set(id, (set = new Set()));
    set.add(podUid);
    return () => {
      set.delete(podUid);
    };
  }
}

// waitForBudget: a pod whose eviction a PDB refused (429) waits here until the budget can
// allow it. Woken by the PDB watch, not by a sleep loop: when a PDB's status shows
// disruptionsAllowed = N, at most N waiters of that PDB are released (minus those already
// released and not yet back), so waiters do not stampede the API server with doomed evictions.
// A bounded fallback timer re-checks anyway, in case the watch is silent.
// A pod that is not Ready is admitted outside the budget (see admitsNotReadyPod): its waiter is
// released as soon as the cached status says so, and takes nothing from the budget.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { ResourceWatch } from '../kube/watch.js';
import { budgetStatus } from '../plan/pdb.js';
import { matchesLabelSelector } from '../plan/selector.js';
import { WaitAborted, abortReason } from './abort.js';

/** 'not-ready-admitted': the waiting pod is not Ready and the PDB admits it without the budget. */
/** 'not-selected': the PDB changed and no longer selects the waiting pod. */
export type WakeReason = 'budget' | 'not-ready-admitted' | 'not-selected' | 'retry-after' | 'fallback';

export interface BudgetWaitOptions {
  signal: AbortSignal;
  retryAfterSeconds?: number;
  /** The PDB's resourceVersion when the refused attempt was made (see wait). */
  seenResourceVersion?: string;
  /**
   * Whether the waiting pod is Ready now, read at each change of the budget (the PDB's status
   * changes when the pod's readiness does: it counts in currentHealthy). undefined (or absent):
   * not known, treated as Ready, so only the budget releases the waiter.
   */
  podReady?: () => boolean | undefined;
  /** The waiting pod's labels now: a PDB whose selector no longer matches them releases it. */
  podLabels?: () => Record<string, string> | undefined;
}

export interface BudgetWake {
  reason: WakeReason;
  /** Call once the eviction attempt that followed the wake has an answer. */
  settle(): void;
}

interface Waiter {
  release(reason: WakeReason): void;
  podReady?: () => boolean | undefined;
  podLabels?: () => Record<string, string> | undefined;
}

interface Gate {
  queue: Waiter[];
  /** Waiters released by a budget and not yet settled. */
  inflight: number;
}

/**
 * Whether the API server would evict a pod that is not Ready under this PDB now, whatever
 * disruptionsAllowed says. The eviction handler (kube-apiserver eviction.go) deletes a not-Ready
 * pod without touching the budget when spec.unhealthyPodEvictionPolicy is AlwaysAllow, or (the
 * default, IfHealthyBudget) when status.currentHealthy >= desiredHealthy > 0; it checks neither
 * observedGeneration nor disruptionsAllowed on that path.
 */
export function admitsNotReadyPod(pdb: V1PodDisruptionBudget): boolean {
  if (pdb.spec?.unhealthyPodEvictionPolicy === 'AlwaysAllow') return true;
  const b = budgetStatus(pdb);
  return b.desired > 0 && b.healthy >= b.desired;
}

/** Whether `pdb` still selects a pod with these labels (unknown labels: assume it does). */
function selects(pdb: V1PodDisruptionBudget, labels: Record<string, string> | undefined): boolean {
  return labels === undefined || matchesLabelSelector(pdb.spec?.selector, labels);
}

/** "healthy 1 / desired 1 / allowed 0", for messages. */
export function describeBudget(pdb: V1PodDisruptionBudget | undefined): string | undefined {
  if (!pdb) return undefined;
  const b = budgetStatus(pdb);
  return `healthy ${b.healthy} / desired ${b.desired} / expected ${b.expected} / allowed ${b.allowed}${b.observed ? '' : ' (status not yet observed)'}`;
}

/**
 * How long the disruption controller counts a pod in status.disruptedPods (an eviction the API
 * server admitted) that has not been deleted: DeletionTimeout in its source, 2 minutes.
 */
export const DISRUPTED_POD_TIMEOUT_MS = 120_000;
/** An admitted eviction deletes its pod within milliseconds: an entry older than this did not. */
const STALE_DISRUPTION_MS = 5_000;

/**
 * Pods `pdb` counts as disrupted by an eviction older than an eviction takes: the API server
 * admitted it (the budget was spent) but did not delete the pod, e.g. because the client that
 * asked was killed mid-request. The budget allows nothing for them until the controller stops
 * counting them (`clearsInMs`); nothing else can lift it sooner without deleting the pod.
 */
export function staleDisruptions(pdb: V1PodDisruptionBudget, now: number): { pod: string; since: string; clearsInMs: number }[] {
  const entries = Object.entries((pdb.status?.disruptedPods ?? {}) as Record<string, string | Date>);
  return entries.flatMap(([pod, at]) => {
    const since = new Date(at).getTime();
    if (!Number.isFinite(since) || now - since < STALE_DISRUPTION_MS) return [];
    return [{ pod, since: new Date(since).toISOString(), clearsInMs: Math.max(0, since + DISRUPTED_POD_TIMEOUT_MS - now) }];
  });
}

/**
 * An eviction of `pod` the API server admitted earlier whose delete never happened: `pdb` counts
 * the pod as disrupted (status.disruptedPods) for longer than an eviction takes, and for long
 * enough still (COMPLETION_MARGIN_MS) that deleting it now spends nothing the budget has not
 * already counted. `freshInMs`: an entry too young to judge yet becomes so in that many ms.
 */
export function admittedEviction(pdb: V1PodDisruptionBudget, pod: string, now: number): { since: string; clearsInMs: number } | { freshInMs: number } | undefined {
  const at = (pdb.status?.disruptedPods as Record<string, string | Date> | undefined)?.[pod];
  if (at === undefined) return undefined;
  const since = new Date(at).getTime();
  if (!Number.isFinite(since)) return undefined;
  if (now - since < STALE_DISRUPTION_MS) return { freshInMs: STALE_DISRUPTION_MS - (now - since) };
  const clearsInMs = since + DISRUPTED_POD_TIMEOUT_MS - now;
  return clearsInMs >= COMPLETION_MARGIN_MS ? { since: new Date(since).toISOString(), clearsInMs } : undefined;
}

/**
 * How long before the disruption controller stops counting an admitted eviction the run still
 * completes it: once it stops, the pod counts as healthy again and its delete would spend the
 * budget twice (the margin also covers clock skew between this machine and the API server).
 */
export const COMPLETION_MARGIN_MS = 30_000;

/** staleDisruptions as the reason for a budget wait, or undefined when there are none. */
export function describeStaleDisruptions(pdb: V1PodDisruptionBudget | undefined, now: number): string | undefined {
  const stale = pdb ? staleDisruptions(pdb, now) : [];
  if (stale.length === 0) return undefined;
  const ns = pdb?.metadata?.namespace ?? '';
  const pods = stale.map((s) => `${ns}/${s.pod}`).join(', ');
  const since = stale.map((s) => s.since).join(', ');
  const within = Math.ceil(Math.max(...stale.map((s) => s.clearsInMs)) / 1000);
  return (
    `the budget still counts ${pods} as disrupted by ${stale.length === 1 ? 'an eviction' : 'evictions'} at ${since} that did not delete ${stale.length === 1 ? 'it' : 'them'} ` +
    `(e.g. of a run killed mid-request): the disruption controller stops counting ${stale.length === 1 ? 'it' : 'them'} within ${within} s`
  );
}

export class BudgetWaiter {
  private readonly gates = new Map<string, Gate>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly pdbs: ResourceWatch<V1PodDisruptionBudget>,
    /** Upper bound on a wait without any event, ms. */
    private readonly fallbackMs = 30_000,
  ) {
    this.unsubscribe = pdbs.subscribe((type, pdb) => {
      const key = `${pdb.metadata?.namespace}/${pdb.metadata?.name}`;
      if (type === 'DELETED') this.releaseAll(key);
      else this.releaseAllowed(key, pdb);
    });
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Waits for `pdbKey` (namespace/name) to allow a disruption. `seenResourceVersion` is the
   * PDB's resourceVersion when the refused attempt was made: a cached status no newer than that
   * cannot be trusted to allow anything, so it does not release the waiter at once.
   */
  wait(pdbKey: string | undefined, opts: BudgetWaitOptions): Promise<BudgetWake> {
    const { signal } = opts;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
      const gate = pdbKey ? this.gate(pdbKey) : undefined;
      const waiter: Waiter = {
        podReady: opts.podReady,
        podLabels: opts.podLabels,
        release: (reason) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          if (gate) gate.queue = gate.queue.filter((w) => w !== waiter);
          let settled = reason !== 'budget';
          resolve({
            reason,
            settle: () => {
              if (!settled && gate) gate.inflight = Math.max(0, gate.inflight - 1);
              settled = true;
            },
          });
        },
      };
      const onAbort = () => {
        clearTimeout(timer);
        if (gate) gate.queue = gate.queue.filter((w) => w !== waiter);
        reject(new WaitAborted(abortReason(signal)));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const delay = opts.retryAfterSeconds !== undefined ? opts.retryAfterSeconds * 1000 : this.fallbackMs;
      const timer = setTimeout(() => waiter.release(opts.retryAfterSeconds !== undefined ? 'retry-after' : 'fallback'), delay);
      // Unref'd: a timer does not own the process; the run does (holdProcessAlive in run.ts).
      timer.unref?.();
      if (!gate || !pdbKey) return;
      gate.queue.push(waiter);
      // The cache may already hold a newer status than the one that refused us.
      const cached = this.pdbs.get(pdbKey);
      if (!cached) {
        this.releaseAll(pdbKey); // the PDB is gone: nothing left to wait for
      } else if (cached.metadata?.resourceVersion !== opts.seenResourceVersion) {
        this.releaseAllowed(pdbKey, cached);
      }
    });
  }

  /**
   * A pod's readiness changed (the drain's pod watch): release the waiters of pods now not Ready
   * whose PDB, as cached, admits them. The PDB's own event usually follows the pod's (its
   * currentHealthy changes) and does the same; this covers the PDB event arriving first.
   */
  podReadinessChanged(): void {
    for (const [key, gate] of this.gates) {
      const cached = this.pdbs.get(key);
      if (cached && gate.queue.length > 0) this.releaseNotReady(gate, cached);
    }
  }

  private releaseNotReady(gate: Gate, pdb: V1PodDisruptionBudget): void {
    if (!admitsNotReadyPod(pdb)) return;
    for (const w of gate.queue.filter((x) => x.podReady?.() === false)) w.release('not-ready-admitted');
  }

  private gate(key: string): Gate {
    let g = this.gates.get(key);
    if (!g) {
      g = { queue: [], inflight: 0 };
      this.gates.set(key, g);
    }
    return g;
  }

  private releaseAllowed(key: string, pdb: V1PodDisruptionBudget): void {
    const gate = this.gates.get(key);
    if (!gate || gate.queue.length === 0) return;
    // A selector changed so that it no longer selects the pod: this PDB no longer holds it.
    for (const w of gate.queue.filter((x) => !selects(pdb, x.podLabels?.()))) w.release('not-selected');
    // Not-Ready pods the API server admits outside the budget: all of them, nothing taken from it.
    this.releaseNotReady(gate, pdb);
    const b = budgetStatus(pdb);
    if (!b.observed) return;
    let room = b.allowed - gate.inflight;
    while (room > 0 && gate.queue.length > 0) {
      const w = gate.queue.shift()!;
      gate.inflight++;
      room--;
      w.release('budget');
    }
  }

  private releaseAll(key: string): void {
    const gate = this.gates.get(key);
    if (!gate) return;
    for (const w of [...gate.queue]) {
      gate.inflight++;
      w.release('budget');
    }
  }
}

// What a node's drain starts next, decided from the plan of the pods it holds NOW and what is
// already under way: a pure function, so the order rules are tested without a cluster.
//   - pods the plan refuses fail (named); pods already terminating are only waited for;
//   - an eviction waiting on a budget that the plan now migrates gives its wait up;
//   - eviction order is data (plan/order.ts): a later tier starts only when the earlier tiers'
//     pods have left; max-concurrent-evictions is one run-wide pool of slots (EvictionSlots);
//   - a Deployment's pods on the node that migrate go together, as one task;
//   - the next slot goes to a pod whose budget allows a disruption now, else to the budget with
//     the fewest of the run's evictions in flight (nextToStart).
import { evictionTier } from '../plan/order.js';
import type { DrainPlan, PodPlan } from '../types.js';

export type Work =
  | { kind: 'refuse'; pod: PodPlan; why: string }
  | { kind: 'await-terminating'; pod: PodPlan }
  | { kind: 'give-up-wait'; pod: PodPlan; why: string }
  | { kind: 'evict'; pod: PodPlan; tier: number; budget?: string }
  | { kind: 'migrate'; pods: PodPlan[]; ready: number; tier: number; budget?: string };

export interface WorkView {
  plan: DrainPlan;
  /** Work on this pod (UID) has started on this node (its ledger has it). */
  started(uid: string): boolean;
  /** Evictions of this node waiting on a budget (not yet admitted), by UID; `givingUp` once told to stop. */
  budgetWaits: ReadonlyMap<string, { givingUp: boolean }>;
  /** Eviction tiers of this node's evicting tasks in flight. */
  tiersInFlight: number[];
  /** Run-wide eviction slots free now. */
  freeSlots: number;
  /** The run's evictions in flight under a PDB, on every node. */
  inFlightUnder(pdb: string | undefined): number;
  /** The PDB's disruptionsAllowed as last seen, undefined when not known. */
  allowedNow(pdb: string): number | undefined;
  /** Whether the pod (UID) is Ready now. */
  ready(uid: string): boolean;
}

export interface Selection {
  work: Work[];
  /** Pods the plan still has to work on that have not started (0 with nothing in flight: done). */
  pending: number;
}

function needsWork(p: PodPlan): boolean {
  return p.action === 'evict' || p.action === 'migrate' || p.action === 'wait' || p.action === 'refuse';
}

function sameWorkload(a: PodPlan, b: PodPlan): boolean {
  return a.workload?.kind === b.workload?.kind && a.workload?.namespace === b.workload?.namespace && a.workload?.name === b.workload?.name;
}

/** Why a pod cannot be worked on (an option it needs, or a fatal finding), if it cannot. */
function refusalOf(plan: DrainPlan, p: PodPlan): string | undefined {
  const key = `${p.namespace}/${p.name}`;
  const fatal = plan.blockers.filter((b) => b.fatal && b.pod === key && b.kind !== 'no-capacity');
  if (fatal.length > 0) return fatal.map((b) => b.message).join('; ');
  if (p.action === 'refuse') return `pod ${key}: ${p.reason}`;
  return undefined;
}

export function selectWork(v: WorkView): Selection {
  const work: Work[] = [];
  for (const p of v.plan.pods) {
    const waiting = v.budgetWaits.get(p.uid);
    if (p.action === 'migrate' && waiting && !waiting.givingUp) work.push({ kind: 'give-up-wait', pod: p, why: p.reason });
  }
  const todo = v.plan.pods.filter((p) => needsWork(p) && !v.started(p.uid));
  const movers: PodPlan[] = [];
  for (const p of todo) {
    const refusal = refusalOf(v.plan, p);
    if (refusal !== undefined) work.push({ kind: 'refuse', pod: p, why: refusal });
    else if (p.action === 'wait') work.push({ kind: 'await-terminating', pod: p });
    else movers.push(p);
  }
  work.push(...startMovers(v, movers, work));
  return { work, pending: todo.length };
}

/** The evictions and migrations to start now: the lowest tier only, as many as the run's free slots. */
function startMovers(v: WorkView, movers: PodPlan[], decided: Work[]): Work[] {
  const tier = Math.min(...movers.map(evictionTier), ...v.tiersInFlight);
  const candidates = movers.filter((p) => evictionTier(p) === tier);
  const taken = new Map<string, number>();
  const inFlightUnder = (pdb: string | undefined) => v.inFlightUnder(pdb) + (pdb === undefined ? 0 : (taken.get(pdb) ?? 0));
  // Pods of the same Deployment still giving their budget waits up join its migration once they
  // have: one migration per Deployment and node, never two raising it at once.
  const told = new Set(decided.filter((w) => w.kind === 'give-up-wait').map((w) => w.pod.uid));
  const stillGivingUp = (p: PodPlan) => v.plan.pods.some((x) => sameWorkload(x, p) && (told.has(x.uid) || v.budgetWaits.get(x.uid)?.givingUp === true));
  const out: Work[] = [];
  let free = v.freeSlots;
  while (candidates.length > 0 && free > 0) {
    const p = candidates.splice(nextToStart(candidates, inFlightUnder, v.allowedNow), 1)[0]!;
    const budget = p.pdbs[0];
    if (p.action === 'migrate' && stillGivingUp(p)) continue;
    free--;
    if (budget !== undefined) taken.set(budget, (taken.get(budget) ?? 0) + 1);
    if (p.action === 'migrate' && p.workload?.kind === 'Deployment') {
      const group = [p, ...candidates.filter((x) => x.action === 'migrate' && sameWorkload(x, p))];
      for (const x of group.slice(1)) candidates.splice(candidates.indexOf(x), 1);
      out.push({ kind: 'migrate', pods: group, ready: group.filter((x) => v.ready(x.uid)).length, tier, budget });
    } else {
      out.push({ kind: 'evict', pod: p, tier, budget });
    }
  }
  return out;
}

/**
 * Index in `candidates` of the pod to start next: one whose PDB allows a disruption now (the
 * last seen disruptionsAllowed minus this run's evictions in flight under it; no PDB, or a PDB
 * not seen, counts as allowing), else the one whose PDB has the fewest of the run's evictions in
 * flight; the first such in `candidates` order.
 */
export function nextToStart(candidates: PodPlan[], inFlightUnder: (pdb: string | undefined) => number, allowed: (pdb: string) => number | undefined): number {
  const rank = (p: PodPlan): number => {
    const pdb = p.pdbs[0];
    const inFlight = inFlightUnder(pdb);
    const room = pdb === undefined ? undefined : allowed(pdb);
    return (room === undefined || room - inFlight > 0 ? 0 : 1_000_000) + inFlight;
  };
  let pick = 0;
  let best = Infinity;
  candidates.forEach((p, i) => {
    const r = rank(p);
    if (r < best) {
      pick = i;
      best = r;
    }
  });
  return pick;
}

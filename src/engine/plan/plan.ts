// The drain plan for one node: what happens to each pod, in which order, and what stands in the way.
import type { V1LabelSelector, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Blocker, DrainOptions, DrainPlan, NodeFit, PlanInput, PodPlan, WorkloadInfo } from '../types.js';
import { fitPod } from './capacity.js';
import { decidePod, type MissingFlag, type PodDecision } from './classify.js';
import { describeExpectedDowntime, expectedDowntime } from './downtime.js';
import { evictionGroups } from './order.js';
import { budgetStatus, pdbKey, pdbNeverAllows, pdbsForPod, unreadyEvictionAdmitted } from './pdb.js';
import { budgetBlocksAtAnyScale, migrationOf } from './migration.js';
import { controllerOf, daemonSetKeyOf, isNodeReady, isPodReady, podKey, workloadIdentity, workloadKeyOf } from './pod.js';
import { applyDrainLabel, nodeDoNotDisrupt, podDoNotDisrupt } from './policies.js';
import { parseLabelSelector } from './selector.js';

/** A pod with its plan row and what the checks below need. */
interface Entry {
  pod: V1Pod;
  key: string;
  plan: PodPlan;
  pdbs: V1PodDisruptionBudget[];
  workloadKey?: string;
  /** Options the pod needs turned on (action 'refuse'). */
  missing: MissingFlag[];
  /** The refusal's wording where the flag's usual one would be wrong. */
  problem?: PodDecision['problem'];
  /** Why the Eviction API lets this pod go without spending its (single) PDB's budget, if it does. */
  budgetExempt?: string;
  /** The annotation (`key=value`) that forbids taking this pod off, when the plan would. */
  doNotDisrupt?: string;
}

export function planDrain(input: PlanInput, opts: DrainOptions): DrainPlan {
  const nodeName = input.node.metadata?.name ?? '';
  const podSelector = opts.podSelector ? parseLabelSelector(opts.podSelector) : undefined;
  const nodeReady = isNodeReady(input.node);
  const entries = input.pods.map((pod) => planPod(pod, input, opts, nodeReady, podSelector)).sort((a, b) => compareText(a.key, b.key));

  const blockers: Blocker[] = [
    ...nodeBlockers(input, nodeName, opts),
    ...entries.flatMap(refusalBlockers),
    ...entries.flatMap((e) => doNotDisruptBlockers(e, opts)),
    ...entries.flatMap((e) => budgetBlockers(e, opts)),
    ...readinessBlockers(entries, opts),
    ...entries.flatMap((e) => bypassBlockers(e, opts)),
  ];
  const fits = entries.filter(needsNewHome).map((e) => fitPod(e.pod, input.otherNodes, nodeName));
  blockers.push(...fits.filter((f) => f.candidates.length === 0).map(noCapacityBlocker));

  const pods = entries.map((e) => e.plan);
  return {
    node: nodeName,
    nodeReady,
    alreadyCordoned: input.node.spec?.unschedulable === true,
    pods,
    groups: evictionGroups(pods),
    blockers,
    fits,
  };
}

function planPod(pod: V1Pod, input: PlanInput, opts: DrainOptions, nodeReady: boolean, podSelector?: V1LabelSelector): Entry {
  // kubectl GETs the DaemonSet a pod names as its controller; fetchWorkloads records it only when it exists.
  const daemonSetKey = daemonSetKeyOf(pod);
  const daemonSetExists = daemonSetKey !== undefined && input.workloads[daemonSetKey] !== undefined;
  const ctx = { daemonSetExists, nodeReady, now: input.now, skipWaitForDeleteTimeoutSeconds: opts.skipWaitForDeleteTimeoutSeconds };
  const decision = applyDrainLabel(pod, decidePod(pod, opts, ctx, podSelector));
  const doNotDisrupt = disrupts(decision) ? podDoNotDisrupt(pod) : undefined;
  if (doNotDisrupt !== undefined) overrideOrRefuse(decision, doNotDisrupt, opts);
  const workloadKey = workloadKeyOf(pod);
  const pdbs = pdbsForPod(pod, input.pdbs);
  // With more than one PDB the Eviction API answers 500 before looking at readiness.
  const budgetExempt = pdbs.length === 1 && decision.action === 'evict' ? unreadyEvictionAdmitted(pod, pdbs[0]!) : undefined;
  const plan: PodPlan = {
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    podClass: decision.podClass,
    action: decision.action,
    reason: budgetExempt ? `${decision.reason}; ${budgetExempt}` : decision.reason,
    priority: pod.spec?.priority ?? 0,
    priorityClassName: pod.spec?.priorityClassName,
    owner: controllerOf(pod),
    workload: workloadKey ? input.workloads[workloadKey] : undefined,
    pdbs: pdbs.map(pdbKey),
  };
  return { pod, key: podKey(pod), plan, pdbs, workloadKey, missing: decision.missing, problem: decision.problem, budgetExempt, doNotDisrupt };
}

/** The decision takes a running pod off the node (or would, once the options it lacks are set). */
function disrupts(d: PodDecision): boolean {
  return (d.action === 'evict' || d.action === 'refuse') && d.podClass !== 'finished';
}

/** A do-not-disrupt annotation refuses the pod, unless respect-do-not-disrupt: false overrides it. */
function overrideOrRefuse(d: PodDecision, annotation: string, opts: DrainOptions): void {
  if (!opts.respectDoNotDisrupt) {
    d.reason = `${d.reason}; annotation ${annotation} overridden (respect-do-not-disrupt: false)`;
    return;
  }
  if (d.action === 'refuse') return; // refused already; its blocker names the annotation too
  d.action = 'refuse';
  d.reason = `annotation ${annotation}: must not be disrupted (respect-do-not-disrupt: false overrides it)`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A pod the plan takes off the node while it still runs (finished pods are just deleted). */
function leavesRunning(e: Entry): boolean {
  return (e.plan.action === 'evict' || e.plan.action === 'migrate') && e.plan.podClass !== 'finished';
}

// ---- Refused pods ----

const FLAG_BLOCKERS: Record<MissingFlag, { kind: Blocker['kind']; problem: string; fix: string }> = {
  force: { kind: 'needs-force', problem: 'has no controller', fix: 'set force: true to delete it (it will not be recreated)' },
  'delete-emptydir-data': {
    kind: 'needs-delete-emptydir-data',
    problem: 'uses emptyDir',
    fix: 'set delete-emptydir-data: true to evict it (the emptyDir data is lost)',
  },
  'ignore-daemonsets': {
    kind: 'daemonset-not-ignored',
    problem: 'belongs to a DaemonSet',
    fix: 'set ignore-daemonsets: true to leave DaemonSet pods on the node',
  },
};

function refusalBlockers(e: Entry): Blocker[] {
  return e.missing.map((flag) => {
    const { kind, problem, fix } = FLAG_BLOCKERS[flag];
    const own = e.problem?.[flag];
    return { kind, pod: e.key, message: own ? `pod ${e.key}: ${own}; ${fix}` : `pod ${e.key} ${problem}; ${fix}`, fatal: true };
  });
}

// ---- Policies of other tools: do-not-disrupt, forced progress ----

function nodeBlockers(input: PlanInput, nodeName: string, opts: DrainOptions): Blocker[] {
  const annotation = nodeDoNotDisrupt(input.node);
  if (annotation === undefined) return [];
  return opts.respectDoNotDisrupt
    ? [{ kind: 'node-do-not-disrupt', pod: nodeName, message: `node ${nodeName} has annotation ${annotation}: it must not be drained; remove the annotation, or set respect-do-not-disrupt: false to drain it anyway`, fatal: true }]
    : [{ kind: 'do-not-disrupt-overridden', pod: nodeName, message: `node ${nodeName} has annotation ${annotation}; drained anyway (respect-do-not-disrupt: false)`, fatal: false }];
}

function doNotDisruptBlockers(e: Entry, opts: DrainOptions): Blocker[] {
  if (e.doNotDisrupt === undefined) return [];
  return opts.respectDoNotDisrupt
    ? [{ kind: 'do-not-disrupt', pod: e.key, message: `pod ${e.key} has annotation ${e.doNotDisrupt}: it must not be disrupted; remove the annotation, or set respect-do-not-disrupt: false to evict it anyway`, fatal: true }]
    : [{ kind: 'do-not-disrupt-overridden', pod: e.key, message: `pod ${e.key} has annotation ${e.doNotDisrupt}; evicted anyway (respect-do-not-disrupt: false)`, fatal: false }];
}

/** Pods the drain may delete without their PDB's consent, because an input asks for it: said before any change. */
function bypassBlockers(e: Entry, opts: DrainOptions): Blocker[] {
  if (!leavesRunning(e) || e.pdbs.length === 0) return [];
  const names = e.pdbs.map(pdbKey);
  const pdbs = `PDB ${names.join(', ')}`;
  if (opts.disableEviction) {
    return [{ kind: 'budget-bypassed', pod: e.key, pdbs: names, message: `${pdbs} is bypassed: disable-eviction deletes pod ${e.key} instead of evicting it, without asking the budget`, fatal: false }];
  }
  if (opts.forceAfterMs > 0 && budgetApplies(e)) {
    return [{ kind: 'budget-bypassed', pod: e.key, pdbs: names, message: `if ${pdbs} still refuses to evict pod ${e.key} after ${opts.forceAfterMs / 1000}s, the pod is deleted without the budget's consent (force-after)`, fatal: false }];
  }
  return [];
}

// ---- Budgets ----

/**
 * Pods the Eviction API checks against a PDB: it deletes finished, Pending and terminating ones
 * outright, and lets a not-Ready pod go without the budget when the budget allows that.
 */
function budgetApplies(e: Entry): boolean {
  return leavesRunning(e) && e.pod.status?.phase !== 'Pending' && e.budgetExempt === undefined;
}

function canSurge(workload: WorkloadInfo | undefined, opts: DrainOptions): boolean {
  return opts.migration === 'surge' && workload?.kind === 'Deployment';
}

function workloadName(w: WorkloadInfo): string {
  return `${w.kind} ${w.namespace}/${w.name}`;
}

function budgetBlockers(e: Entry, opts: DrainOptions): Blocker[] {
  // disable-eviction never asks a budget (bypassBlockers says so).
  if (opts.disableEviction || !budgetApplies(e) || e.pdbs.length === 0) return [];
  const names = e.pdbs.map(pdbKey);
  if (e.pdbs.length > 1) {
    return [
      {
        kind: 'multiple-pdbs',
        pod: e.key,
        pdbs: names,
        message: `pod ${e.key} is selected by ${names.length} PDBs (${names.join(', ')}); the Eviction API refuses such pods (HTTP 500): make the PDB selectors disjoint`,
        fatal: true,
      },
    ];
  }
  const [pdb] = e.pdbs;
  const never = pdb ? pdbNeverAllows(pdb, e.plan.workload) : undefined;
  if (!never) return [];
  const workload = e.plan.workload;
  if (workload && canSurge(workload, opts)) {
    const how = migrationOf(workload);
    const atAnyScale = pdb ? budgetBlocksAtAnyScale(pdb) : undefined;
    if (atAnyScale && how?.method !== 'rollout-restart') {
      // Scaling up raises the budget's desiredHealthy with it, and an HPA or a plain eviction
      // gets 429 forever: refuse before any change instead of promising a surge.
      return [
        {
          kind: 'pdb-never-allows',
          pod: e.key,
          pdbs: names,
          message:
            `${never}, however many replicas run (${atAnyScale}: raising replicas raises the healthy pods it requires too), ` +
            `and ${workloadName(workload)} cannot be moved by a rollout (${how?.why ?? 'its strategy is unknown'}). ` +
            `Relax the PDB (e.g. maxUnavailable: 1), or give the Deployment a RollingUpdate strategy with maxSurge >= 1 and maxUnavailable 0 (not paused) so safe-drain can roll it`,
          fatal: true,
        },
      ];
    }
    const verb = how?.method === 'rollout-restart' ? 'roll out' : 'surge';
    migrate(e, `${never}: safe-drain will ${verb} ${workloadName(workload)} first`);
    return [];
  }
  const fix =
    workload?.kind === 'Deployment'
      ? 'set migration: surge, or relax the PDB'
      : 'relax the PDB (lower minAvailable / raise maxUnavailable) or scale the workload up';
  // Not fatal: the drain waits for the budget (someone may scale up) and fails at `timeout`,
  // naming the pod and the PDB, with the node left cordoned.
  return [
    {
      kind: 'pdb-never-allows',
      pod: e.key,
      pdbs: names,
      message: `${never}; pod ${e.key} will wait for it until the timeout: ${fix}`,
      fatal: false,
    },
  ];
}

function migrate(e: Entry, reason: string): void {
  if (e.plan.action === 'migrate') return;
  e.plan.action = 'migrate';
  e.plan.reason = reason;
}

// ---- Readiness: would the workload be left with nothing serving? ----

function readinessBlockers(entries: Entry[], opts: DrainOptions): Blocker[] {
  const blockers: Blocker[] = [];
  const byWorkload = new Map<string, Entry[]>();
  for (const e of entries) {
    if (e.plan.owner === undefined && leavesRunning(e)) {
      blockers.push({
        kind: 'unavoidable-downtime',
        pod: e.key,
        message: `pod ${e.key} has no controller: deleting it removes it for good, nothing recreates it`,
        fatal: false,
      });
    }
    // Only Ready pods count: a pod that is not Ready is not in readyReplicas to begin with.
    if (!e.plan.workload || !leavesRunning(e) || !isPodReady(e.pod)) continue;
    // By the workload itself, not the pod's controller: mid-rollout a Deployment's Ready pods
    // sit in two ReplicaSets, and its readyReplicas counts them all.
    const workload = workloadIdentity(e.plan.workload);
    byWorkload.set(workload, [...(byWorkload.get(workload) ?? []), e]);
  }

  for (const group of byWorkload.values()) {
    const workload = group[0]?.plan.workload;
    if (!workload || workload.readyReplicas - group.length > 0) continue;
    // A budget that keeps at least one pod healthy serialises the evictions: each waits for the
    // previous replacement, so the workload never drops to zero (a budget that can never allow
    // is handled by budgetBlockers).
    if (group.every((e) => e.pdbs.length === 1 && budgetStatus(e.pdbs[0]!).desired >= 1)) continue;
    const podNames = group.map((e) => e.key).join(', ');
    const situation = `${workloadName(workload)} has ${workload.readyReplicas} ready replica(s) and evicting ${podNames} from this node leaves it none`;
    const downtime = expectedDowntime(group.map((e) => e.pod));
    const finding = (kind: 'zero-ready' | 'unavoidable-downtime', why: string): Blocker => ({
      kind,
      pod: group[0]?.key ?? '',
      message: `${situation}: ${why}; ${describeExpectedDowntime(downtime)}`,
      fatal: false,
      expectedDowntime: downtime,
    });
    if (canSurge(workload, opts)) {
      for (const e of group) migrate(e, `last ready replica(s) of ${workloadName(workload)}: safe-drain will surge a replacement first`);
      // The migration of an HPA-managed Deployment that cannot roll is a plain eviction (plan/migration.ts).
      const how = migrationOf(workload);
      if (how?.method === 'evict') blockers.push(finding('zero-ready', `expect downtime: it has no surge path (${how.why})`));
    } else if (workload.kind === 'Deployment') {
      blockers.push(finding('zero-ready', 'expect downtime (set migration: surge to bring replacements up first)'));
    } else {
      blockers.push(finding('unavoidable-downtime', `a ${workload.kind} cannot surge, expect downtime until its replacement is Ready`));
    }
  }
  return blockers;
}

// ---- Capacity ----

/** Pods whose controller will make a replacement that must land on another node. */
function needsNewHome(e: Entry): boolean {
  const recreated = e.plan.owner !== undefined && e.plan.owner.kind !== 'DaemonSet';
  return leavesRunning(e) && recreated;
}

function noCapacityBlocker(fit: NodeFit): Blocker {
  const why = Object.entries(fit.rejected).map(([node, reason]) => `${node}: ${reason}`);
  const more = fit.rejectedCount !== undefined ? `; and ${fit.rejectedCount - why.length} more nodes` : '';
  const detail = why.length > 0 ? `no other node can take it (${why.join('; ')}${more})` : 'there is no other node to take it';
  return { kind: 'no-capacity', pod: fit.pod, message: `pod ${fit.pod} would stay Pending: ${detail}`, fatal: false };
}

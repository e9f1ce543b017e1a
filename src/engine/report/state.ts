// RunReport.summary: one paragraph saying exactly what state the run left the cluster in —
// what is cordoned (and whether it was before), which pods left the node, which stayed and
// why, and what safe-drain changed on workloads. Built only from the report's own data.
import type { AvailabilityReport } from '../availability/types.js';
import type { BlockedPod, DrainOptions, NodeReport, PodPlan, PodResult, RunReport } from '../types.js';
import { plural, podKey } from './labels.js';

export type FinalStateInput = Pick<RunReport, 'nodes' | 'availability'> & {
  options: Pick<DrainOptions, 'uncordonOnFailure'> & Partial<Pick<DrainOptions, 'availability' | 'disableEviction' | 'forceAfterMs'>>;
};

export function describeFinalState(report: FinalStateInput): string {
  if (report.nodes.length === 0) return 'No node was processed; nothing changed.';
  const gate = report.availability ? [availabilityState(report.availability)] : [];
  return [...report.nodes.map((node) => describeNodeState(node, report.options)), ...gate].join(' ');
}

/** One sentence on the availability gate: what was watched and what broke it. */
export function availabilityState(a: AvailabilityReport): string {
  const watched = `${plural(a.services.length, 'Service')}${a.probes.length ? ` and ${plural(a.probes.length, 'URL')}` : ''}`;
  const verb = a.measured ? 'watched' : 'planned to be watched';
  if (a.passed) return `Availability: ${watched} ${verb}, the gate passed.`;
  const aborted = a.aborted ? ' (abort-on-downtime stopped the evictions)' : '';
  return `Availability: ${watched} ${verb}, the gate FAILED${aborted}: ${a.failures.join('; ')}.`;
}

export function describeNodeState(node: NodeReport, options: FinalStateInput['options']): string {
  const parts = [cordonState(node, options.availability?.restoreAfter === true)];
  if (node.operation === 'drain' || node.operation === 'plan') {
    const pods = podState(node, options);
    if (pods) parts.push(pods);
  }
  const changes = workloadChangeState(node);
  if (changes) parts.push(changes);
  parts.push(...ending(node, options));
  return `Node ${node.node}: ${parts.join('; ')}.`;
}

function cordonState(node: NodeReport, restoreAfter: boolean): string {
  const before = node.wasCordoned ? 'cordoned' : 'not cordoned';
  if (node.dryRun || node.operation === 'plan') {
    return `${node.dryRun ? 'dry run' : 'plan only'}, nothing changed (${before})`;
  }
  if (node.uncordoned) return `uncordoned again ${restoreAfter ? 'at the end (restore-after)' : 'after the failure'} (was ${before} before)`;
  if (node.cordoned) return node.wasCordoned ? 'cordoned (was already cordoned before)' : 'cordoned (was not cordoned before)';
  if (node.wasCordoned) return 'uncordoned (was cordoned before)';
  return node.operation === 'uncordon' ? 'not cordoned (was not cordoned before, nothing to do)' : 'not cordoned';
}

// --- pods --------------------------------------------------------------------------------------

function podState(node: NodeReport, options: FinalStateInput['options']): string | undefined {
  if (node.results.length === 0 && node.blocked.length === 0) return planOnlyState(node, options);
  const plans = new Map((node.plan?.pods ?? []).map((pod) => [podKey(pod), pod]));
  const byOutcome = (outcome: PodResult['outcome']) => node.results.filter((r) => r.outcome === outcome);
  const facts: string[] = [];
  const add = (count: number, text: (n: number) => string) => {
    if (count > 0) facts.push(text(count));
  };
  add(byOutcome('evicted').length, (n) => `${plural(n, 'pod')} evicted`);
  add(byOutcome('evicted-not-confirmed').length, (n) => `${plural(n, 'pod')} evicted without confirmed deletion`);
  add(byOutcome('migrated').length, (n) => `${plural(n, 'pod')} migrated (replacement started first)`);
  add(byOutcome('deleted').length, (n) => `${plural(n, 'finished pod')} deleted`);
  add(byOutcome('force-deleted').length, (n) => `${plural(n, 'pod')} deleted instead of evicted (${bypassInputs(node)}: ${bypassedBudgets(node)})`);
  add(byOutcome('completed').length, (n) => `${plural(n, 'pod')} completed while the drain waited (cluster.x-k8s.io/drain=wait-completed)`);
  add(byOutcome('would-evict').length, (n) => `${plural(n, 'pod')} would be evicted`);
  // Pods that stay may appear as 'skipped' results, or only in the plan: count both, once.
  const stayingKeys = new Set([
    ...byOutcome('skipped').map((r) => r.pod),
    ...[...plans.values()].filter((pod) => pod.action === 'skip').map(podKey),
  ]);
  facts.push(...leftPods([...stayingKeys].map((key) => plans.get(key))));
  facts.push(...blockedPods(node));
  const failed = byOutcome('failed');
  add(failed.length, (n) => `${plural(n, 'pod')} failed${failed[0]?.message ? ` (${trimPeriod(failed[0].message)})` : ''}`);
  add(unprocessedPods(node).length, (n) => `${plural(n, 'pod')} not evicted (the run ended first)`);
  facts.push(...policyFacts(node, options), ...volumeFacts(node));
  return facts.length > 0 ? facts.join(', ') : 'no pods to move';
}

/** The inputs that deleted pods without their PDB's consent on this node. */
function bypassInputs(node: NodeReport): string {
  return [...new Set(node.results.flatMap((r) => (r.bypass ? [r.bypass.by] : [])))].join(', ');
}

/** "budgets bypassed: PDB shop/web, PDB shop/db", or that no PDB selected them. */
function bypassedBudgets(node: NodeReport): string {
  const pdbs = [...new Set(node.results.flatMap((r) => (r.bypass?.pdb ? [r.bypass.pdb] : [])))];
  return pdbs.length > 0 ? `budgets bypassed: ${pdbs.map((p) => `PDB ${p}`).join(', ')}` : 'no PDB selected them';
}

/** What the plan said of other tools' annotations and of budgets it will bypass, in words. */
function policyFacts(node: NodeReport, options: FinalStateInput['options']): string[] {
  const blockers = node.plan?.blockers ?? [];
  const overridden = blockers.filter((b) => b.kind === 'do-not-disrupt-overridden');
  const bypassed = blockers.filter((b) => b.kind === 'budget-bypassed');
  const facts: string[] = [];
  if (overridden.length > 0) facts.push(`do-not-disrupt overridden for ${overridden.map((b) => b.pod).join(', ')} (respect-do-not-disrupt: false)`);
  // After a real drain the results say which budgets were bypassed (force-deleted); before, the plan.
  if (bypassed.length > 0 && (node.dryRun || node.operation === 'plan')) {
    const how = options.disableEviction ? 'disable-eviction: deleted, not evicted' : `force-after ${(options.forceAfterMs ?? 0) / 1000}s, if still waiting then`;
    facts.push(`PDBs would be bypassed for ${plural(bypassed.length, 'pod')} (${how})`);
  }
  return facts;
}

/** The wait for the removed pods' volumes to detach. */
function volumeFacts(node: NodeReport): string[] {
  const v = node.volumeDetach;
  if (!v) return [];
  const waited = `${(v.waitedMs / 1000).toFixed(1)}s`;
  if (v.stillAttached.length === 0) return [`volumes ${v.waitedFor.join(', ')} detached after ${waited}`];
  return [`volumes still attached after ${waited}: ${v.stillAttached.join(', ')}${v.endedBy ? ` (${v.endedBy})` : ''}`];
}

/** Dry runs that report no results, plans, and drains stopped by fatal blockers before evicting. */
function planOnlyState(node: NodeReport, options: FinalStateInput['options']): string | undefined {
  const plan = node.plan;
  if (!plan) return undefined;
  if (plan.pods.length === 0) return 'no pods on it';
  const count = (action: PodPlan['action']) => plan.pods.filter((pod) => pod.action === action).length;
  const acted = node.dryRun || node.operation === 'plan';
  const facts: string[] = [];
  const add = (n: number, text: string) => {
    if (n > 0) facts.push(text);
  };
  add(count('evict'), `${plural(count('evict'), 'pod')} ${acted ? 'would be evicted' : 'not evicted'}`);
  add(count('migrate'), `${plural(count('migrate'), 'pod')} ${acted ? 'would be migrated' : 'not migrated'}`);
  add(count('wait'), `${plural(count('wait'), 'pod')} already terminating`);
  add(count('wait-completed'), `${plural(count('wait-completed'), 'pod')} to wait for until ${count('wait-completed') === 1 ? 'it completes' : 'they complete'} (cluster.x-k8s.io/drain=wait-completed)`);
  facts.push(...leftPods(plan.pods.filter((pod) => pod.action === 'skip')));
  const fatal = plan.blockers.filter((b) => b.fatal);
  add(fatal.length, `${plural(fatal.length, 'fatal blocker')} (${fatal.map((b) => `${b.pod}: ${b.kind}`).join(', ')})`);
  facts.push(...policyFacts(node, options));
  return facts.join(', ');
}

/** Pods that stay on the node on purpose, by why they stay. */
function leftPods(pods: (PodPlan | undefined)[]): string[] {
  const daemonSet = pods.filter((pod) => pod?.podClass === 'daemonset').length;
  const mirror = pods.filter((pod) => pod?.podClass === 'mirror').length;
  const other = pods.length - daemonSet - mirror;
  const facts: string[] = [];
  if (daemonSet > 0) facts.push(`${plural(daemonSet, 'DaemonSet pod')} left`);
  if (mirror > 0) facts.push(`${plural(mirror, 'static (mirror) pod')} left`);
  if (other > 0) facts.push(`${plural(other, daemonSet + mirror > 0 ? 'other pod' : 'pod')} left`);
  return facts;
}

/** "2 pods still blocked by PDB shop/web (healthy 1 / desired 1 / allowed 0)", one per budget. */
function blockedPods(node: NodeReport): string[] {
  const known = new Set(node.blocked.map((b) => b.pod));
  const fromResults: BlockedPod[] = node.results
    .filter((r) => r.outcome === 'blocked' && !known.has(r.pod))
    .map((r) => ({ pod: r.pod, ...(r.pdb !== undefined && { pdb: r.pdb }), message: r.message ?? 'blocked' }));
  const groups = new Map<string, BlockedPod[]>();
  for (const pod of [...node.blocked, ...fromResults]) {
    const key = pod.pdb ? `by PDB ${pod.pdb}${pod.budget ? ` (${pod.budget})` : ''}` : `(${trimPeriod(pod.message)})`;
    groups.set(key, [...(groups.get(key) ?? []), pod]);
  }
  return [...groups].map(([why, pods]) => `${plural(pods.length, 'pod')} still blocked ${why}`);
}

/** Pods the plan meant to move that have no result: the run stopped (timeout, cancel, error). */
function unprocessedPods(node: NodeReport): PodPlan[] {
  const seen = new Set([...node.results.map((r) => r.pod), ...node.blocked.map((b) => b.pod)]);
  return (node.plan?.pods ?? []).filter((pod) => (pod.action === 'evict' || pod.action === 'migrate') && !seen.has(podKey(pod)));
}

// --- workloads and ending ------------------------------------------------------------------------

function workloadChangeState(node: NodeReport): string | undefined {
  if (node.workloadChanges.length === 0) return undefined;
  const changes = node.workloadChanges.map((c) =>
    c.restored ? `${c.change} on ${c.workload} (restored)` : `${c.change} on ${c.workload} (NOT restored${c.message ? `: ${trimPeriod(c.message)}` : ''})`,
  );
  return `workload changes: ${changes.join(', ')}`;
}

function ending(node: NodeReport, options: Pick<DrainOptions, 'uncordonOnFailure'>): string[] {
  if (node.success) return node.operation === 'drain' && !node.dryRun ? ['drained'] : [];
  const parts = [`${node.operation} failed${node.error ? `: ${trimPeriod(node.error)}` : ''}`];
  if (node.cordoned && !node.dryRun && node.operation === 'drain') {
    if (node.wasCordoned) parts.push('left cordoned because it was cordoned before the run');
    else if (!options.uncordonOnFailure) parts.push('left cordoned because uncordon-on-failure is false');
    else parts.push('left cordoned although uncordon-on-failure is true (uncordoning failed)');
  }
  return parts;
}

function trimPeriod(text: string): string {
  return text.trim().replace(/\.+$/, '');
}

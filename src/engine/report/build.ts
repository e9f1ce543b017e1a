// The RunReport, built once at the end of a run from what the run recorded (execute/run-state.ts):
// every verdict (a node's success, its error, the run's outcome) is derived here from the facts,
// never assigned along the way. Each distinct cause is said once, with the pods it affects.
import type { AvailabilityReport } from '../availability/types.js';
import type { NodeRun, Run } from '../execute/run-state.js';
import { fatalFindings, nodeDrained, unfinishedPods } from '../execute/verdict.js';
import { formatBudget } from '../plan/pdb.js';
import type { BlockedPod, NodeReport, RunReport } from '../types.js';
import { describeFinalState } from './state.js';

export function buildReport(run: Run, gate?: AvailabilityReport): RunReport {
  const { options, api } = run.env;
  const nodes = run.nodes.map((n) => nodeReport(run, n));
  const drained = nodes.length > 0 && nodes.every((r) => r.success);
  const report: RunReport = {
    version: 1,
    outcome: !drained ? 'incomplete' : gate && !gate.passed ? 'gate-failed' : 'ok',
    startedAt: new Date(run.started).toISOString(),
    durationMs: run.sinceStart(),
    options,
    nodes,
    success: drained && (gate?.passed ?? true),
    summary: '',
    ...(run.drainOrder && { drainOrder: run.drainOrder }),
    apiRequests: api.requests,
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(gate && { availability: gate }),
    ...(run.warnings.length > 0 && { warnings: [...run.warnings] }),
  };
  report.summary = describeFinalState(report);
  return report;
}

function nodeReport(run: Run, n: NodeRun): NodeReport {
  const success = nodeDrained(n);
  const blocked = n.end?.kind === 'refused' || run.env.options.operation === 'plan' ? fatalFindings(n) : blockedPods(run, n);
  const error = success ? undefined : nodeError(run, n, blocked);
  return {
    node: n.name,
    operation: run.env.options.operation,
    dryRun: run.env.options.dryRun,
    ...(n.plan && { plan: n.plan }),
    wasCordoned: n.wasCordoned,
    cordoned: n.cordoned,
    uncordoned: n.uncordoned,
    results: n.results,
    workloadChanges: n.changes.map((c) => ({ ...c })),
    blocked,
    timeline: run.timeline.filter((t) => t.node === n.name).map((t) => t.event),
    success,
    ...(error !== undefined && { error }),
    durationMs: n.durationMs,
  };
}

/** Pods still waiting when the drain ended, with the PDB and its numbers. */
function blockedPods(run: Run, n: NodeRun): BlockedPod[] {
  return n.results
    .filter((r) => r.outcome === 'blocked')
    .map((r) => {
      const pdb = r.pdb ? run.services.pdbs?.get(r.pdb) : undefined;
      const budget = pdb ? formatBudget(pdb) : undefined;
      return {
        pod: r.pod,
        ...(r.pdb && { pdb: r.pdb }),
        ...(budget && { budget }),
        message: r.pdb ? `waiting for PDB ${r.pdb} (${budget ?? 'status unknown'}) when the drain ended` : (r.message ?? 'not evicted when the drain ended'),
      };
    });
}

/** Why the node's part did not succeed: how it ended, then what it left, each cause once. */
function nodeError(run: Run, n: NodeRun, blocked: BlockedPod[]): string {
  const end = n.end;
  const head =
    end?.kind === 'refused'
      ? run.env.options.operation === 'plan'
        ? `node ${n.name}: the drain would be refused: ${sayOnce(blocked)}`
        : `node ${n.name}: nothing was changed; the drain cannot proceed: ${sayOnce(blocked)}`
      : end?.kind === 'done'
        ? run.env.options.operation === 'plan' && blocked.length > 0
          ? `node ${n.name}: the drain would be refused: ${sayOnce(blocked)}`
          : undefined
        : end?.why;
  const unfinished = unfinishedPods(n);
  const notRestored = n.changes.filter((c) => !c.restored);
  const lockLost = run.services.locks !== undefined && !run.mayWrite(n.name);
  return [
    head,
    unfinished.length ? `${unfinished.length} pod(s) not evicted: ${sayOnce(unfinished.map((r) => ({ pod: r.pod, message: r.outcome === 'blocked' ? (blocked.find((b) => b.pod === r.pod)?.message ?? r.message ?? 'blocked') : (r.message ?? 'failed') })))}` : undefined,
    ...n.problems,
    notRestored.length ? `not restored: ${notRestored.map((c) => `${c.workload} (${c.message ?? c.change})`).join('; ')}` : undefined,
    lockLost ? `its drain lock was taken over by another run mid-run: this run made no further change for node ${n.name}` : undefined,
  ]
    .filter((part): part is string => part !== undefined && part !== '')
    .join('; ');
}

/**
 * Causes said once each: pods with the same message are named together after it ("… (pods
 * a, b)"); a message that names its pod already is kept as it is.
 */
export function sayOnce(items: { pod: string; message: string }[]): string {
  const byMessage = new Map<string, string[]>();
  for (const { pod, message } of items) byMessage.set(message, [...(byMessage.get(message) ?? []), pod]);
  return [...byMessage]
    .map(([message, pods]) => {
      const named = pods.filter((p) => !message.includes(p));
      if (named.length === 0) return message;
      return `${message} (${named.length === 1 ? `pod ${named[0]}` : `${named.length} pods: ${named.join(', ')}`})`;
    })
    .join('; ');
}

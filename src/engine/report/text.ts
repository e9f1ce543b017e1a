// Terminal rendering for the CLI: aligned plain-text columns, no colors.
import { seconds } from '../availability/figures.js';
import type { AvailabilityReport } from '../availability/types.js';
import type { DrainPlan, NodeReport, RunReport } from '../types.js';
import { blockerLabel, describeVolumeDetach, expectedZeroCell, formatDuration, groupBlockers, groupLabel, outcomeLabel, outcomeMeaning, plural, podKey, podsLabel, severityLabel } from './labels.js';

/** Pads every column but the last to its widest cell. */
export function alignColumns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd())
    .join('\n');
}

export function renderPlanText(plan: DrainPlan): string {
  const state = [plan.nodeReady ? 'Ready' : 'NotReady', plan.alreadyCordoned ? 'already cordoned' : 'not cordoned'];
  const lines = [`Plan for node ${plan.node} (${state.join(', ')}): ${plural(plan.pods.length, 'pod')}, ${plural(plan.groups.length, 'eviction group')}`];
  if (plan.pods.length > 0) {
    const rows = plan.pods.map((pod) => [podKey(pod), pod.podClass, pod.action, groupLabel(pod.group), pod.pdbs.join(',') || '-', pod.reason]);
    lines.push('', alignColumns([['POD', 'CLASS', 'ACTION', 'GROUP', 'PDBS', 'REASON'], ...rows]));
  }
  if (plan.blockers.length > 0) {
    lines.push('', 'Blockers:');
    for (const cause of groupBlockers(plan.blockers)) {
      const pdbs = cause.pdbs.length ? ` [PDB ${cause.pdbs.join(', ')}]` : '';
      lines.push(`  ${severityLabel(cause)}: ${blockerLabel(cause.kind)}: ${podsLabel(cause.pods)}${pdbs}: ${cause.message}`);
    }
  }
  return lines.join('\n');
}

export function renderResultText(report: RunReport): string {
  const verdict = report.success ? 'succeeded' : 'FAILED';
  const mode = report.options.dryRun ? ' (dry run)' : '';
  const outcome = report.success ? '' : ` (${outcomeMeaning(report.outcome)})`;
  const lines = [`safe-drain ${report.options.operation}${mode} ${verdict} in ${formatDuration(report.durationMs)}${outcome}`];
  for (const node of report.nodes) lines.push('', ...nodeResultLines(node));
  if (report.availability) lines.push('', ...availabilityLines(report.availability));
  lines.push('', report.summary);
  if (report.warnings?.length) lines.push('', 'Warnings:', ...report.warnings.map((w) => `  - ${w}`));
  return lines.join('\n');
}

function nodeResultLines(node: NodeReport): string[] {
  const lines = [`Node ${node.node}: ${node.success ? 'ok' : 'failed'} in ${formatDuration(node.durationMs)}${node.error ? ` (${node.error})` : ''}`];
  if (node.results.length > 0) {
    const rows = node.results.map((r) => [r.pod, outcomeLabel(r.outcome), String(r.budgetWaits), r.message ?? '']);
    lines.push(indent(alignColumns([['POD', 'OUTCOME', 'BUDGET WAITS', 'MESSAGE'], ...rows])));
  }
  if (node.workloadChanges.length > 0) {
    const rows = node.workloadChanges.map((c) => [c.workload, c.change, c.restored ? 'restored' : 'NOT restored', c.message ?? '']);
    lines.push('  Workload changes:', indent(alignColumns(rows), 4));
  }
  if (node.volumeDetach) lines.push(`  Volumes: ${describeVolumeDetach(node.volumeDetach)}`);
  return lines;
}

export function availabilityLines(a: AvailabilityReport): string[] {
  const verdict = a.passed ? 'passed' : `FAILED${a.aborted ? ' (abort-on-downtime stopped the evictions)' : ''}`;
  const lines = [`Availability gate (${a.selection}${a.measured ? '' : ', plan only'}): ${verdict}`];
  if (a.services.length > 0) {
    const rows = a.services.map((s) => [
      s.service,
      String(s.initialReady),
      `${s.minReady} at +${seconds(s.minReadyAt)}s`,
      `${s.downtimeSeconds}s`,
      `${s.longestOutageSeconds}s`,
      expectedZeroCell(s),
      s.passed ? 'passed' : 'FAILED',
    ]);
    lines.push(indent(alignColumns([['SERVICE', 'READY AT START', 'MIN READY', 'DOWNTIME', 'LONGEST OUTAGE', 'EXPECTED ZERO', 'GATE'], ...rows])));
  } else {
    lines.push('  no Service watched');
  }
  if (a.probes.length > 0) {
    const rows = a.probes.map((p) => [p.url, String(p.requests), String(p.failures), `${p.longestFailureSeconds}s`, `${p.p50Ms}ms`, `${p.p99Ms}ms`, p.passed ? 'passed' : 'FAILED']);
    lines.push(indent(alignColumns([['URL', 'REQUESTS', 'FAILURES', 'LONGEST FAILURE', 'P50', 'P99', 'GATE'], ...rows])));
  }
  if (a.bypasses?.length) {
    const rows = a.bypasses.map((b) => [b.pod, b.pdb ?? 'none', b.by, `${b.waitedSeconds}s`, `${b.budgetUnmetSeconds}s`, b.passed ? 'passed' : 'FAILED']);
    lines.push('  Pods deleted without their PDB\'s consent:', indent(alignColumns([['POD', 'PDB BYPASSED', 'INPUT', 'WAITED', 'BUDGET UNMET', 'GATE'], ...rows]), 4));
  }
  for (const failure of a.failures) lines.push(`  gate failure: ${failure}`);
  return lines;
}

function indent(text: string, spaces = 2): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n');
}

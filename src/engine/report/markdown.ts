// The GitHub job summary (core.summary.addRaw): outcome and final state first, then per node
// the plan, blockers, results, workload changes and a mermaid gantt of the evictions.
import { bucketSeries, seconds } from '../availability/figures.js';
import type { AvailabilityReport, ServiceAvailability } from '../availability/types.js';
import type { Blocker, DrainPlan, NodeReport, PodOutcome, PodResult, RunReport, TimelineEvent, WorkloadChange } from '../types.js';
import { capSummary, isLargeRun, renderGrouped } from './markdown-scale.js';
import { blockerLabel, describeVolumeDetach, expectedZeroCell, formatDuration, groupBlockers, groupLabel, outcomeLabel, outcomeMeaning, plural, podKey, severityLabel } from './labels.js';

export function renderSummary(report: RunReport): string {
  const verdict = report.success ? 'succeeded' : 'failed';
  const facts = [
    // A run that stopped before listing the nodes has no nodes; only a finished lookup "matched none".
    `**Nodes:** ${report.nodes.map((n) => code(n.node)).join(', ') || (report.error ? 'none processed' : report.options.selector ? `none matched ${code(report.options.selector)}` : 'none')}`,
    `**Duration:** ${formatDuration(report.durationMs)}`,
    ...(report.drainOrder && report.nodes.length > 1 ? [`**Drain order** (${escapeText(report.drainOrder.rule)}): ${report.drainOrder.nodes.map(code).join(' → ')}`] : []),
    ...(report.options.dryRun ? ['**Dry run:** nothing was changed'] : []),
    `**Outcome:** ${code(report.outcome)} (${escapeText(outcomeMeaning(report.outcome))})`,
  ];
  const sections = [
    `## safe-drain ${report.options.operation} ${verdict}`,
    facts.join(' · '),
    ...(report.error ? [`**Error:** ${escapeText(report.error)}`] : []),
    `### Final state\n\n${escapeText(report.summary)}`,
    ...(report.warnings?.length ? [`### Warnings\n\n${report.warnings.map((w) => `- ${escapeText(w)}`).join('\n')}`] : []),
    ...(report.availability ? [renderAvailability(report.availability, report.durationMs)] : []),
    // Hundreds of pods: grouped by node and by workload, with counts (markdown-scale.ts).
    ...(isLargeRun(report) ? renderGrouped(report, { code, escapeText, escapeCell, table }) : report.nodes.map(renderNode)),
  ];
  return capSummary(`${sections.join('\n\n')}\n`);
}

function renderNode(node: NodeReport): string {
  const parts = [`### Node ${code(node.node)}: ${node.success ? 'ok' : 'failed'} (${formatDuration(node.durationMs)})`];
  if (node.error) parts.push(`**Error:** ${escapeText(node.error)}`);
  if (node.plan) parts.push(renderPlan(node.plan));
  if (node.plan && node.plan.blockers.length > 0) parts.push(renderBlockers(node.plan.blockers));
  if (node.results.length > 0) parts.push(renderResults(node.results));
  if (node.workloadChanges.length > 0) parts.push(renderWorkloadChanges(node.workloadChanges));
  if (node.volumeDetach) parts.push(`#### Volumes\n\n${escapeText(describeVolumeDetach(node.volumeDetach))}`);
  const gantt = renderGantt(node);
  if (gantt) parts.push(`#### Eviction timeline\n\n${gantt}`);
  if (node.timeline.length > 0) parts.push(renderTimeline(node.timeline));
  return parts.join('\n\n');
}

function renderPlan(plan: DrainPlan): string {
  const state = `${plan.nodeReady ? 'Ready' : 'NotReady'}, ${plan.alreadyCordoned ? 'already cordoned' : 'not cordoned'} before the run`;
  if (plan.pods.length === 0) return `#### Plan\n\nNode was ${state}; no pods on it.`;
  const rows = plan.pods.map((pod) => [
    code(podKey(pod)),
    pod.podClass,
    pod.action,
    groupLabel(pod.group),
    pod.pdbs.map(code).join(', '),
    escapeCell(pod.reason),
  ]);
  return `#### Plan\n\nNode was ${state}; ${plural(plan.pods.length, 'pod')} in ${plural(plan.groups.length, 'eviction group')} (run in order).\n\n${table(['Pod', 'Class', 'Action', 'Group', 'PDBs', 'Reason'], rows)}`;
}

/** One item per distinct cause, with the pods it affects counted and named. */
export function renderBlockers(blockers: Blocker[], heading = '#### Blockers'): string {
  const items = groupBlockers(blockers).map((cause) => {
    const pdbs = cause.pdbs.length ? ` (PDB ${cause.pdbs.map(code).join(', ')})` : '';
    return `- **${severityLabel(cause)}: ${blockerLabel(cause.kind)}**: ${markdownPods(cause.pods)}${pdbs}: ${escapeText(cause.message)}`;
  });
  return `${heading}\n\n${items.join('\n')}`;
}

/** Like podsLabel, each name in a code span. */
function markdownPods(pods: string[]): string {
  if (pods.length === 1) return code(pods[0]!);
  const shown = pods.slice(0, 20).map(code).join(', ');
  return `${plural(pods.length, 'pod')} (${shown}${pods.length > 20 ? `, and ${pods.length - 20} more` : ''})`;
}

function renderResults(results: PodResult[]): string {
  const rows = results.map((r) => [
    code(r.pod),
    outcomeLabel(r.outcome),
    String(r.budgetWaits),
    escapeCell([r.message?.trim().replace(/\.+$/, ''), r.pdb ? `PDB ${r.pdb}` : undefined].filter(Boolean).join('; ')),
  ]);
  return `#### Results\n\n${table(['Pod', 'Outcome', 'Budget waits', 'Message'], rows)}`;
}

function renderWorkloadChanges(changes: WorkloadChange[]): string {
  const rows = changes.map((c) => [code(c.workload), escapeCell(c.change), c.restored ? 'yes' : '**no**', escapeCell(c.message ?? '')]);
  return `#### Workload changes made by safe-drain\n\n${table(['Workload', 'Change', 'Restored', 'Message'], rows)}`;
}

function renderTimeline(events: TimelineEvent[]): string {
  const lines = events.map((e) => `- +${formatDuration(e.at)} **${e.phase}** ${code(e.subject)}: ${escapeText(e.message)}`);
  return `<details><summary>Timeline (${plural(events.length, 'event')})</summary>\n\n${lines.join('\n')}\n\n</details>`;
}

// --- availability ----------------------------------------------------------------------------------

/** Charts are drawn for at most this many Services (those that fell lowest first): a summary stays readable. */
const MAX_CHARTS = 8;
const CHART_BUCKETS = 40;

export function renderAvailability(a: AvailabilityReport, durationMs: number): string {
  const limits = [
    a.maxDowntimeSeconds !== undefined ? `max-downtime ${a.maxDowntimeSeconds}s` : undefined,
    a.minReadyRatio !== undefined ? `min-ready-ratio ${a.minReadyRatio}` : undefined,
  ].filter(Boolean);
  const verdict = a.passed ? 'passed' : `**FAILED**${a.aborted ? ' (abort-on-downtime stopped the evictions)' : ''}`;
  const parts = [
    `### Availability gate: ${a.passed ? 'passed' : 'failed'}`,
    `**Selection:** ${code(a.selection)} · **Gate:** ${limits.length ? limits.join(', ') : 'none (report only)'} · **Verdict:** ${verdict}` +
      (a.measured ? '' : ' · plan only: nothing was watched, the figures are the state at the start'),
  ];
  if (a.failures.length > 0) parts.push(a.failures.map((f) => `- ${escapeText(f)}`).join('\n'));
  if (a.services.length === 0) parts.push('No Service was watched.');
  else {
    const rows = a.services.map((s) => [
      code(s.service),
      String(s.initialReady),
      `${s.minReady} at +${seconds(s.minReadyAt)} s`,
      `${s.downtimeSeconds} s`,
      `${s.longestOutageSeconds} s`,
      expectedZeroCell(s),
      s.passed ? 'passed' : `**failed**`,
    ]);
    parts.push(table(['Service', 'Ready at start', 'Min ready', 'Downtime', 'Longest outage', 'Plan expected zero', 'Gate'], rows));
  }
  if (a.probes.length > 0) {
    const rows = a.probes.map((p) => [
      code(p.url),
      String(p.requests),
      String(p.failures),
      `${p.longestFailureSeconds} s`,
      `${p.p50Ms} ms`,
      `${p.p99Ms} ms`,
      p.passed ? 'passed' : '**failed**',
    ]);
    parts.push(table(['URL', 'Requests', 'Failures', 'Longest failure', 'p50', 'p99', 'Gate'], rows));
  }
  if (a.bypasses?.length) {
    const rows = a.bypasses.map((b) => [
      code(b.pod),
      b.pdb ? code(b.pdb) : 'none',
      b.by,
      `${b.waitedSeconds} s`,
      b.healthyBefore !== undefined ? `${b.healthyBefore} → ${b.minHealthy ?? '?'}` : '',
      `${b.budgetUnmetSeconds} s`,
      b.passed ? 'passed' : '**failed**',
    ]);
    parts.push(`#### Pods deleted without their PDB's consent\n\n${table(['Pod', 'PDB bypassed', 'Input', 'Waited', 'Healthy (before → fewest)', 'Budget unmet', 'Gate'], rows)}`);
  }
  if (a.measured) {
    const charted = [...a.services].sort((x, y) => x.minReady / Math.max(1, x.initialReady) - y.minReady / Math.max(1, y.initialReady)).slice(0, MAX_CHARTS);
    const charts = charted.map((s) => renderReadyChart(s, durationMs));
    if (charts.length > 0) parts.push(`#### Ready endpoints over time\n\n${charts.join('\n\n')}`);
    if (a.services.length > charted.length) parts.push(`(${a.services.length - charted.length} more Service(s) in the table only)`);
  }
  return parts.join('\n\n');
}

/**
 * A line of the Service's ready endpoints over the run (mermaid xychart): the run is cut in
 * CHART_BUCKETS equal slices, each showing its fewest ready endpoints, so a short outage shows.
 */
export function renderReadyChart(s: ServiceAvailability, endAt: number): string {
  const buckets = bucketSeries(s.series, endAt, CHART_BUCKETS);
  const top = Math.max(1, ...s.series.map((p) => p.ready));
  return [
    '```mermaid',
    'xychart-beta',
    `    title "${escapeMermaid(s.service).replace(/"/g, "'")}: ready endpoints"`,
    `    x-axis "seconds since the run started" [${buckets.map((b) => `"${seconds(b.from)}"`).join(', ')}]`,
    `    y-axis "ready endpoints" 0 --> ${top}`,
    `    line [${buckets.map((b) => b.ready).join(', ')}]`,
    '```',
  ].join('\n');
}

// --- mermaid -------------------------------------------------------------------------------------

const GANTT_TAGS: Partial<Record<PodOutcome, string>> = {
  evicted: 'done, ',
  migrated: 'done, ',
  deleted: 'done, ',
  completed: 'done, ',
  'force-deleted': 'crit, done, ',
  'evicted-not-confirmed': 'active, ',
  blocked: 'crit, ',
  failed: 'crit, ',
};

/**
 * One bar per pod from startedAt to endedAt (ms since the run started). `dateFormat x` reads
 * those numbers as epoch milliseconds, so the axis shows minutes:seconds since the start.
 * A pod still running when the report was made ends at the node's duration.
 */
export function renderGantt(node: NodeReport): string | undefined {
  const timed = node.results.filter((r) => r.startedAt !== undefined);
  if (timed.length === 0) return undefined;
  const groupOf = new Map((node.plan?.pods ?? []).map((pod) => [podKey(pod), pod.group]));
  const sections = new Map<string, string[]>();
  let lastEnd = 0;
  for (const result of timed) {
    const start = Math.round(result.startedAt ?? 0);
    const end = Math.max(start + 1, Math.round(result.endedAt ?? node.durationMs));
    lastEnd = Math.max(lastEnd, end);
    const group = groupOf.get(result.pod);
    const section = group === undefined ? 'pods' : `group ${groupLabel(group)}`;
    const task = `    ${escapeMermaid(result.pod)} :${GANTT_TAGS[result.outcome] ?? ''}${start}, ${end}`;
    sections.set(section, [...(sections.get(section) ?? []), task]);
  }
  const lines = [
    '```mermaid',
    'gantt',
    `    title Pod evictions on ${escapeMermaid(node.node)}`,
    '    dateFormat x',
    `    axisFormat ${lastEnd >= 3_600_000 ? '%H:%M:%S' : '%M:%S'}`,
    '    todayMarker off',
  ];
  for (const [section, tasks] of sections) lines.push(`    section ${escapeMermaid(section)}`, ...tasks);
  lines.push('```');
  return lines.join('\n');
}

/**
 * Gantt syntax uses `:` to end a task name, `#` for comments and `;` as a separator; swap them
 * for look-alike characters so a name can never break (or end) the diagram.
 */
export function escapeMermaid(text: string): string {
  return text
    .replace(/[\r\n]+/g, ' ')
    .replace(/:/g, '\u2236')
    .replace(/#/g, '\uFF03')
    .replace(/;/g, '\uFF1B')
    .trim();
}

// --- markdown helpers --------------------------------------------------------------------------

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Text from the cluster or the engine: no raw HTML, no accidental line breaks. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/[\r\n]+/g, ' ');
}

/** Table cells also must not contain a bare `|`. */
export function escapeCell(text: string): string {
  return escapeText(text).replace(/\|/g, '\\|');
}

/** Kubernetes names never contain backticks, so a code span needs no escaping beyond `|`. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|')}\``;
}

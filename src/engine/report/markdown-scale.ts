// The job summary of a large run (hundreds of pods, tens of nodes): one row per node and one per
// workload, with counts, instead of one row per pod; pods are named only where someone must act
// (blocked, failed, findings), and those lists are capped too. GitHub refuses a step summary over
// 1 MiB, so the whole text is also held under SUMMARY_BYTE_LIMIT whatever it contains.
import type { NodeReport, PodOutcome, RunReport, WorkloadChange } from '../types.js';
import { blockerLabel, formatDuration, groupBlockers, outcomeLabel, plural, podKey, podsLabel, severityLabel, type BlockerGroup } from './labels.js';

/** Above this many pods in the run's plans, the summary is grouped (per-pod tables would be thousands of rows). */
export const GROUPED_SUMMARY_PODS = 200;
/** GitHub's cap on one step's summary is 1 MiB; keep room for what the shell appends. */
export const SUMMARY_BYTE_LIMIT = 1024 * 1024 - 16 * 1024;
/** Rows of a list of pods or workloads before "and N more". */
const MAX_ROWS = 100;

export function isLargeRun(report: RunReport): boolean {
  return report.nodes.reduce((n, node) => n + (node.plan?.pods.length ?? 0), 0) > GROUPED_SUMMARY_PODS;
}

export interface Markdown {
  code(text: string): string;
  escapeText(text: string): string;
  escapeCell(text: string): string;
  table(header: string[], rows: string[][]): string;
}

const MOVED: readonly PodOutcome[] = ['evicted', 'evicted-not-confirmed', 'migrated', 'deleted', 'force-deleted', 'would-evict'];

/** The grouped sections of a large run (after the verdict and final state). */
export function renderGrouped(report: RunReport, md: Markdown): string[] {
  const sections = [renderNodes(report, md), renderWorkloads(report, md)];
  const findings = renderFindings(report, md);
  if (findings) sections.push(findings);
  const unfinished = renderUnfinished(report, md);
  if (unfinished) sections.push(unfinished);
  const changes = report.nodes.flatMap((n) => n.workloadChanges);
  if (changes.length > 0) sections.push(renderChanges(changes, md));
  return sections;
}

function count(node: NodeReport, outcomes: readonly PodOutcome[]): number {
  return node.results.filter((r) => outcomes.includes(r.outcome)).length;
}

function renderNodes(report: RunReport, md: Markdown): string {
  const width = report.options.maxUnavailableNodes;
  const atOnce = 'count' in width ? String(width.count) : `${width.percent}% of the nodes`;
  const order = report.drainOrder ? ` Drain order: ${md.escapeText(report.drainOrder.rule)}, ${atOnce} at a time.` : '';
  const rows = report.nodes.slice(0, MAX_ROWS * 5).map((n, i) => [
    String(i + 1),
    md.code(n.node),
    n.success ? 'ok' : '**failed**',
    String(n.plan?.pods.length ?? 0),
    String(n.plan?.groups.reduce((s, g) => s + g.length, 0) ?? 0),
    String(count(n, MOVED)),
    String(count(n, ['blocked', 'failed'])),
    String(n.plan?.blockers.length ?? 0),
    formatDuration(n.durationMs),
    md.escapeCell(n.error ? truncate(n.error, 300) : ''),
  ]);
  const more = report.nodes.length > rows.length ? `\n\n…and ${plural(report.nodes.length - rows.length, 'more node')} (in the JSON report).` : '';
  return `### Nodes (${report.nodes.length})\n\nGrouped: ${plural(report.nodes.reduce((s, n) => s + (n.plan?.pods.length ?? 0), 0), 'pod')} in the plans; per-pod detail is in the JSON report.${order}\n\n${md.table(['#', 'Node', 'Result', 'Pods', 'To move', 'Moved', 'Not moved', 'Findings', 'Duration', 'Error'], rows)}${more}`;
}

function renderWorkloads(report: RunReport, md: Markdown): string {
  interface Row {
    pods: number;
    outcomes: Map<PodOutcome, number>;
    nodes: Set<string>;
  }
  const byWorkload = new Map<string, Row>();
  for (const node of report.nodes) {
    const workloadOf = new Map(
      (node.plan?.pods ?? []).map((p) => [podKey(p), p.workload ? `${p.workload.kind}/${p.workload.namespace}/${p.workload.name}` : p.owner ? `${p.owner.kind}/${p.namespace}/${p.owner.name}` : 'no controller']),
    );
    for (const r of node.results) {
      const w = workloadOf.get(r.pod) ?? 'unknown';
      const row = byWorkload.get(w) ?? { pods: 0, outcomes: new Map(), nodes: new Set() };
      row.pods++;
      row.outcomes.set(r.outcome, (row.outcomes.get(r.outcome) ?? 0) + 1);
      row.nodes.add(node.node);
      byWorkload.set(w, row);
    }
  }
  const sorted = [...byWorkload].sort(([a, x], [b, y]) => y.pods - x.pods || (a < b ? -1 : 1));
  const rows = sorted.slice(0, MAX_ROWS).map(([w, row]) => [
    md.code(w),
    String(row.pods),
    String(row.nodes.size),
    [...row.outcomes].sort(([, a], [, b]) => b - a).map(([o, n]) => `${outcomeLabel(o)} ${n}`).join(', '),
  ]);
  const more = sorted.length > rows.length ? `\n\n…and ${plural(sorted.length - rows.length, 'more workload')}.` : '';
  return `### Workloads (${sorted.length})\n\n${md.table(['Workload', 'Pods', 'Nodes', 'Outcomes'], rows)}${more}`;
}

/** Findings by kind; within a kind, one line per distinct cause on a node, with its pods counted. */
function renderFindings(report: RunReport, md: Markdown): string | undefined {
  const causes = report.nodes.flatMap((n) => groupBlockers(n.plan?.blockers ?? []).map((cause) => ({ node: n.node, cause })));
  if (causes.length === 0) return undefined;
  const byKind = new Map<string, { node: string; cause: BlockerGroup }[]>();
  for (const f of causes) {
    const label = `${severityLabel(f.cause)}: ${blockerLabel(f.cause.kind)}`;
    byKind.set(label, [...(byKind.get(label) ?? []), f]);
  }
  const parts = [...byKind].map(([label, list]) => {
    const shown = list.slice(0, 10).map((f) => `  - ${md.code(f.node)} ${md.escapeText(podsLabel(f.cause.pods))}: ${md.escapeText(truncate(f.cause.message, 400))}`);
    const more = list.length > shown.length ? [`  - …and ${list.length - shown.length} more`] : [];
    const pods = list.reduce((n, f) => n + f.cause.pods.length, 0);
    return [`- **${label}** (${plural(pods, 'pod')})`, ...shown, ...more].join('\n');
  });
  const total = causes.reduce((n, f) => n + f.cause.pods.length, 0);
  return `### Findings (${plural(total, 'pod')})\n\n${parts.join('\n')}`;
}

function renderUnfinished(report: RunReport, md: Markdown): string | undefined {
  const rows = report.nodes.flatMap((n) =>
    n.results.filter((r) => r.outcome === 'blocked' || r.outcome === 'failed').map((r) => ({ node: n.node, r })),
  );
  if (rows.length === 0) return undefined;
  const shown = rows.slice(0, MAX_ROWS).map(({ node, r }) => [
    md.code(r.pod),
    md.code(node),
    outcomeLabel(r.outcome),
    md.escapeCell(truncate([r.message, r.pdb ? `PDB ${r.pdb}` : undefined].filter(Boolean).join('; '), 400)),
  ]);
  const more = rows.length > shown.length ? `\n\n…and ${plural(rows.length - shown.length, 'more pod')} not moved (in the JSON report).` : '';
  return `### Pods not moved (${rows.length})\n\n${md.table(['Pod', 'Node', 'Outcome', 'Why'], shown)}${more}`;
}

function renderChanges(changes: WorkloadChange[], md: Markdown): string {
  const rows = changes.slice(0, MAX_ROWS).map((c) => [md.code(c.workload), md.escapeCell(c.change), c.restored ? 'yes' : '**no**', md.escapeCell(c.message ?? '')]);
  const more = changes.length > rows.length ? `\n\n…and ${plural(changes.length - rows.length, 'more change')}.` : '';
  return `### Workload changes made by safe-drain (${changes.length})\n\n${md.table(['Workload', 'Change', 'Restored', 'Message'], rows)}${more}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Holds a summary under SUMMARY_BYTE_LIMIT (UTF-8 bytes): cut at a line boundary, with a note
 * saying where the rest is. A cut inside a code fence or <details> is closed so the rest renders.
 */
export function capSummary(markdown: string): string {
  if (Buffer.byteLength(markdown, 'utf8') <= SUMMARY_BYTE_LIMIT) return markdown;
  const note = '\n\n**The summary was cut here to stay under GitHub\'s 1 MiB limit; the JSON report (`report` output) has everything.**\n';
  const budget = SUMMARY_BYTE_LIMIT - Buffer.byteLength(note, 'utf8') - 64;
  let cut = Buffer.from(markdown, 'utf8').subarray(0, budget).toString('utf8');
  cut = cut.slice(0, Math.max(0, cut.lastIndexOf('\n')));
  const fences = (cut.match(/^```/gm) ?? []).length;
  const openDetails = (cut.match(/<details>/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  return `${cut}${fences % 2 === 1 ? '\n```' : ''}${'\n\n</details>'.repeat(Math.max(0, openDetails))}${note}`;
}

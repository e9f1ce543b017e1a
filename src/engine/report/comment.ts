// The pull-request comment (the Action's `comment: true`): for a pre-merge resilience test, what
// the drain would do (or did) and the availability gate's verdict, short enough to read in a
// review. The job summary keeps the rest.
import type { RunReport } from '../types.js';
import { code, escapeCell, escapeText, renderBlockers, table } from './markdown.js';
import { availabilityState } from './state.js';
import { formatDuration, groupLabel, outcomeMeaning, plural, podKey } from './labels.js';

/** GitHub refuses a comment body longer than 65,536 characters. */
const MAX_COMMENT_CHARS = 60_000;
/** Plan rows per node in the comment; the job summary and the JSON report have every pod. */
const MAX_PLAN_ROWS = 30;

export interface CommentContext {
  /** The hidden line the comment is found by, to be updated on the next run. */
  marker: string;
  /** The workflow run, linked for everything the comment leaves out. */
  runUrl?: string;
}

export function renderPullRequestComment(report: RunReport, ctx: CommentContext): string {
  const verdict = report.success ? 'passed' : 'FAILED';
  const nodes = report.nodes.map((n) => code(n.node)).join(', ') || 'none';
  const facts = [
    `**Outcome:** ${code(report.outcome)} (${escapeText(outcomeMeaning(report.outcome))})`,
    `**Nodes:** ${nodes}`,
    `**Duration:** ${formatDuration(report.durationMs)}`,
    ...(ctx.runUrl ? [`[workflow run and job summary](${ctx.runUrl})`] : []),
  ];
  const gate = report.availability
    ? `**Availability gate:** ${escapeText(availabilityState(report.availability))}`
    : '**Availability gate:** not run (availability off, or the run stopped before it started).';
  const sections = [
    ctx.marker,
    `### safe-drain ${report.options.operation}${report.options.dryRun ? ' (dry run)' : ''}: ${verdict}`,
    facts.join(' · '),
    gate,
    ...(report.error ? [`**Error:** ${escapeText(report.error)}`] : []),
    ...report.nodes.flatMap((node) => (node.plan ? [renderNodePlan(node.plan)] : [])),
    `**Final state:** ${escapeText(report.summary)}`,
  ];
  return capComment(sections.join('\n\n'), ctx.runUrl);
}

function renderNodePlan(plan: NonNullable<RunReport['nodes'][number]['plan']>): string {
  const rows = plan.pods.slice(0, MAX_PLAN_ROWS).map((pod) => [code(podKey(pod)), pod.action, groupLabel(pod.group), pod.pdbs.map(code).join(', '), escapeCell(pod.reason)]);
  const more = plan.pods.length > rows.length ? `\n\n…and ${plural(plan.pods.length - rows.length, 'more pod')} (in the job summary).` : '';
  const body = plan.pods.length > 0 ? `${table(['Pod', 'Action', 'Group', 'PDBs', 'Reason'], rows)}${more}` : 'No pods on it.';
  const blockers = plan.blockers.length > 0 ? `\n\n${renderBlockers(plan.blockers, '**Blockers**')}` : '';
  return `<details><summary>Plan for node ${escapeText(plan.node)}: ${plural(plan.pods.length, 'pod')}, ${plural(plan.groups.length, 'eviction group')}</summary>\n\n${body}\n\n</details>${blockers}`;
}

function capComment(body: string, runUrl: string | undefined): string {
  if (body.length <= MAX_COMMENT_CHARS) return body;
  const cut = body.slice(0, body.lastIndexOf('\n', MAX_COMMENT_CHARS));
  const open = (cut.match(/<details>/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  return `${cut}${'\n\n</details>'.repeat(Math.max(0, open))}\n\n**Cut to fit a comment; the rest is in the ${runUrl ? `[job summary](${runUrl})` : 'job summary'}.**`;
}

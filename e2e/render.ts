// Markdown for e2e results: a per-scenario timeline with a mermaid chart, and the closing table.
import { formatTimeline } from './availability.js';
import type { ScenarioResult } from './scenarios.js';

const cell = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(1));

export function renderSummaryTable(results: ScenarioResult[], backend: string): string {
  const rows = results.map((r) => {
    const e = r.events;
    const reported = r.safeDrainAvailability;
    const gate = reported ? `${reported.downtimeSeconds.toFixed(2)} | ${Math.abs(reported.downtimeSeconds - r.downtimeSeconds).toFixed(2)}` : '— | —';
    return `| ${r.scenario} | ${r.downtimeSeconds.toFixed(2)} | ${gate} | ${cell(e['node-not-ready'])} | ${cell(e['tainted-noexecute'])} | ${cell(e['pod-evicted'])} | ${cell(e['replacement-ready'])} | ${r.passed ? 'pass' : 'FAIL'} |`;
  });
  return [
    `### safe-drain e2e (${backend} backend)`,
    '',
    'Times in seconds from the scenario start (kubelet stop for a, drain start for b and c). Downtime is',
    "the harness's own measurement (the oracle); \"safe-drain reported\" is what safe-drain's availability",
    "gate measured for the app's Service in the same run (its EndpointSlices; b and c), and |Δ| the gap.",
    '',
    '| scenario | downtime (s) | safe-drain reported (s) | \\|Δ\\| (s) | NotReady at | tainted at | evicted at | replacement Ready at | result |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** Mermaid labels cannot carry ':' or '#'. */
const label = (s: string) => s.replace(/[:#;]/g, ' ').slice(0, 60);

export function renderScenarioMarkdown(r: ScenarioResult, backend: string): string {
  const t0 = r.startedAt;
  const ms = (at: number) => Math.max(0, Math.round(at - t0));
  const lines = ['```mermaid', 'gantt', `  title ${label(r.title)}`, '  dateFormat x', '  axisFormat %M:%S', '  section availability'];
  // Down intervals as bars, milestones for cluster events.
  let downFrom: number | undefined;
  let i = 0;
  for (const s of [...r.samples].sort((a, b) => a.at - b.at)) {
    if (!s.available && downFrom === undefined) downFrom = s.at;
    if (s.available && downFrom !== undefined) {
      lines.push(`  down ${++i} :crit, ${ms(downFrom)}, ${Math.max(ms(s.at), ms(downFrom) + 1)}`);
      downFrom = undefined;
    }
  }
  if (i === 0) lines.push(`  always available :done, 0, ${Math.max(1, ms(r.samples.at(-1)?.at ?? t0))}`);
  lines.push('  section events');
  for (const [name, sec] of Object.entries(r.events)) lines.push(`  ${label(name)} :milestone, ${Math.round(sec * 1000)}, 0`);
  lines.push('```');
  return [
    `## ${r.scenario}: ${r.title} (${backend})`,
    '',
    `Downtime: **${r.downtimeSeconds.toFixed(2)} s** — ${r.passed ? 'passed' : '**FAILED**'}`,
    '',
    `Judged window: +0.0 s to +${((r.window.to - r.window.from) / 1000).toFixed(1)} s from the start (${new Date(r.window.from).toISOString()}); samples outside it are charted, not judged.`,
    '',
    ...r.checks.map((c) => `- ${c.ok ? '✅' : '❌'} ${c.name}${c.detail ? ` — ${c.detail.replace(/\|/g, '\\|')}` : ''}`),
    '',
    ...lines,
    '',
    '```text',
    ...formatTimeline(r.timeline, t0),
    '```',
    '',
  ].join('\n');
}

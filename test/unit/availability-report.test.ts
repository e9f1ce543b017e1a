// How the availability report reaches people: job summary (tables + chart), CLI text, the
// summary sentence and the step outputs. Plain RunReport objects, no cluster.
import { describe, expect, it } from '@jest/globals';
import type { AvailabilityReport } from '../../src/engine/availability/types.js';
import { renderReadyChart, renderSummary } from '../../src/engine/report/markdown.js';
import { computeOutputs } from '../../src/engine/report/outputs.js';
import { describeFinalState } from '../../src/engine/report/state.js';
import { renderResultText } from '../../src/engine/report/text.js';
import { DEFAULT_OPTIONS, type NodeReport, type RunReport } from '../../src/engine/types.js';

const failed: AvailabilityReport = {
  selection: 'auto',
  services: [
    {
      service: 'shop/web',
      initialReady: 1,
      minReady: 0,
      minReadyAt: 1200,
      downtimeSeconds: 3.24,
      longestOutageSeconds: 3.24,
      series: [
        { at: 100, ready: 1 },
        { at: 1200, ready: 0 },
        { at: 4440, ready: 1 },
      ],
      expectedZero: true,
      passed: false,
      failure: 'shop/web: down 3.2 s (max-downtime 0s)',
      finalReady: 1,
    },
    {
      service: 'shop/api',
      initialReady: 2,
      minReady: 2,
      minReadyAt: 100,
      downtimeSeconds: 0,
      longestOutageSeconds: 0,
      series: [{ at: 100, ready: 2 }],
      expectedZero: false,
      passed: true,
      finalReady: 2,
    },
  ],
  probes: [{ url: 'http://127.0.0.1:30080/', requests: 40, failures: 0, longestFailureSeconds: 0, p50Ms: 3, p99Ms: 12, passed: true }],
  passed: false,
  aborted: false,
  failures: ['shop/web: down 3.2 s (max-downtime 0s)'],
  measured: true,
  startedAt: 0,
  maxDowntimeSeconds: 0,
};

const node: NodeReport = {
  node: 'w1',
  operation: 'drain',
  dryRun: false,
  wasCordoned: false,
  cordoned: true,
  uncordoned: false,
  results: [],
  workloadChanges: [],
  blocked: [],
  timeline: [],
  success: true,
  durationMs: 5000,
};

function run(availability?: AvailabilityReport): RunReport {
  return {
    version: 1,
    outcome: availability && !availability.passed ? 'gate-failed' : 'ok',
    startedAt: '2026-11-28T00:00:00.000Z',
    durationMs: 6000,
    options: { ...DEFAULT_OPTIONS, nodes: ['w1'] },
    nodes: [node],
    success: availability?.passed ?? true,
    summary: '',
    ...(availability && { availability }),
  };
}

describe('availability in the job summary', () => {
  it('a table per Service and per URL, the failures, and a chart of ready endpoints', () => {
    const md = renderSummary(run(failed));
    expect(md).toContain('### Availability gate: failed');
    expect(md).toContain('**Gate:** max-downtime 0s');
    expect(md).toContain('- shop/web: down 3.2 s (max-downtime 0s)');
    expect(md).toContain('| `shop/web` | 1 | 0 at +1.2 s | 3.24 s | 3.24 s | yes | **failed** |');
    expect(md).toContain('| `shop/api` | 2 | 2 at +0.1 s | 0 s | 0 s | no | passed |');
    expect(md).toContain('| `http://127.0.0.1:30080/` | 40 | 0 | 0 s | 3 ms | 12 ms | passed |');
    // The Service that fell lowest is charted first.
    expect(md.indexOf('title "shop/web: ready endpoints"')).toBeLessThan(md.indexOf('title "shop/api: ready endpoints"'));
  });

  it('the chart shows the outage as 0 and the recovery', () => {
    const chart = renderReadyChart(failed.services[0]!, 6000);
    expect(chart).toMatch(/^```mermaid\nxychart-beta\n/);
    expect(chart).toContain('y-axis "ready endpoints" 0 --> 1');
    const line = /line \[([^\]]*)\]/.exec(chart)![1]!.split(', ').map(Number);
    expect(line[0]).toBe(1);
    expect(line).toContain(0);
    expect(line[line.length - 1]).toBe(1);
  });

  it('nothing about availability when it was off', () => {
    expect(renderSummary(run())).not.toContain('Availability');
  });
});

describe('availability in the CLI text, the summary sentence and the outputs', () => {
  it('text: a table per Service and each gate failure', () => {
    const text = renderResultText(run(failed));
    expect(text).toContain('Availability gate (auto): FAILED');
    expect(text).toMatch(/shop\/web\s+1\s+0 at \+1.2s\s+3.24s\s+3.24s\s+yes\s+FAILED/);
    expect(text).toContain('gate failure: shop/web: down 3.2 s (max-downtime 0s)');
  });

  it('the final state names the failing Service and its downtime', () => {
    expect(describeFinalState(run(failed))).toMatch(/Availability: 2 Services and 1 URL watched, the gate FAILED: shop\/web: down 3.2 s \(max-downtime 0s\)\.$/);
    expect(describeFinalState(run({ ...failed, measured: false, passed: true, failures: [] }))).toMatch(/planned to be watched, the gate passed\.$/);
  });

  it('a node uncordoned by restore-after is said to be, also when the run failed', () => {
    const restored = { ...run(failed), nodes: [{ ...node, success: false, uncordoned: true, cordoned: false }] };
    restored.options = { ...restored.options, availability: { ...restored.options.availability, restoreAfter: true } };
    expect(describeFinalState(restored)).toMatch(/^Node w1: uncordoned again at the end \(restore-after\) \(was not cordoned before\)/);
  });

  it('the step outputs carry the report as it is', () => {
    expect(computeOutputs(run(failed)).availability).toBe(failed);
    expect(computeOutputs(run()).availability).toBeUndefined();
  });
});

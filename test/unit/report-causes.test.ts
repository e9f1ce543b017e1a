// Each cause is said once: a PDB that blocks four pods is one line, with the four pods counted
// and named, in the plan text, the job summary, the large-run summary and the log.
import { describe, expect, it } from '@jest/globals';
import { renderBlockers, renderSummary } from '../../src/engine/report/markdown.js';
import { blockerLogLine, groupBlockers, podsLabel } from '../../src/engine/report/labels.js';
import { renderPlanText, renderResultText } from '../../src/engine/report/text.js';
import type { Blocker, DrainPlan, PodPlan } from '../../src/engine/types.js';
import { runReport } from './fixtures/run-report.js';

const PODS = ['shop/web-1', 'shop/web-2', 'shop/web-3', 'shop/web-4'];
// The planner's own sentence for a maxUnavailable 0 budget (plan/plan.ts budgetBlockers), same for every pod.
const NEVER =
  'PDB shop/web (maxUnavailable 0, healthy 4/4, allowed 0) can never allow an eviction by itself, however many replicas run (maxUnavailable 0: ' +
  'raising replicas raises the healthy pods it requires too), and Deployment shop/web cannot be moved by a rollout (strategy Recreate). ' +
  'Relax the PDB (e.g. maxUnavailable: 1)';

const refused: Blocker[] = PODS.map((pod) => ({ kind: 'pdb-never-allows', pod, pdbs: ['shop/web'], message: NEVER, fatal: true }));
// The non-fatal form names the pod itself: "pod X will wait for it until the timeout".
const waiting: Blocker[] = PODS.slice(0, 2).map((pod) => ({
  kind: 'pdb-never-allows',
  pod: pod.replace('web', 'api'),
  pdbs: ['shop/api'],
  message: `PDB shop/api can never allow an eviction by itself; pod ${pod.replace('web', 'api')} will wait for it until the timeout: set migration: surge, or relax the PDB`,
  fatal: false,
}));

function plan(blockers: Blocker[]): DrainPlan {
  const pods: PodPlan[] = PODS.map((key) => {
    const [namespace, name] = key.split('/') as [string, string];
    return { namespace, name, uid: name, podClass: 'movable', action: 'evict', reason: 'managed by a Deployment', priority: 0, pdbs: ['shop/web'] };
  });
  return { node: 'w1', nodeReady: true, alreadyCordoned: false, pods, groups: [pods], blockers, fits: [] };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('groupBlockers', () => {
  it('makes one cause of the same blocker on four pods, naming the four', () => {
    expect(groupBlockers(refused)).toEqual([{ kind: 'pdb-never-allows', fatal: true, pdbs: ['shop/web'], pods: PODS, message: NEVER }]);
  });

  it('groups messages that differ only by the pod named in them, which then reads "each pod"', () => {
    const [cause] = groupBlockers(waiting);
    expect(cause?.pods).toEqual(['shop/api-1', 'shop/api-2']);
    expect(cause?.message).toBe('PDB shop/api can never allow an eviction by itself; each pod will wait for it until the timeout: set migration: surge, or relax the PDB');
  });

  it('keeps distinct causes apart, fatal first, and a single pod as it was', () => {
    const causes = groupBlockers([...waiting.slice(0, 1), ...refused]);
    expect(causes.map((c) => [c.fatal, c.pods.length])).toEqual([
      [true, 4],
      [false, 1],
    ]);
    expect(causes[1]?.message).toBe(waiting[0]?.message);
  });

  it('counts and names pods, leaving the names past 20 to the JSON report', () => {
    expect(podsLabel(['a/b'])).toBe('a/b');
    const many = Array.from({ length: 23 }, (_, i) => `ns/p${i}`);
    expect(podsLabel(many)).toMatch(/^23 pods \(ns\/p0, .*, ns\/p19, and 3 more\)$/);
  });

  it('logs one line per cause', () => {
    const lines = groupBlockers([...refused, ...waiting]).map(blockerLogLine);
    expect(lines).toEqual([
      `BLOCKS [pdb-never-allows] 4 pods (${PODS.join(', ')}): ${NEVER}`,
      'warning [pdb-never-allows] 2 pods (shop/api-1, shop/api-2): PDB shop/api can never allow an eviction by itself; each pod will wait for it until the timeout: set migration: surge, or relax the PDB',
    ]);
  });
});

describe('the renderers say each cause once', () => {
  it('plan text', () => {
    const text = renderPlanText(plan(refused));
    expect(count(text, NEVER)).toBe(1);
    expect(text).toContain(`  Blocks the drain: PDB can never allow an eviction: 4 pods (${PODS.join(', ')}) [PDB shop/web]: ${NEVER}`);
  });

  it('job summary', () => {
    const report = runReport({ success: false });
    report.nodes[0]!.plan = plan(refused);
    const markdown = renderSummary(report);
    expect(count(markdown, NEVER)).toBe(1);
    expect(markdown).toContain('- **Blocks the drain: PDB can never allow an eviction**: 4 pods (`shop/web-1`, `shop/web-2`, `shop/web-3`, `shop/web-4`) (PDB `shop/web`)');
    expect(renderBlockers(refused)).toBe(markdown.slice(markdown.indexOf('#### Blockers'), markdown.indexOf('#### Blockers') + renderBlockers(refused).length));
  });

  it('large-run summary (grouped by node and workload)', () => {
    const report = runReport({ success: false });
    const large = plan(refused);
    const more = Array.from({ length: 300 }, (_, i): PodPlan => ({ ...large.pods[0]!, name: `x-${i}`, uid: `x-${i}` }));
    report.nodes[0]!.plan = { ...large, pods: [...large.pods, ...more] };
    const markdown = renderSummary(report);
    expect(markdown).toContain('### Findings (4 pods)');
    expect(count(markdown, NEVER)).toBe(1);
  });
});

describe('outcome and warnings in the result', () => {
  it('text says the outcome of a failed run, its exit code, and every warning', () => {
    const text = renderResultText(runReport({ success: false }, { outcome: 'gate-failed', warnings: ['the drain lock of w1 could not be released: 409'] }));
    expect(text.split('\n')[0]).toBe('safe-drain drain FAILED in 3s (gate-failed: the availability gate failed; exit code 3)');
    expect(text).toContain('Warnings:\n  - the drain lock of w1 could not be released: 409');
  });

  it('the job summary says the outcome and lists warnings', () => {
    const markdown = renderSummary(runReport({}, { warnings: ['an Event on w1 was not recorded'] }));
    expect(markdown).toContain('**Outcome:** `ok` (ok: done; exit code 0)');
    expect(markdown).toContain('### Warnings\n\n- an Event on w1 was not recorded');
  });
});

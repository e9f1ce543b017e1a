// The pull-request comment's body: the marker first (it is how the comment is found again), the
// verdict, the plan of each node (rows capped), each blocking cause once, and never longer than
// a GitHub comment may be.
import { describe, expect, it } from '@jest/globals';
import { renderPullRequestComment } from '../../src/engine/report/comment.js';
import type { Blocker, NodeReport, PodPlan } from '../../src/engine/types.js';
import { runReport } from './fixtures/run-report.js';

const MARKER = '<!-- safe-drain comment: resilience/drain-test -->';

function podPlan(name: string): PodPlan {
  return { namespace: 'shop', name, uid: name, podClass: 'movable', action: 'evict', reason: 'managed by a Deployment', priority: 0, pdbs: ['shop/web'] };
}

function planned(node: string, pods: number, blockers: Blocker[] = []): NodeReport {
  const list = Array.from({ length: pods }, (_, i) => podPlan(`web-${i}`));
  return { ...runReport().nodes[0]!, node, operation: 'plan', plan: { node, nodeReady: true, alreadyCordoned: false, pods: list, groups: [list], blockers, fits: [] } };
}

describe('renderPullRequestComment', () => {
  it('starts with the marker and says the verdict, the outcome and each node plan, 30 rows at most', () => {
    const report = runReport({ success: false }, { outcome: 'incomplete', nodes: [planned('w1', 45)] });
    const body = renderPullRequestComment(report, { marker: MARKER, runUrl: 'https://github.invalid/o/r/actions/runs/1' });
    expect(body.split('\n')[0]).toBe(MARKER);
    expect(body).toContain('### safe-drain drain: FAILED');
    expect(body).toContain('**Outcome:** `incomplete` (incomplete: the drain did not complete; exit code 1)');
    expect(body).toContain('<summary>Plan for node w1: 45 pods, 1 eviction group</summary>');
    expect(body.match(/^\| `shop\/web-\d+` \|/gm)).toHaveLength(30);
    expect(body).toContain('…and 15 more pods (in the job summary).');
    expect(body).toContain('**Availability gate:** not run');
  });

  it('says a blocking cause once for all its pods', () => {
    const blockers: Blocker[] = ['shop/web-0', 'shop/web-1', 'shop/web-2'].map((pod) => ({ kind: 'pdb-never-allows', pod, pdbs: ['shop/web'], message: 'PDB shop/web (maxUnavailable 0) can never allow an eviction', fatal: true }));
    const body = renderPullRequestComment(runReport({ success: false }, { nodes: [planned('w1', 3, blockers)] }), { marker: MARKER });
    expect(body.split('PDB shop/web (maxUnavailable 0) can never allow an eviction')).toHaveLength(2);
    expect(body).toContain('3 pods (`shop/web-0`, `shop/web-1`, `shop/web-2`)');
  });

  it('stays under GitHub\'s 65,536 characters, closing what it cut and linking the rest', () => {
    const nodes = Array.from({ length: 200 }, (_, i) => planned(`node-${i}`, 40));
    const body = renderPullRequestComment(runReport({}, { nodes }), { marker: MARKER, runUrl: 'https://github.invalid/o/r/actions/runs/1' });
    expect(body.length).toBeLessThanOrEqual(65_536);
    expect(body.match(/<details>/g)?.length).toBe(body.match(/<\/details>/g)?.length);
    expect(body.endsWith('**Cut to fit a comment; the rest is in the [job summary](https://github.invalid/o/r/actions/runs/1).**')).toBe(true);
  });
});

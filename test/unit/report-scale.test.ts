import { describe, expect, it } from '@jest/globals';
import { renderSummary } from '../../src/engine/report/markdown.js';
import { capSummary, SUMMARY_BYTE_LIMIT } from '../../src/engine/report/markdown-scale.js';
import { describeFinalState } from '../../src/engine/report/state.js';
import { DEFAULT_OPTIONS, type NodeReport, type PodPlan, type PodResult, type RunReport } from '../../src/engine/types.js';

const GITHUB_SUMMARY_CAP = 1024 * 1024;

/** 50 nodes × 200 pods = 10,000 pods of 100 Deployments; every 97th pod still blocked by its PDB. */
function largeRun(): RunReport {
  const nodes: NodeReport[] = [];
  let n = 0;
  for (let i = 0; i < 50; i++) {
    const node = `scale-node-${String(i).padStart(4, '0')}`;
    const pods: PodPlan[] = [];
    const results: PodResult[] = [];
    for (let j = 0; j < 200; j++, n++) {
      const app = `app-${String(n % 100).padStart(3, '0')}`;
      const name = `${app}-7d9c5b6f4-${String(n).padStart(5, '0')}`;
      pods.push({
        namespace: 'bulk',
        name,
        uid: `uid-${n}`,
        podClass: 'movable',
        action: 'evict',
        reason: 'managed by a Deployment',
        group: 0,
        priority: 0,
        pdbs: [`bulk/${app}`],
        owner: { kind: 'ReplicaSet', name: `${app}-7d9c5b6f4` },
        workload: { kind: 'Deployment', namespace: 'bulk', name: app, replicas: 100, readyReplicas: 100 },
      });
      const blocked = n % 97 === 0;
      results.push({
        pod: `bulk/${name}`,
        outcome: blocked ? 'blocked' : 'evicted',
        budgetWaits: blocked ? 3 : 0,
        startedAt: j * 10,
        endedAt: j * 10 + 500,
        ...(blocked && { pdb: `bulk/${app}`, message: 'Cannot evict pod as it would violate the pod\'s disruption budget.' }),
      });
    }
    const blockedCount = results.filter((r) => r.outcome === 'blocked').length;
    nodes.push({
      node,
      operation: 'drain',
      dryRun: false,
      plan: { node, nodeReady: true, alreadyCordoned: false, pods, groups: [pods], blockers: [], fits: [] },
      wasCordoned: false,
      cordoned: true,
      uncordoned: false,
      results,
      workloadChanges: [],
      blocked: [],
      timeline: results.map((r) => ({ at: r.endedAt ?? 0, phase: 'evict' as const, subject: r.pod, message: 'gone' })),
      success: blockedCount === 0,
      ...(blockedCount > 0 && { error: `timeout of 600s expired; ${blockedCount} pod(s) not evicted` }),
      durationMs: 600_000,
    });
  }
  const report: RunReport = {
    version: 1,
    outcome: 'incomplete',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 900_000,
    options: { ...DEFAULT_OPTIONS, nodes: [], selector: 'pool=scale', maxUnavailableNodes: { count: 10 } },
    nodes,
    success: false,
    summary: '',
    drainOrder: { nodes: nodes.map((x) => x.node), rule: 'fewest pods to move first, then by name' },
  };
  report.summary = describeFinalState(report);
  return report;
}

describe('job summary at scale', () => {
  const report = largeRun();
  const md = renderSummary(report);

  it('a 10,000-pod report stays under GitHub\'s 1 MiB step-summary cap', () => {
    expect(Buffer.byteLength(md, 'utf8')).toBeLessThan(GITHUB_SUMMARY_CAP);
    // Grouped, not cut: the whole story fits.
    expect(md).not.toMatch(/summary was cut/);
  });

  it('groups by node and by workload, with counts, and names the pods someone must act on', () => {
    expect(md).toMatch(/### Nodes \(50\)/);
    expect(md).toMatch(/10000 pods in the plans/);
    expect(md).toMatch(/Drain order: fewest pods to move first, then by name, 10 at a time/);
    // One row per node, none per evicted pod.
    for (const node of report.nodes) expect(md).toContain(`\`${node.node}\``);
    expect(md).not.toContain('app-001-7d9c5b6f4-00001`');
    expect(md).toMatch(/### Workloads \(100\)/);
    expect(md).toMatch(/\| `Deployment\/bulk\/app-000` \| 100 \| 50 \| evicted 9\d, blocked \d+ \|/);
    const blocked = report.nodes.flatMap((n) => n.results).filter((r) => r.outcome === 'blocked');
    expect(md).toMatch(new RegExp(`### Pods not moved \\(${blocked.length}\\)`));
    expect(md).toContain(`\`${blocked[0]!.pod}\``);
    expect(md).not.toMatch(/mermaid/);
  });

  it('a small run keeps the per-pod tables', () => {
    const small: RunReport = { ...report, nodes: report.nodes.slice(0, 1).map((n) => ({ ...n, plan: { ...n.plan!, pods: n.plan!.pods.slice(0, 5) }, results: n.results.slice(0, 5) })) };
    const text = renderSummary(small);
    expect(text).toMatch(/#### Plan/);
    expect(text).not.toMatch(/### Workloads/);
  });
});

describe('capSummary', () => {
  it('cuts any summary over the limit at a line, closes an open fence and says where the rest is', () => {
    const huge = `## title\n\n\`\`\`mermaid\n${'x'.repeat(200)}\n`.repeat(1) + `${'line of text é\n'.repeat(120_000)}`;
    expect(Buffer.byteLength(huge, 'utf8')).toBeGreaterThan(GITHUB_SUMMARY_CAP);
    const capped = capSummary(huge);
    expect(Buffer.byteLength(capped, 'utf8')).toBeLessThanOrEqual(SUMMARY_BYTE_LIMIT);
    expect(capped).toMatch(/```\n\n\*\*The summary was cut here.*JSON report/);
    expect(capSummary('short\n')).toBe('short\n');
  });
});

import { describe, expect, it } from '@jest/globals';
import { escapeMermaid, renderGantt, renderSummary } from '../../src/engine/report/markdown.js';
import { computeOutputs } from '../../src/engine/report/outputs.js';
import { describeFinalState } from '../../src/engine/report/state.js';
import { alignColumns, renderPlanText, renderResultText } from '../../src/engine/report/text.js';
import { DEFAULT_OPTIONS, type DrainPlan, type NodeReport, type PodPlan, type RunReport } from '../../src/engine/types.js';

function pod(name: string, fields: Partial<PodPlan> = {}): PodPlan {
  return { namespace: 'shop', name, uid: `uid-${name}`, podClass: 'movable', action: 'evict', reason: 'managed by a Deployment', priority: 0, pdbs: [], ...fields };
}

const planW1: DrainPlan = {
  node: 'w1',
  nodeReady: true,
  alreadyCordoned: false,
  pods: [
    pod('web-1', { group: 0, pdbs: ['shop/web'] }),
    pod('web-2', { group: 0, pdbs: ['shop/web'] }),
    pod('api-1', { group: 1, action: 'migrate', reason: 'single replica: surge first' }),
    pod('cache-1', { group: 1, reason: 'has | pipe <b>' }),
    pod('fluentd-x', { namespace: 'kube-system', podClass: 'daemonset', action: 'skip', reason: 'DaemonSet pod' }),
  ],
  groups: [],
  blockers: [
    { kind: 'unavoidable-downtime', pod: 'shop/cache-1', message: 'StatefulSet with one replica', fatal: false },
    { kind: 'pdb-never-allows', pod: 'shop/web-2', pdbs: ['shop/web'], message: 'minAvailable equals replicas', fatal: true },
  ],
  fits: [],
};
planW1.groups = [[planW1.pods[0]!, planW1.pods[1]!], [planW1.pods[2]!, planW1.pods[3]!]];

function nodeReport(fields: Partial<NodeReport> = {}): NodeReport {
  return {
    node: 'w1',
    operation: 'drain',
    dryRun: false,
    plan: planW1,
    wasCordoned: false,
    cordoned: true,
    uncordoned: false,
    results: [
      { pod: 'shop/web-1', outcome: 'evicted', startedAt: 0, endedAt: 1500, budgetWaits: 0 },
      { pod: 'shop/web-2', outcome: 'blocked', pdb: 'shop/web', startedAt: 100, budgetWaits: 7, message: 'Cannot evict: would violate the budget' },
      { pod: 'shop/api-1', outcome: 'migrated', startedAt: 1600, endedAt: 9000, budgetWaits: 1 },
      { pod: 'shop/cache-1', outcome: 'evicted', startedAt: 1600, endedAt: 4000, budgetWaits: 0 },
      { pod: 'kube-system/fluentd-x', outcome: 'skipped', budgetWaits: 0, message: 'DaemonSet pod' },
    ],
    workloadChanges: [{ workload: 'Deployment/shop/api', change: 'replicas 1 → 2', restored: true }],
    blocked: [{ pod: 'shop/web-2', pdb: 'shop/web', budget: 'healthy 1 / desired 1 / allowed 0', message: 'would violate the budget' }],
    timeline: [
      { at: 0, phase: 'cordon', subject: 'w1', message: 'cordoned' },
      { at: 12_000, phase: 'error', subject: 'w1', message: 'timed out' },
    ],
    success: false,
    error: 'timed out after 12s',
    durationMs: 12_000,
    ...fields,
  };
}

function runReport(nodes: NodeReport[], fields: Partial<RunReport> = {}): RunReport {
  const report: RunReport = {
    version: 1,
    outcome: nodes.every((n) => n.success) ? 'ok' : 'incomplete',
    startedAt: '2025-01-01T00:00:00.000Z',
    durationMs: 12_345,
    options: { ...DEFAULT_OPTIONS, nodes: nodes.map((n) => n.node) },
    nodes,
    success: nodes.every((n) => n.success),
    summary: '',
    ...fields,
  };
  report.summary = describeFinalState(report);
  return report;
}

describe('describeFinalState', () => {
  it('says what was cordoned, evicted, left and blocked, and why the node stays cordoned', () => {
    expect(describeFinalState(runReport([nodeReport()]))).toBe(
      'Node w1: cordoned (was not cordoned before); 2 pods evicted, 1 pod migrated (replacement started first), 1 DaemonSet pod left, ' +
        '1 pod still blocked by PDB shop/web (healthy 1 / desired 1 / allowed 0); workload changes: replicas 1 → 2 on Deployment/shop/api (restored); ' +
        'drain failed: timed out after 12s; left cordoned because uncordon-on-failure is false.',
    );
  });

  it('matches the documented wording for a typical blocked drain', () => {
    const results = [
      ...['a', 'b', 'c', 'd', 'e'].map((name) => ({ pod: `shop/${name}`, outcome: 'evicted' as const, budgetWaits: 0 })),
      { pod: 'kube-system/fluentd-x', outcome: 'skipped' as const, budgetWaits: 0 },
    ];
    const node = nodeReport({ results, workloadChanges: [], error: undefined, plan: { ...planW1, pods: [planW1.pods[4]!] } });
    expect(describeFinalState(runReport([node]))).toBe(
      'Node w1: cordoned (was not cordoned before); 5 pods evicted, 1 DaemonSet pod left, 1 pod still blocked by PDB shop/web ' +
        '(healthy 1 / desired 1 / allowed 0); drain failed; left cordoned because uncordon-on-failure is false.',
    );
  });

  it('reports a successful drain', () => {
    const node = nodeReport({
      success: true,
      error: undefined,
      blocked: [],
      workloadChanges: [],
      results: [{ pod: 'shop/web-1', outcome: 'evicted', budgetWaits: 0 }],
      plan: { ...planW1, pods: [planW1.pods[0]!, planW1.pods[4]!] },
    });
    expect(describeFinalState(runReport([node]))).toBe('Node w1: cordoned (was not cordoned before); 1 pod evicted, 1 DaemonSet pod left; drained.');
  });

  it('reports an uncordon after failure and workload changes not restored', () => {
    const node = nodeReport({
      cordoned: false,
      uncordoned: true,
      blocked: [],
      results: [{ pod: 'shop/web-1', outcome: 'failed', budgetWaits: 0, message: 'Forbidden.' }],
      workloadChanges: [{ workload: 'Deployment/shop/api', change: 'replicas 1 → 2', restored: false, message: 'conflict' }],
      plan: { ...planW1, pods: [planW1.pods[0]!] },
      error: 'eviction failed',
    });
    const report = runReport([node]);
    report.options.uncordonOnFailure = true;
    expect(describeFinalState(report)).toBe(
      'Node w1: uncordoned again after the failure (was not cordoned before); 1 pod failed (Forbidden); ' +
        'workload changes: replicas 1 → 2 on Deployment/shop/api (NOT restored: conflict); drain failed: eviction failed.',
    );
  });

  it('says a node that was already cordoned stays so', () => {
    const node = nodeReport({ wasCordoned: true, results: [], blocked: [], workloadChanges: [], error: 'x', plan: undefined });
    expect(describeFinalState(runReport([node]))).toBe('Node w1: cordoned (was already cordoned before); drain failed: x; left cordoned because it was cordoned before the run.');
  });

  it('describes a plan without changing anything', () => {
    const node = nodeReport({ operation: 'plan', cordoned: false, results: [], blocked: [], workloadChanges: [], success: true, error: undefined });
    expect(describeFinalState(runReport([node]))).toBe(
      'Node w1: plan only, nothing changed (not cordoned); 3 pods would be evicted, 1 pod would be migrated, 1 DaemonSet pod left, ' +
        '1 fatal blocker (shop/web-2: pdb-never-allows).',
    );
  });

  it('describes cordon and uncordon operations', () => {
    const cordon = nodeReport({ operation: 'cordon', plan: undefined, results: [], blocked: [], workloadChanges: [], success: true, error: undefined });
    const uncordon = nodeReport({ node: 'w2', operation: 'uncordon', wasCordoned: true, cordoned: false, plan: undefined, results: [], blocked: [], workloadChanges: [], success: true, error: undefined });
    expect(describeFinalState(runReport([cordon, uncordon]))).toBe('Node w1: cordoned (was not cordoned before). Node w2: uncordoned (was cordoned before).');
  });

  it('mentions pods the run never reached', () => {
    const node = nodeReport({ results: [{ pod: 'shop/web-1', outcome: 'evicted', budgetWaits: 0 }], blocked: [], workloadChanges: [], error: 'cancelled (SIGINT)' });
    expect(describeFinalState(runReport([node]))).toContain('1 pod evicted, 1 DaemonSet pod left, 3 pods not evicted (the run ended first); drain failed: cancelled (SIGINT)');
  });

  it('handles an empty run', () => {
    expect(describeFinalState(runReport([]))).toBe('No node was processed; nothing changed.');
  });
});

describe('computeOutputs', () => {
  it('lists evicted, skipped and blocked pods and the duration', () => {
    const extra = nodeReport({
      node: 'w2',
      blocked: [],
      results: [
        { pod: 'shop/done-1', outcome: 'deleted', budgetWaits: 0 },
        { pod: 'shop/gone-1', outcome: 'evicted-not-confirmed', budgetWaits: 0 },
        { pod: 'shop/stuck-1', outcome: 'blocked', pdb: 'shop/stuck', budgetWaits: 2, message: 'budget' },
        { pod: 'shop/dry-1', outcome: 'would-evict', budgetWaits: 0 },
      ],
    });
    expect(computeOutputs(runReport([nodeReport(), extra]))).toEqual({
      evicted: ['shop/web-1', 'shop/api-1', 'shop/cache-1', 'shop/done-1', 'shop/gone-1'],
      skipped: ['kube-system/fluentd-x'],
      blocked: [
        { pod: 'shop/web-2', pdb: 'shop/web', budget: 'healthy 1 / desired 1 / allowed 0', message: 'would violate the budget' },
        { pod: 'shop/stuck-1', pdb: 'shop/stuck', message: 'budget' },
      ],
      durationSeconds: 12.3,
    });
  });
});

describe('renderSummary', () => {
  const markdown = renderSummary(runReport([nodeReport()]));

  it('leads with the verdict and the final state', () => {
    expect(markdown.startsWith('## safe-drain drain failed\n\n**Nodes:** `w1` · **Duration:** 12s')).toBe(true);
    expect(markdown).toContain('### Final state\n\nNode w1: cordoned (was not cordoned before); 2 pods evicted');
  });

  it('renders the plan table with 1-based groups and escaped cells', () => {
    expect(markdown).toContain('| Pod | Class | Action | Group | PDBs | Reason |\n| --- | --- | --- | --- | --- | --- |');
    expect(markdown).toContain('| `shop/web-1` | movable | evict | 1 | `shop/web` | managed by a Deployment |');
    expect(markdown).toContain('| `shop/cache-1` | movable | evict | 2 |  | has \\| pipe &lt;b&gt; |');
    expect(markdown).toContain('| `kube-system/fluentd-x` | daemonset | skip |  |  | DaemonSet pod |');
  });

  it('lists fatal blockers first with clear labels', () => {
    const fatal = markdown.indexOf('- **Blocks the drain: PDB can never allow an eviction**: `shop/web-2` (PDB `shop/web`): minAvailable equals replicas');
    const warning = markdown.indexOf('- **Warning: Downtime cannot be avoided**: `shop/cache-1`: StatefulSet with one replica');
    expect(fatal).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(fatal);
  });

  it('renders results and workload changes', () => {
    expect(markdown).toContain('| Pod | Outcome | Budget waits | Message |');
    expect(markdown).toContain('| `shop/web-2` | blocked | 7 | Cannot evict: would violate the budget; PDB shop/web |');
    expect(markdown).toContain('| `Deployment/shop/api` | replicas 1 → 2 | yes |  |');
  });

  it('renders a mermaid gantt of the evictions, grouped by eviction group', () => {
    expect(markdown).toContain(
      [
        '```mermaid',
        'gantt',
        '    title Pod evictions on w1',
        '    dateFormat x',
        '    axisFormat %M:%S',
        '    todayMarker off',
        '    section group 1',
        '    shop/web-1 :done, 0, 1500',
        '    shop/web-2 :crit, 100, 12000',
        '    section group 2',
        '    shop/api-1 :done, 1600, 9000',
        '    shop/cache-1 :done, 1600, 4000',
        '```',
      ].join('\n'),
    );
  });

  it('puts the error and the timeline in the node section', () => {
    expect(markdown).toContain('**Error:** timed out after 12s');
    expect(markdown).toContain('<details><summary>Timeline (2 events)</summary>');
    expect(markdown).toContain('- +0ms **cordon** `w1`: cordoned');
  });

  it('marks dry runs', () => {
    const report = runReport([nodeReport({ dryRun: true })]);
    report.options.dryRun = true;
    expect(renderSummary(report)).toContain('**Dry run:** nothing was changed');
  });

  it('a run that stopped before listing nodes says so and shows its error, not "none matched"', () => {
    const report = runReport([], { success: false, error: 'missing Kubernetes permissions: list nodes' });
    report.options.selector = 'pool=blue';
    const markdown = renderSummary(report);
    expect(markdown).toContain('**Nodes:** none processed');
    expect(markdown).not.toContain('none matched');
    expect(markdown).toContain('**Error:** missing Kubernetes permissions: list nodes');
  });
});

describe('mermaid escaping', () => {
  it('replaces the characters gantt syntax reserves', () => {
    expect(escapeMermaid('ns/a:b#c;d\ne')).toBe('ns/a\u2236b\uFF03c\uFF1Bd e');
  });

  it('escapes task names and uses an hour axis for long runs', () => {
    const node = nodeReport({ node: 'w:1', results: [{ pod: 'odd/na#me:x', outcome: 'evicted', startedAt: 0, endedAt: 4_000_000, budgetWaits: 0 }], plan: undefined });
    const gantt = renderGantt(node) ?? '';
    expect(gantt).toContain('title Pod evictions on w\u22361');
    expect(gantt).toContain('axisFormat %H:%M:%S');
    expect(gantt).toContain('section pods\n    odd/na\uFF03me\u2236x :done, 0, 4000000');
  });

  it('omits the diagram when no pod has timings', () => {
    expect(renderGantt(nodeReport({ results: [{ pod: 'a/b', outcome: 'would-evict', budgetWaits: 0 }] }))).toBeUndefined();
  });
});

describe('text rendering', () => {
  it('aligns columns', () => {
    expect(alignColumns([['POD', 'OUTCOME', 'MESSAGE'], ['shop/web-1', 'evicted', ''], ['a/b', 'failed', 'no']])).toBe(
      'POD         OUTCOME  MESSAGE\nshop/web-1  evicted\na/b         failed   no',
    );
  });

  it('renders the plan with blockers, fatal first', () => {
    const text = renderPlanText(planW1);
    expect(text.split('\n')).toEqual([
      'Plan for node w1 (Ready, not cordoned): 5 pods, 2 eviction groups',
      '',
      'POD                    CLASS      ACTION   GROUP  PDBS      REASON',
      'shop/web-1             movable    evict    1      shop/web  managed by a Deployment',
      'shop/web-2             movable    evict    1      shop/web  managed by a Deployment',
      'shop/api-1             movable    migrate  2      -         single replica: surge first',
      'shop/cache-1           movable    evict    2      -         has | pipe <b>',
      'kube-system/fluentd-x  daemonset  skip            -         DaemonSet pod',
      '',
      'Blockers:',
      '  Blocks the drain: PDB can never allow an eviction: shop/web-2 [PDB shop/web]: minAvailable equals replicas',
      '  Warning: Downtime cannot be avoided: shop/cache-1: StatefulSet with one replica',
    ]);
  });

  it('renders results, workload changes and the final state', () => {
    const report = runReport([nodeReport()]);
    const text = renderResultText(report);
    expect(text).toContain('safe-drain drain FAILED in 12s');
    expect(text).toContain('Node w1: failed in 12s (timed out after 12s)');
    expect(text).toContain('  POD                    OUTCOME   BUDGET WAITS  MESSAGE');
    expect(text).toContain('  shop/web-2             blocked   7             Cannot evict: would violate the budget');
    expect(text).toContain('    Deployment/shop/api  replicas 1 → 2  restored');
    expect(text.endsWith(report.summary)).toBe(true);
  });
});

// What the report says of forced deletions, waits for completion, volumes and expected downtime:
// the final-state paragraph, the job summary and the terminal, from the report's own data.
import { describe, expect, it } from '@jest/globals';
import type { AvailabilityReport } from '../../src/engine/availability/types.js';
import { renderSummary } from '../../src/engine/report/markdown.js';
import { describeFinalState } from '../../src/engine/report/state.js';
import { renderResultText } from '../../src/engine/report/text.js';
import type { RunReport } from '../../src/engine/types.js';
import { runReport } from './fixtures/run-report.js';

function withSummary(report: RunReport): RunReport {
  report.summary = describeFinalState(report);
  return report;
}

const forced = () =>
  withSummary(
    runReport({
      results: [
        { pod: 'shop/web-1', outcome: 'force-deleted', budgetWaits: 0, pdb: 'shop/web', message: 'deleted instead of evicted, bypassing PDB shop/web (disable-eviction)', bypass: { pod: 'shop/web-1', by: 'disable-eviction', pdb: 'shop/web', waitedMs: 0 } },
        { pod: 'batch/job-1', outcome: 'completed', budgetWaits: 0, message: 'it completed (Succeeded) while the drain waited' },
      ],
    }),
  );

describe('forced deletions and completions in the report', () => {
  it('the final state says which budgets were bypassed, by which input, and what completed', () => {
    expect(forced().summary).toBe(
      'Node w1: cordoned (was not cordoned before); 1 pod deleted instead of evicted (disable-eviction: budgets bypassed: PDB shop/web), ' +
        '1 pod completed while the drain waited (cluster.x-k8s.io/drain=wait-completed); drained.',
    );
  });

  it('the job summary and the terminal name the outcome as a bypass', () => {
    expect(renderSummary(forced())).toContain('deleted, PDB bypassed');
    expect(renderResultText(forced())).toMatch(/shop\/web-1 +deleted, PDB bypassed/);
  });

  it("a plan says the budgets it would bypass; after a real drain only those bypassed are said", () => {
    const planned = runReport({ results: [] });
    planned.options = { ...planned.options, operation: 'plan', forceAfterMs: 600_000 };
    planned.nodes[0] = {
      ...planned.nodes[0]!,
      operation: 'plan',
      plan: {
        node: 'w1', nodeReady: true, alreadyCordoned: false, groups: [], fits: [],
        pods: [{ namespace: 'shop', name: 'web-1', uid: 'u', podClass: 'movable', action: 'evict', reason: '', priority: 0, pdbs: ['shop/web'] }],
        blockers: [{ kind: 'budget-bypassed', pod: 'shop/web-1', pdbs: ['shop/web'], message: 'if PDB shop/web still refuses …', fatal: false }],
      },
    };
    expect(describeFinalState(planned)).toContain('PDBs would be bypassed for 1 pod (force-after 600s, if still waiting then)');
    const drained = runReport();
    drained.nodes[0]!.plan = planned.nodes[0]!.plan;
    expect(describeFinalState(drained)).not.toContain('bypassed');
  });
});

describe('volumes in the report', () => {
  const withVolumes = (stillAttached: string[]) => {
    const report = runReport({ success: stillAttached.length === 0 });
    report.nodes[0]!.volumeDetach = { waitedFor: ['pv-a', 'pv-b'], stillAttached, waitedMs: 4_200, ...(stillAttached.length && { endedBy: 'volume-detach-timeout (360s) expired' }) };
    return withSummary(report);
  };

  it('the wait and the volumes that held it, detached or not', () => {
    expect(withVolumes([]).summary).toContain('volumes pv-a, pv-b detached after 4.2s');
    expect(withVolumes(['pv-b']).summary).toContain('volumes still attached after 4.2s: pv-b (volume-detach-timeout (360s) expired)');
    expect(renderSummary(withVolumes(['pv-b']))).toContain('#### Volumes\n\nWaited 4s for pv-a, pv-b (volumes of the pods the drain removed) to detach from the node: still attached: pv-b (volume-detach-timeout (360s) expired).');
    expect(renderResultText(withVolumes([]))).toContain('  Volumes: Waited 4s for pv-a, pv-b (volumes of the pods the drain removed) to detach from the node: all detached.');
  });
});

describe('the gate: forced deletions and the estimate beside the measured downtime', () => {
  const gate: AvailabilityReport = {
    selection: 'auto',
    services: [{ service: 'db/db', initialReady: 1, minReady: 0, minReadyAt: 1_000, downtimeSeconds: 6.4, longestOutageSeconds: 6.4, series: [], expectedZero: true, estimatedDowntimeSeconds: 7, passed: true, finalReady: 1 }],
    probes: [],
    bypasses: [{ pod: 'shop/web-1', by: 'force-after', pdb: 'shop/web', waitedSeconds: 600, at: 700_000, healthyBefore: 2, minHealthy: 1, budgetUnmetSeconds: 3.1, passed: false, failure: 'pod shop/web-1 deleted bypassing PDB shop/web (force-after): its budget was unmet for 3.1 s (max-downtime 0s)' }],
    passed: false,
    aborted: false,
    failures: ['pod shop/web-1 deleted bypassing PDB shop/web (force-after): its budget was unmet for 3.1 s (max-downtime 0s)'],
    measured: true,
    startedAt: 0,
    maxDowntimeSeconds: 0,
  };

  it('the job summary: "yes (estimated 7 s)" beside 6.4 s measured, and a table of the forced deletions', () => {
    const summary = renderSummary(runReport({}, { availability: gate }));
    expect(summary).toMatch(/\| `db\/db` \| 1 \| 0 at \+1 s \| 6\.4 s \| 6\.4 s \| yes \(estimated 7 s\) \| passed \|/);
    expect(summary).toContain("#### Pods deleted without their PDB's consent");
    expect(summary).toMatch(/\| `shop\/web-1` \| `shop\/web` \| force-after \| 600 s \| 2 → 1 \| 3\.1 s \| \*\*failed\*\* \|/);
  });

  it('the terminal: the same', () => {
    const text = renderResultText(runReport({}, { availability: gate }));
    expect(text).toContain('yes (estimated 7 s)');
    expect(text).toMatch(/shop\/web-1 +shop\/web +force-after +600s +3\.1s +FAILED/);
  });
});

// The availability gate judging a pod deleted without its PDB's consent like an outage: the time
// its budget stayed unmet (healthy below desired) against max-downtime, the fewest healthy pods
// against min-ready-ratio; followed on the gate's own PDB watch, live with abort-on-downtime, and
// to the budget's recovery at the end of the run. On a fake clock and a fake watch.
import { describe, expect, it } from '@jest/globals';
import type { V1EndpointSlice, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { budgetFigures, bypassFailure } from '../../src/engine/availability/bypasses.js';
import { AvailabilityMonitor, RECOVERY_WAIT_MS, type GateApi } from '../../src/engine/availability/monitor.js';
import { DEFAULT_AVAILABILITY, type AvailabilityOptions } from '../../src/engine/availability/types.js';
import type { BudgetBypass, Logger } from '../../src/engine/types.js';
import { FakeClock } from './fixtures/fake-clock.js';
import { FakeWatch } from './fixtures/fake-watch.js';

const bypass: BudgetBypass = { pod: 'shop/web-1', by: 'force-after', pdb: 'shop/web', waitedMs: 300_000 };

function budget(healthy: number, desired: number, resourceVersion: string): V1PodDisruptionBudget {
  return { metadata: { namespace: 'shop', name: 'web', resourceVersion, generation: 1 }, status: { observedGeneration: 1, currentHealthy: healthy, desiredHealthy: desired, expectedPods: 2, disruptionsAllowed: 0 } };
}

describe('budgetFigures / bypassFailure', () => {
  it('unmet time and fewest healthy pods of a budget series', () => {
    const points = [
      { at: 1_000, healthy: 2, met: true },
      { at: 1_200, healthy: 1, met: false },
      { at: 4_200, healthy: 2, met: true },
    ];
    expect(budgetFigures(points, 10_000)).toEqual({ unmetMs: 3_000, minHealthy: 1 });
    expect(budgetFigures(points.slice(0, 2), 2_200)).toEqual({ unmetMs: 1_000, minHealthy: 1 });
    expect(budgetFigures([], 1_000)).toEqual({ unmetMs: 0, minHealthy: undefined });
  });

  it('judged like an outage: max-downtime against the unmet time, min-ready-ratio against the healthy pods before; no PDB, nothing to judge', () => {
    const f = { unmetMs: 3_000, minHealthy: 1 };
    expect(bypassFailure(bypass, 2, f, { maxDowntimeMs: 3_000 })).toBeUndefined();
    expect(bypassFailure(bypass, 2, f, { maxDowntimeMs: 2_999 })).toBe('pod shop/web-1 deleted bypassing PDB shop/web (force-after): its budget was unmet for 3 s (max-downtime 2.999s)');
    expect(bypassFailure(bypass, 2, f, { minReadyRatio: 0.5 })).toBeUndefined();
    expect(bypassFailure(bypass, 2, f, { minReadyRatio: 0.6 })).toBe('pod shop/web-1 deleted bypassing PDB shop/web (force-after): 1 of 2 healthy pods, below min-ready-ratio 0.6');
    expect(bypassFailure(bypass, 2, f, {})).toBeUndefined();
    expect(bypassFailure({ ...bypass, pdb: undefined }, 2, f, { maxDowntimeMs: 0 })).toBeUndefined();
  });
});

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined, group: (_n, fn) => fn() };

async function gateWith(options: Partial<AvailabilityOptions>) {
  const clock = new FakeClock();
  const slices = new FakeWatch<V1EndpointSlice>([]);
  const pdbs = new FakeWatch<V1PodDisruptionBudget>([budget(2, 2, '1')]);
  const api: GateApi = {
    getService: async () => ({}),
    getNamespace: async () => ({}),
    listServices: async () => [],
    listEndpointSlices: async () => ({ items: [], resourceVersion: '1' }),
    watchEndpointSlices: () => slices,
  };
  const breaches: { failure: string; at: number }[] = [];
  const runStart = clock.now();
  const monitor = await AvailabilityMonitor.start({
    client: api,
    logger: quiet,
    options: { ...DEFAULT_AVAILABILITY, ...options },
    operation: 'drain',
    dryRun: false,
    nodes: ['w1'],
    runStart,
    clock,
    watchPdbs: () => pdbs,
    ...(options.abortOnDowntime && { onBreach: (failure: string) => breaches.push({ failure, at: clock.now() - runStart }) }),
  });
  return { monitor, clock, pdbs, breaches };
}

describe('the gate and a forced deletion', () => {
  it('follows the bypassed budget from the deletion until it is met again, and fails max-downtime 0s for the time it was unmet', async () => {
    const { monitor, clock, pdbs } = await gateWith({ maxDowntimeMs: 0 });
    await clock.advance(1_000);
    monitor.noteBypass(bypass, budget(2, 2, '1'));
    await clock.advance(200);
    pdbs.emit('MODIFIED', budget(1, 2, '2'));
    await clock.advance(2_500);
    pdbs.emit('MODIFIED', budget(2, 2, '3'));
    const report = await monitor.finish();
    expect(report.bypasses).toEqual([
      { pod: 'shop/web-1', by: 'force-after', pdb: 'shop/web', waitedSeconds: 300, at: 1_000, healthyBefore: 2, minHealthy: 1, budgetUnmetSeconds: 2.5, passed: false, failure: expect.stringContaining('its budget was unmet for 2.5 s (max-downtime 0s)') },
    ]);
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual([report.bypasses![0]!.failure]);
    expect(pdbs.stopped).toBe(true);
  });

  it('waits at the end of the run for a budget still unmet, at most RECOVERY_WAIT_MS, so the outage is measured to its end', async () => {
    const { monitor, clock, pdbs } = await gateWith({});
    monitor.noteBypass(bypass, budget(2, 2, '1'));
    pdbs.emit('MODIFIED', budget(1, 2, '2'));
    let done = false;
    const finished = monitor.finish().then((r) => ((done = true), r));
    await clock.advance(4_000);
    expect(done).toBe(false);
    pdbs.emit('MODIFIED', budget(2, 2, '3'));
    const report = await finished;
    expect(report.bypasses![0]).toMatchObject({ budgetUnmetSeconds: 4, passed: true });

    const stuck = await gateWith({});
    stuck.monitor.noteBypass(bypass, budget(2, 2, '1'));
    stuck.pdbs.emit('MODIFIED', budget(1, 2, '2'));
    const ended = stuck.monitor.finish();
    await stuck.clock.advance(RECOVERY_WAIT_MS);
    expect((await ended).bypasses![0]).toMatchObject({ budgetUnmetSeconds: RECOVERY_WAIT_MS / 1000 });
  });

  it('with abort-on-downtime, breaks the gate once the budget has been unmet longer than max-downtime, live', async () => {
    const { monitor, clock, pdbs, breaches } = await gateWith({ maxDowntimeMs: 2_000, abortOnDowntime: true });
    monitor.noteBypass(bypass, budget(2, 2, '1'));
    await clock.advance(500);
    pdbs.emit('MODIFIED', budget(1, 2, '2'));
    await clock.advance(2_000);
    expect(breaches).toEqual([]);
    await clock.advance(1);
    expect(breaches).toEqual([{ failure: expect.stringContaining('pod shop/web-1 deleted bypassing PDB shop/web (force-after): its budget was unmet for 2 s (max-downtime 2s)'), at: 2_501 }]);
    pdbs.emit('MODIFIED', budget(2, 2, '3'));
    expect((await monitor.finish()).aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('a report-only gate lists the forced deletion and passes', async () => {
    const { monitor, pdbs } = await gateWith({});
    monitor.noteBypass({ ...bypass, by: 'disable-eviction', waitedMs: 0 }, budget(2, 2, '1'));
    pdbs.emit('MODIFIED', budget(2, 2, '2'));
    const report = await monitor.finish();
    expect(report).toMatchObject({ passed: true, bypasses: [{ pod: 'shop/web-1', by: 'disable-eviction', passed: true }] });
  });
});

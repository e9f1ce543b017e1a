// The fault matrix (faults/, issue 9) as tests, one file per fault family
// (test/integration/faults-<family>.test.ts), each on its own cluster: the same pass rule as
// `npm run faults`: no eviction outside budget (the independent recorder), no change left (after
// the rerun for SIGKILL), completed or failed/cancelled with a report naming what is left, the
// report agrees with the cluster, and no run past its hard bound. A scenario whose fault cannot be
// produced here fails with the reason: never a silent pass.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createContext, FAULT_CLUSTER, type FaultContext } from '../../faults/harness.js';
import { faultFamily, recorderSelfCheck, runScenario, SCENARIOS, type FaultFamily } from '../../faults/scenarios.js';
import { useCluster } from './support.js';

/**
 * Bound on one row: about 3x the family's longest row measured (2 busy cores), and never below
 * the row's own bounds, so that a hung run gets the harness's verdict and cleanup, not jest's: a
 * SIGKILL row's rerun may wait out the disruption controller's 2 minutes (90 s + 210 s).
 */
const ROW_TIMEOUT_MS: Record<FaultFamily, number> = {
  api: 450_000, // throttled API: 152 s
  'nodes-pdbs': 240_000, // node dies and stays dead: 78 s
  'runner-sigterm': 150_000, // 35 s; the run's own bound 90 s
  'runner-sigkill': 330_000, // 35 s; own bounds 90 s + 210 s
};

export function faultMatrixTests(family: FaultFamily): void {
  const tc = useCluster(FAULT_CLUSTER, { uncordonAfterEach: false });
  let ctx: FaultContext | undefined;

  beforeAll(async () => {
    ctx = await createContext(tc.cluster, (m) => console.log(m));
  }, 60_000);
  afterAll(() => ctx?.recorder.stop());

  describe(`fault matrix: ${family}`, () => {
    it('the recorder counts an eviction forced past its PDB (negative control of "evictions outside budget")', async () => {
      expect(await recorderSelfCheck(ctx!)).toEqual([]);
    }, 60_000);

    for (const scenario of SCENARIOS.filter((s) => faultFamily(s) === family)) {
      it(scenario.fault, async () => {
        const r = await runScenario(ctx!, scenario);
        if (r.notRun) throw new Error(`NOT RUN: ${scenario.fault}: ${r.notRun}\n${r.notes.join('\n')}`);
        // The whole result on failure: the notes say what happened.
        expect(r).toEqual(expect.objectContaining({ evictionsOutsideBudget: 0, changesLeft: 0, passed: true }));
      }, ROW_TIMEOUT_MS[family]);
    }
  });
}

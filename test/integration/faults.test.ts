// The fault matrix (faults/, issue 9) as tests: one shared cluster, one test per scenario, the
// same pass rule as `npm run faults`: no eviction outside budget (the independent recorder), no
// change left (after the rerun for SIGKILL), completed or failed/cancelled with a report naming
// what is left, the report agrees with the cluster, and no run past its hard bound. A scenario
// whose fault cannot be produced here fails with the reason: never a silent pass.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createContext, FAULT_CLUSTER, type FaultContext } from '../../faults/harness.js';
import { recorderSelfCheck, runScenario, SCENARIOS } from '../../faults/scenarios.js';
import { useCluster } from './support.js';

const tc = useCluster(FAULT_CLUSTER, { uncordonAfterEach: false });
let ctx: FaultContext | undefined;

beforeAll(async () => {
  ctx = await createContext(tc.cluster, (m) => console.log(m));
}, 120_000);
afterAll(() => ctx?.recorder.stop());

/**
 * Scenarios whose defect is known and not fixed yet (issue 9): they would fail the suite at
 * random. Each says what is wrong; remove the entry with the fix.
 */
const KNOWN_DEFECTS: Record<string, string> = {};

/**
 * FAULT_ROWS=ci (scripts/test.sh) leaves SIGKILL + rerun out of the test suite in the phases other
 * tests of the suite already SIGKILL a drain in and rerun it: kill-anywhere (at random after the
 * start, i.e. permission check and plan; after the cordon; after a raise) and migration-safety
 * (mid-raise). SIGTERM in every phase, and SIGKILL in a budget wait and between the nodes of a
 * selector drain, stay. `npm run faults` always runs every row.
 */
const CI_LEAVES_TO_NPM_RUN_FAULTS = new Set(['kill-kill-permissioncheck', 'kill-kill-plan', 'kill-kill-cordon', 'kill-kill-scaleup']);
const leftToNpmRunFaults = (id: string) => process.env.FAULT_ROWS === 'ci' && CI_LEAVES_TO_NPM_RUN_FAULTS.has(id);

describe('fault matrix', () => {
  it('the recorder counts an eviction forced past its PDB (negative control of "evictions outside budget")', async () => {
    expect(await recorderSelfCheck(ctx!)).toEqual([]);
  }, 120_000);

  for (const scenario of SCENARIOS) {
    if (leftToNpmRunFaults(scenario.id)) {
      // Counted as skipped in the suite's summary, never as passed.
      console.warn(`NOT RUN in the test suite (FAULT_ROWS=ci; covered by kill-anywhere and migration-safety, run by npm run faults): ${scenario.fault}`);
      it.skip(`NOT RUN here (FAULT_ROWS=ci, left to npm run faults): ${scenario.fault}`, () => undefined);
      continue;
    }
    const known = KNOWN_DEFECTS[scenario.fault.split(' ')[0]!];
    if (known) {
      // Reported as not run (jest counts it skipped), never as passed; `npm run faults` still runs it.
      console.warn(`NOT RUN in the test suite: ${scenario.fault}: ${known}`);
      it.skip(`NOT RUN (known open defect: ${known}): ${scenario.fault}`, () => undefined);
      continue;
    }
    it(scenario.fault, async () => {
      const r = await runScenario(ctx!, scenario);
      if (r.notRun) throw new Error(`NOT RUN: ${scenario.fault}: ${r.notRun}\n${r.notes.join('\n')}`);
      // The whole result on failure: the notes say what happened.
      expect(r).toEqual(expect.objectContaining({ evictionsOutsideBudget: 0, changesLeft: 0, passed: true }));
    }, 420_000);
  }
});

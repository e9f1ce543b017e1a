// Every row of the fault matrix runs in the test suite: each belongs to a family, and each family
// has its test file (test/integration/faults-<family>.test.ts), so no row is left out unseen.
import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FAULT_FAMILIES, faultFamily, SCENARIOS } from '../../faults/scenarios.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('fault matrix families', () => {
  it('each family has its test file', () => {
    expect(FAULT_FAMILIES.filter((f) => !existsSync(`${root}test/integration/faults-${f}.test.ts`))).toEqual([]);
  });

  it('puts the SIGTERM and SIGKILL rows in their own families and every row in one', () => {
    const byFamily = Object.fromEntries(FAULT_FAMILIES.map((f) => [f, SCENARIOS.filter((s) => faultFamily(s) === f).map((s) => s.id)]));
    expect(Object.values(byFamily).flat().sort()).toEqual(SCENARIOS.map((s) => s.id).sort());
    expect(byFamily['runner-sigkill']).toEqual(['kill-kill-permissioncheck', 'kill-kill-plan', 'kill-kill-cordon', 'kill-kill-scaleup', 'kill-kill-budgetwait', 'kill-kill-betweennodes']);
    expect(byFamily['runner-sigterm']).toHaveLength(6);
    expect(byFamily['nodes-pdbs']).toEqual(['nodedies', 'nodereturns', 'pdbdeleted', 'pdbselector', 'pdbtightened', 'twodrains']);
    expect(byFamily.api).toEqual(['baseline', 'throttled', 'apirestart', 'watchcut', 'etcdpause', 'slow']);
  });
});

import { describe, expect, it } from '@jest/globals';
import { nextToStart } from '../../src/engine/execute/select-work.js';
import { EvictionSlots } from '../../src/engine/execute/slots.js';
import type { PodPlan } from '../../src/engine/types.js';

describe('EvictionSlots (max-concurrent-evictions across the run)', () => {
  it('gives out at most `limit` slots, whoever asks, and wakes the waiting loops when one is given back', () => {
    const slots = new EvictionSlots(2);
    const woken: string[] = [];
    const stopA = slots.onFree(() => woken.push('node-a'));
    slots.onFree(() => woken.push('node-b'));
    expect(slots.take('ns/pdb-1')).toBe(true); // node a
    expect(slots.take('ns/pdb-1')).toBe(true); // node b, same budget
    expect(slots.take('ns/pdb-2')).toBe(false);
    expect(slots.inFlight).toBe(2);
    expect(slots.inFlightUnder('ns/pdb-1')).toBe(2);
    slots.give('ns/pdb-1');
    expect(woken).toEqual(['node-a', 'node-b']);
    expect(slots.inFlightUnder('ns/pdb-1')).toBe(1);
    expect(slots.take()).toBe(true);
    stopA();
    slots.give();
    expect(woken).toEqual(['node-a', 'node-b', 'node-b']);
    expect(slots.inFlightUnder(undefined)).toBe(0);
  });
});

describe('nextToStart (which pod gets the next run-wide slot)', () => {
  const pod = (name: string, pdb?: string): PodPlan => ({ namespace: 'ns', name, uid: name, podClass: 'movable', action: 'evict', reason: '', priority: 0, pdbs: pdb ? [pdb] : [] });

  it('prefers a pod whose budget allows a disruption now, then the budget with the fewest evictions of the run in flight', () => {
    const slots = new EvictionSlots(10);
    slots.take('ns/a'); // one of a's pods is already being evicted (on some node)
    const allowed = (pdb: string) => ({ 'ns/a': 1, 'ns/b': 0, 'ns/c': 1 })[pdb];
    const candidates = [pod('a-2', 'ns/a'), pod('b-1', 'ns/b'), pod('c-1', 'ns/c')];
    // a: 1 allowed - 1 in flight = no room; b: none allowed; c: room.
    expect(nextToStart(candidates, (p) => slots.inFlightUnder(p), allowed)).toBe(2);
    // Without room anywhere: the budget with fewer in flight (b: 0) before a (1).
    expect(nextToStart(candidates.slice(0, 2), (p) => slots.inFlightUnder(p), allowed)).toBe(1);
    // A pod without a PDB, or whose PDB is not cached, is not held back.
    expect(nextToStart([pod('a-3', 'ns/a'), pod('free')], (p) => slots.inFlightUnder(p), allowed)).toBe(1);
    expect(nextToStart([pod('a-3', 'ns/a'), pod('x', 'ns/unknown')], (p) => slots.inFlightUnder(p), allowed)).toBe(1);
  });
});

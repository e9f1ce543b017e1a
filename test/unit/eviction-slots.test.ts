import { describe, expect, it } from '@jest/globals';
import { EvictionSlots } from '../../src/engine/execute/semaphore.js';

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

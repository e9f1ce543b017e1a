import { describe, expect, it } from '@jest/globals';
import { cancelOnSignals } from '../../src/engine/cancel.js';

describe('cancelOnSignals', () => {
  it('aborts on the first signal, reports every signal, and stops listening when disposed', () => {
    const before = process.listenerCount('SIGINT');
    const seen: [string, boolean][] = [];
    const c = cancelOnSignals((name, already) => seen.push([name, already]));
    expect(c.signal.aborted).toBe(false);
    process.emit('SIGTERM', 'SIGTERM');
    expect(c.signal.aborted).toBe(true);
    expect((c.signal.reason as Error).message).toBe('cancelled (SIGTERM)');
    process.emit('SIGINT', 'SIGINT');
    expect(seen).toEqual([
      ['SIGTERM', false],
      ['SIGINT', true],
    ]);
    c.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });
});

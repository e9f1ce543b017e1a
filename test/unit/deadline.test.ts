// drainDeadline counts `timeout` from when the bounded time began (the run's start for the first
// node: checks, lock and plan included), not from when the deadline object is made.
import { describe, expect, it } from '@jest/globals';
import { drainDeadline } from '../../src/engine/execute/deadline.js';

describe('drainDeadline', () => {
  it('a deadline whose time is already spent is aborted at once, with the timeout as reason', () => {
    const d = drainDeadline(new AbortController().signal, 15_000, Date.now() - 20_000);
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('timeout of 15s expired');
    d.dispose();
  });

  it('time left: not aborted yet; no timeout (0): never by time', () => {
    const left = drainDeadline(new AbortController().signal, 15_000, Date.now() - 5_000);
    const none = drainDeadline(new AbortController().signal, 0, Date.now() - 5_000_000);
    expect([left.signal.aborted, none.signal.aborted]).toEqual([false, false]);
    left.dispose();
    none.dispose();
  });
});

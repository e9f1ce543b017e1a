import { describe, expect, it } from '@jest/globals';
import { WaitAborted } from '../../src/engine/errors.js';
import { Wakeup, deadlineSignal, sleep, waitFor, waitWithin } from '../../src/engine/wait.js';
import { FakeClock, flush } from './fixtures/fake-clock.js';

/** A tiny observable value: what a watch is to a wait. */
function observable<T>(value: T) {
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    set(v: T) {
      value = v;
      for (const l of [...listeners]) l();
    },
    subscribe(l: () => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    get listeners() {
      return listeners.size;
    },
  };
}

describe('waitFor', () => {
  it('ends when a change makes the condition true, and unsubscribes', async () => {
    const clock = new FakeClock();
    const v = observable(0);
    const waiting = waitFor({ check: () => (v.get() >= 2 ? v.get() : undefined), subscribe: v.subscribe, signal: new AbortController().signal, clock });
    v.set(1);
    await flush();
    expect(v.listeners).toBe(1);
    v.set(2);
    await expect(waiting).resolves.toBe(2);
    expect(v.listeners).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('ends with WaitAborted naming the reason when the signal fires, and leaves no timer', async () => {
    const clock = new FakeClock();
    const stop = new AbortController();
    const waiting = waitFor({ check: () => undefined, signal: stop.signal, clock, recheckAt: () => clock.now() + 60_000 });
    stop.abort(new Error('timeout of 30s expired'));
    await expect(waiting).rejects.toEqual(new WaitAborted('timeout of 30s expired'));
    expect(clock.pending).toBe(0);
  });

  it('looks again at recheckAt without any change (a deadline inside the condition)', async () => {
    const clock = new FakeClock();
    const end = clock.now() + 5_000;
    let ended: string | undefined;
    void waitFor({ check: () => (clock.now() >= end ? 'late' : undefined), recheckAt: () => end, signal: new AbortController().signal, clock }).then((v) => (ended = v));
    await clock.advance(4_999);
    expect(ended).toBeUndefined();
    await clock.advance(1);
    expect(ended).toBe('late');
  });

  it('rejects with what the condition throws', async () => {
    const clock = new FakeClock();
    await expect(waitFor({ check: () => { throw new Error('deleted while waited for'); }, signal: new AbortController().signal, clock })).rejects.toThrow('deleted while waited for');
  });
});

describe('waitWithin, sleep, deadlineSignal', () => {
  it('waitWithin: met when the condition turns true, timed-out at the bound', async () => {
    const clock = new FakeClock();
    const v = observable(false);
    const met = waitWithin(v.get, 10_000, { subscribe: v.subscribe, signal: new AbortController().signal, clock });
    await clock.advance(3_000);
    v.set(true);
    await expect(met).resolves.toBe('met');
    const late = waitWithin(() => false, 10_000, { signal: new AbortController().signal, clock });
    await clock.advance(10_000);
    await expect(late).resolves.toBe('timed-out');
  });

  it('sleep ends at its time, or early on abort', async () => {
    const clock = new FakeClock();
    let slept = false;
    void sleep(2_000, new AbortController().signal, clock).then(() => (slept = true));
    await clock.advance(1_999);
    expect(slept).toBe(false);
    await clock.advance(1);
    expect(slept).toBe(true);
    const stop = new AbortController();
    const cut = sleep(2_000, stop.signal, clock);
    stop.abort(new Error('cancelled (SIGTERM)'));
    await expect(cut).rejects.toBeInstanceOf(WaitAborted);
  });

  it('deadlineSignal aborts at its time with its reason, or with the parent\'s', async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const d = deadlineSignal(parent.signal, 30_000, clock, () => new Error('timeout of 30s expired'));
    await clock.advance(29_999);
    expect(d.signal.aborted).toBe(false);
    await clock.advance(1);
    expect((d.signal.reason as Error).message).toBe('timeout of 30s expired');
    const e = deadlineSignal(parent.signal, undefined, clock, () => new Error('never'));
    parent.abort(new Error('cancelled (SIGINT)'));
    expect((e.signal.reason as Error).message).toBe('cancelled (SIGINT)');
    expect(deadlineSignal(new AbortController().signal, 0, clock, () => new Error('already past')).signal.aborted).toBe(true);
  });

  it('Wakeup keeps one notification made before the wait', async () => {
    const wake = new Wakeup();
    wake.notify();
    await expect(wake.next(new AbortController().signal)).resolves.toBeUndefined();
    let woke = false;
    void wake.next(new AbortController().signal).then(() => (woke = true));
    await flush();
    expect(woke).toBe(false);
    wake.notify();
    await flush();
    expect(woke).toBe(true);
  });
});

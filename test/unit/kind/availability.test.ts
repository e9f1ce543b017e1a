import { describe, expect, it } from '@jest/globals';
import type { AvailabilitySample } from '../../../e2e/backend.js';
import {
  availabilityTransitions,
  describeFailedSamples,
  downtimeFromSamples,
  formatTimeline,
  mergeTimelines,
  samplesWithin,
  sortSamples,
} from '../../../e2e/availability.js';

const T0 = 1_700_000_000_000;
/** 'o' ok, 'x' fail, one sample every `step` ms from T0. */
function series(pattern: string, step = 100): AvailabilitySample[] {
  return [...pattern].map((c, i) => ({ at: T0 + i * step, available: c === 'o', ...(c === 'x' ? { detail: `err${i}` } : {}) }));
}

describe('downtimeFromSamples', () => {
  it('no samples: no downtime, nothing observed', () => {
    expect(downtimeFromSamples([])).toEqual({ totalSeconds: 0, intervals: [], samples: 0, okSamples: 0, failedSamples: 0, observedSeconds: 0, maxGapMs: 0 });
  });

  it('all ok: zero downtime', () => {
    const d = downtimeFromSamples(series('oooooo'));
    expect(d.totalSeconds).toBe(0);
    expect(d.intervals).toEqual([]);
    expect(d.observedSeconds).toBe(0.5);
    expect(d.okSamples).toBe(6);
  });

  it('counts from the first failing sample to the next ok sample', () => {
    // fails at 200, 300, 400; ok again at 500 → 300 ms down
    const d = downtimeFromSamples(series('ooxxxoo'));
    expect(d.intervals).toEqual([{ from: T0 + 200, to: T0 + 500, seconds: 0.3, failedSamples: 3, open: false, firstDetail: 'err2' }]);
    expect(d.totalSeconds).toBe(0.3);
    expect(d.failedSamples).toBe(3);
  });

  it('a single failing sample still costs the span to the next ok sample', () => {
    expect(downtimeFromSamples(series('oxo', 150)).totalSeconds).toBe(0.15);
  });

  it('several outages add up; an outage still running at the end is open up to the last sample', () => {
    const d = downtimeFromSamples(series('xxooxoooxxx'));
    expect(d.intervals.map((i) => [i.from - T0, i.to - T0, i.open])).toEqual([
      [0, 200, false],
      [400, 500, false],
      [800, 1000, true],
    ]);
    expect(d.totalSeconds).toBe(0.5);
  });

  it('all failing: one open interval across the whole observation', () => {
    const d = downtimeFromSamples(series('xxxxx', 1000));
    expect(d.intervals).toHaveLength(1);
    expect(d.intervals[0]).toMatchObject({ open: true, seconds: 4, failedSamples: 5 });
  });

  it('sorts unsorted input and reports the largest gap between samples', () => {
    const s = series('ooxxoo');
    const shuffled = [s[3]!, s[0]!, s[5]!, s[1]!, s[4]!, s[2]!];
    shuffled.push({ at: T0 + 3000, available: true });
    const d = downtimeFromSamples(shuffled);
    expect(d.totalSeconds).toBe(0.2);
    expect(d.maxGapMs).toBe(2500);
    expect(d.firstAt).toBe(T0);
    expect(d.lastAt).toBe(T0 + 3000);
  });

  it('real-shaped timeline: 300 s toleration path measured to the ms', () => {
    const samples: AvailabilitySample[] = [];
    for (let t = 0; t <= 400_000; t += 150) samples.push({ at: T0 + t, available: t < 52_050 || t >= 318_000 });
    const d = downtimeFromSamples(samples);
    expect(d.intervals).toHaveLength(1);
    expect(d.intervals[0]!.from).toBe(T0 + 52_050);
    expect(d.intervals[0]!.to).toBe(T0 + 318_000);
    expect(d.totalSeconds).toBe(265.95);
  });
});

describe('timelines', () => {
  it('availabilityTransitions keeps the first sample, every flip, and the last sample', () => {
    const ev = availabilityTransitions(series('ooxxxooo'));
    expect(ev.map((e) => [e.at - T0, e.message])).toEqual([
      [0, 'available'],
      [200, 'UNAVAILABLE (err2)'],
      [500, 'available again'],
      [700, 'last sample: available'],
    ]);
    expect(ev.every((e) => e.source === 'probe')).toBe(true);
    expect(availabilityTransitions([])).toEqual([]);
    expect(availabilityTransitions(series('x'))).toEqual([{ at: T0, source: 'probe', message: 'UNAVAILABLE (err0)' }]);
  });

  it('mergeTimelines orders by time and keeps argument order for ties', () => {
    const engine = [
      { at: T0 + 100, source: 'engine', message: 'cordon' },
      { at: T0 + 300, source: 'engine', message: 'evict' },
    ];
    const probe = [
      { at: T0, source: 'probe', message: 'available' },
      { at: T0 + 300, source: 'probe', message: 'UNAVAILABLE' },
    ];
    expect(mergeTimelines(engine, probe).map((e) => e.message)).toEqual(['available', 'cordon', 'evict', 'UNAVAILABLE']);
    expect(mergeTimelines(probe, engine).map((e) => e.message)).toEqual(['available', 'cordon', 'UNAVAILABLE', 'evict']);
    expect(mergeTimelines()).toEqual([]);
  });

  it('formatTimeline prints times relative to the first event (or t0)', () => {
    const lines = formatTimeline([
      { at: T0 + 1_500, source: 'probe', message: 'available' },
      { at: T0 + 62_250, source: 'engine', message: 'evicted default/hello' },
    ]);
    expect(lines).toEqual(['+   0.000 s  [probe ] available', '+  60.750 s  [engine] evicted default/hello']);
    expect(formatTimeline([{ at: T0, source: 'a', message: 'm' }], T0 + 1000)).toEqual(['  -1.000 s  [a] m']);
  });

  it('sortSamples is stable', () => {
    const a = { at: 1, available: true, detail: 'a' };
    const b = { at: 1, available: false, detail: 'b' };
    expect(sortSamples([b, a]).map((s) => s.detail)).toEqual(['b', 'a']);
  });
});

describe('the drain window (scenario c judges only it)', () => {
  it('a failure before the drain starts is outside the window: no downtime in it', () => {
    // Probe warming up: fails at T0+0..200, drain starts at T0+500, all ok after.
    const samples = series('xxxoooooooooo');
    const window = { from: T0 + 500, to: T0 + 1200 };
    const inWindow = samplesWithin(samples, window);
    expect(inWindow.map((s) => s.at - T0)).toEqual([500, 600, 700, 800, 900, 1000, 1100, 1200]);
    expect(downtimeFromSamples(inWindow).totalSeconds).toBe(0);
    expect(downtimeFromSamples(samples).totalSeconds).toBeGreaterThan(0);
  });

  it('includes both ends and ignores samples after the window', () => {
    const samples = series('oooox');
    expect(samplesWithin(samples, { from: T0 + 100, to: T0 + 300 }).map((s) => s.at - T0)).toEqual([100, 200, 300]);
  });

  it('reports each failed sample with its time from the drain start, its clock time and its detail', () => {
    const samples = [
      { at: T0 + 2_345, available: false, detail: 'timeout after 1s' },
      { at: T0 + 1_000, available: true },
      { at: T0 + 12_000, available: false, detail: 'Connection refused' },
    ];
    expect(describeFailedSamples(samples, T0 + 1_000)).toEqual([
      `+1.345 s (${new Date(T0 + 2_345).toISOString().slice(11)}) timeout after 1s`,
      `+11.000 s (${new Date(T0 + 12_000).toISOString().slice(11)}) Connection refused`,
    ]);
    expect(describeFailedSamples(series('oooo'), T0)).toEqual([]);
  });

  it('lists at most `limit` failed samples and counts the rest', () => {
    const lines = describeFailedSamples(series('xxxxx'), T0, 2);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('… and 3 more failed samples');
  });
});

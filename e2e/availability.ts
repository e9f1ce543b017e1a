// Availability arithmetic shared by both backends' reports: downtime from probe samples, and
// one merged, time-ordered timeline of samples (as transitions) and scenario events.
// Pure: no I/O, no clock.
import type { AvailabilitySample } from './backend.js';

export interface DowntimeInterval {
  /** Epoch ms of the failing sample that opened the interval. */
  from: number;
  /** Epoch ms of the next ok sample, or of the last sample if none came (`open`). */
  to: number;
  seconds: number;
  /** Failing samples inside the interval. */
  failedSamples: number;
  /** No ok sample came after it: the service was still down when probing stopped. */
  open: boolean;
  /** Detail of the first failing sample (e.g. "connection refused"). */
  firstDetail?: string;
}

export interface Downtime {
  /** Sum of the intervals, in seconds (ms precision). */
  totalSeconds: number;
  intervals: DowntimeInterval[];
  samples: number;
  okSamples: number;
  failedSamples: number;
  /** Epoch ms of the first / last sample; undefined without samples. */
  firstAt?: number;
  lastAt?: number;
  /** Seconds between first and last sample. */
  observedSeconds: number;
  /** Longest time between two consecutive samples, in ms: a probe that stalled hides outages. */
  maxGapMs: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Stable sort by `at` (equal timestamps keep their input order). */
export function sortSamples(samples: readonly AvailabilitySample[]): AvailabilitySample[] {
  return samples
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.at - b.s.at || a.i - b.i)
    .map(({ s }) => s);
}

/**
 * Downtime from availability samples. An interval opens at a failing sample (the first failing
 * one after an ok sample, or the first sample if the probe starts failing) and closes at the next
 * ok sample; the span between them counts as down. Failing samples with no ok sample after them
 * form an `open` interval up to the last sample. Samples need not be sorted.
 */
export function downtimeFromSamples(samples: readonly AvailabilitySample[]): Downtime {
  const sorted = sortSamples(samples);
  const intervals: DowntimeInterval[] = [];
  let open: { from: number; failed: number; detail?: string } | undefined;
  let okSamples = 0;
  let maxGapMs = 0;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i]!;
    if (i > 0) maxGapMs = Math.max(maxGapMs, s.at - sorted[i - 1]!.at);
    if (s.available) {
      okSamples++;
      if (open) {
        intervals.push(closeInterval(open, s.at, false));
        open = undefined;
      }
    } else if (open) {
      open.failed++;
    } else {
      open = { from: s.at, failed: 1, ...(s.detail !== undefined ? { detail: s.detail } : {}) };
    }
  }
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (open && last) intervals.push(closeInterval(open, last.at, true));
  const totalMs = intervals.reduce((sum, iv) => sum + (iv.to - iv.from), 0);
  return {
    totalSeconds: round3(totalMs / 1000),
    intervals,
    samples: sorted.length,
    okSamples,
    failedSamples: sorted.length - okSamples,
    ...(first ? { firstAt: first.at } : {}),
    ...(last ? { lastAt: last.at } : {}),
    observedSeconds: first && last ? round3((last.at - first.at) / 1000) : 0,
    maxGapMs,
  };
}

function closeInterval(open: { from: number; failed: number; detail?: string }, to: number, isOpen: boolean): DowntimeInterval {
  return {
    from: open.from,
    to,
    seconds: round3((to - open.from) / 1000),
    failedSamples: open.failed,
    open: isOpen,
    ...(open.detail !== undefined ? { firstDetail: open.detail } : {}),
  };
}

/** One line of a scenario's timeline. */
export interface TimelineEvent {
  /** Epoch ms. */
  at: number;
  /** Who saw it: "probe", "engine", "kubelet", "cluster"… */
  source: string;
  message: string;
}

/**
 * The probe's samples as timeline events: the first sample, every change between available and
 * unavailable, and the last sample, so a 6-per-second probe reads as a handful of lines.
 */
export function availabilityTransitions(samples: readonly AvailabilitySample[], source = 'probe'): TimelineEvent[] {
  const sorted = sortSamples(samples);
  const out: TimelineEvent[] = [];
  const describe = (s: AvailabilitySample, what: string): string =>
    `${what}${s.detail !== undefined && s.detail !== '' ? ` (${s.detail})` : ''}`;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i]!;
    const prev = sorted[i - 1];
    if (!prev) out.push({ at: s.at, source, message: describe(s, s.available ? 'available' : 'UNAVAILABLE') });
    else if (prev.available !== s.available) out.push({ at: s.at, source, message: describe(s, s.available ? 'available again' : 'UNAVAILABLE') });
  }
  const last = sorted[sorted.length - 1];
  if (last && sorted.length > 1 && out[out.length - 1]?.at !== last.at) {
    out.push({ at: last.at, source, message: `last sample: ${last.available ? 'available' : 'UNAVAILABLE'}` });
  }
  return out;
}

/** Merges timelines into one, ordered by time; equal times keep the order of the arguments. */
export function mergeTimelines(...timelines: ReadonlyArray<readonly TimelineEvent[]>): TimelineEvent[] {
  const tagged = timelines.flatMap((events, t) => events.map((e, i) => ({ e, t, i })));
  tagged.sort((a, b) => a.e.at - b.e.at || a.t - b.t || a.i - b.i);
  return tagged.map(({ e }) => e);
}

/** Renders a timeline as text lines `+SSS.mmm s  [source] message`, relative to `t0` (default: first event). */
export function formatTimeline(events: readonly TimelineEvent[], t0?: number): string[] {
  const origin = t0 ?? events[0]?.at ?? 0;
  const width = Math.max(0, ...events.map((e) => e.source.length));
  return events.map((e) => {
    const rel = ((e.at - origin) / 1000).toFixed(3);
    const sign = e.at >= origin ? '+' : '';
    return `${sign}${rel.padStart(8)} s  [${e.source.padEnd(width)}] ${e.message}`;
  });
}

/** A span of time a scenario's verdict is about (epoch ms, both ends included). */
export interface SampleWindow {
  from: number;
  to: number;
}

/** The samples taken inside the window, in time order. */
export function samplesWithin(samples: readonly AvailabilitySample[], window: SampleWindow): AvailabilitySample[] {
  return sortSamples(samples).filter((s) => s.at >= window.from && s.at <= window.to);
}

/**
 * The failed samples, one per entry, as `+SS.mmm s (HH:MM:SS.mmmZ) detail` relative to `t0`, so a
 * failing check says when each failure happened and what it was; at most `limit`, then a count
 * of the rest.
 */
export function describeFailedSamples(samples: readonly AvailabilitySample[], t0: number, limit = 20): string[] {
  const failed = sortSamples(samples).filter((s) => !s.available);
  const lines = failed.slice(0, limit).map((s) => {
    const rel = ((s.at - t0) / 1000).toFixed(3);
    const clock = new Date(s.at).toISOString().slice(11);
    return `${s.at >= t0 ? '+' : ''}${rel} s (${clock})${s.detail !== undefined && s.detail !== '' ? ` ${s.detail}` : ''}`;
  });
  if (failed.length > limit) lines.push(`… and ${failed.length - limit} more failed samples`);
  return lines;
}

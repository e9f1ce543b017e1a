// How long an outage the plan cannot avoid is expected to last: the pod's own last start, from
// its status timestamps (status.startTime to the Ready condition's lastTransitionTime, or to its
// containers' startedAt when Ready has no time on record). Its replacement starts the same way,
// so its last start is the best evidence there is before the drain. Pure.
import type { V1Pod } from '@kubernetes/client-node';
import type { ExpectedDowntime } from '../types.js';
import { podKey } from './pod.js';

/** A status timestamp in epoch ms (a Date from typed calls, a string from JSON). */
function epochMs(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** The pod's last start-to-Ready, ms, and which timestamps gave it; undefined when its status has none. */
export function lastStartToReady(pod: V1Pod): { ms: number; via: string } | undefined {
  const started = epochMs(pod.status?.startTime);
  if (started === undefined) return undefined;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const readyAt = epochMs(ready?.lastTransitionTime);
  if (readyAt !== undefined && readyAt >= started) return { ms: readyAt - started, via: 'status.startTime to its Ready condition' };
  const running = (pod.status?.containerStatuses ?? []).map((c) => epochMs(c.state?.running?.startedAt)).filter((t): t is number => t !== undefined && t >= started);
  if (running.length > 0) return { ms: Math.max(...running) - started, via: 'status.startTime to its containers\' startedAt (no Ready time on record)' };
  return undefined;
}

/** Seconds with at most one decimal, as the plan's messages print them. */
function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/**
 * The outage expected when `pods` (one workload's) leave with nothing ready elsewhere: the
 * slowest of their last starts (a replacement is Ready no sooner than its predecessor was).
 */
export function expectedDowntime(pods: V1Pod[]): ExpectedDowntime {
  const starts = pods.map((pod) => ({ pod: podKey(pod), start: lastStartToReady(pod) }));
  const known = starts.filter((s): s is { pod: string; start: { ms: number; via: string } } => s.start !== undefined);
  if (known.length === 0) {
    return { basis: `no start-to-Ready on record for ${starts.map((s) => s.pod).join(', ')} (status.startTime and Ready time missing)` };
  }
  const slowest = known.reduce((a, b) => (b.start.ms > a.start.ms ? b : a));
  return {
    estimateMs: slowest.start.ms,
    basis: `pod ${slowest.pod} took ${seconds(slowest.start.ms)} from start to Ready last time (${slowest.start.via}); its replacement is expected to take as long, plus its termination and scheduling`,
  };
}

/** "estimated downtime about 12.3s: pod a/b took 12.3s ...", for a blocker's message. */
export function describeExpectedDowntime(d: ExpectedDowntime): string {
  return d.estimateMs !== undefined ? `estimated downtime about ${seconds(d.estimateMs)}: ${d.basis}` : `the downtime cannot be estimated: ${d.basis}`;
}

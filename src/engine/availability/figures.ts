// The availability gate's arithmetic, as plain functions over plain data: which endpoints of an
// EndpointSlice count as ready, which Services `auto` picks, a ready-count series turned into
// downtime figures, probe samples into latency figures, and the gate's verdict on each.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { DrainPlan, PodPlan } from '../types.js';
import type { AvailabilityOptions, AvailabilitySelection, ProbeAvailability, ReadyPoint } from './types.js';

/** The label the EndpointSlice controller puts on every slice it manages for a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** `namespace/name` of the Service a slice belongs to, or undefined for a slice of no Service. */
export function serviceOfSlice(slice: V1EndpointSlice): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  const namespace = slice.metadata?.namespace;
  return name && namespace ? `${namespace}/${name}` : undefined;
}

export interface ReadyEndpoint {
  /** What identifies the endpoint across slices: its pod when it names one, else its first address. */
  key: string;
  nodeName?: string;
  /** `namespace/name` of the pod behind it, when the slice names one. */
  pod?: string;
}

/**
 * The ready endpoints of one Service across all its slices. `conditions.ready` unset means
 * ready (the API's own rule). An endpoint can sit in two slices while the controller moves it,
 * and a dual-stack pod has one endpoint per address family: both are one endpoint, keyed by pod.
 */
export function readyEndpoints(slices: V1EndpointSlice[]): ReadyEndpoint[] {
  return endpointsWhere(slices, (c) => c?.ready !== false);
}

/**
 * The endpoints traffic goes to, as kube-proxy picks them: the ready ones; when there are none,
 * the terminating ones still serving (`serving: true`, ProxyTerminatingEndpoints, GA 1.28), which
 * a pod finishing its requests after SIGTERM is. A Service is down when this is empty.
 */
export function servingEndpoints(slices: V1EndpointSlice[]): ReadyEndpoint[] {
  const ready = readyEndpoints(slices);
  return ready.length > 0 ? ready : endpointsWhere(slices, (c) => c?.serving === true && c.terminating === true);
}

type EndpointConditions = NonNullable<V1EndpointSlice['endpoints']>[number]['conditions'];

/** The endpoints whose conditions pass `keep`, one per pod (or per address without a pod). */
function endpointsWhere(slices: V1EndpointSlice[], keep: (conditions: EndpointConditions) => boolean): ReadyEndpoint[] {
  const byKey = new Map<string, ReadyEndpoint>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      if (!keep(endpoint.conditions)) continue;
      const ref = endpoint.targetRef;
      const pod = ref?.kind === 'Pod' && ref.name ? `${ref.namespace ?? slice.metadata?.namespace}/${ref.name}` : undefined;
      const key = pod ?? endpoint.addresses[0];
      if (key === undefined || byKey.has(key)) continue;
      byKey.set(key, { key, ...(endpoint.nodeName && { nodeName: endpoint.nodeName }), ...(pod && { pod }) });
    }
  }
  return [...byKey.values()];
}

/**
 * Of `pods` (namespace/name), those the slices still list as an endpoint, in any condition:
 * pods a drain removed that the EndpointSlice controller has not yet taken out.
 */
export function podsStillListed(slices: V1EndpointSlice[], pods: ReadonlySet<string>): string[] {
  const listed = new Set<string>();
  for (const slice of slices) {
    for (const endpoint of slice.endpoints ?? []) {
      const ref = endpoint.targetRef;
      const pod = ref?.kind === 'Pod' && ref.name ? `${ref.namespace ?? slice.metadata?.namespace}/${ref.name}` : undefined;
      if (pod !== undefined && pods.has(pod)) listed.add(pod);
    }
  }
  return [...listed].sort();
}

/** Services (sorted) with at least one ready endpoint on one of `nodes`: what `auto` watches. */
export function servicesWithReadyEndpointOn(slices: V1EndpointSlice[], nodes: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  for (const [service, own] of groupByService(slices)) {
    if (readyEndpoints(own).some((e) => e.nodeName !== undefined && nodes.has(e.nodeName))) found.add(service);
  }
  return [...found].sort();
}

export function groupByService(slices: V1EndpointSlice[]): Map<string, V1EndpointSlice[]> {
  const groups = new Map<string, V1EndpointSlice[]>();
  for (const slice of slices) {
    const service = serviceOfSlice(slice);
    if (service) groups.set(service, [...(groups.get(service) ?? []), slice]);
  }
  return groups;
}

// --- what the plan expects --------------------------------------------------------------------

/**
 * Pods (`namespace/name`) the plan evicts without a replacement being up first, from workloads it
 * found would be left with no ready replica (the zero-ready / unavoidable-downtime findings).
 */
export function podsLeftWithoutReplacement(plan: DrainPlan): string[] {
  return [...estimatedOutages(plan).keys()];
}

/** podsLeftWithoutReplacement, each with the plan's estimate of its outage (ms; undefined: none). */
export function estimatedOutages(plan: DrainPlan): Map<string, number | undefined> {
  const keyOf = (p: PodPlan) => `${p.namespace}/${p.name}`;
  const workloadOf = (p: PodPlan) => (p.workload ? `${p.workload.kind}/${p.workload.namespace}/${p.workload.name}` : `pod/${keyOf(p)}`);
  const byKey = new Map(plan.pods.map((p) => [keyOf(p), p]));
  const emptied = new Map<string, number | undefined>();
  for (const b of plan.blockers) {
    if (b.kind !== 'zero-ready' && b.kind !== 'unavoidable-downtime') continue;
    const pod = byKey.get(b.pod);
    if (pod) emptied.set(workloadOf(pod), b.expectedDowntime?.estimateMs);
  }
  // 'migrate': an HPA-managed Deployment that cannot roll is migrated by a plain eviction.
  const left = plan.pods.filter((p) => (p.action === 'evict' || p.action === 'wait' || p.action === 'migrate') && emptied.has(workloadOf(p)));
  return new Map(left.map((p) => [keyOf(p), emptied.get(workloadOf(p))]));
}

/** A Service is expected to reach zero when every ready endpoint it has is a pod the drain takes away unreplaced. */
export function expectsZero(endpoints: ReadyEndpoint[], lostPods: ReadonlySet<string>): boolean {
  return endpoints.length > 0 && endpoints.every((e) => e.pod !== undefined && lostPods.has(e.pod));
}

// --- series -> figures ----------------------------------------------------------------------------

export interface SeriesFigures {
  minReady: number;
  minReadyAt: number;
  downtimeMs: number;
  longestOutageMs: number;
  /** The counts at `endAt`. */
  lastReady: number;
  lastServing: number;
}

/**
 * Figures of a ready-count series (points in time order, ms since the run started) observed
 * until `endAt`: minReady from the ready count, downtime from the serving count (no endpoint
 * carrying traffic). An outage still going on at `endAt` counts until `endAt`.
 */
export function seriesFigures(series: ReadyPoint[], endAt: number): SeriesFigures {
  if (series.length === 0) return { minReady: 0, minReadyAt: 0, downtimeMs: 0, longestOutageMs: 0, lastReady: 0, lastServing: 0 };
  let minReady = Infinity;
  let minReadyAt = 0;
  let downtimeMs = 0;
  let longestOutageMs = 0;
  let outageStart: number | undefined;
  for (const [i, point] of series.entries()) {
    if (point.ready < minReady) {
      minReady = point.ready;
      minReadyAt = point.at;
    }
    const until = Math.max(point.at, series[i + 1]?.at ?? endAt);
    if ((point.serving ?? point.ready) === 0) {
      downtimeMs += until - point.at;
      outageStart ??= point.at;
      longestOutageMs = Math.max(longestOutageMs, until - outageStart);
    } else {
      outageStart = undefined;
    }
  }
  const last = series[series.length - 1]!;
  return { minReady, minReadyAt, downtimeMs, longestOutageMs, lastReady: last.ready, lastServing: last.serving ?? last.ready };
}

/** Appends a point only when a count changed (a slice update that moves nothing is no news). */
export function recordPoint(series: ReadyPoint[], at: number, ready: number, serving = ready): boolean {
  const last = series[series.length - 1];
  if (last && last.ready === ready && (last.serving ?? last.ready) === serving) return false;
  series.push({ at: Math.max(at, last?.at ?? 0), ready, ...(serving !== ready && { serving }) });
  return true;
}

/** The point for one Service's slices now: ready endpoints, and those carrying traffic. */
export function countsOf(slices: V1EndpointSlice[]): { ready: number; serving: number } {
  return { ready: readyEndpoints(slices).length, serving: servingEndpoints(slices).length };
}

// --- the gate ---------------------------------------------------------------------------------

export type Gate = Pick<AvailabilityOptions, 'maxDowntimeMs' | 'minReadyRatio'>;

/** Why a Service broke the gate, or undefined when it kept within it (or there is no gate). */
export function serviceFailure(service: string, initialReady: number, f: Pick<SeriesFigures, 'downtimeMs' | 'minReady' | 'minReadyAt'>, gate: Gate): string | undefined {
  const reasons: string[] = [];
  if (gate.maxDowntimeMs !== undefined && f.downtimeMs > gate.maxDowntimeMs) {
    reasons.push(`down ${seconds(f.downtimeMs)} s (max-downtime ${durationText(gate.maxDowntimeMs)})`);
  }
  if (gate.minReadyRatio !== undefined && initialReady > 0 && f.minReady < gate.minReadyRatio * initialReady) {
    reasons.push(
      `${f.minReady} of ${initialReady} ready endpoints at +${seconds(f.minReadyAt)} s, below min-ready-ratio ${gate.minReadyRatio} (needs at least ${Math.ceil(gate.minReadyRatio * initialReady)})`,
    );
  }
  if (reasons.length === 0) return undefined;
  // Every failure names the Service's downtime, also when the ratio is what broke.
  if (gate.maxDowntimeMs === undefined || f.downtimeMs <= gate.maxDowntimeMs) reasons.push(`down ${seconds(f.downtimeMs)} s`);
  return `${service}: ${reasons.join('; ')}`;
}

/** Before any change: a Service the plan expects to take to zero breaks a zero-downtime gate or any ratio. */
export function expectedZeroFailure(service: string, gate: Gate): string | undefined {
  const limits = [
    ...(gate.maxDowntimeMs === 0 ? ['max-downtime 0s'] : []),
    ...(gate.minReadyRatio !== undefined ? [`min-ready-ratio ${gate.minReadyRatio}`] : []),
  ];
  if (limits.length === 0) return undefined;
  return `${service}: the drain is expected to take it to zero ready endpoints (${limits.join(', ')}); set migration: surge or add replicas on other nodes`;
}

// --- probes ------------------------------------------------------------------------------------

export interface ProbeSample {
  /** ms since the run started, when the request was sent. */
  at: number;
  ok: boolean;
  latencyMs: number;
  /** HTTP status, or the error for a request that got no answer. */
  detail: string;
}

/** Nearest-rank percentile of `values` (p in 0..100); 0 for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/**
 * A failure window runs from the first failed request to the next request that succeeded (or
 * `endAt`): the time during which a client would have seen errors.
 */
export function probeFigures(url: string, samples: ProbeSample[], endAt: number, gate: Gate): ProbeAvailability {
  let longest = 0;
  let windowStart: number | undefined;
  for (const s of samples) {
    if (!s.ok) windowStart ??= s.at;
    else if (windowStart !== undefined) {
      longest = Math.max(longest, s.at - windowStart);
      windowStart = undefined;
    }
  }
  if (windowStart !== undefined) longest = Math.max(longest, Math.max(endAt, windowStart) - windowStart);
  const failures = samples.filter((s) => !s.ok).length;
  const latencies = samples.filter((s) => s.ok).map((s) => s.latencyMs);
  const failure = probeFailure(url, failures, longest, gate);
  return {
    url,
    requests: samples.length,
    failures,
    longestFailureSeconds: round3(longest / 1000),
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    passed: failure === undefined,
    ...(failure !== undefined && { failure }),
  };
}

/** max-downtime applies to a URL's longest failure window; at 0s any failed request breaks it. */
export function probeFailure(url: string, failures: number, longestFailureMs: number, gate: Gate): string | undefined {
  if (gate.maxDowntimeMs === undefined || failures === 0) return undefined;
  if (gate.maxDowntimeMs > 0 && longestFailureMs <= gate.maxDowntimeMs) return undefined;
  return `${url}: ${failures} failed request(s), failing for ${seconds(longestFailureMs)} s at most (max-downtime ${durationText(gate.maxDowntimeMs)})`;
}

// --- text ------------------------------------------------------------------------------------------

export function describeSelection(selection: AvailabilitySelection): string {
  switch (selection.mode) {
    case 'off':
    case 'auto':
      return selection.mode;
    case 'services':
      return `services: ${selection.services.join(', ')}`;
    case 'namespaces':
      return `namespaces: ${selection.namespaces.join(', ')}`;
    case 'selector':
      return `selector: ${selection.selector}`;
  }
}

/** Seconds with at most one decimal, as the gate's messages print them. */
export function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** A duration the way the input takes it: 0s, 500ms, 2.5s. */
export function durationText(ms: number): string {
  return ms % 1000 === 0 || ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

// --- chart -----------------------------------------------------------------------------------------

export interface ChartBucket {
  /** Start of the bucket, ms since the run started. */
  from: number;
  /** The fewest ready endpoints at any moment in the bucket: a short outage still shows as 0. */
  ready: number;
}

/** The series resampled on `count` equal buckets over [0, endAt], each keeping its minimum. */
export function bucketSeries(series: ReadyPoint[], endAt: number, count: number): ChartBucket[] {
  if (series.length === 0 || count < 1) return [];
  const start = series[0]!.at;
  const end = Math.max(endAt, series[series.length - 1]!.at, start + 1);
  const width = (end - start) / count;
  const buckets: ChartBucket[] = [];
  for (let i = 0; i < count; i++) {
    const from = start + i * width;
    const to = i === count - 1 ? end : from + width;
    // The count in force at `from`, then every change inside the bucket.
    let ready = series[0]!.ready;
    for (const p of series) if (p.at <= from) ready = p.ready;
    let min = ready;
    for (const p of series) if (p.at > from && p.at < to) min = Math.min(min, p.ready);
    buckets.push({ from: Math.round(from), ready: min });
  }
  return buckets;
}

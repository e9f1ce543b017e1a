// The availability gate's vocabulary (issue 10): what the run measured about the Services it
// watched and the URLs it probed, and whether the gate passed. Plain data, shared by the
// engine, the report, the Action/CLI outputs and the e2e (which compares it with its own oracle).

/** Which Services the gate watches. */
export type AvailabilitySelection =
  | { mode: 'off' }
  /** Every Service with a ready endpoint on a drained node when the run started. */
  | { mode: 'auto' }
  /** Explicit `namespace/name` list. */
  | { mode: 'services'; services: string[] }
  | { mode: 'namespaces'; namespaces: string[] }
  /** Label selector on Services (all namespaces). */
  | { mode: 'selector'; selector: string };

export interface AvailabilityOptions {
  selection: AvailabilitySelection;
  probeUrls: string[];
  /** ms between two probe requests to one URL; default 250. */
  probeIntervalMs: number;
  /** Fail when a Service was down (zero ready endpoints) longer than this, ms; undefined = report only. */
  maxDowntimeMs?: number;
  /** Fail when a Service's ready endpoints fell below this share of its count at the start (0..1]. */
  minReadyRatio?: number;
  /** Stop evicting as soon as the gate is broken, restore temporary changes, report. */
  abortOnDowntime: boolean;
  /** Uncordon the drained nodes at the end (a resilience test leaves the cluster as it found it). */
  restoreAfter: boolean;
}

export const DEFAULT_AVAILABILITY: AvailabilityOptions = {
  selection: { mode: 'auto' },
  probeUrls: [],
  probeIntervalMs: 250,
  abortOnDowntime: false,
  restoreAfter: false,
};

/** One change of a Service's ready-endpoint count. */
export interface ReadyPoint {
  /** ms since run start. */
  at: number;
  /** Ready endpoints (`conditions.ready`): what minReady and min-ready-ratio count. */
  ready: number;
  /**
   * Endpoints carrying traffic, as kube-proxy routes: the ready ones, or when there are none the
   * terminating ones still serving. 0 = the Service is down (downtime counts this). Absent: = ready.
   */
  serving?: number;
}

export interface ServiceAvailability {
  /** `namespace/name`. */
  service: string;
  /** Ready endpoints when watching started. */
  initialReady: number;
  minReady: number;
  /** ms since run start when minReady was first reached. */
  minReadyAt: number;
  /** Total seconds with zero ready endpoints (ms precision). */
  downtimeSeconds: number;
  /** Longest single stretch with zero ready endpoints, seconds. */
  longestOutageSeconds: number;
  /** The ready count over time (first point = start of watching). */
  series: ReadyPoint[];
  /** The plan expected the drain to take this Service to zero ready endpoints. */
  expectedZero: boolean;
  /**
   * When expectedZero: the plan's estimate of the outage, seconds, from the last start-to-Ready of
   * the pods it takes away (plan/downtime.ts), to set beside downtimeSeconds. Absent: no estimate.
   */
  estimatedDowntimeSeconds?: number;
  passed: boolean;
  /** Why it failed the gate, e.g. "down 3.2 s (max-downtime 0s)". */
  failure?: string;
  /** Ready endpoints when watching ended (0: still down when the run ended). Added by the engine. */
  finalReady?: number;
}

export interface ProbeAvailability {
  url: string;
  requests: number;
  failures: number;
  /** Longest stretch of consecutive failed requests, seconds. */
  longestFailureSeconds: number;
  p50Ms: number;
  p99Ms: number;
  passed: boolean;
  failure?: string;
}

/**
 * A pod deleted without its PDB's consent (disable-eviction, force-after) and what it did to that
 * budget, watched from the deletion: the gate judges it like an outage of a Service, with the
 * PDB's healthy pods as the count and "budget unmet" (healthy below desired) as the downtime.
 */
export interface BypassAvailability {
  /** `namespace/name` of the pod deleted. */
  pod: string;
  by: 'disable-eviction' | 'force-after';
  /** The PDB bypassed; absent when none selected the pod (nothing to judge). */
  pdb?: string;
  /** How long the pod had waited on its PDB, seconds. */
  waitedSeconds: number;
  /** When it was deleted, ms since run start. */
  at: number;
  /** The PDB's healthy pods when the pod was deleted, and the fewest after. */
  healthyBefore?: number;
  minHealthy?: number;
  /** Seconds the budget was unmet (currentHealthy below desiredHealthy) after the deletion. */
  budgetUnmetSeconds: number;
  passed: boolean;
  failure?: string;
}

export interface AvailabilityReport {
  /** The selection as the user gave it, e.g. "auto", "services: a/b, c/d". */
  selection: string;
  services: ServiceAvailability[];
  probes: ProbeAvailability[];
  /** True when no Service or probe broke the gate (always true without a gate). */
  passed: boolean;
  /** The run stopped evicting because the gate broke (abort-on-downtime). */
  aborted: boolean;
  /** One line per failing Service/probe/forced deletion, e.g. "default/web: down 3.2 s (max-downtime 0s)". */
  failures: string[];
  /** Pods deleted without their PDB's consent during the run, each judged by the gate (absent: none). */
  bypasses?: BypassAvailability[];
  /**
   * false for `operation: plan` and dry runs: nothing was watched; each Service's figures are its state at the
   * start, `expectedZero` says what the plan expects, and the gate judges that expectation.
   */
  measured: boolean;
  /** Epoch ms of the run's start: every `series[].at` counts from it. */
  startedAt: number;
  /** The limits the gate applied (absent: report only). */
  maxDowntimeSeconds?: number;
  minReadyRatio?: number;
}

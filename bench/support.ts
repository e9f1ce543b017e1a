// Shared by the benchmarks: child processes measured from outside (wall time, peak RSS), and the
// kube-apiserver audit log read as the record of what a client did and when.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time from just before spawn to exit. */
  seconds: number;
  /** Epoch ms just before spawn (the audit log's clock is the same machine's). */
  startedAtMs: number;
  endedAtMs: number;
  /** Peak RSS of the child, MiB, from GNU time (undefined when /usr/bin/time is missing). */
  peakRssMiB?: number;
}

const GNU_TIME = '/usr/bin/time';

/** Runs cmd as a child process; under GNU time when present, which reports its peak RSS from wait4(). */
export function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChildRun> {
  const rssFile = join(tmpdir(), `bench-rss-${process.pid}-${Date.now()}`);
  const timed = existsSync(GNU_TIME);
  const [file, argv] = timed ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const startedAtMs = Date.now();
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let peakRssMiB: number | undefined;
      if (timed) {
        const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
        rmSync(rssFile, { force: true });
        if (Number.isFinite(kib)) peakRssMiB = Math.round(kib / 1024);
      }
      resolve({ code: code ?? -1, stdout, stderr, seconds, startedAtMs, endedAtMs: startedAtMs + seconds * 1000, peakRssMiB });
    });
  });
}

export async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 300_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- audit log ---------------------------------------------------------------------------------

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  requestObject?: { status?: { disruptionsAllowed?: number; currentHealthy?: number; desiredHealthy?: number } };
}

/** Epoch milliseconds with the microseconds of an audit timestamp ("2026-11-28T04:40:00.123456Z"). */
export function auditMs(ts: string): number {
  const m = /^(.{19})(?:\.(\d+))?Z$/.exec(ts);
  if (!m) throw new Error(`unexpected audit timestamp ${ts}`);
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** Where the log ends now: read from here later to get only what happened meanwhile. */
export function auditOffset(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

export function readAudit(path: string, fromOffset: number): AuditEvent[] {
  const size = auditOffset(path);
  if (size <= fromOffset) return [];
  const buf = Buffer.alloc(size - fromOffset);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, fromOffset);
  } finally {
    closeSync(fd);
  }
  return buf
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent);
}

/** Requests (distinct audit IDs) a user made: each request is one ID, whatever stages were logged. */
export function requestsBy(events: AuditEvent[], user: string): number {
  return new Set(events.filter((e) => e.user.username === user).map((e) => e.auditID)).size;
}

/**
 * What a request is for, to tell a run's constant cost from what grows with its nodes and pods:
 * - run: the run's lists and watches of pods, nodes, PDBs (and Services/EndpointSlices), and its
 *   permission checks (SelfSubjectAccessReviews): a constant per run, however many nodes it drains;
 * - node: reads and patches of a node (cordon, drain lock, uncordon) and Events on it (namespace default);
 * - workload: lookups of the drained pods' owners (GETs, lists of ReplicaSets/Deployments/HPAs) and
 *   changes to them (surge patches, their Events);
 * - pod: evictions, and reads or deletes of single pods.
 */
export type RequestClass = 'run' | 'node' | 'workload' | 'pod' | 'other';

const WORKLOAD_RESOURCES = new Set(['replicasets', 'deployments', 'statefulsets', 'daemonsets', 'horizontalpodautoscalers']);

export function classifyRequest(e: AuditEvent): RequestClass {
  const resource = e.objectRef?.resource ?? '';
  const sub = e.objectRef?.subresource;
  if (resource === 'selfsubjectaccessreviews') return 'run';
  if (WORKLOAD_RESOURCES.has(resource)) return 'workload';
  if (e.verb === 'list' || e.verb === 'watch') return 'run';
  if (resource === 'nodes') return 'node';
  if (resource === 'events') return e.objectRef?.namespace === 'default' ? 'node' : 'workload';
  if (resource === 'pods' && (sub === 'eviction' || sub === undefined)) return 'pod';
  return 'other';
}

export type RequestsByClass = Record<RequestClass, number>;

/** A user's requests (distinct audit IDs) by class. */
export function requestsByClass(events: AuditEvent[], user: string): RequestsByClass {
  const seen = new Set<string>();
  const counts: RequestsByClass = { run: 0, node: 0, workload: 0, pod: 0, other: 0 };
  for (const e of events) {
    if (e.user.username !== user || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    counts[classifyRequest(e)]++;
  }
  return counts;
}

/**
 * Requests per evicted pod once the run's constant part (its lists, watches and permission
 * checks) is set aside: what the target "<= 3 per evicted pod plus a constant number of
 * lists/watches per run" compares. Per-node requests stay in: they are not per run.
 */
export function marginalPerEvictedPod(c: RequestsByClass, evicted: number): number {
  return (c.node + c.workload + c.pod + c.other) / Math.max(1, evicted);
}

/** Audit policy: every request of these users, metadata only (enough to count them). */
export function countUsersPolicy(users: string[]): string {
  return `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [${users.map((u) => JSON.stringify(u)).join(', ')}]
- level: None
`;
}

/** One request of a timeline, in ms after a process start: when the API server received it and answered (a watch: began streaming). */
export interface TimelineEntry {
  receivedMs: number;
  answeredMs: number;
  what: string;
}

/**
 * A user's requests received between fromMs and toMs (epoch ms), in the order received: where a
 * client's time went, as the API server saw it. A watch counts as answered when its stream
 * started (ResponseStarted), anything else when it completed.
 */
export function requestTimeline(events: AuditEvent[], user: string, startedAtMs: number, fromMs: number, toMs: number): TimelineEntry[] {
  const byId = new Map<string, AuditEvent>();
  for (const e of events) {
    if (e.user.username !== user || (e.stage !== 'ResponseStarted' && e.stage !== 'ResponseComplete')) continue;
    const seen = byId.get(e.auditID);
    // The earliest answer: a watch's ResponseStarted comes before its ResponseComplete.
    if (!seen || auditMs(e.stageTimestamp) < auditMs(seen.stageTimestamp)) byId.set(e.auditID, e);
  }
  return [...byId.values()]
    .map((e) => ({ e, received: auditMs(e.requestReceivedTimestamp) }))
    .filter(({ received }) => received >= fromMs && received <= toMs)
    .sort((a, b) => a.received - b.received)
    .map(({ e, received }) => {
      const ref = e.objectRef ?? {};
      const resource = [ref.resource, ref.subresource].filter(Boolean).join('/');
      const name = ref.name ? ` ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}` : '';
      return {
        receivedMs: Math.round(received - startedAtMs),
        answeredMs: Math.round(auditMs(e.stageTimestamp) - startedAtMs),
        what: `${e.verb} ${resource}${name} ${e.responseStatus?.code ?? ''}`.trim(),
      };
    });
}

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Nearest-rank percentile (p in 0..100). */
export const percentile = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

/**
 * A copy of dist/ taken now, so every run of one benchmark uses the same build even when dist/
 * is rebuilt meanwhile (a shared worktree). Returns the copied CLI's path and a short hash of it.
 */
export function pinnedCli(): { cli: string; sha: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-dist-'));
  cpSync('dist', dir, { recursive: true });
  const sha = createHash('sha256').update(readFileSync(join(dir, 'cli-main.js'))).digest('hex').slice(0, 12);
  return { cli: join(dir, 'cli.js'), sha, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

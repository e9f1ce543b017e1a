// The one parser of user input, shared by the Action (core.getInput) and the CLI (commander
// values turned back into strings). Input names are kebab-case and mirror `kubectl drain`.
// Every bad value becomes an InputError naming the input and saying how to fix it.
import { DEFAULT_AVAILABILITY, type AvailabilityOptions, type AvailabilitySelection } from './availability/types.js';
import { parseLabelSelector } from './plan/selector.js';
import { DEFAULT_OPTIONS, InputError, type DrainOptions, type Migration, type NodeCount, type Operation } from './types.js';

/** Reads one raw input by its kebab-case name; '' and undefined both mean "not set". */
export type InputReader = (name: string) => string | undefined;

const OPERATIONS: readonly Operation[] = ['drain', 'cordon', 'uncordon', 'plan'];
const MIGRATIONS: readonly Migration[] = ['surge', 'evict'];

export function parseOptions(get: InputReader): DrainOptions {
  const read = (name: string): string | undefined => {
    const value = get(name)?.trim();
    return value ? value : undefined;
  };
  const { nodes, selector } = parseNodeTarget(read('node'), read('selector'));
  const podSelector = read('pod-selector');
  if (podSelector !== undefined) checkLabelSelector(podSelector, 'pod-selector');
  const timeoutMs = optional(read('timeout'), (text) => parseDuration(text, 'timeout')) ?? DEFAULT_OPTIONS.timeoutMs;

  return {
    nodes,
    ...(selector !== undefined && { selector }),
    operation: parseChoice(read('operation'), 'operation', OPERATIONS) ?? DEFAULT_OPTIONS.operation,
    ignoreDaemonsets: parseBoolean(read('ignore-daemonsets'), 'ignore-daemonsets') ?? DEFAULT_OPTIONS.ignoreDaemonsets,
    deleteEmptydirData: parseBoolean(read('delete-emptydir-data'), 'delete-emptydir-data') ?? DEFAULT_OPTIONS.deleteEmptydirData,
    force: parseBoolean(read('force'), 'force') ?? DEFAULT_OPTIONS.force,
    gracePeriodSeconds: parseGracePeriod(read('grace-period')) ?? DEFAULT_OPTIONS.gracePeriodSeconds,
    ...(podSelector !== undefined && { podSelector }),
    timeoutMs,
    skipWaitForDeleteTimeoutSeconds:
      parseInteger(read('skip-wait-for-delete-timeout'), 'skip-wait-for-delete-timeout', 0, MAX_TIMER_SECONDS) ??
      DEFAULT_OPTIONS.skipWaitForDeleteTimeoutSeconds,
    dryRun: parseDryRun(read('dry-run')) ?? DEFAULT_OPTIONS.dryRun,
    maxConcurrentEvictions:
      parseInteger(read('max-concurrent-evictions'), 'max-concurrent-evictions', 1) ?? DEFAULT_OPTIONS.maxConcurrentEvictions,
    maxUnavailableNodes: parseNodeCount(read('max-unavailable-nodes'), 'max-unavailable-nodes') ?? DEFAULT_OPTIONS.maxUnavailableNodes,
    waitForReplacements: parseBoolean(read('wait-for-replacements'), 'wait-for-replacements') ?? DEFAULT_OPTIONS.waitForReplacements,
    uncordonOnFailure: parseBoolean(read('uncordon-on-failure'), 'uncordon-on-failure') ?? DEFAULT_OPTIONS.uncordonOnFailure,
    migration: parseChoice(read('migration'), 'migration', MIGRATIONS) ?? DEFAULT_OPTIONS.migration,
    availability: parseAvailability(read),
    respectDoNotDisrupt: parseBoolean(read('respect-do-not-disrupt'), 'respect-do-not-disrupt') ?? DEFAULT_OPTIONS.respectDoNotDisrupt,
    ...parseForcedProgress(read, timeoutMs),
    volumeDetachTimeoutMs: parseVolumeDetachTimeout(read('volume-detach-timeout')) ?? DEFAULT_OPTIONS.volumeDetachTimeoutMs,
  };
}

/**
 * The options as far as they can be read when parseOptions refused them: the defaults, with the
 * inputs that still parse. Only for reporting a refused run (its report names an operation).
 */
export function bestKnownOptions(get: InputReader): DrainOptions {
  const attempt = <T>(parse: () => T): T | undefined => {
    try {
      return parse();
    } catch {
      return undefined;
    }
  };
  const read = (name: string): string | undefined => get(name)?.trim() || undefined;
  const nodes = (read('node') ?? '').split(/[\s,]+/).filter((name) => name !== '');
  const selector = read('selector');
  return {
    ...DEFAULT_OPTIONS,
    nodes,
    ...(selector !== undefined && { selector }),
    operation: attempt(() => parseChoice(read('operation'), 'operation', OPERATIONS)) ?? DEFAULT_OPTIONS.operation,
    dryRun: attempt(() => parseDryRun(read('dry-run'))) ?? DEFAULT_OPTIONS.dryRun,
  };
}

function optional<T>(text: string | undefined, parse: (text: string) => T): T | undefined {
  return text === undefined ? undefined : parse(text);
}

// --- nodes -------------------------------------------------------------------------------------

/** DNS-1123 subdomain, which is what Kubernetes requires of a Node name. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function parseNodeTarget(nodeText: string | undefined, selector: string | undefined): { nodes: string[]; selector?: string } {
  if (nodeText !== undefined && selector !== undefined) {
    throw new InputError('node', 'both "node" and "selector" are set', 'Set either "node" (names) or "selector" (a node label selector), not both.');
  }
  if (selector !== undefined) {
    checkLabelSelector(selector, 'selector');
    return { nodes: [], selector };
  }
  if (nodeText === undefined) {
    throw new InputError('node', 'no node given', 'Set "node" to one or more node names, or "selector" to a node label selector such as "pool=blue".');
  }
  const names = nodeText.split(/[\s,]+/).filter((name) => name !== '');
  if (names.length === 0) {
    // Separators only (e.g. "," from an empty matrix value): draining nothing and succeeding would hide the mistake.
    throw new InputError('node', `"${nodeText}" names no node (separators only)`, 'Set "node" to one or more node names, e.g. "w1" or "w1,w2".');
  }
  for (const name of names) checkNodeName(name);
  // The same node twice would be drained twice; keep the first mention only.
  return { nodes: [...new Set(names)] };
}

function checkNodeName(name: string): void {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new InputError(
      'node',
      `"${name}" is not a valid node name (lowercase letters, digits, "-" and "." only, starting and ending with a letter or digit, at most 253 characters)`,
      'Use the name exactly as `kubectl get nodes` prints it; separate several names with commas, spaces or newlines.',
    );
  }
}

// --- scalars -----------------------------------------------------------------------------------

const TRUE_WORDS = ['true', 'yes', '1'];
const FALSE_WORDS = ['false', 'no', '0'];

function parseBoolean(text: string | undefined, input: string): boolean | undefined {
  if (text === undefined) return undefined;
  const word = text.toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new InputError(input, `"${text}" is not a boolean`, 'Use true or false (yes/no and 1/0 are accepted too).');
}

/** dry-run also takes kubectl's --dry-run values: server and client mean true, none means false. */
function parseDryRun(text: string | undefined): boolean | undefined {
  if (text === undefined) return undefined;
  const word = text.toLowerCase();
  if (word === 'server' || word === 'client') return true;
  if (word === 'none') return false;
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  throw new InputError('dry-run', `"${text}" is not a boolean`, 'Use true or false (kubectl\'s server/client mean true, none means false).');
}

function parseChoice<T extends string>(text: string | undefined, input: string, choices: readonly T[]): T | undefined {
  if (text === undefined) return undefined;
  const choice = choices.find((c) => c === text.toLowerCase());
  if (choice === undefined) {
    throw new InputError(input, `unknown value "${text}"`, `Use one of: ${choices.join(', ')}.`);
  }
  return choice;
}

// --- bounds --------------------------------------------------------------------------------------

/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay is silently clamped to
 * 1 ms, so a long timeout would fire at once. Every duration the engine may wait for is bounded
 * by this, and refused above it rather than clamped.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** MAX_TIMER_MS in whole seconds, for inputs counted in seconds. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

function parseInteger(text: string | undefined, input: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(text)) {
    throw new InputError(input, `"${text}" is not a whole number`, `Use a whole number of at least ${min}, e.g. ${Math.max(min, 10)}.`);
  }
  const value = Number(text);
  if (value < min) {
    throw new InputError(input, `${text} is too small`, `Use a whole number of at least ${min}.`);
  }
  // Beyond MAX_SAFE_INTEGER the number is not even held exactly; that is too large as well.
  if (!Number.isSafeInteger(value) || value > max) {
    throw new InputError(input, `${text} is too large`, `Use a whole number of at most ${max}${tooLargeReason(max)}.`);
  }
  return value;
}

function tooLargeReason(max: number): string {
  return max === MAX_TIMER_SECONDS ? ' (about 24.8 days: the longest wait a Node timer can count)' : '';
}

/**
 * A number of nodes: a whole number >= 1, or a percentage of the selected nodes ("25%", more
 * than 0 and at most 100; resolved by resolveNodeCount).
 */
export function parseNodeCount(text: string | undefined, input: string): NodeCount | undefined {
  if (text === undefined) return undefined;
  const fix = 'Use a whole number of nodes of at least 1 (e.g. 2) or a percentage of the selected nodes (e.g. 10%).';
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
  if (pct) {
    const percent = Number(pct[1]);
    if (!(percent > 0) || percent > 100) throw new InputError(input, `${text} is not a percentage above 0% and at most 100%`, fix);
    return { percent };
  }
  if (!/^\+?\d+$/.test(text)) throw new InputError(input, `"${text}" is neither a whole number nor a percentage`, fix);
  const count = Number(text);
  if (count < 1) throw new InputError(input, `${text} is too small`, fix);
  if (!Number.isSafeInteger(count)) throw new InputError(input, `${text} is too large`, fix);
  return { count };
}


/** kubectl semantics: -1 means each pod's own terminationGracePeriodSeconds, 0 means immediately. */
function parseGracePeriod(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^-\d+$/.test(text) && text !== '-1') {
    throw new InputError('grace-period', `${text} is negative`, 'Use -1 for each pod\'s own grace period, or a number of seconds >= 0.');
  }
  // Bounded like the other waits: the drain waits out each pod's grace period, and the API server
  // turns it into int64 nanoseconds, which overflows for absurd values.
  return parseInteger(text, 'grace-period', -1, MAX_TIMER_SECONDS);
}

// --- durations ---------------------------------------------------------------------------------

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration (`500ms`, `90s`, `10m`, `1h30m`, `1.5h`) into milliseconds; `0`
 * alone means "no bound". A bare number other than 0 is refused: "90" could mean seconds or
 * minutes, so the unit must be explicit.
 */
export function parseDuration(text: string, input: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const fix = 'Use a number followed by a unit (ms, s, m, h), e.g. 90s, 10m, 1h30m; 0 means no timeout.';
  if (/^[+-]?\d+(\.\d+)?$/.test(trimmed)) {
    throw new InputError(input, `"${text}" has no unit`, fix);
  }
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(trimmed)) {
    throw new InputError(input, `"${text}" is not a duration`, fix);
  }
  let total = 0;
  for (const [, amount, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? NaN);
  }
  // "0s", "0m0s" are an explicit zero: no bound, like kubectl's --timeout=0s.
  if (total === 0) return 0;
  // Rounded to 0 ms it would mean "no bound": the opposite of what a tiny timeout asks for.
  if (total < 1) {
    throw new InputError(input, `"${text}" is shorter than 1ms`, 'Use at least 1ms (durations count whole milliseconds), or 0 for no timeout.');
  }
  const ms = Math.round(total);
  if (ms > MAX_TIMER_MS) {
    throw new InputError(
      input,
      `"${text}" is longer than the maximum ${MAX_DURATION_TEXT} (${MAX_TIMER_MS} ms, about 24.8 days: the longest wait a Node timer can count)`,
      `Use at most ${MAX_DURATION_TEXT}, or 0 for no timeout.`,
    );
  }
  return ms;
}

/** MAX_TIMER_MS as a duration input accepts it: 596h31m23.647s. */
const MAX_DURATION_TEXT = (() => {
  const hours = Math.floor(MAX_TIMER_MS / 3_600_000);
  const minutes = Math.floor((MAX_TIMER_MS % 3_600_000) / 60_000);
  const seconds = (MAX_TIMER_MS % 60_000) / 1000;
  return `${hours}h${minutes}m${seconds}s`;
})();

// --- forced progress and volumes ------------------------------------------------------------------

/**
 * disable-eviction and force-after: the only inputs that let a pod go without its PDB's consent.
 * Set together, force-after would never act (disable-eviction deletes at once); at or beyond
 * timeout it could never fire. Both are refused rather than silently meaningless.
 */
function parseForcedProgress(read: (name: string) => string | undefined, timeoutMs: number): Pick<DrainOptions, 'disableEviction' | 'forceAfterMs'> {
  const disableEviction = parseBoolean(read('disable-eviction'), 'disable-eviction') ?? DEFAULT_OPTIONS.disableEviction;
  const forceText = read('force-after');
  if (forceText === undefined) return { disableEviction, forceAfterMs: DEFAULT_OPTIONS.forceAfterMs };
  const forceAfterMs = parseDuration(forceText, 'force-after');
  if (forceAfterMs > 0 && disableEviction) {
    throw new InputError('force-after', 'is set together with disable-eviction, which deletes every pod at once without waiting on its PDB', 'Set only one: disable-eviction: true to delete at once, or force-after to wait on each budget that long first.');
  }
  if (forceAfterMs > 0 && timeoutMs > 0 && forceAfterMs >= timeoutMs) {
    throw new InputError('force-after', `"${forceText}" is not shorter than timeout (${timeoutMs / 1000}s): the drain would end before any pod is deleted`, 'Use a force-after shorter than timeout, or raise timeout.');
  }
  return { disableEviction, forceAfterMs };
}

/** off, or a duration (0: bounded only by timeout). */
function parseVolumeDetachTimeout(text: string | undefined): DrainOptions['volumeDetachTimeoutMs'] | undefined {
  if (text === undefined) return undefined;
  if (text.toLowerCase() === 'off') return 'off';
  if (!GATE_DURATION.test(text)) {
    throw new InputError('volume-detach-timeout', `"${text}" is neither off nor a duration`, 'Use a duration such as 6m or 90s (0: bounded only by timeout), or off to not wait for volumes to detach.');
  }
  return parseDuration(text, 'volume-detach-timeout');
}

// --- label selectors ---------------------------------------------------------------------------

/**
 * A syntax check of a label selector as `kubectl -l` takes it, with the planner's parser (one
 * source of truth). It catches typos early, before any API call; the API server remains the
 * judge of the finer rules.
 */
function checkLabelSelector(selector: string, input: string): void {
  try {
    parseLabelSelector(selector);
  } catch (err) {
    throw new InputError(
      input,
      (err as Error).message,
      'Use comma-separated requirements: key, !key, key=value, key!=value, key in (a,b), key notin (a).',
    );
  }
}

// --- availability gate ---------------------------------------------------------------------------

const AVAILABILITY_SYNTAX =
  'Use auto (Services with a ready endpoint on a drained node), off, a list of namespace/name Services ' +
  '(separated by commas, spaces or newlines), "namespaces: a, b", or "selector: app=web" (a Service label selector).';
/** DNS-1123 label: what Kubernetes requires of namespace and Service names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Probes are bounded in number: each URL is one request in flight every probe-interval. */
export const MAX_PROBE_URLS = 10;
const MIN_PROBE_INTERVAL_MS = 50;
const MAX_PROBE_INTERVAL_MS = 60_000;

function parseAvailability(read: (name: string) => string | undefined): AvailabilityOptions {
  const selection = parseAvailabilitySelection(read('availability'));
  const probeUrls = parseProbeUrls(read('probe-urls'));
  const intervalText = read('probe-interval');
  const probeIntervalMs = intervalText === undefined ? DEFAULT_AVAILABILITY.probeIntervalMs : parseProbeInterval(intervalText);
  const maxDowntimeText = read('max-downtime');
  const maxDowntimeMs = maxDowntimeText === undefined ? undefined : parseMaxDowntime(maxDowntimeText);
  const ratioText = read('min-ready-ratio');
  const minReadyRatio = ratioText === undefined ? undefined : parseRatio(ratioText);
  const abortOnDowntime = parseBoolean(read('abort-on-downtime'), 'abort-on-downtime') ?? DEFAULT_AVAILABILITY.abortOnDowntime;
  const restoreAfter = parseBoolean(read('restore-after'), 'restore-after') ?? DEFAULT_AVAILABILITY.restoreAfter;
  const gated = maxDowntimeMs !== undefined || minReadyRatio !== undefined;
  if (selection.mode === 'off') {
    // Settings that only mean something with the gate on would be silently ignored.
    const set = [
      ...(probeUrls.length ? ['probe-urls'] : []),
      ...(maxDowntimeMs !== undefined ? ['max-downtime'] : []),
      ...(minReadyRatio !== undefined ? ['min-ready-ratio'] : []),
      ...(abortOnDowntime ? ['abort-on-downtime'] : []),
    ];
    if (set.length > 0) {
      throw new InputError('availability', `is off, but ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} set`, 'Set availability to auto (or a list of Services), or remove those inputs.');
    }
  }
  if (abortOnDowntime && !gated) {
    throw new InputError('abort-on-downtime', 'is true but there is no gate to break', 'Set max-downtime (e.g. 0s) or min-ready-ratio (e.g. 0.5) too, or set abort-on-downtime to false.');
  }
  return {
    selection,
    probeUrls,
    probeIntervalMs,
    ...(maxDowntimeMs !== undefined && { maxDowntimeMs }),
    ...(minReadyRatio !== undefined && { minReadyRatio }),
    abortOnDowntime,
    restoreAfter,
  };
}

/** auto | off | ns/name,... | namespaces: a,b | selector: k=v (the selector verbatim, commas included). */
export function parseAvailabilitySelection(text: string | undefined): AvailabilitySelection {
  if (text === undefined) return DEFAULT_AVAILABILITY.selection;
  const word = text.toLowerCase();
  if (word === 'auto' || word === 'off') return { mode: word };
  const prefixed = /^(namespaces|selector)\s*:([\s\S]*)$/i.exec(text);
  if (prefixed) {
    const rest = prefixed[2]!.trim();
    if (prefixed[1]!.toLowerCase() === 'selector') {
      if (rest === '') throw new InputError('availability', '"selector:" has no selector', AVAILABILITY_SYNTAX);
      checkLabelSelector(rest, 'availability');
      return { mode: 'selector', selector: rest };
    }
    const namespaces = [...new Set(rest.split(/[\s,]+/).filter((n) => n !== ''))];
    if (namespaces.length === 0) throw new InputError('availability', '"namespaces:" names no namespace', AVAILABILITY_SYNTAX);
    for (const ns of namespaces) {
      if (!DNS_LABEL.test(ns) || ns.length > 63) throw new InputError('availability', `"${ns}" is not a valid namespace name`, AVAILABILITY_SYNTAX);
    }
    return { mode: 'namespaces', namespaces };
  }
  const services = [...new Set(text.split(/[\s,]+/).filter((n) => n !== ''))];
  for (const service of services) {
    const [ns, name, extra] = service.split('/');
    const valid = extra === undefined && [ns, name].every((part) => part !== undefined && part.length <= 63 && DNS_LABEL.test(part));
    if (!valid) throw new InputError('availability', `"${service}" is neither auto, off nor a Service as namespace/name`, AVAILABILITY_SYNTAX);
  }
  return { mode: 'services', services };
}

function parseProbeUrls(text: string | undefined): string[] {
  if (text === undefined) return [];
  const urls = [...new Set(text.split(/[\s,]+/).filter((u) => u !== ''))];
  if (urls.length > MAX_PROBE_URLS) {
    throw new InputError('probe-urls', `${urls.length} URLs given, at most ${MAX_PROBE_URLS} are probed`, `Give at most ${MAX_PROBE_URLS} URLs (one request in flight per URL every probe-interval).`);
  }
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw new InputError('probe-urls', `"${url}" is not an http or https URL`, 'Give full URLs such as http://10.0.0.5:30080/healthz, separated by commas, spaces or newlines.');
    }
  }
  return urls;
}

const GATE_DURATION = /^(\d+(\.\d+)?(ms|h|m|s))+$|^0$/;

function parseMaxDowntime(text: string): number {
  const fix = 'Use a duration such as 0s (no downtime allowed), 500ms or 5s; leave it empty to only report.';
  if (!GATE_DURATION.test(text)) throw new InputError('max-downtime', `"${text}" is not a duration`, fix);
  return parseDuration(text, 'max-downtime');
}

function parseProbeInterval(text: string): number {
  const fix = `Use a duration from ${MIN_PROBE_INTERVAL_MS}ms to ${MAX_PROBE_INTERVAL_MS / 1000}s, e.g. 250ms or 1s.`;
  if (!GATE_DURATION.test(text)) throw new InputError('probe-interval', `"${text}" is not a duration`, fix);
  const ms = parseDuration(text, 'probe-interval');
  if (ms < MIN_PROBE_INTERVAL_MS || ms > MAX_PROBE_INTERVAL_MS) throw new InputError('probe-interval', `"${text}" is out of range`, fix);
  return ms;
}

function parseRatio(text: string): number {
  const fix = 'Use a number above 0 and at most 1, e.g. 0.5 (keep at least half the ready endpoints each Service had at the start).';
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) throw new InputError('min-ready-ratio', `"${text}" is not a number`, fix);
  const value = Number(text);
  if (!(value > 0 && value <= 1)) throw new InputError('min-ready-ratio', `${text} is not above 0 and at most 1`, fix);
  return value;
}

export { resolveNodeCount } from './plan/node-order.js';

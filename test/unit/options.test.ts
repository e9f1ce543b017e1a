import { describe, expect, it } from '@jest/globals';
import { parseDuration, parseOptions, resolveNodeCount } from '../../src/engine/options.js';
import { DEFAULT_OPTIONS, InputError } from '../../src/engine/types.js';

/** Inputs as the Action sees them: unset ones read as ''. */
function parse(inputs: Record<string, string>) {
  return parseOptions((name) => inputs[name] ?? '');
}

/** The InputError thrown for these inputs (fails the test when none is thrown). */
function inputError(inputs: Record<string, string>): InputError {
  try {
    parse(inputs);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error(`no InputError for ${JSON.stringify(inputs)}`);
}

describe('parseOptions defaults', () => {
  it('fills every option from DEFAULT_OPTIONS when only node is set', () => {
    expect(parse({ node: 'w1' })).toEqual({ ...DEFAULT_OPTIONS, nodes: ['w1'] });
  });

  it('treats undefined like an empty input', () => {
    expect(parseOptions((name) => (name === 'node' ? 'w1' : undefined))).toEqual({ ...DEFAULT_OPTIONS, nodes: ['w1'] });
  });

  it('has the documented default values', () => {
    expect(parse({ node: 'w1' })).toMatchObject({
      operation: 'drain',
      ignoreDaemonsets: true,
      deleteEmptydirData: false,
      force: false,
      gracePeriodSeconds: -1,
      timeoutMs: 0,
      skipWaitForDeleteTimeoutSeconds: 0,
      dryRun: false,
      maxConcurrentEvictions: 10,
      maxUnavailableNodes: { count: 1 },
      waitForReplacements: false,
      uncordonOnFailure: false,
      migration: 'surge',
      respectDoNotDisrupt: true,
      disableEviction: false,
      forceAfterMs: 0,
      volumeDetachTimeoutMs: 360_000,
    });
  });
});

describe('parseOptions values', () => {
  it('splits node names on commas, spaces and newlines, dropping duplicates', () => {
    expect(parse({ node: 'w1, w2\nw3 w1,,' }).nodes).toEqual(['w1', 'w2', 'w3']);
  });

  it('accepts a node selector instead of names', () => {
    const options = parse({ selector: 'pool=blue,!spot' });
    expect(options.nodes).toEqual([]);
    expect(options.selector).toBe('pool=blue,!spot');
  });

  it('reads every option', () => {
    expect(
      parse({
        node: 'ip-10-0-1-2.ec2.internal',
        operation: 'PLAN',
        'ignore-daemonsets': 'no',
        'delete-emptydir-data': 'YES',
        force: '1',
        'grace-period': '30',
        'pod-selector': 'app in (web, api),tier!=db',
        timeout: '1h30m',
        'skip-wait-for-delete-timeout': '20',
        'dry-run': 'true',
        'max-concurrent-evictions': '3',
        'max-unavailable-nodes': '25%',
        'wait-for-replacements': 'True',
        'uncordon-on-failure': '0',
        migration: 'evict',
        availability: 'shop/web, shop/api\nshop/web',
        'probe-urls': 'http://127.0.0.1:30080/healthz',
        'probe-interval': '500ms',
        'max-downtime': '2.5s',
        'min-ready-ratio': '1',
        'abort-on-downtime': 'no',
        'restore-after': 'yes',
        'respect-do-not-disrupt': 'false',
        'force-after': '5m',
        'volume-detach-timeout': '90s',
      }),
    ).toEqual({
      nodes: ['ip-10-0-1-2.ec2.internal'],
      operation: 'plan',
      ignoreDaemonsets: false,
      deleteEmptydirData: true,
      force: true,
      gracePeriodSeconds: 30,
      podSelector: 'app in (web, api),tier!=db',
      timeoutMs: 5_400_000,
      skipWaitForDeleteTimeoutSeconds: 20,
      dryRun: true,
      maxConcurrentEvictions: 3,
      maxUnavailableNodes: { percent: 25 },
      waitForReplacements: true,
      uncordonOnFailure: false,
      migration: 'evict',
      availability: {
        selection: { mode: 'services', services: ['shop/web', 'shop/api'] },
        probeUrls: ['http://127.0.0.1:30080/healthz'],
        probeIntervalMs: 500,
        maxDowntimeMs: 2500,
        minReadyRatio: 1,
        abortOnDowntime: false,
        restoreAfter: true,
      },
      respectDoNotDisrupt: false,
      disableEviction: false,
      forceAfterMs: 300_000,
      volumeDetachTimeoutMs: 90_000,
    });
  });

  it('reads disable-eviction, and volume-detach-timeout off or 0', () => {
    expect(parse({ node: 'w1', 'disable-eviction': 'true' })).toMatchObject({ disableEviction: true, forceAfterMs: 0 });
    expect(parse({ node: 'w1', 'volume-detach-timeout': 'OFF' }).volumeDetachTimeoutMs).toBe('off');
    expect(parse({ node: 'w1', 'volume-detach-timeout': '0' }).volumeDetachTimeoutMs).toBe(0);
    expect(parse({ node: 'w1', 'force-after': '0s' }).forceAfterMs).toBe(0);
  });

  it('refuses forced-progress and volume inputs that could not mean what they say, naming the input and the fix', () => {
    const both = inputError({ node: 'w1', 'disable-eviction': 'true', 'force-after': '1m' });
    expect(both.input).toBe('force-after');
    expect(both.message).toMatch(/together with disable-eviction.*Set only one/);
    const late = inputError({ node: 'w1', timeout: '5m', 'force-after': '5m' });
    expect(late.input).toBe('force-after');
    expect(late.message).toMatch(/not shorter than timeout \(300s\).*shorter than timeout, or raise timeout/);
    expect(inputError({ node: 'w1', 'force-after': '90' }).message).toMatch(/Input "force-after": "90" has no unit/);
    expect(inputError({ node: 'w1', 'volume-detach-timeout': 'never' }).message).toMatch(/Input "volume-detach-timeout": "never" is neither off nor a duration.*off to not wait/);
    expect(inputError({ node: 'w1', 'respect-do-not-disrupt': 'maybe' }).input).toBe('respect-do-not-disrupt');
    expect(inputError({ node: 'w1', 'disable-eviction': 'sure' }).input).toBe('disable-eviction');
  });

  it("accepts kubectl's dry-run values", () => {
    expect(parse({ node: 'w1', 'dry-run': 'server' }).dryRun).toBe(true);
    expect(parse({ node: 'w1', 'dry-run': 'client' }).dryRun).toBe(true);
    expect(parse({ node: 'w1', 'dry-run': 'none' }).dryRun).toBe(false);
  });

  it('accepts grace-period 0 and -1', () => {
    expect(parse({ node: 'w1', 'grace-period': '0' }).gracePeriodSeconds).toBe(0);
    expect(parse({ node: 'w1', 'grace-period': '-1' }).gracePeriodSeconds).toBe(-1);
  });

  it.each(['app', '!app', 'app=web', 'app==web', 'app!=web', 'app=', 'app in (a,b)', 'app notin (a)', 'example.com/role=x,tier in (a, b),!gpu'])(
    'accepts the selector %s',
    (selector) => {
      expect(parse({ node: 'w1', 'pod-selector': selector }).podSelector).toBe(selector);
    },
  );
});

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2m30s500ms', 150_500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text, 'timeout')).toBe(ms);
  });
});

describe('parseOptions refuses bad input', () => {
  it('both node and selector', () => {
    const err = inputError({ node: 'w1', selector: 'pool=blue' });
    expect(err.input).toBe('node');
    expect(err.message).toContain('both');
    expect(err.fix).toContain('not both');
  });

  it('neither node nor selector', () => {
    const err = inputError({});
    expect(err.input).toBe('node');
    expect(err.fix).toContain('selector');
  });

  it('a node name that is not a DNS subdomain', () => {
    const err = inputError({ node: 'w1,Worker_2' });
    expect(err.input).toBe('node');
    expect(err.message).toContain('"Worker_2" is not a valid node name');
  });

  it('a node name longer than 253 characters', () => {
    expect(inputError({ node: 'a'.repeat(254) }).input).toBe('node');
  });

  it('a duration without a unit', () => {
    const err = inputError({ node: 'w1', timeout: '90' });
    expect(err.input).toBe('timeout');
    expect(err.message).toContain('no unit');
    expect(err.fix).toContain('90s');
  });

  it.each(['ten minutes', '10x', '-5m', '1h 30m', 'm'])('the duration %p', (timeout) => {
    const err = inputError({ node: 'w1', timeout });
    expect(err.input).toBe('timeout');
  });

  it('a negative grace-period other than -1', () => {
    const err = inputError({ node: 'w1', 'grace-period': '-2' });
    expect(err.input).toBe('grace-period');
    expect(err.message).toContain('negative');
  });

  it('a non-numeric grace-period', () => {
    expect(inputError({ node: 'w1', 'grace-period': '30s' }).input).toBe('grace-period');
  });

  it('a negative skip-wait-for-delete-timeout', () => {
    expect(inputError({ node: 'w1', 'skip-wait-for-delete-timeout': '-1' }).input).toBe('skip-wait-for-delete-timeout');
  });

  it('a non-numeric skip-wait-for-delete-timeout', () => {
    expect(inputError({ node: 'w1', 'skip-wait-for-delete-timeout': 'soon' }).message).toContain('not a whole number');
  });

  it('max-concurrent-evictions of 0', () => {
    const err = inputError({ node: 'w1', 'max-concurrent-evictions': '0' });
    expect(err.input).toBe('max-concurrent-evictions');
    expect(err.fix).toContain('at least 1');
  });

  it('a fractional max-concurrent-evictions', () => {
    expect(inputError({ node: 'w1', 'max-concurrent-evictions': '2.5' }).input).toBe('max-concurrent-evictions');
  });

  it('an unknown operation', () => {
    const err = inputError({ node: 'w1', operation: 'delete' });
    expect(err.input).toBe('operation');
    expect(err.fix).toBe('Use one of: drain, cordon, uncordon, plan.');
  });

  it('an unknown migration', () => {
    const err = inputError({ node: 'w1', migration: 'blue-green' });
    expect(err.input).toBe('migration');
    expect(err.fix).toBe('Use one of: surge, evict.');
  });

  it('a bad boolean', () => {
    const err = inputError({ node: 'w1', force: 'maybe' });
    expect(err.input).toBe('force');
    expect(err.message).toContain('"maybe" is not a boolean');
  });

  it('a bad dry-run value', () => {
    expect(inputError({ node: 'w1', 'dry-run': 'always' }).input).toBe('dry-run');
  });

  it.each(['app=web=x', 'app in (a', 'app in ()', '=web', 'app,,tier', 'app notin a', 'my app=web', 'app>x'])(
    'the pod-selector %p',
    (selector) => {
      const err = inputError({ node: 'w1', 'pod-selector': selector });
      expect(err.input).toBe('pod-selector');
      expect(err.fix).toContain('key in (a,b)');
    },
  );

  it('a malformed node selector', () => {
    expect(inputError({ selector: 'pool==' + '(' }).input).toBe('selector');
  });

  // Issue 8 item 15: values the engine cannot honour are refused, not clamped or rounded away.
  it('a timeout longer than a Node timer can count (600h), naming the maximum', () => {
    const err = inputError({ node: 'w1', timeout: '600h' });
    expect(err.input).toBe('timeout');
    expect(err.message).toContain('"600h" is longer than the maximum 596h31m23.647s (2147483647 ms');
    expect(err.fix).toBe('Use at most 596h31m23.647s, or 0 for no timeout.');
  });

  it('accepts the longest timeout a Node timer can count, and an explicit zero with a unit', () => {
    expect(parse({ node: 'w1', timeout: '596h31m23.647s' }).timeoutMs).toBe(2 ** 31 - 1);
    expect(inputError({ node: 'w1', timeout: '596h31m23.648s' }).input).toBe('timeout');
    expect(parse({ node: 'w1', timeout: '0s' }).timeoutMs).toBe(0);
    expect(parse({ node: 'w1', timeout: '0h0m' }).timeoutMs).toBe(0);
  });

  it.each(['0.4ms', '0.0001s', '0.1ms'])('a non-zero timeout that rounds to 0 ms (%s) instead of meaning "no timeout"', (timeout) => {
    const err = inputError({ node: 'w1', timeout });
    expect(err.input).toBe('timeout');
    expect(err.message).toContain('shorter than 1ms');
    expect(err.fix).toContain('0 for no timeout');
  });

  it('a skip-wait-for-delete-timeout longer than a Node timer can count', () => {
    expect(parse({ node: 'w1', 'skip-wait-for-delete-timeout': '2147483' }).skipWaitForDeleteTimeoutSeconds).toBe(2_147_483);
    const err = inputError({ node: 'w1', 'skip-wait-for-delete-timeout': '2160000' }); // 600h
    expect(err.input).toBe('skip-wait-for-delete-timeout');
    expect(err.message).toContain('2160000 is too large');
    expect(err.fix).toContain('at most 2147483 (about 24.8 days');
  });

  it('a grace-period longer than a Node timer can count', () => {
    expect(parse({ node: 'w1', 'grace-period': '2147483' }).gracePeriodSeconds).toBe(2_147_483);
    const err = inputError({ node: 'w1', 'grace-period': '99999999999' });
    expect(err.input).toBe('grace-period');
    expect(err.message).toContain('too large');
  });

  it('a number too large to hold exactly is "too large", not "not a whole number"', () => {
    const err = inputError({ node: 'w1', 'max-concurrent-evictions': '99999999999999999999' });
    expect(err.input).toBe('max-concurrent-evictions');
    expect(err.message).toContain('99999999999999999999 is too large');
  });

  it('accepts a max-concurrent-evictions above the pod count: it means all at once, as kubectl does', () => {
    expect(parse({ node: 'w1', 'max-concurrent-evictions': '1000000' }).maxConcurrentEvictions).toBe(1_000_000);
  });

  it.each([',', ' , ,\n'])('a node input of separators only (%p) instead of draining nothing', (node) => {
    const err = inputError({ node });
    expect(err.input).toBe('node');
    expect(err.message).toContain('names no node');
  });

  it('names the input and the fix in the error message', () => {
    expect(inputError({ node: 'w1', timeout: 'soon' }).message).toBe(
      'Input "timeout": "soon" is not a duration. Use a number followed by a unit (ms, s, m, h), e.g. 90s, 10m, 1h30m; 0 means no timeout.',
    );
  });
});

describe('availability gate inputs', () => {
  it('defaults to auto, report only, probes every 250 ms', () => {
    expect(parse({ node: 'w1' }).availability).toEqual({
      selection: { mode: 'auto' },
      probeUrls: [],
      probeIntervalMs: 250,
      abortOnDowntime: false,
      restoreAfter: false,
    });
  });

  it('reads every selection syntax', () => {
    const selection = (availability: string) => parse({ node: 'w1', availability }).availability.selection;
    expect(selection('OFF')).toEqual({ mode: 'off' });
    expect(selection('auto')).toEqual({ mode: 'auto' });
    expect(selection('default/web')).toEqual({ mode: 'services', services: ['default/web'] });
    expect(selection('namespaces: shop, pay\nops')).toEqual({ mode: 'namespaces', namespaces: ['shop', 'pay', 'ops'] });
    // The selector is kept verbatim: its commas separate requirements, not Services.
    expect(selection('selector: tier=web,env in (prod, staging)')).toEqual({ mode: 'selector', selector: 'tier=web,env in (prod, staging)' });
  });

  it('max-downtime 0s is a zero-downtime gate, not "no limit"', () => {
    expect(parse({ node: 'w1', 'max-downtime': '0s' }).availability.maxDowntimeMs).toBe(0);
    expect(parse({ node: 'w1', 'max-downtime': '1m30s' }).availability.maxDowntimeMs).toBe(90_000);
  });

  const refusals: [Record<string, string>, string, RegExp][] = [
    [{ 'max-downtime': 'soon' }, 'max-downtime', /"soon" is not a duration/],
    [{ 'max-downtime': '5' }, 'max-downtime', /"5" is not a duration/],
    [{ 'min-ready-ratio': '2' }, 'min-ready-ratio', /2 is not above 0 and at most 1/],
    [{ 'min-ready-ratio': '0' }, 'min-ready-ratio', /0 is not above 0/],
    [{ 'min-ready-ratio': 'half' }, 'min-ready-ratio', /"half" is not a number/],
    [{ 'probe-urls': 'ftp://10.0.0.1/x' }, 'probe-urls', /"ftp:\/\/10\.0\.0\.1\/x" is not an http or https URL/],
    [{ 'probe-urls': 'localhost:8080' }, 'probe-urls', /not an http or https URL/],
    [{ 'probe-interval': '10ms' }, 'probe-interval', /out of range/],
    [{ 'probe-interval': '250' }, 'probe-interval', /not a duration/],
    [{ availability: 'web' }, 'availability', /"web" is neither auto, off nor a Service as namespace\/name/],
    [{ availability: 'default/Web' }, 'availability', /"default\/Web"/],
    [{ availability: 'a/b/c' }, 'availability', /"a\/b\/c"/],
    [{ availability: 'namespaces:' }, 'availability', /names no namespace/],
    [{ availability: 'selector: app in (a' }, 'availability', /./],
    [{ availability: 'off', 'max-downtime': '0s' }, 'availability', /is off, but max-downtime is set/],
    [{ 'abort-on-downtime': 'true' }, 'abort-on-downtime', /no gate to break/],
    [{ 'restore-after': 'maybe' }, 'restore-after', /not a boolean/],
  ];
  it.each(refusals)('refuses %j, naming %s', (inputs, input, message) => {
    const e = inputError({ node: 'w1', ...inputs });
    expect(e.input).toBe(input);
    expect(e.message).toMatch(message);
    expect(e.fix.length).toBeGreaterThan(0);
  });

  it('refuses more than 10 probe URLs', () => {
    const urls = Array.from({ length: 11 }, (_, i) => `http://127.0.0.1:${8000 + i}/`).join(',');
    expect(inputError({ node: 'w1', 'probe-urls': urls }).message).toMatch(/11 URLs given, at most 10/);
  });
});

describe('max-unavailable-nodes', () => {
  it('takes a count or a percentage of the selected nodes', () => {
    expect(parse({ node: 'w1', 'max-unavailable-nodes': '3' }).maxUnavailableNodes).toEqual({ count: 3 });
    expect(parse({ node: 'w1', 'max-unavailable-nodes': '12.5%' }).maxUnavailableNodes).toEqual({ percent: 12.5 });
    expect(parse({ node: 'w1', 'max-unavailable-nodes': '100%' }).maxUnavailableNodes).toEqual({ percent: 100 });
  });

  it.each([
    ['0', /0 is too small/],
    ['0%', /not a percentage above 0% and at most 100%/],
    ['101%', /not a percentage above 0% and at most 100%/],
    ['-2', /neither a whole number nor a percentage/],
    ['two', /neither a whole number nor a percentage/],
    ['1.5', /neither a whole number nor a percentage/],
  ])('refuses %s, naming the input and the fix', (value, message) => {
    let error: unknown;
    try {
      parse({ node: 'w1', 'max-unavailable-nodes': value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).input).toBe('max-unavailable-nodes');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/percentage of the selected nodes \(e\.g\. 10%\)/);
  });

  it('resolves a percentage of the selected nodes rounding down, never below 1 nor above the nodes', () => {
    expect(resolveNodeCount({ percent: 10 }, 50)).toBe(5);
    expect(resolveNodeCount({ percent: 25 }, 10)).toBe(2);
    expect(resolveNodeCount({ percent: 10 }, 5)).toBe(1);
    expect(resolveNodeCount({ percent: 100 }, 7)).toBe(7);
    expect(resolveNodeCount({ count: 4 }, 50)).toBe(4);
    expect(resolveNodeCount({ count: 40 }, 3)).toBe(3);
  });
});

// A run's final error text: API errors described, not client-node's raw ApiException message.
// The 429 is what API Priority and Fairness answers (a plain-text body, no Status), as seen from
// the real API server in fault row 1 (faults/scenarios.ts "throttled").
import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { describeApiError, errorText } from '../../src/engine/kube/errors.js';
import { failedRunReport } from '../../src/engine/report/failed-run.js';
import { parseOptions } from '../../src/engine/options.js';

const apfRefusal = new ApiException(429, 'Unknown API Status Code!', 'Too many requests, please try again later.\n', {
  'content-type': 'text/plain; charset=utf-8',
  'retry-after': '32',
  'x-kubernetes-pf-flowschema-uid': '0e87af18',
});

describe('errorText', () => {
  it('names APF throttling and what to do, without the raw client text or headers', () => {
    const text = errorText(apfRefusal);
    expect(text).toMatch(/^HTTP 429 TooManyRequests \(throttled by the API server's API Priority and Fairness\): Too many requests, please try again later\. /);
    expect(text).toMatch(/FlowSchema/);
    expect(text).not.toMatch(/HTTP-Code|Unknown API Status Code|Headers|flowschema-uid|\n/);
  });

  it('describes other API errors by code, reason and message', () => {
    const forbidden = new ApiException(403, 'Unknown API Status Code!', JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'nodes "n1" is forbidden' }), {});
    expect(errorText(forbidden)).toBe('HTTP 403 Forbidden: nodes "n1" is forbidden');
  });

  it('keeps a plain error as it is', () => {
    expect(errorText(new Error('node n1 not found'))).toBe('node n1 not found');
  });

  it('the retry log line has no line break inside', () => {
    expect(describeApiError(apfRefusal)).not.toMatch(/\n/);
  });

  it('a failed run report carries the described error', () => {
    const options = parseOptions((name) => (name === 'node' ? 'n1' : undefined));
    const report = failedRunReport({ options, error: apfRefusal, startedAt: 0, now: 1 });
    expect(report.error).toMatch(/^HTTP 429 TooManyRequests/);
    expect(report.error).not.toMatch(/HTTP-Code/);
  });
});

// The scale benchmark's classes of API requests (bench/support.ts): the run's constant part
// (lists, watches, permission checks) is told apart from what grows with nodes, owners and pods,
// and each request counts once whatever audit stages were logged for it.
import { describe, expect, it } from '@jest/globals';
import { classifyRequest, marginalPerEvictedPod, requestsByClass, type AuditEvent } from '../../bench/support.js';

let id = 0;
const ev = (verb: string, resource: string, extra: { subresource?: string; namespace?: string; user?: string; auditID?: string } = {}): AuditEvent => ({
  auditID: extra.auditID ?? `id-${++id}`,
  stage: 'ResponseComplete',
  verb,
  user: { username: extra.user ?? 'sd' },
  objectRef: { resource, subresource: extra.subresource, namespace: extra.namespace },
  requestReceivedTimestamp: '2026-11-28T00:00:00.000000Z',
  stageTimestamp: '2026-11-28T00:00:00.000000Z',
});

describe('classifyRequest', () => {
  it('sorts a drain\'s requests into run, node, workload and pod', () => {
    expect(classifyRequest(ev('list', 'pods'))).toBe('run');
    expect(classifyRequest(ev('watch', 'nodes'))).toBe('run');
    expect(classifyRequest(ev('list', 'poddisruptionbudgets'))).toBe('run');
    expect(classifyRequest(ev('create', 'selfsubjectaccessreviews'))).toBe('run');
    expect(classifyRequest(ev('patch', 'nodes'))).toBe('node');
    expect(classifyRequest(ev('get', 'nodes'))).toBe('node');
    expect(classifyRequest(ev('create', 'events', { namespace: 'default' }))).toBe('node');
    expect(classifyRequest(ev('create', 'events', { namespace: 'shop' }))).toBe('workload');
    expect(classifyRequest(ev('list', 'replicasets', { namespace: 'shop' }))).toBe('workload');
    expect(classifyRequest(ev('get', 'deployments', { namespace: 'shop' }))).toBe('workload');
    expect(classifyRequest(ev('list', 'horizontalpodautoscalers'))).toBe('workload');
    expect(classifyRequest(ev('create', 'pods', { subresource: 'eviction', namespace: 'shop' }))).toBe('pod');
    expect(classifyRequest(ev('get', 'pods', { namespace: 'shop' }))).toBe('pod');
    expect(classifyRequest(ev('get', 'pods', { subresource: 'log', namespace: 'shop' }))).toBe('other');
  });

  it('counts a request once per audit ID and only the given user\'s; the marginal cost leaves the run\'s part out', () => {
    const events = [
      ev('list', 'pods', { auditID: 'a' }), ev('list', 'pods', { auditID: 'a' }),
      ev('create', 'pods', { subresource: 'eviction', auditID: 'b' }), ev('create', 'pods', { subresource: 'eviction', auditID: 'c' }),
      ev('patch', 'nodes', { auditID: 'd' }), ev('patch', 'nodes', { user: 'kubectl', auditID: 'e' }),
    ];
    const c = requestsByClass(events, 'sd');
    expect(c).toEqual({ run: 1, node: 1, workload: 0, pod: 2, other: 0 });
    expect(marginalPerEvictedPod(c, 2)).toBe(1.5);
  });
});

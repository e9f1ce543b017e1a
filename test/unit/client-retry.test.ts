// Which API failures pass by themselves (fault matrix: APF throttling, API server restarts, etcd
// stalls), and that the client rides them out, bounded in time, and never retries an eviction.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, transientFailure } from '../../src/engine/kube/client.js';

/** An ApiException as client-node 2.x raises it. */
function apiError(code: number, message: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`HTTP ${code}`), { code, body: JSON.stringify({ kind: 'Status', message }), headers });
}

function connectionRefused() {
  return Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }) });
}

function client(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

describe('transientFailure', () => {
  it('APF throttling (429) carries its Retry-After', () => {
    expect(transientFailure(apiError(429, 'Too many requests, please try again later.', { 'retry-after': '8' }))).toEqual({ retryAfterMs: 8000 });
  });
  it('no answer, a shutting-down or unready API server, an etcd timeout', () => {
    expect(transientFailure(connectionRefused())).toEqual({});
    expect(transientFailure(apiError(503, 'apiserver is shutting down'))).toBeDefined();
    expect(transientFailure(apiError(504, 'Timeout: request did not complete within requested timeout'))).toBeDefined();
    expect(transientFailure(apiError(500, 'etcdserver: request timed out'))).toBeDefined();
  });
  it('answers that mean something are final', () => {
    expect(transientFailure(apiError(403, 'forbidden'))).toBeUndefined();
    expect(transientFailure(apiError(404, 'not found'))).toBeUndefined();
    expect(transientFailure(apiError(409, 'conflict'))).toBeUndefined();
    expect(transientFailure(apiError(500, 'This pod has more than one PodDisruptionBudget'))).toBeUndefined();
    expect(transientFailure(new Error('kubeconfig has no current context'))).toBeUndefined();
  });
});

describe('KubeClient retries', () => {
  it('rides out a restart: connection refused, then 503, then the answer; each attempt counted', async () => {
    const c = client();
    const answers: unknown[] = [connectionRefused(), apiError(503, 'apiserver is shutting down')];
    (c as unknown as { core: object }).core = { readNode: async () => { const a = answers.shift(); if (a) throw a; return { metadata: { name: 'w1' } }; } };
    const retries: string[] = [];
    c.onRetry = (m) => retries.push(m);
    expect((await c.getNode('w1')).metadata?.name).toBe('w1');
    expect(retries).toHaveLength(2);
    expect(c.requests).toBe(3);
  });

  it('gives the error back once the outage outlasts its bound', async () => {
    const c = client();
    c.outageBoundMs = 300;
    (c as unknown as { core: object }).core = { readNode: async () => { throw connectionRefused(); } };
    await expect(c.getNode('w1')).rejects.toThrow('fetch failed');
    expect(c.requests).toBeGreaterThan(1);
  });

  it('never retries an eviction: each answer means something to the drain', async () => {
    const c = client();
    (c as unknown as { core: object }).core = { createNamespacedPodEviction: async () => { throw apiError(429, 'Cannot evict pod as it would violate the pod\'s disruption budget.'); } };
    await expect(c.evict({ namespace: 'ns', name: 'p', uid: 'u', gracePeriodSeconds: -1, dryRun: false })).rejects.toMatchObject({ code: 429 });
    expect(c.requests).toBe(1);
  });
});

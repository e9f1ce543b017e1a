// Which API failures pass by themselves (fault matrix: APF throttling, API server restarts, etcd
// stalls), and that the client rides them out, bounded in time, and never retries an eviction.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

function client(server = 'https://127.0.0.1:1'): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

/** The API server's answer to every request of `c` (its transport's JSON requests). */
function answerWith(c: KubeClient, json: () => Promise<unknown>): void {
  c.transport = Object.assign(Object.create(c.transport) as KubeClient['transport'], { json });
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
    answerWith(c, async () => { const a = answers.shift(); if (a) throw a; return { metadata: { name: 'w1' } }; });
    const retries: string[] = [];
    c.onRetry = (m) => retries.push(m);
    expect((await c.getNode('w1')).metadata?.name).toBe('w1');
    expect(retries).toHaveLength(2);
    expect(c.requests).toBe(3);
  });

  it('gives the error back once the outage outlasts its bound', async () => {
    const c = client();
    c.outageBoundMs = 300;
    answerWith(c, async () => { throw connectionRefused(); });
    await expect(c.getNode('w1')).rejects.toThrow('fetch failed');
    expect(c.requests).toBeGreaterThan(1);
  });

  it('never retries an eviction: each answer means something to the drain', async () => {
    const c = client();
    answerWith(c, async () => { throw apiError(429, 'Cannot evict pod as it would violate the pod\'s disruption budget.'); });
    await expect(c.evict({ namespace: 'ns', name: 'p', uid: 'u', gracePeriodSeconds: -1, dryRun: false })).rejects.toMatchObject({ code: 429 });
    expect(c.requests).toBe(1);
  });

  describe('a 403 while the API server is not ready (RBAC caches not synced after a restart)', () => {
    /** A loopback server that answers only /readyz, with `status`. */
    async function readyz(status: number): Promise<{ url: string; server: Server; asked: () => number }> {
      let asked = 0;
      const server = createServer((req, res) => {
        if (req.url === '/readyz') asked++;
        res.statusCode = req.url === '/readyz' ? status : 404;
        res.end(status === 200 ? 'ok' : '[-]informer-sync failed');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, asked: () => asked };
    }
    const rbacDenied = () => apiError(403, 'deployments.apps "solo" is forbidden: User "system:serviceaccount:kube-system:sd" cannot get resource "deployments"');

    it('is retried when /readyz is not 200, and the answer comes through', async () => {
      const api = await readyz(500);
      try {
        const c = client(api.url);
        const answers: unknown[] = [rbacDenied()];
        answerWith(c, async () => { const a = answers.shift(); if (a) throw a; return { metadata: { name: 'w1' } }; });
        expect((await c.getNode('w1')).metadata?.name).toBe('w1');
        expect(api.asked()).toBe(1);
      } finally {
        api.server.close();
      }
    });

    it('is final when /readyz says ready: the identity may not do it', async () => {
      const api = await readyz(200);
      try {
        const c = client(api.url);
        answerWith(c, async () => { throw rbacDenied(); });
        await expect(c.getNode('w1')).rejects.toMatchObject({ code: 403 });
        expect(api.asked()).toBe(1);
      } finally {
        api.server.close();
      }
    });

    it('the bootstrap roles reported not found (RBAC not loaded yet) is retried without asking /readyz', async () => {
      const c = client();
      const answers: unknown[] = [
        apiError(
          403,
          'deployments.apps "solo" is forbidden: User "system:serviceaccount:kube-system:sd" cannot get resource "deployments" in API group "apps" in the namespace "shop": RBAC: [clusterrole.rbac.authorization.k8s.io "system:basic-user" not found, clusterrole.rbac.authorization.k8s.io "system:public-info-viewer" not found]',
        ),
      ];
      answerWith(c, async () => { const a = answers.shift(); if (a) throw a; return { metadata: { name: 'w1' } }; });
      expect((await c.getNode('w1')).metadata?.name).toBe('w1');
      expect(c.requests).toBe(2);
    });

    it('a /readyz this identity may not read (403) counts as not ready: retried, bounded by the outage bound', async () => {
      const api = await readyz(403);
      try {
        const c = client(api.url);
        c.outageBoundMs = 300;
        answerWith(c, async () => { throw rbacDenied(); });
        await expect(c.getNode('w1')).rejects.toMatchObject({ code: 403 });
        expect(api.asked()).toBeGreaterThan(0);
      } finally {
        api.server.close();
      }
    });

    it('"informers not synced" in the denial is retried without asking /readyz', async () => {
      const c = client();
      const answers: unknown[] = [apiError(403, 'pods "p" is forbidden: User "u" cannot get resource "pods": RBAC: informers not synced')];
      answerWith(c, async () => { const a = answers.shift(); if (a) throw a; return { metadata: { name: 'w1' } }; });
      expect((await c.getNode('w1')).metadata?.name).toBe('w1');
      expect(c.requests).toBe(2);
    });
  });

  it("a watch's first list rides out a restarting API server (503) like any read", async () => {
    // A loopback server: the list is answered 503 once, then with the Deployment; the watch is held open.
    const listed: string[] = [];
    let failures = 1;
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '', 'http://x');
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('');
        return;
      }
      listed.push(url.pathname);
      if (failures-- > 0) {
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 503, message: 'apiserver is shutting down' }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'web', namespace: 'shop', resourceVersion: '7' } }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const watch = c.watchWorkload('Deployment', 'shop', 'web');
    try {
      await watch.start();
      expect(watch.get('shop/web')?.metadata?.name).toBe('web');
      expect(listed).toEqual(['/apis/apps/v1/namespaces/shop/deployments', '/apis/apps/v1/namespaces/shop/deployments']);
    } finally {
      watch.stop();
      c.close();
      server.closeAllConnections();
      server.close();
    }
  });
});

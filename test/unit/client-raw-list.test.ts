// The cluster-wide pod list is read as raw JSON (no typed conversion): over plain HTTP to a
// loopback server that plays the API server's answers, it still pages with `continue`, counts
// every attempt, waits out a 429's Retry-After and a 503, and turns a final answer into the
// same ApiException the typed calls raise.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../src/engine/kube/client.js';
import { describeApiError, statusCode } from '../../src/engine/kube/errors.js';
import { listenLoopback } from './fixtures/loopback.js';

type Answer = { status: number; headers?: Record<string, string>; body: unknown };

let server: http.Server | undefined;
const clients: KubeClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

/** Serves `answers` in order; records each request's path and Authorization header. */
async function apiServer(answers: Answer[]): Promise<{ client: KubeClient; seen: { url: string; auth?: string }[] }> {
  const seen: { url: string; auth?: string }[] = [];
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const a = answers.shift() ?? { status: 500, body: { kind: 'Status', message: 'no more answers' } };
    res.writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers });
    res.end(JSON.stringify(a.body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node allows plain HTTP only with skipTLSVerify.
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const client = new KubeClient(kc);
  clients.push(client);
  return { client, seen };
}

const pod = (name: string, nodeName: string) => ({ metadata: { name, namespace: 'ns', deletionTimestamp: '2026-01-01T00:00:00Z' }, spec: { nodeName } });

const ignorePages = { start: () => undefined, add: () => undefined, commit: () => undefined };

describe('KubeClient.scanAllPods (raw JSON list)', () => {
  it('pages with continue, rides out 429 Retry-After and 503, counts each attempt, sends the credentials', async () => {
    const { client, seen } = await apiServer([
      { status: 200, body: { metadata: { resourceVersion: '42', continue: 'tok 1' }, items: [pod('a', 'w1')] } },
      { status: 429, headers: { 'Retry-After': '1' }, body: { kind: 'Status', code: 429, message: 'Too many requests, please try again later.' } },
      { status: 503, body: { kind: 'Status', code: 503, message: 'apiserver is shutting down' } },
      { status: 200, body: { metadata: { resourceVersion: '42' }, items: [pod('b', 'w2'), pod('c', 'w3')] } },
    ]);
    const retries: string[] = [];
    client.onRetry = (m) => retries.push(m);
    const pages: { names: string[]; rv: string }[] = [];
    await client.scanAllPods<string[]>({
      start: () => [],
      add: (page, items) => page.push(...items.map((p) => p.metadata!.name!)),
      commit: (names, rv) => pages.push({ names, rv }),
    });
    expect(pages).toEqual([{ names: ['a'], rv: '42' }, { names: ['b', 'c'], rv: '42' }]);
    expect(client.requests).toBe(4);
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatch(/HTTP 429.*retrying in 1\.0s/);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/pods?limit=500', ...Array(3).fill('/api/v1/pods?limit=500&continue=tok+1')]);
    expect(seen.every((s) => s.auth === 'Bearer secret-token')).toBe(true);
  });

  it('listNodes pages the same way, with the label selector', async () => {
    const node = (name: string) => ({ metadata: { name }, status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] } });
    const { client, seen } = await apiServer([
      { status: 200, body: { metadata: { continue: 'n2' }, items: [node('w1')] } },
      { status: 200, body: { metadata: {}, items: [node('w2')] } },
    ]);
    expect((await client.listNodes('pool=a')).map((n) => n.metadata?.name)).toEqual(['w1', 'w2']);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/nodes?limit=500&labelSelector=pool%3Da', '/api/v1/nodes?limit=500&labelSelector=pool%3Da&continue=n2']);
    expect(client.requests).toBe(2);
  });

  it('a final answer is an ApiException with the Status message (forbidden by a ready API server is not retried)', async () => {
    const { client, seen } = await apiServer([
      { status: 403, body: { kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden: User "u" cannot list resource "pods" at the cluster scope' } },
      { status: 200, body: 'ok' },
    ]);
    const err = await client.scanAllPods(ignorePages).then(() => undefined, (e: unknown) => e);
    expect(statusCode(err)).toBe(403);
    expect(describeApiError(err)).toBe('HTTP 403 Forbidden: pods is forbidden: User "u" cannot list resource "pods" at the cluster scope');
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/pods?limit=500', '/readyz']);
    expect(client.requests).toBe(2);
  });

  it('asks for the next page while this one still streams, and folds a page cut off mid-body once, from its retry', async () => {
    // Page 1 sends its metadata and first pod, then holds its body until page 2 is asked for
    // (bounded: 5 s, then it finishes anyway and the test fails on the order). Page 2's first
    // answer dies in the middle of its items; its retry is whole.
    const order: string[] = [];
    const sockets = new Set<unknown>();
    let page2Asked: () => void = () => undefined;
    const page2 = new Promise<void>((resolve) => (page2Asked = resolve));
    let page2Attempts = 0;
    server = http.createServer((req, res) => {
      sockets.add(req.socket);
      const url = req.url ?? '';
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (!url.includes('continue=')) {
        order.push('page 1 asked');
        res.write(`{"kind":"PodList","metadata":{"resourceVersion":"7","continue":"p2"},"items":[${JSON.stringify(pod('a', 'w1'))}`);
        let bound: NodeJS.Timeout | undefined;
        void Promise.race([page2, new Promise((r) => (bound = setTimeout(r, 5000)))]).then(() => {
          clearTimeout(bound);
          order.push('page 1 ended');
          res.end(`,${JSON.stringify(pod('b', 'w1'))}]}`);
        });
        return;
      }
      page2Attempts++;
      order.push(`page 2 asked (attempt ${page2Attempts})`);
      page2Asked();
      if (page2Attempts === 1) {
        res.write(`{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[${JSON.stringify(pod('c', 'w2'))},`);
        setTimeout(() => res.destroy(), 50);
        return;
      }
      res.end(`{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[${JSON.stringify(pod('c', 'w2'))},${JSON.stringify(pod('d', 'w2'))}]}`);
    });
    const client = new KubeClient(await listenLoopback(server));
    const pages: { names: string[]; rv: string }[] = [];
    try {
      await client.scanAllPods<string[]>({
        start: () => [],
        add: (page, items) => page.push(...items.map((p) => p.metadata!.name!)),
        commit: (names, rv) => pages.push({ names, rv }),
      });
    } finally {
      client.close();
    }
    expect(order.slice(0, 3)).toEqual(['page 1 asked', 'page 2 asked (attempt 1)', 'page 1 ended']);
    expect(pages).toEqual([{ names: ['a', 'b'], rv: '7' }, { names: ['c', 'd'], rv: '7' }]);
    expect(client.requests).toBe(3);
    // Kept-alive connections: the two pages in flight at once, not one per request.
    expect(sockets.size).toBeLessThanOrEqual(2);
  });
});


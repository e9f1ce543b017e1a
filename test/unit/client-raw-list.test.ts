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

type Answer = { status: number; headers?: Record<string, string>; body: unknown };

let server: http.Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

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
  return { client: new KubeClient(kc), seen };
}

const pod = (name: string, nodeName: string) => ({ metadata: { name, namespace: 'ns', deletionTimestamp: '2026-01-01T00:00:00Z' }, spec: { nodeName } });

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
    await client.scanAllPods((items, rv) => pages.push({ names: items.map((p) => p.metadata!.name!), rv }));
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

  it('a final answer is an ApiException with the Status message (forbidden is not retried)', async () => {
    const { client } = await apiServer([
      { status: 403, body: { kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden: User "u" cannot list resource "pods" at the cluster scope' } },
    ]);
    const err = await client.scanAllPods(() => undefined).then(() => undefined, (e: unknown) => e);
    expect(statusCode(err)).toBe(403);
    expect(describeApiError(err)).toBe('HTTP 403 Forbidden: pods is forbidden: User "u" cannot list resource "pods" at the cluster scope');
    expect(client.requests).toBe(1);
  });
});

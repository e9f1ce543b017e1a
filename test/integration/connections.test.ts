// Every request used to pay a TCP connect and a TLS handshake (client-node opened a connection
// pool per request): 30 at once for the permission check, 10 at once for the first evictions,
// one more for each request after. kube/transport.ts keeps connections alive, so requests go out
// on idle ones. Counted at a TCP proxy in front of the real API server (TLS passes through it
// untouched), with the test cluster's own client certificate.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFaultProxy, type FaultProxy } from '../../faults/net-proxy.js';
import { KubeClient } from '../../src/engine/kube/client.js';
import { loadKubeConfig } from '../../src/engine/kube/config.js';
import { useCluster } from './support.js';

const tc = useCluster({ nodes: 1 }, { uncordonAfterEach: false });
let proxy: FaultProxy | undefined;
let kubeconfig = '';

beforeAll(async () => {
  const server = new URL(tc.cluster.apiServerUrl);
  proxy = await startFaultProxy({ target: { host: server.hostname, port: Number(server.port) } });
  const text = readFileSync(tc.cluster.kubeconfigPath, 'utf8');
  const viaProxy = text.split(tc.cluster.apiServerUrl).join(proxy.url);
  if (viaProxy === text) throw new Error(`the kubeconfig does not name ${tc.cluster.apiServerUrl}`);
  kubeconfig = join(tc.cluster.stateDir, 'via-proxy.kubeconfig');
  writeFileSync(kubeconfig, viaProxy, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await proxy?.close();
});

describe('connections to the API server', () => {
  it('requests sent one after another reuse one connection instead of opening one each', async () => {
    const client = new KubeClient(loadKubeConfig({ path: kubeconfig }));
    const node = tc.cluster.nodes[0]!;
    await client.getNode(node); // opens the first connection
    const before = proxy!.connections;
    for (let i = 0; i < 10; i++) await client.getNode(node);
    await client.canI({ verb: 'get', resource: 'nodes', group: '' });
    expect(proxy!.connections - before).toBe(0);
  }, 60_000);

  it('requests sent at once open their own connections, which later requests reuse', async () => {
    const client = new KubeClient(loadKubeConfig({ path: kubeconfig }));
    const node = tc.cluster.nodes[0]!;
    const before = proxy!.connections;
    await Promise.all(Array.from({ length: 5 }, () => client.getNode(node)));
    const opened = proxy!.connections - before;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(5);
    for (let i = 0; i < 5; i++) await client.getNode(node);
    expect(proxy!.connections - before).toBe(opened);
  }, 60_000);
});

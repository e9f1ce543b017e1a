// The local cluster itself: a real control plane + one kwok per node, and a kubelet stop that
// the node lifecycle controller sees exactly as a real one.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { ensureBinaries, isAlive, startCluster, type LocalCluster } from '../../cluster/src/index.js';

const NODE_MONITOR_GRACE_PERIOD = '20s'; // upstream default 50s: shortened to keep the test quick
const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';

let cluster: LocalCluster;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;

const readyStatus = (n: k8s.V1Node): string | undefined => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const hasTaint = (n: k8s.V1Node, key: string, effect: string): boolean =>
  (n.spec?.taints ?? []).some((t) => t.key === key && t.effect === effect);
const podReady = (p: k8s.V1Pod): boolean => p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the Node once pred holds: a list, then a watch from that resourceVersion. */
function waitForNode(name: string, pred: (n: k8s.V1Node) => boolean, timeoutMs: number): Promise<k8s.V1Node> {
  const fieldSelector = `metadata.name=${name}`;
  return new Promise((resolve, reject) => {
    let done = false;
    let ctrl: AbortController | undefined;
    let last: k8s.V1Node | undefined;
    const finish = (err?: unknown, node?: k8s.V1Node): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ctrl?.abort();
      if (node) resolve(node);
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const timer = setTimeout(
      () => finish(new Error(`node ${name}: condition not met within ${timeoutMs} ms; last seen: ${JSON.stringify({ spec: last?.spec, conditions: last?.status?.conditions })}`)),
      timeoutMs,
    );
    const start = async (): Promise<void> => {
      const list = await core.listNode({ fieldSelector });
      last = list.items[0];
      if (last && pred(last)) return finish(undefined, last);
      ctrl = await new k8s.Watch(kc).watch(
        '/api/v1/nodes',
        { fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: false },
        (type: string, obj: k8s.V1Node) => {
          if (type === 'ADDED' || type === 'MODIFIED') {
            last = obj;
            if (pred(obj)) finish(undefined, obj);
          }
        },
        () => {
          // the watch ended (timeout, 410 Gone, ...): list and watch again
          if (!done) void sleep(200).then(() => start().catch(finish));
        },
      );
      if (done) ctrl.abort();
    };
    start().catch(finish);
  });
}

/** Polls the pods of a label selector until pred holds for the whole list. */
async function waitForPods(labelSelector: string, pred: (pods: k8s.V1Pod[]) => boolean, timeoutMs: number): Promise<k8s.V1Pod[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = (await core.listNamespacedPod({ namespace: 'default', labelSelector })).items;
    if (pred(pods)) return pods;
    if (Date.now() > deadline) {
      throw new Error(`pods ${labelSelector}: condition not met; ${JSON.stringify(pods.map((p) => [p.metadata?.name, p.spec?.nodeName, p.status?.phase, podReady(p)]))}`);
    }
    await sleep(250);
  }
}

beforeAll(async () => {
  await ensureBinaries(); // a cold build takes ~10-16 minutes on 2 cores; a no-op once built
}, 40 * 60_000);

beforeAll(async () => {
  const t0 = Date.now();
  cluster = await startCluster({ nodeMonitorGracePeriod: NODE_MONITOR_GRACE_PERIOD });
  console.log(`local cluster started in ${((Date.now() - t0) / 1000).toFixed(1)} s (${cluster.stateDir})`);
  kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  apps = kc.makeApiClient(k8s.AppsV1Api);
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe(`local cluster (node-monitor-grace-period shortened to ${NODE_MONITOR_GRACE_PERIOD})`, () => {
  const podIPsOnW1 = new Map<string, string>();

  it('has 3 Ready worker nodes with capacity and pod CIDRs', async () => {
    expect(cluster.nodes).toEqual(['w1', 'w2', 'w3']);
    const nodes = (await core.listNode()).items;
    expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(['w1', 'w2', 'w3']);
    for (const n of nodes) {
      expect(readyStatus(n)).toBe('True');
      expect(n.status?.allocatable).toMatchObject({ cpu: '8', memory: '32Gi', pods: '110' });
      expect(n.spec?.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
      expect(n.spec?.taints ?? []).toEqual([]);
    }
  }, 30_000);

  it('runs a Deployment: pods Running+Ready with IPs from their node, default NoExecute tolerations of 300 s', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 6,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] },
          },
        },
      },
    });
    const pods = await waitForPods('app=web', (ps) => ps.length === 6 && ps.every((p) => podReady(p) && p.status?.podIP), 60_000);
    const cidrs = new Map((await core.listNode()).items.map((n) => [n.metadata!.name!, n.spec!.podCIDR!]));
    for (const p of pods) {
      expect(p.status?.phase).toBe('Running');
      const prefix = cidrs.get(p.spec!.nodeName!)!.replace(/0\/24$/, '');
      expect(p.status?.podIP?.startsWith(prefix)).toBe(true);
      // Added by the DefaultTolerationSeconds admission plugin: the pod spec above has none.
      for (const key of [NOT_READY, UNREACHABLE]) {
        expect(p.spec?.tolerations).toContainEqual({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
      }
      if (p.spec?.nodeName === 'w1') podIPsOnW1.set(p.metadata!.name!, p.status!.podIP!);
    }
    expect(new Set(pods.map((p) => p.status?.podIP)).size).toBe(6);
    // The scheduler spreads replicas over nodes by default: w1 has some, the next tests need them.
    expect(podIPsOnW1.size).toBeGreaterThan(0);
  }, 60_000);

  it('stopKubelet(w1): w1 goes Unknown after the grace period and gets the unreachable NoSchedule+NoExecute taints', async () => {
    const oldPid = cluster.processes()['kwok-w1']!;
    const t0 = Date.now();
    await cluster.stopKubelet('w1');
    expect(isAlive(oldPid)).toBe(false);
    expect(cluster.kubeletRunning('w1')).toBe(false);

    const node = await waitForNode(
      'w1',
      (n) => readyStatus(n) !== 'True' && hasTaint(n, UNREACHABLE, 'NoSchedule') && hasTaint(n, UNREACHABLE, 'NoExecute'),
      120_000,
    );
    const elapsed = Date.now() - t0;
    console.log(`w1 tainted unreachable ${(elapsed / 1000).toFixed(1)} s after its kubelet stopped`);
    expect(readyStatus(node)).toBe('Unknown');
    // Not before the Lease ran out: 20 s grace minus at most one 10 s renew interval.
    expect(elapsed).toBeGreaterThanOrEqual(9_000);

    // The node lifecycle controller marks the pods on it not Ready; the others stay Ready.
    const pods = await waitForPods(
      'app=web',
      (ps) => ps.filter((p) => p.spec?.nodeName === 'w1').every((p) => !podReady(p)),
      30_000,
    );
    expect(pods.filter((p) => p.spec?.nodeName !== 'w1').every(podReady)).toBe(true);
    const nodes = (await core.listNode()).items;
    expect(nodes.filter((n) => n.metadata?.name !== 'w1').every((n) => readyStatus(n) === 'True')).toBe(true);
  }, 90_000);

  it('startKubelet(w1): w1 Ready again, taints removed, its pods Ready again with the same IPs', async () => {
    await cluster.startKubelet('w1');
    expect(cluster.kubeletRunning('w1')).toBe(true);
    const node = await waitForNode(
      'w1',
      (n) => readyStatus(n) === 'True' && !(n.spec?.taints ?? []).some((t) => t.key === UNREACHABLE),
      60_000,
    );
    expect(node.spec?.taints ?? []).toEqual([]);
    const pods = await waitForPods('app=web', (ps) => ps.length === 6 && ps.every(podReady), 30_000);
    for (const p of pods.filter((x) => x.spec?.nodeName === 'w1')) {
      expect(p.status?.podIP).toBe(podIPsOnW1.get(p.metadata!.name!));
    }
  }, 60_000);

  it('stop() kills every process group and removes the state dir', async () => {
    const { stateDir } = cluster;
    const pids = Object.values(cluster.processes());
    expect(pids).toHaveLength(7); // etcd, apiserver, controller-manager, scheduler, 3 x kwok
    expect(pids.every((p) => isAlive(p))).toBe(true);
    await cluster.stop();
    for (const p of pids) expect(isAlive(p)).toBe(false);
    expect(existsSync(stateDir)).toBe(false);
    // Nothing else started from the state dir survives either (all arguments point into it).
    const survivors = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e) && isAlive(Number(e)))
      .filter((e) => {
        try {
          return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(stateDir);
        } catch {
          return false;
        }
      });
    expect(survivors).toEqual([]);
  }, 60_000);
});

// The real-nodes backend (cluster/src/real-nodes) on a real Docker Engine: real kubelets,
// containerd and kube-proxy in unprivileged node containers started by testcontainers, pods from
// locally built images serving real HTTP. Asserts:
//  - the nodes register and become Ready; pods of the sample web image run on both and answer
//    HTTP through the Service's NodePort (from this host) and its ClusterIP (from a probe
//    container on the nodes' network, e2e/backends/real-nodes.ts);
//  - stopKubelet kills the real kubelet (pods keep serving) and the node lifecycle controller
//    marks the node not Ready and taints it unreachable; startKubelet brings it back to Ready;
//  - nothing is left behind: after stop(), after a failed start, and after SIGINT to a process
//    holding a cluster (containers, networks, volumes, the network's iptables rules and routes,
//    the host sysctls the kubelet writes, the state dir). Another real-nodes cluster may run
//    meanwhile (scripts/test.sh runs e2e scenario a beside these tests): its parts are not leftovers,
//    and the sysctls stay saved for it until it stops.
//
// Needs a Docker Engine (scripts/start-docker.sh) and Node >= 22 (testcontainers 12). Without
// them: a loudly named skipped test, or a failure with SAFE_DRAIN_REQUIRE_DOCKER=1.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RealNodesCluster } from '../../cluster/src/real-nodes/index.js';
import { dockerPrerequisites, notRunHere } from '../docker-prerequisites.js';

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** --privileged node containers where the machine allows them (GitHub-hosted runners: e2e.yml), as the e2e backend. */
const privileged = process.env.SAFE_DRAIN_REAL_NODES_PRIVILEGED === '1';

// About 3x the longest test measured (68 s, with integration tests beside it on 2 busy cores).
jest.setTimeout(210_000);

/** A real-nodes cluster runs while its state file is there (cluster/src/real-nodes: the sysctl holders count the same way). */
const running = (stateDir: string): boolean => existsSync(join(stateDir, 'real-nodes.json'));

/**
 * What a real-nodes cluster that is gone could have left on this host, as comparable text: its
 * containers and networks (labelled with its state dir), dangling volumes. Another real-nodes
 * cluster running meanwhile (the e2e suite's, started beside these tests) is not a leftover.
 */
async function hostFootprint(): Promise<{ containers: string; networks: string; volumes: string }> {
  const { STATE_DIR_LABEL } = await import('../../cluster/src/real-nodes/index.js');
  const labelled = async (what: 'ps' | 'network'): Promise<string> => {
    const [args, name] = what === 'ps' ? [['ps', '-a'], '{{.Names}}'] : [['network', 'ls'], '{{.Name}}'];
    const out = (await run('docker', [...args, '--filter', `label=${STATE_DIR_LABEL}`, '--format', `${name}\t{{.Label "${STATE_DIR_LABEL}"}}`])).stdout;
    return out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]).filter(([, dir]) => !running(dir)).map(([name]) => name).sort().join(',');
  };
  return {
    containers: await labelled('ps'),
    networks: await labelled('network'),
    // Anonymous volumes of removed node containers would be dangling.
    volumes: (await run('docker', ['volume', 'ls', '-q', '--filter', 'dangling=true'])).stdout.trim(),
  };
}

/**
 * The host's own values of the kernel settings the kubelet writes: those saved by a real-nodes
 * cluster already running, else the host's now.
 */
async function hostSysctls(): Promise<Record<string, string>> {
  const { readSysctls, savedSysctlsFile } = await import('../../cluster/src/real-nodes/index.js');
  return existsSync(savedSysctlsFile()) ? (JSON.parse(readFileSync(savedSysctlsFile(), 'utf8')) as { values: Record<string, string> }).values : readSysctls();
}

/**
 * After the clusters in `stateDirs` stopped: the kubelet's kernel settings went back to the host's
 * values when no real-nodes cluster runs any more; while one still runs, they stay saved for it
 * (with the host's values), no longer held by these clusters.
 */
async function expectSysctlsRestored(original: Record<string, string>, stateDirs: string[]): Promise<void> {
  const { readSysctls, savedSysctlsFile } = await import('../../cluster/src/real-nodes/index.js');
  const saved = existsSync(savedSysctlsFile()) ? (JSON.parse(readFileSync(savedSysctlsFile(), 'utf8')) as { values: Record<string, string>; holders: string[] }) : undefined;
  const others = (saved?.holders ?? []).filter(running);
  if (others.length === 0) {
    expect({ saved: saved !== undefined, sysctls: readSysctls() }).toEqual({ saved: false, sysctls: original });
  } else {
    expect({ values: saved!.values, ours: saved!.holders.filter((d) => stateDirs.includes(d)) }).toEqual({ values: original, ours: [] });
  }
}

/** iptables rules and routes that mention a subnet or bridge (a removed network leaves none). */
async function netTraces(subnet: string, bridge: string): Promise<string[]> {
  const traces: string[] = [];
  for (const table of ['filter', 'nat']) {
    const rules = (await run('iptables', ['-t', table, '-S'])).stdout.split('\n');
    traces.push(...rules.filter((r) => r.includes(subnet) || r.includes(bridge)).map((r) => `iptables -t ${table}: ${r}`));
  }
  const routes = (await run('ip', ['route'])).stdout.split('\n');
  traces.push(...routes.filter((r) => r.includes(subnet) || r.includes(bridge)).map((r) => `route: ${r}`));
  return traces;
}

async function networkOf(c: RealNodesCluster): Promise<{ subnet: string; bridge: string }> {
  const [id, subnet] = (await run('docker', ['network', 'inspect', c.network, '--format', '{{.Id}} {{(index .IPAM.Config 0).Subnet}}'])).stdout.trim().split(' ');
  return { subnet: subnet!, bridge: `br-${id!.slice(0, 12)}` };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(500);
  }
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.text()).trim();
}

const pre = await dockerPrerequisites();

if (!pre.ok) {
  notRunHere('real-nodes tests', pre.reason);
} else {
  describe('real nodes in containers (real kubelet, containerd, kube-proxy)', () => {
    let before: Awaited<ReturnType<typeof hostFootprint>>;
    let sysctls: Record<string, string>;
    let cluster: RealNodesCluster | undefined;

    beforeAll(async () => {
      await run('bash', [join(repo, 'scripts', 'build-probe-image.sh')], { timeout: 300_000 });
      before = await hostFootprint();
      sysctls = await hostSysctls();
    });

    afterAll(async () => {
      await cluster?.stop().catch(() => undefined);
    });

    it('serves HTTP through NodePort and ClusterIP; a killed kubelet makes its node unreachable while its pods keep running; stop() leaves nothing', async () => {
      const { startRealNodesCluster } = await import('../../cluster/src/real-nodes/index.js');
      // A shorter grace period than upstream's 50 s keeps the test short; the kubelet renews its
      // Lease every 10 s, so 20 s never flaps.
      cluster = await startRealNodesCluster({ nodes: 2, nodeMonitorGracePeriod: '20s', privileged, log: (m) => console.log(`[real-nodes] ${m}`) });
      const c = cluster;
      expect(c.nodes).toEqual(['w1', 'w2']);
      const nodeInfo = JSON.parse(await c.kubectl(['get', 'nodes', '-o', 'json'])) as {
        items: { metadata: { name: string }; status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string }; addresses: { type: string; address: string }[] } }[];
      };
      for (const n of nodeInfo.items) {
        expect(n.status.nodeInfo.kubeletVersion).toBe('v1.37.2');
        expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
        expect(n.status.addresses.find((a) => a.type === 'InternalIP')?.address).toBe(c.nodeIp(n.metadata.name));
      }
      const net = await networkOf(c);

      // One web pod per node (required anti-affinity), a NodePort Service in front.
      await c.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              metadata: { name: 'web', namespace: 'default' },
              spec: {
                replicas: 2,
                selector: { matchLabels: { app: 'web' } },
                template: {
                  metadata: { labels: { app: 'web' } },
                  spec: {
                    affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } }] } },
                    containers: [
                      {
                        name: 'web',
                        image: c.images.web,
                        imagePullPolicy: 'Never',
                        ports: [{ containerPort: 8080 }],
                        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
                      },
                    ],
                  },
                },
              },
            },
            { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } },
          ],
        }),
      });
      await c.kubectl(['rollout', 'status', 'deployment/web', '--timeout=120s'], { timeoutMs: 130_000 });
      const pods = JSON.parse(await c.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { nodeName: string } }[] };
      const podOn = Object.fromEntries(pods.items.map((p) => [p.spec.nodeName, p.metadata.name]));
      expect(Object.keys(podOn).sort()).toEqual(['w1', 'w2']);
      const svc = JSON.parse(await c.kubectl(['get', 'service', 'web', '-o', 'json'])) as { spec: { clusterIP: string; ports: { nodePort: number }[] } };
      const nodePort = svc.spec.ports[0]!.nodePort;

      // NodePort from this host, on either node's IP: answers come from both pods (kube-proxy balances).
      const seen = new Set<string>();
      await until('answers from both pods through the NodePort', 60_000, async () => {
        for (const n of c.nodes) seen.add(await httpGet(`http://${c.nodeIp(n)}:${nodePort}/`));
        return seen.size === 2 ? true : undefined;
      });
      expect([...seen].sort()).toEqual([podOn.w1, podOn.w2].sort());

      // ClusterIP from outside the nodes: the e2e probes (a container on the nodes' network).
      const { startServiceProbes } = await import('../../e2e/backends/real-nodes.js');
      const probes = await startServiceProbes(c, { namespace: 'default', service: 'web', port: 80 }, (m) => console.log(m));
      // Until kube-proxy has balanced its requests onto both pods (4 answers at least).
      const bothPods = (samples: readonly { available: boolean; detail?: string }[]) => samples.length >= 4 && new Set(samples.filter((x) => x.available).map((x) => x.detail)).size >= 2;
      await probes.waitForClusterIp(bothPods, 30_000).catch(() => undefined); // judged below, on every sample
      const samples = await probes.stop();
      const clusterIp = samples.filter((s) => s.detail?.startsWith('ClusterIP'));
      expect(clusterIp.length).toBeGreaterThanOrEqual(4);
      expect(clusterIp.every((s) => s.available)).toBe(true);
      expect(new Set(clusterIp.map((s) => s.detail!.replace('ClusterIP: ', '')))).toEqual(new Set(Object.values(podOn)));

      // Kill w1's kubelet: the process is gone, its pod keeps serving, the node goes unreachable.
      expect(c.kubeletRunning('w1')).toBe(true);
      await c.stopKubelet('w1');
      expect(c.kubeletRunning('w1')).toBe(false);
      await until(`node w1 not Ready and tainted unreachable`, 120_000, async () => {
        const n = JSON.parse(await c.kubectl(['get', 'node', 'w1', '-o', 'json'])) as {
          spec: { taints?: { key: string; effect: string }[] };
          status: { conditions: { type: string; status: string }[] };
        };
        const ready = n.status.conditions.find((x) => x.type === 'Ready')?.status;
        const tainted = n.spec.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === 'NoExecute');
        return ready !== 'True' && tainted ? true : undefined;
      });
      // The node lifecycle controller marks w1's pod not Ready, so kube-proxy (still running on
      // w1) stops routing to it; the pod's process itself still runs under containerd.
      await until("w1's NodePort answering only from w2's pod", 60_000, async () => {
        const from = new Set<string>();
        for (let i = 0; i < 10; i++) from.add(await httpGet(`http://${c.nodeIp('w1')}:${nodePort}/`));
        return from.size === 1 && from.has(podOn.w2!) ? true : undefined;
      });
      const ps = await c.exec('w1', ['ps', '-e', '-o', 'comm']);
      expect(ps).toMatch(/httpd/);
      expect(ps).not.toMatch(/kubelet/);

      await c.startKubelet('w1');
      expect(c.kubeletRunning('w1')).toBe(true);
      await until('node w1 Ready again', 120_000, async () => {
        const ready = await c.kubectl(['get', 'node', 'w1', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
        return ready === 'True' ? true : undefined;
      });

      cluster = undefined;
      const stateDir = c.stateDir;
      await c.stop();
      expect(existsSync(stateDir)).toBe(false);
      expect(await netTraces(net.subnet, net.bridge)).toEqual([]);
      expect(await hostFootprint()).toEqual(before);
      await expectSysctlsRestored(sysctls, [stateDir]);
    });

    it('a failed start leaves nothing behind', async () => {
      const { startRealNodesCluster } = await import('../../cluster/src/real-nodes/index.js');
      // 1 ms for nodes to become Ready: the start fails after the containers are up.
      const err = await startRealNodesCluster({ nodes: 1, readyTimeoutMs: 1, privileged }).then(
        () => new Error('started'),
        (e: unknown) => e as Error,
      );
      expect(err.message).toMatch(/nodes not Ready within 1 ms/);
      // The failed start's logs are kept for people (named in the error); not a leftover of the cluster.
      const logs = /\(logs: (\S+)\)/.exec(err.message)?.[1];
      expect(logs && existsSync(join(logs, 'node-w1-kubelet.log'))).toBe(true);
      rmSync(logs!, { recursive: true, force: true });
      expect(await hostFootprint()).toEqual(before);
      await expectSysctlsRestored(sysctls, []);
    });

    it('SIGINT to a process holding a cluster leaves nothing behind', async () => {
      // Node itself (no tsx wrapper in between), so the signal reaches the holder directly.
      const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'test/real-nodes/real-nodes-holder.ts')], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      const ready = await until('the child to report READY', 120_000, async () => (/READY (\S+) (\S+)/.exec(out) ?? undefined));
      const [, stateDir, network] = ready;
      const [id, subnet] = (await run('docker', ['network', 'inspect', network!, '--format', '{{.Id}} {{(index .IPAM.Config 0).Subnet}}'])).stdout.trim().split(' ');
      // While it runs, the kubelet has written its kernel tunables (overcommit_memory=1, panic=10 …).
      expect(readFileSync('/proc/sys/vm/overcommit_memory', 'utf8').trim()).toBe('1');
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(existsSync(stateDir!)).toBe(false);
      expect(await netTraces(subnet!, `br-${id!.slice(0, 12)}`)).toEqual([]);
      expect(await hostFootprint()).toEqual(before);
      await expectSysctlsRestored(sysctls, [stateDir!]);
    });
  });
}

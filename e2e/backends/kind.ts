// The `kind` e2e backend: a real multi-node cluster (kindest/node containers) on a GitHub-hosted
// ubuntu runner.
//
// Approach: the cluster's lifecycle is driven by the `kind` CLI (create / get kubeconfig /
// delete, pinned by the workflow: `go install sigs.k8s.io/kind@KIND_VERSION`); testcontainers
// runs only the availability probe, a GenericContainer on kind's `kind` Docker network.
// Why not start kindest/node containers with testcontainers directly: a kind node is a
// privileged systemd container that needs kind's whole provisioning (kubeadm config per node,
// certificates, joining workers, CNI, storage, the load-balancer/port mapping, /dev/fuse and
// cgroup fixups); re-implementing that is what the single-node Java `kindcontainer` does, and it
// would drift from every kind release. The CLI is the supported interface, multi-node out of the
// box, and its cluster is exactly what kind users run.
//
// Kubelet stop/start: `docker exec <node> systemctl stop|start kubelet` (kind's unit has
// Restart=always, so killing the process is not a stop). The node's containers keep running —
// as on a real machine whose kubelet died — and the control plane goes through the real
// node-monitor-grace-period → not-ready → taint → 300 s toleration path.
//
// Availability: busybox `wget` against the Service's NodePort on the control-plane node (never
// drained, kubelet never stopped) every 150 ms, each request a new connection through
// kube-proxy's Service rules to a ready endpoint (see kind-util probeEndpointFor).
//
// Teardown: stop() deletes the cluster and stops the probes; a failed start deletes what it
// created; SIGINT/SIGTERM delete the cluster before exiting. SAFE_DRAIN_KEEP_KIND=1 keeps it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CoreV1Api, V1Node, V1Service } from '@kubernetes/client-node';
import type { AvailabilityProbe, AvailabilitySample, ClusterBackend, ProbeTarget } from '../backend.js';
import { DEFAULT_PROBE_IMAGE, startHttpProbe, type HttpProbe } from './http-probe.js';
import {
  DEFAULT_KUBERNETES_VERSION,
  kindCreateArgs,
  kindDeleteArgs,
  kindExportLogsArgs,
  kindGetKubeconfigArgs,
  kindGetNodesArgs,
  kindNodeImage,
  kindNodeNames,
  kubeletSystemctlArgs,
  probeEndpointFor,
  renderKindConfig,
  validateClusterName,
} from './kind-util.js';

const run = promisify(execFile);

/**
 * The sample `helloworld` image: agnhost's netexec serves HTTP on 8080 (`/hostname` answers the
 * pod name, `/healthz` suits a readiness probe). Give the container `args: KIND_SAMPLE_ARGS`
 * (the image's entrypoint is /agnhost).
 */
export const KIND_SAMPLE_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
/**
 * `--delay-shutdown=5`: on SIGTERM netexec keeps serving 5 s while the endpoint removal reaches
 * every kube-proxy — the usual graceful-shutdown behaviour a zero-downtime drain relies on. The
 * start-up time (Ready only after 8 s) is in the pod template, the same on every backend
 * (e2e/sample-app.ts): with it a plain drain is visibly down even though kube-proxy keeps routing
 * to the terminating-but-serving old pod for those 5 s.
 */
export const KIND_SAMPLE_ARGS: readonly string[] = ['netexec', '--http-port=8080', '--delay-shutdown=5'];
/** Path the probe requests (agnhost netexec: the answering pod's name, kept as sample detail). */
export const KIND_PROBE_PATH = '/hostname';

export interface KindBackendOptions {
  /** Worker nodes (default 3; at least 2). The control plane is tainted and takes no workload. */
  workers?: number;
  /** kindest/node tag (`v1.36.4`) or full image; default $KIND_NODE_VERSION or kind's default. */
  kubernetesVersion?: string;
  /** Default $KIND_CLUSTER_NAME or `sd-e2e-<random>`. */
  clusterName?: string;
  /** Default $KIND or `kind` on PATH. */
  kindBinary?: string;
  /** Default $SAFE_DRAIN_PROBE_IMAGE or busybox:1.37.0. */
  probeImage?: string;
  probeIntervalMs?: number;
  /** startAvailabilityProbe waits this long for a first ok sample, then throws (0: don't wait). Default 60 s. */
  probeReadyTimeoutMs?: number;
  /** Pre-pull the sample image into every node (crictl) so pod starts measure drains, not registry latency. Default true. */
  preloadSampleImage?: boolean;
  /** Keep the cluster on stop() (default: $SAFE_DRAIN_KEEP_KIND === '1'). */
  keepCluster?: boolean;
  /** `kind export logs` into this directory on stop(), before deletion (default $SAFE_DRAIN_KIND_LOGS_DIR). */
  exportLogsTo?: string;
  log?: (message: string) => void;
}

export interface KindBackend extends ClusterBackend {
  readonly name: 'kind';
  readonly clusterName: string;
  readonly controlPlane: string;
  readonly nodeImage: string;
  /** Container args for sampleImage (see KIND_SAMPLE_ARGS). */
  readonly sampleArgs: string[];
  /** Writes `kind export logs` into `dir`. */
  exportLogs(dir: string): Promise<void>;
}

interface Cmd {
  stdout: string;
  stderr: string;
}

async function sh(bin: string, args: string[], timeoutMs: number): Promise<Cmd> {
  try {
    const { stdout, stderr } = await run(bin, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (e) {
    const err = e as { stderr?: string; message?: string; code?: string };
    const detail = err.code === 'ENOENT' ? `${bin}: command not found` : (err.stderr?.trim() || err.message || String(e));
    throw new Error(`${bin} ${args.join(' ')} failed: ${detail}`, { cause: e });
  }
}

export async function startKindBackend(opts: KindBackendOptions = {}): Promise<KindBackend> {
  const log = opts.log ?? ((m: string) => console.error(`[kind ${new Date().toISOString().slice(11, 23)}] ${m}`));
  const kind = opts.kindBinary ?? process.env.KIND ?? 'kind';
  const workers = opts.workers ?? 3;
  if (!Number.isInteger(workers) || workers < 2) throw new Error(`kind backend: workers must be an integer >= 2, got ${workers}`);
  const clusterName = validateClusterName(opts.clusterName ?? process.env.KIND_CLUSTER_NAME ?? `sd-e2e-${Date.now().toString(36)}`);
  const nodeImage = kindNodeImage(opts.kubernetesVersion ?? process.env.KIND_NODE_VERSION ?? DEFAULT_KUBERNETES_VERSION);
  const probeImage = opts.probeImage ?? process.env.SAFE_DRAIN_PROBE_IMAGE ?? DEFAULT_PROBE_IMAGE;
  const keep = opts.keepCluster ?? process.env.SAFE_DRAIN_KEEP_KIND === '1';
  const exportLogsTo = opts.exportLogsTo ?? process.env.SAFE_DRAIN_KIND_LOGS_DIR;
  const names = kindNodeNames(clusterName, workers);

  const dir = await mkdtemp(join(tmpdir(), 'safe-drain-kind-'));
  const configPath = join(dir, 'kind-config.yaml');
  const createKubeconfig = join(dir, 'kind-create.kubeconfig');
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(configPath, renderKindConfig({ workers, nodeImage, workerLabels: { 'safe-drain.e2e/worker': 'true' } }));

  // Synchronous deletion on SIGINT/SIGTERM: async work does not run once the process exits.
  let created = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (created && !keep) {
      log(`${signal}: deleting kind cluster ${clusterName}`);
      try {
        execFileSync(kind, kindDeleteArgs(clusterName, createKubeconfig), { stdio: 'inherit', timeout: 120_000 });
      } catch {
        /* exiting anyway */
      }
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const removeSignalHandlers = (): void => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };

  const deleteCluster = async (): Promise<void> => {
    if (!created) return;
    if (keep) {
      log(`keeping kind cluster ${clusterName} (SAFE_DRAIN_KEEP_KIND=1); kubeconfig: ${kubeconfigPath}; delete with: ${kind} ${kindDeleteArgs(clusterName).join(' ')}`);
      return;
    }
    log(`deleting kind cluster ${clusterName}`);
    await sh(kind, kindDeleteArgs(clusterName, createKubeconfig), 180_000);
    created = false;
  };

  const exportLogs = async (to: string): Promise<void> => {
    await sh(kind, kindExportLogsArgs(clusterName, to), 300_000);
    log(`kind logs exported to ${to}`);
  };

  let core: CoreV1Api;
  try {
    log(`creating kind cluster ${clusterName}: 1 control plane + ${workers} workers, ${nodeImage}`);
    const t0 = Date.now();
    created = true; // from here on a partial cluster may exist: delete it on failure
    await sh(kind, kindCreateArgs({ name: clusterName, configPath, kubeconfigPath: createKubeconfig, waitSeconds: 300 }), 900_000);
    log(`cluster created in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const { stdout: kubeconfig } = await sh(kind, kindGetKubeconfigArgs(clusterName), 60_000);
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    const { stdout: nodeList } = await sh(kind, kindGetNodesArgs(clusterName), 60_000);
    const present = nodeList.split('\n').map((l) => l.trim()).filter(Boolean).sort();
    const expected = [names.controlPlane, ...names.workers].sort();
    if (JSON.stringify(present) !== JSON.stringify(expected)) {
      throw new Error(`kind get nodes: expected ${expected.join(', ')}, got ${present.join(', ') || 'none'}`);
    }

    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    await waitForNodesReady(core, expected, 300_000, log);

    if (opts.preloadSampleImage ?? true) await preloadImage(KIND_SAMPLE_IMAGE, names.workers, log);
  } catch (e) {
    log(`kind backend failed to start: ${(e as Error).message}`);
    if (exportLogsTo && created) await exportLogs(exportLogsTo).catch((err: Error) => log(`kind export logs failed: ${err.message}`));
    await deleteCluster().catch((err: Error) => log(`cleanup: ${err.message}`));
    removeSignalHandlers();
    if (!keep) await rm(dir, { recursive: true, force: true });
    throw e;
  }

  const probes = new Set<AvailabilityProbe>();
  const known = new Set([names.controlPlane, ...names.workers]);
  const checkNode = (node: string): void => {
    if (!known.has(node)) throw new Error(`unknown kind node ${node} (nodes: ${[...known].join(', ')})`);
  };

  const kubeletActive = async (node: string): Promise<string> => {
    // `systemctl is-active` exits non-zero when inactive: read its stdout either way.
    try {
      const { stdout } = await run('docker', kubeletSystemctlArgs(node, 'is-active'), { timeout: 30_000 });
      return stdout.trim();
    } catch (e) {
      return String((e as { stdout?: string }).stdout ?? '').trim() || 'unknown';
    }
  };

  let stopping: Promise<void> | undefined;
  const backend: KindBackend = {
    name: 'kind',
    kubeconfigPath,
    nodes: [...names.workers],
    clusterName,
    controlPlane: names.controlPlane,
    nodeImage,
    sampleImage: KIND_SAMPLE_IMAGE,
    sampleArgs: [...KIND_SAMPLE_ARGS],
    exportLogs,

    async stopKubelet(node) {
      checkNode(node);
      await sh('docker', kubeletSystemctlArgs(node, 'stop'), 60_000);
      const state = await kubeletActive(node);
      if (state === 'active') throw new Error(`kubelet on ${node} still active after systemctl stop`);
      log(`kubelet stopped on ${node} (${state})`);
    },

    async startKubelet(node) {
      checkNode(node);
      await sh('docker', kubeletSystemctlArgs(node, 'start'), 60_000);
      const state = await kubeletActive(node);
      if (state !== 'active') throw new Error(`kubelet on ${node} is ${state} after systemctl start`);
      log(`kubelet started on ${node}`);
    },

    async startAvailabilityProbe(target: ProbeTarget) {
      const svc = await core.readNamespacedService({ name: target.service, namespace: target.namespace });
      const how = probeEndpointFor(svc, target.port);
      let nodePort: number;
      let companion: string | undefined;
      if (how.kind === 'nodePort') {
        nodePort = how.nodePort;
      } else {
        const body = how.service as V1Service;
        companion = body.metadata!.name!;
        await core.deleteNamespacedService({ name: companion, namespace: target.namespace }).catch(() => undefined);
        const made = await core.createNamespacedService({ namespace: target.namespace, body });
        nodePort = made.spec?.ports?.[0]?.nodePort ?? 0;
        if (!nodePort) throw new Error(`companion Service ${companion} got no nodePort`);
        log(`Service ${target.namespace}/${target.service} is ${svc.spec?.type ?? 'ClusterIP'}: probing through companion NodePort Service ${companion} (same selector and ports)`);
      }
      const ip = nodeInternalIP(await core.readNode({ name: names.controlPlane }));
      const url = `http://${ip}:${nodePort}${KIND_PROBE_PATH}`;
      log(`availability probe: ${probeImage} on network kind → ${url} (Service ${target.namespace}/${target.service}:${target.port})`);

      let last: boolean | undefined;
      const deleteCompanion = async (): Promise<void> => {
        if (companion) await core.deleteNamespacedService({ name: companion, namespace: target.namespace }).catch(() => undefined);
      };
      let probe: HttpProbe;
      try {
        probe = await startHttpProbe({
          image: probeImage,
          url,
          network: 'kind',
          intervalMs: opts.probeIntervalMs ?? 150,
          // 2 s, not 1: a request stalled for a second by a busy runner is not an outage of the
          // Service (no endpoint is a refused connection, at once).
          timeoutSeconds: 2,
          // A request every interval even while earlier ones hang: an outage's end is seen
          // within an interval (the e2e holds safe-drain's own figure against this, within 0.5 s).
          concurrent: true,
          onLine: (line) => {
            const ok = / ok( |$)/.test(line);
            if (ok !== last) log(`probe: ${line}`);
            last = ok;
          },
        });
      } catch (e) {
        await deleteCompanion();
        throw e;
      }
      const wrapped: AvailabilityProbe = {
        async stop(): Promise<AvailabilitySample[]> {
          probes.delete(wrapped);
          try {
            return await probe.stop();
          } finally {
            await deleteCompanion();
          }
        },
      };
      probes.add(wrapped);
      const readyMs = opts.probeReadyTimeoutMs ?? 60_000;
      if (readyMs > 0) {
        try {
          await probe.waitFor((s) => s.some((x) => x.available), readyMs);
        } catch (e) {
          await wrapped.stop().catch(() => undefined);
          throw new Error(`Service ${target.namespace}/${target.service} never answered ${url}: ${(e as Error).message}`, { cause: e });
        }
      }
      return wrapped;
    },

    stop() {
      stopping ??= (async () => {
        for (const p of [...probes]) await p.stop().catch((e: Error) => log(`probe stop: ${e.message}`));
        if (exportLogsTo && created) await exportLogs(exportLogsTo).catch((e: Error) => log(`kind export logs failed: ${e.message}`));
        try {
          await deleteCluster();
        } finally {
          removeSignalHandlers();
          if (!keep) await rm(dir, { recursive: true, force: true });
        }
      })();
      return stopping;
    },
  };
  return backend;
}

function nodeInternalIP(node: V1Node): string {
  const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  if (!ip) throw new Error(`node ${node.metadata?.name} has no InternalIP`);
  return ip;
}

async function waitForNodesReady(core: CoreV1Api, expected: string[], timeoutMs: number, log: (m: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let notReady: string[] = expected;
  while (Date.now() < deadline) {
    const list = await core.listNode().catch(() => undefined);
    if (list) {
      const ready = new Set(
        list.items
          .filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
          .map((n) => n.metadata?.name ?? ''),
      );
      notReady = expected.filter((n) => !ready.has(n));
      if (notReady.length === 0) {
        log(`all ${expected.length} nodes Ready`);
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
  throw new Error(`nodes not Ready after ${timeoutMs / 1000} s: ${notReady.join(', ')}`);
}

/** `crictl pull` inside each node: independent of the host's Docker image store. Best effort. */
async function preloadImage(image: string, nodes: string[], log: (m: string) => void): Promise<void> {
  const t0 = Date.now();
  const results = await Promise.allSettled(nodes.map((n) => sh('docker', ['exec', n, 'crictl', 'pull', image], 300_000)));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]}: ${(r.reason as Error).message}`] : []));
  if (failed.length) log(`WARNING: pre-pull of ${image} failed (pods will pull it themselves): ${failed.join('; ')}`);
  else log(`pre-pulled ${image} on ${nodes.length} workers in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

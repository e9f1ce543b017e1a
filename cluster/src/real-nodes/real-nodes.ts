// The local cluster with REAL nodes: the control plane of cluster/src/cluster.ts (real processes on
// the host, kube-apiserver on the gateway of a Docker network made for this cluster) and one Docker
// container per worker node, started with testcontainers, each running containerd, a real kubelet
// 1.37 and kube-proxy (iptables mode). Pods are real processes from locally built images and serve
// real HTTP. stopKubelet() SIGKILLs the node's kubelet (its pods keep running, as on a real
// machine); startKubelet() starts it again.
//
// Everything started here is removed by stop(), on process exit/SIGINT/SIGTERM (non-persistent
// clusters), or by the next start (reapStaleRealNodes: containers and networks whose cluster is
// gone): containers with their volumes, the network (its bridge and iptables rules go with it),
// the host-wide sysctls the kubelet wrote (host-sysctls.ts). No host routes are added.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_STATE_ROOT, openCluster, startCluster, type LocalCluster } from '../cluster.js';
import { run } from '../exec.js';
import { isAlive, ownerRecord, reapStale } from '../procs.js';
import { restoreHostSysctls, saveHostSysctls } from './host-sysctls.js';
import { ensureNodeImages, type RealNodeImages } from './images.js';

/** Pod network of the whole cluster (kube-proxy --cluster-cidr); node i gets 10.244.<i+1>.0/24. */
export const CLUSTER_CIDR = '10.244.0.0/16';
const podCidr = (i: number): string => `10.244.${i + 1}.0/24`;
const STATE_FILE = 'real-nodes.json';
/** Label on every container and network: the state dir of the cluster it belongs to. */
export const STATE_DIR_LABEL = 'safe-drain.real-nodes.state-dir';

export interface RealNodesOptions {
  /** Worker count (named w1..wN). Default 2. */
  nodes?: number;
  /** See ClusterOptions. */
  nodeMonitorGracePeriod?: string;
  defaultTolerationSeconds?: number;
  stateDir?: string;
  /** Node logs (kubelet, kube-proxy, containerd) are copied here on stop when it is outside the state dir. */
  logDir?: string;
  /** Outlives this process (CLI `up`). */
  persistent?: boolean;
  /** --privileged node containers (e.g. GitHub-hosted runners); default: unprivileged. */
  privileged?: boolean;
  /** Budget for the nodes to become Ready after their containers started. Default 120 s. */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

interface NodeState {
  name: string;
  container: string;
  containerId: string;
  ip: string;
  podCidr: string;
}

interface RealNodesState {
  owner: { pid: number; startTime: number };
  persistent: boolean;
  network: { name: string; gateway: string; subnet: string };
  images: RealNodeImages;
  nodes: NodeState[];
}

export interface RealNodesCluster extends LocalCluster {
  readonly images: RealNodeImages;
  /** The Docker network of the nodes (probes from outside the nodes join it). */
  readonly network: string;
  /** The node's IP on that network (NodePorts answer there). */
  nodeIp(node: string): string;
  /** Runs a command in the node's container; resolves stdout. */
  exec(node: string, cmd: string[], timeoutMs?: number): Promise<string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const docker = (args: string[], timeoutMs = 60_000): Promise<string> => run('docker', args, { timeoutMs });

function dockerSync(args: string[]): string {
  try {
    return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch {
    return '';
  }
}

function readState(stateDir: string): RealNodesState | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, STATE_FILE), 'utf8')) as RealNodesState;
  } catch {
    return undefined;
  }
}

function writeState(stateDir: string, state: RealNodesState): void {
  writeFileSync(join(stateDir, STATE_FILE), JSON.stringify(state, null, 2));
}

/**
 * Removes, synchronously, every container and network labelled with stateDir and restores the
 * host sysctls (if no other real-nodes cluster still runs). Safe to call twice. Returns problems.
 */
export function teardownSync(stateDir: string): string[] {
  const problems: string[] = [];
  const filter = ['--filter', `label=${STATE_DIR_LABEL}=${stateDir}`];
  const ids = dockerSync(['ps', '-aq', ...filter]).split('\n').filter(Boolean);
  if (ids.length) dockerSync(['rm', '-f', '-v', ...ids]);
  const nets = dockerSync(['network', 'ls', '-q', ...filter]).split('\n').filter(Boolean);
  for (const net of nets) {
    // Containers someone else attached (a probe left running) would keep the network alive.
    const attached = dockerSync(['network', 'inspect', net, '--format', '{{range $id, $c := .Containers}}{{$id}} {{end}}']).split(' ').filter(Boolean);
    for (const c of attached) dockerSync(['network', 'disconnect', '-f', net, c]);
  }
  if (nets.length) dockerSync(['network', 'rm', ...nets]);
  if (dockerSync(['ps', '-aq', ...filter]).trim()) problems.push(`containers labelled ${STATE_DIR_LABEL}=${stateDir} remain`);
  if (dockerSync(['network', 'ls', '-q', ...filter]).trim()) problems.push(`networks labelled ${STATE_DIR_LABEL}=${stateDir} remain`);
  problems.push(...restoreHostSysctls(stateDir).map((f) => `host sysctl not restored: ${f}`));
  return problems;
}

/** Removes containers and networks of real-nodes clusters whose state is gone or whose owner died. */
export function reapStaleRealNodes(): string[] {
  const dirs = new Set(
    [
      ...dockerSync(['ps', '-a', '--filter', `label=${STATE_DIR_LABEL}`, '--format', `{{.Label "${STATE_DIR_LABEL}"}}`]).split('\n'),
      ...dockerSync(['network', 'ls', '--filter', `label=${STATE_DIR_LABEL}`, '--format', `{{.Label "${STATE_DIR_LABEL}"}}`]).split('\n'),
    ].filter(Boolean),
  );
  const reaped: string[] = [];
  for (const dir of dirs) {
    const st = readState(dir);
    if (st && (st.persistent || isAlive(st.owner.pid, st.owner.startTime))) continue;
    teardownSync(dir);
    if (st) rmSync(join(dir, STATE_FILE), { force: true });
    reaped.push(dir);
  }
  return reaped;
}

const owned = new Set<string>();
let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const d of owned) teardownSync(d);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const d of owned) teardownSync(d);
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[sig]);
    });
  }
}

// ---- per-node configuration -----------------------------------------------------------------------

function kubeconfig(server: string, caPem: string, certPem: string, keyPem: string, user: string): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'safe-drain', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(keyPem) } }],
    contexts: [{ name: 'safe-drain', context: { cluster: 'safe-drain', user } }],
    'current-context': 'safe-drain',
  });
}

const KUBELET_CONFIG = stringify({
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: '/etc/safe-drain/ca.crt' } },
  authorization: { mode: 'AlwaysAllow' },
  containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
  // Our hosts run cgroup v1, which kubelet >= 1.35 refuses unless told otherwise.
  failCgroupV1: false,
  cgroupDriver: 'cgroupfs',
  failSwapOn: false,
  // Pods resolve nothing (no cluster DNS); the node's resolv.conf points at Docker's embedded DNS.
  resolvConf: '',
  // The node's disk is the host's: default thresholds would evict pods on a busy CI disk.
  evictionHard: { 'memory.available': '1Mi', 'nodefs.available': '1%', 'nodefs.inodesFree': '1%', 'imagefs.available': '1%' },
  imageGCHighThresholdPercent: 100,
  imageGCLowThresholdPercent: 99,
  serializeImagePulls: false,
  // Leave host-wide settings alone where the kubelet lets us (the kernel tunables it writes
  // anyway are saved and restored: host-sysctls.ts).
  protectKernelDefaults: false,
  makeIPTablesUtilChains: true,
});

const KUBE_PROXY_CONFIG = stringify({
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  mode: 'iptables',
  clientConnection: { kubeconfig: '/etc/safe-drain/kube-proxy.kubeconfig' },
  clusterCIDR: CLUSTER_CIDR,
  // nf_conntrack_max is host-wide: do not touch it (0 = leave as is), nor the timeouts.
  conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  metricsBindAddress: '127.0.0.1:10249',
  healthzBindAddress: '0.0.0.0:10256',
});

function cniConfig(cidr: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'safe-drain',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // Pod-to-pod traffic between nodes is routed (routes added after start), not masqueraded.
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: cidr }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

async function signClientCert(pkiDir: string, name: string, subject: string): Promise<{ cert: string; key: string }> {
  const key = join(pkiDir, `${name}.key`);
  const csr = join(pkiDir, `${name}.csr`);
  const cert = join(pkiDir, `${name}.crt`);
  const ext = join(pkiDir, `${name}.ext`);
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', join(pkiDir, 'ca.crt'), '-CAkey', join(pkiDir, 'ca.key'), '-CAcreateserial',
    '-days', '3650', '-sha256', '-extfile', ext, '-out', cert,
  ]);
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

// ---- the cluster ---------------------------------------------------------------------------------

class RealNodesImpl implements RealNodesCluster {
  constructor(
    private readonly inner: LocalCluster,
    private readonly state: RealNodesState,
    private readonly logCopyDir: string | undefined,
  ) {}

  get kubeconfigPath(): string {
    return this.inner.kubeconfigPath;
  }
  get stateDir(): string {
    return this.inner.stateDir;
  }
  get logDir(): string {
    return this.inner.logDir;
  }
  get binDir(): string {
    return this.inner.binDir;
  }
  get apiServerUrl(): string {
    return this.inner.apiServerUrl;
  }
  get scaleNodes(): string[] {
    return this.inner.scaleNodes;
  }
  get auditLogPath(): string | undefined {
    return this.inner.auditLogPath;
  }
  kubeconfigFor(user: string): string {
    return this.inner.kubeconfigFor(user);
  }
  get nodes(): string[] {
    return this.state.nodes.map((n) => n.name);
  }
  get images(): RealNodeImages {
    return this.state.images;
  }
  get network(): string {
    return this.state.network.name;
  }

  private node(name: string): NodeState {
    const n = this.state.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`unknown node ${name} (nodes: ${this.nodes.join(', ')})`);
    return n;
  }

  nodeIp(node: string): string {
    return this.node(node).ip;
  }

  exec(node: string, cmd: string[], timeoutMs = 60_000): Promise<string> {
    return docker(['exec', this.node(node).containerId, ...cmd], timeoutMs);
  }

  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string> {
    return this.inner.kubectl(args, opts);
  }
  processes(): Record<string, number> {
    return this.inner.processes();
  }
  restartApiServer(opts?: { downMs?: number; extraArgs?: string[]; readyTimeoutMs?: number }): Promise<{ stopMs: number; totalMs: number }> {
    return this.inner.restartApiServer(opts);
  }
  pauseEtcd(ms: number): Promise<void> {
    return this.inner.pauseEtcd(ms);
  }

  kubeletRunning(node: string): boolean {
    const out = dockerSync(['exec', this.node(node).containerId, 'sh', '-c', 'kill -0 "$(cat /run/kubelet.pid 2>/dev/null)" 2>/dev/null && echo running']);
    return out.trim() === 'running';
  }

  /** SIGKILLs the node's kubelet and waits until the process is gone (kubelet-stop: bounded 10 s). */
  async stopKubelet(node: string): Promise<void> {
    await this.exec(node, ['kubelet-stop'], 30_000);
  }

  /** Starts the kubelet again; resolves once it has renewed the node's Lease (it heartbeats). */
  async startKubelet(node: string, timeoutMs = 60_000): Promise<void> {
    const startedAt = Date.now();
    await this.exec(node, ['kubelet-start'], 30_000);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const renew = await this.kubectl(['-n', 'kube-node-lease', 'get', 'lease', node, '-o', 'jsonpath={.spec.renewTime}']).catch(() => '');
      // renewTime has microseconds; the host clock is the nodes' clock.
      if (renew && Date.parse(renew) >= startedAt - 1000) return;
      if (!this.kubeletRunning(node)) {
        throw new Error(`kubelet of ${node} exited after start-kubelet; its log: docker exec ${this.node(node).container} tail /var/log/kubelet.log`);
      }
      if (Date.now() > deadline) throw new Error(`kubelet of ${node} did not renew its Lease within ${timeoutMs} ms after start-kubelet`);
      await sleep(500);
    }
  }

  /** Copies each node's logs to dir (best effort). */
  async copyNodeLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await Promise.all(
      this.state.nodes.map(async (n) => {
        for (const f of ['kubelet', 'kube-proxy', 'containerd']) {
          const text = await docker(['exec', n.containerId, 'cat', `/var/log/${f}.log`], 20_000).catch(() => '');
          if (text) writeFileSync(join(dir, `node-${n.name}-${f}.log`), text);
        }
        const entry = await docker(['logs', n.containerId], 20_000).catch(() => '');
        if (entry) writeFileSync(join(dir, `node-${n.name}-entrypoint.log`), entry);
      }),
    );
  }

  async stop(): Promise<void> {
    if (this.logCopyDir) await this.copyNodeLogs(this.logCopyDir).catch(() => undefined);
    const dir = this.stateDir;
    owned.delete(dir);
    const problems = teardownSync(dir);
    await this.inner.stop();
    if (problems.length) throw new Error(`real-nodes cluster ${dir} left: ${problems.join('; ')}`);
  }
}

/** Starts the control plane and `nodes` real node containers; resolves once every node is Ready. */
export async function startRealNodesCluster(opts: RealNodesOptions = {}): Promise<RealNodesCluster> {
  const started = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const count = opts.nodes ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`nodes must be an integer in 1..200, got ${count}`);
  const names = Array.from({ length: count }, (_, i) => `w${i + 1}`);
  const persistent = opts.persistent ?? false;

  await reapStale(DEFAULT_STATE_ROOT).catch(() => []);
  reapStaleRealNodes();
  const images = await ensureNodeImages();
  log(`images ready (${Date.now() - started} ms): ${images.node}`);

  const stateDir = opts.stateDir ?? mkdtempSync(join(DEFAULT_STATE_ROOT, 'rn-'));
  mkdirSync(stateDir, { recursive: true });
  const id = `${process.pid}-${Date.now().toString(36)}`;
  const netName = `safe-drain-rn-${id}`;
  // Recorded before anything exists, so that an interrupt from here on cleans up by label.
  const state: RealNodesState = {
    owner: { ...ownerRecord() },
    persistent,
    network: { name: netName, gateway: '', subnet: '' },
    images,
    nodes: [],
  };
  writeState(stateDir, state);
  if (!persistent) {
    owned.add(stateDir);
    installExitHandlers();
  }
  let inner: LocalCluster | undefined;
  try {
    await docker(['network', 'create', '--label', `${STATE_DIR_LABEL}=${stateDir}`, netName]);
    const ipam = JSON.parse(await docker(['network', 'inspect', netName, '--format', '{{json .IPAM.Config}}'])) as { Subnet: string; Gateway: string }[];
    const gateway = ipam[0]?.Gateway;
    const subnet = ipam[0]?.Subnet;
    if (!gateway || !subnet) throw new Error(`Docker network ${netName} has no IPv4 gateway: ${JSON.stringify(ipam)}`);
    state.network = { name: netName, gateway, subnet };
    writeState(stateDir, state);
    // Before any kubelet runs: the host's own values.
    saveHostSysctls(stateDir);

    inner = await startCluster({
      nodes: names.map((name) => ({ name })),
      kubelets: 'external',
      apiServerAddress: gateway,
      nodeMonitorGracePeriod: opts.nodeMonitorGracePeriod,
      defaultTolerationSeconds: opts.defaultTolerationSeconds,
      stateDir,
      logDir: opts.logDir,
      persistent,
      log,
    });
    log(`control plane up on ${inner.apiServerUrl} (${Date.now() - started} ms)`);

    const pkiDir = join(stateDir, 'pki');
    const ca = readFileSync(join(pkiDir, 'ca.crt'), 'utf8');
    const proxy = await signClientCert(pkiDir, 'kube-proxy', '/CN=system:kube-proxy');
    const { NodeContainer } = await import('./node-container.js');
    // testcontainers' reaper is an image from a registry: never available here; cleanup is ours.
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    const containers = await Promise.all(
      names.map(async (name, i) => {
        const kubeletCert = readFileSync(join(pkiDir, `kubelet-${name}.crt`), 'utf8');
        const kubeletKey = readFileSync(join(pkiDir, `kubelet-${name}.key`), 'utf8');
        const container = `${netName}-${name}`;
        const c = await new NodeContainer({
          image: images.node,
          name: container,
          network: netName,
          labels: { [STATE_DIR_LABEL]: stateDir, 'safe-drain.real-nodes.node': name },
          privileged: opts.privileged,
          files: [
            { target: '/etc/safe-drain/node.env', content: `NODE_NAME=${name}\n` },
            { target: '/etc/safe-drain/ca.crt', content: ca },
            { target: '/etc/safe-drain/kubelet.kubeconfig', content: kubeconfig(inner!.apiServerUrl, ca, kubeletCert, kubeletKey, `system:node:${name}`), mode: 0o600 },
            { target: '/etc/safe-drain/kube-proxy.kubeconfig', content: kubeconfig(inner!.apiServerUrl, ca, proxy.cert, proxy.key, 'system:kube-proxy'), mode: 0o600 },
            { target: '/etc/safe-drain/kubelet-config.yaml', content: KUBELET_CONFIG },
            { target: '/etc/safe-drain/kube-proxy-config.yaml', content: KUBE_PROXY_CONFIG },
            { target: '/etc/cni/net.d/10-safe-drain.conflist', content: cniConfig(podCidr(i)) },
          ],
        }).start();
        return { name, container, containerId: c.getId(), ip: c.getIpAddress(netName), podCidr: podCidr(i) } satisfies NodeState;
      }),
    );
    state.nodes = containers;
    writeState(stateDir, state);
    log(`node containers started (${Date.now() - started} ms): ${containers.map((n) => `${n.name}=${n.ip}`).join(' ')}`);

    // Pod traffic between nodes: each node routes the others' pod CIDRs to them.
    for (const n of containers) {
      for (const other of containers) {
        if (other.name === n.name) continue;
        await docker(['exec', n.containerId, 'ip', 'route', 'replace', other.podCidr, 'via', other.ip]);
      }
    }

    const c = new RealNodesImpl(inner, state, opts.logDir && !opts.logDir.startsWith(stateDir) ? opts.logDir : undefined);
    await waitNodesReady(c, names, opts.readyTimeoutMs ?? 120_000);
    log(`nodes Ready (${Date.now() - started} ms)`);
    if (persistent) owned.delete(stateDir);
    return c;
  } catch (err) {
    const logs = mkdtempSync(join(tmpdir(), 'safe-drain-failed-real-nodes-'));
    if (inner) {
      await new RealNodesImpl(inner, state, undefined).copyNodeLogs(logs).catch(() => undefined);
      if (existsSync(inner.logDir)) cpSync(inner.logDir, logs, { recursive: true });
    }
    owned.delete(stateDir);
    const problems = teardownSync(stateDir);
    if (inner) await inner.stop().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    throw new Error(
      `real-nodes cluster failed to start: ${err instanceof Error ? err.message : String(err)} (logs: ${logs})` +
        (problems.length ? `; cleanup left: ${problems.join('; ')}` : ''),
      { cause: err },
    );
  }
}

async function waitNodesReady(c: RealNodesCluster, names: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await c
      .kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'])
      .catch((e: unknown) => String(e));
    const ready = new Set(last.split('\n').filter((l) => l.endsWith('=True')).map((l) => l.split('=')[0]));
    if (names.every((n) => ready.has(n))) return;
    if (Date.now() > deadline) {
      throw new Error(`nodes not Ready within ${timeoutMs} ms (${last.trim().replaceAll('\n', ', ') || 'none registered'}); see node-*-kubelet.log`);
    }
    await sleep(1000);
  }
}

/** The real-nodes cluster in stateDir, if that dir holds one (CLI: stop-kubelet, down). */
export function openRealNodesCluster(stateDir: string): RealNodesCluster | undefined {
  const state = readState(stateDir);
  if (!state || state.nodes.length === 0) return undefined;
  return new RealNodesImpl(openCluster(stateDir), state, undefined);
}

/** Whether stateDir holds (the state of) a real-nodes cluster, complete or not. */
export const isRealNodesStateDir = (stateDir: string): boolean => existsSync(join(stateDir, STATE_FILE));

/** Every real-nodes container and network on this Docker Engine (for the leftovers check). */
export function realNodesLeftovers(): { containers: string[]; networks: string[] } {
  const containers = dockerSync(['ps', '-a', '--filter', `label=${STATE_DIR_LABEL}`, '--format', '{{.Names}}']).split('\n').filter(Boolean);
  const networks = dockerSync(['network', 'ls', '--filter', `label=${STATE_DIR_LABEL}`, '--format', '{{.Name}}']).split('\n').filter(Boolean);
  return { containers, networks };
}


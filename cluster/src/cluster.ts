// A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with one kwok process per node playing that node's kubelet. Stopping a node's
// kwok is a real kubelet stop: its Lease stops renewing and the node lifecycle controller marks
// the node NotReady/Unknown and taints it after --node-monitor-grace-period.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ensureBinaries } from './binaries.js';
import { run } from './exec.js';
import { kwokConfigYaml, type KwokConfigOptions } from './kwok-config.js';
import { generatePki, type CertPair, type Pki } from './pki.js';
import {
  ensureDir, isAlive, killCluster, killGroups, killGroupsSync, ownerRecord, readPids, reapStale, spawnDetached,
  writePids, type PidsFile, type ProcRecord,
} from './procs.js';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  /** Default: cpu 8, memory 32Gi, pods 110. Allocatable = capacity. */
  capacity?: { cpu?: string | number; memory?: string; pods?: string | number };
}

export interface ClusterOptions {
  /** Worker count (named w1..wN) or explicit specs. Default 3 (w1, w2, w3). */
  nodes?: number | NodeSpec[];
  /** kube-controller-manager --node-monitor-grace-period (upstream default 50s; scale mode: 2m). */
  nodeMonitorGracePeriod?: string;
  /**
   * kube-apiserver --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds
   * (upstream default 300): how long pods stay bound to an unreachable node before the
   * taint-eviction controller deletes them. (--pod-eviction-timeout no longer exists.)
   */
  defaultTolerationSeconds?: number;
  /**
   * Appended to kube-apiserver's arguments (a later flag wins over an earlier one), e.g.
   * `--min-request-timeout=5` so that watches without a client timeout end every few seconds.
   */
  apiServerExtraArgs?: string[];
  /**
   * Address kube-apiserver binds to and advertises, in its serving certificate and in every
   * kubeconfig (default 127.0.0.1). Real nodes in containers need one they can reach: the Docker
   * network's gateway (cluster/src/real-nodes).
   */
  apiServerAddress?: string;
  /**
   * 'kwok' (default): one kwok process per node plays its kubelet. 'external': no kwok and no Node
   * objects: real kubelets register the nodes (cluster/src/real-nodes waits for them) and
   * startCluster resolves once the control plane answers. The nodes still get client certificates.
   */
  kubelets?: 'kwok' | 'external';
  /**
   * Scale mode: this many more nodes (scale-0001..), labelled SCALE_NODE_LABEL=true, all played by
   * ONE kwok process (the per-node kwoks above stay, for stop/start-kubelet). Default 0.
   */
  scaleNodes?: number;
  /**
   * Lease duration of the scale nodes (default 120: renewed every 30 s, a third of the kubelet's
   * write load). Measured: with 40-80 s leases on 1,000 nodes, renewals fell behind while 10,000
   * pods were created on 2 busy cores, and nodes went NotReady.
   */
  scaleNodeLeaseDurationSeconds?: number;
  /**
   * kube-apiserver audit policy (YAML). The log is JSON lines at LocalCluster.auditLogPath; its
   * timestamps have microseconds, so benchmarks can time what clients did from the server's side.
   */
  auditPolicy?: string;
  /**
   * Extra admin users (CN=NAME, O=system:masters), each with its own kubeconfig
   * (LocalCluster.kubeconfigFor): the audit log tells apart the tools a benchmark runs.
   */
  clientUsers?: string[];
  /** Lease duration written by the simulated kubelets (default 40, as the kubelet). */
  nodeLeaseDurationSeconds?: number;
  /** See KwokConfigOptions.podDeletion. Default 'immediate'. */
  podDeletion?: KwokConfigOptions['podDeletion'];
  /** Default: a fresh dir under DEFAULT_STATE_ROOT. Removed by stop(). */
  stateDir?: string;
  /** Default: <stateDir>/logs. A logDir outside the state dir survives stop(). */
  logDir?: string;
  /** Use these binaries instead of ensureBinaries(). */
  binDir?: string;
  /**
   * The Kubernetes release to run (e.g. v1.32.13; its binaries are built on first use). Default:
   * SAFE_DRAIN_K8S_VERSION, else the build script's default (the newest supported release).
   */
  kubernetesVersion?: string;
  /** The cluster outlives this process (CLI `up`): no exit handlers, children unref'd. */
  persistent?: boolean;
  /** Whole start-up budget. Default 180 s. */
  startTimeoutMs?: number;
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
}

export interface LocalCluster {
  readonly kubeconfigPath: string;
  /** Worker node names, in order (each with its own kwok). */
  readonly nodes: string[];
  /** Scale-mode node names (ClusterOptions.scaleNodes), all played by one kwok. */
  readonly scaleNodes: string[];
  /** kube-apiserver's audit log (ClusterOptions.auditPolicy), or undefined. */
  readonly auditLogPath: string | undefined;
  /** Kubeconfig of an extra admin user (ClusterOptions.clientUsers). */
  kubeconfigFor(user: string): string;
  readonly stateDir: string;
  readonly logDir: string;
  readonly binDir: string;
  readonly apiServerUrl: string;
  /** Stops the node's kwok (its simulated kubelet): SIGTERM its process group and wait for exit. */
  stopKubelet(node: string): Promise<void>;
  /** Starts the node's kwok again; resolves once it holds the node's Lease (heartbeating). */
  startKubelet(node: string): Promise<void>;
  kubeletRunning(node: string): boolean;
  /**
   * Stops kube-apiserver (SIGTERM its process group, wait for it to exit), waits `downMs`, starts
   * it again and resolves once /readyz answers 200. `extraArgs` replaces the extra arguments (see
   * ClusterOptions.apiServerExtraArgs) for this and later restarts; `[]` goes back to the defaults.
   * Resolves how long its graceful shutdown took and how long until it was ready again.
   */
  restartApiServer(opts?: { downMs?: number; extraArgs?: string[]; readyTimeoutMs?: number }): Promise<{ stopMs: number; totalMs: number }>;
  /**
   * Freezes etcd (SIGSTOP) for `ms`, then resumes it (SIGCONT). Resumed also when this process
   * exits meanwhile, so a crashed caller never leaves etcd stopped.
   */
  pauseEtcd(ms: number): Promise<void>;
  /** Runs the cluster's kubectl with the admin kubeconfig; resolves stdout. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** Recorded processes (component name -> pid, also its process group id). */
  processes(): Record<string, number>;
  /** Kills every process group (SIGTERM, SIGKILL after 5 s) and removes the state dir. */
  stop(): Promise<void>;
}

/** Test clusters live here (one temp dir each); reapStale() cleans up after crashed runs. */
export const DEFAULT_STATE_ROOT = join(tmpdir(), 'safe-drain-clusters');
/** The CLI's one cluster. */
export const CLI_STATE_DIR = join(
  process.env.SAFE_DRAIN_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'safe-drain'),
  'clusters',
  'default',
);

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/12';
const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** Label of the scale-mode nodes; the scale kwok manages the nodes that carry it. */
export const SCALE_NODE_LABEL = 'safe-drain.local/scale-node';
const SCALE_KWOK = 'scale';
/** Set on pods by startKubelet() to make a restarted kwok look at them (see resyncPods). */
export const RESYNC_ANNOTATION = 'safe-drain.local/kubelet-resync';

/** Everything needed to act on a running cluster from another process (CLI). */
interface ClusterState {
  binDir: string;
  kubeconfigPath: string;
  logDir: string;
  apiServerUrl: string;
  nodes: string[];
  /** Absent in older state files. */
  scaleNodes?: string[];
  auditLogPath?: string;
  clientKubeconfigs?: Record<string, string>;
  /** Per node; key SCALE_KWOK for the one kwok of the scale nodes. */
  kwokArgs: Record<string, string[]>;
  persistent: boolean;
  /** kube-apiserver's arguments without the extra ones (restartApiServer); absent in older state files. */
  apiServerArgs?: string[];
  apiServerExtraArgs?: string[];
  /** Admin client credentials (file paths) for the /readyz check after a restart. */
  adminTls?: { ca: string; cert: string; key: string };
}

const DEFAULT_CAPACITY = { cpu: '8', memory: '32Gi', pods: '110' };

function normalizeNodes(nodes: ClusterOptions['nodes']): NodeSpec[] {
  if (nodes === undefined) nodes = 3;
  if (typeof nodes === 'number') {
    if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`nodes must be a positive integer, got ${nodes}`);
    return Array.from({ length: nodes }, (_, i) => ({ name: `w${i + 1}` }));
  }
  if (nodes.length === 0) throw new Error('nodes must not be empty');
  if (nodes.length > 250) throw new Error('at most 250 nodes (one /24 pod CIDR and node IP each)');
  const names = new Set(nodes.map((n) => n.name));
  if (names.size !== nodes.length) throw new Error('node names must be unique');
  return nodes;
}

const nodeIp = (i: number): string => `172.31.0.${i + 10}`;
const podCidr = (i: number): string => `10.244.${i}.0/24`;
/** Scale node i (0-based): addresses and pod CIDRs disjoint from the per-node kwoks' (each kwok allocates pod IPs from the node's podCIDR). */
const scaleAddressing = (i: number): { ip: string; cidr: string } => ({
  ip: `172.30.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  cidr: `10.${128 + (i >> 8)}.${i & 255}.0/24`,
});
/** 10.128.0.0/24 .. 10.255.255.0/24 */
const MAX_SCALE_NODES = 32_768;
export const scaleNodeName = (i: number): string => `scale-${String(i + 1).padStart(4, '0')}`;

function nodeManifest(spec: NodeSpec, i: number, addressing = { ip: nodeIp(i), cidr: podCidr(i) }): object {
  const capacity = {
    cpu: String(spec.capacity?.cpu ?? DEFAULT_CAPACITY.cpu),
    memory: String(spec.capacity?.memory ?? DEFAULT_CAPACITY.memory),
    pods: String(spec.capacity?.pods ?? DEFAULT_CAPACITY.pods),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        ...spec.labels,
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
    },
    spec: { podCIDR: addressing.cidr, podCIDRs: [addressing.cidr], ...(spec.taints?.length ? { taints: spec.taints } : {}) },
    // Node status may be set on create (the kubelet registers this way); kwok keeps capacity.
    status: {
      capacity,
      allocatable: capacity,
      addresses: [
        { type: 'InternalIP', address: addressing.ip },
        { type: 'Hostname', address: spec.name },
      ],
    },
  };
}

function kubeconfigYaml(server: string, ca: string, client: CertPair, user: string): string {
  const b64 = (p: string): string => readFileSync(p).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'safe-drain', cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
    contexts: [{ name: 'safe-drain', context: { cluster: 'safe-drain', user } }],
    'current-context': 'safe-drain',
  });
}

async function freePorts(n: number): Promise<number[]> {
  // Hold every listener open until all are chosen, so the ports are distinct.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function httpsGet(url: string, tls: { ca: string; cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- exit handlers: a crashed or interrupted run leaves no processes behind ----------------

const owned = new Set<ClusterImpl>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const c of owned) c.killSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const c of owned) c.killSync();
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[sig]);
    });
  }
}

// ---- the cluster ---------------------------------------------------------------------------

class ClusterImpl implements LocalCluster {
  private pids: PidsFile;
  private removed = false;

  constructor(
    readonly stateDir: string,
    private state: ClusterState,
    owner: boolean,
  ) {
    const existing = readPids(stateDir);
    this.pids = existing ?? { owner: ownerRecord(), persistent: state.persistent, procs: {} };
    if (owner) {
      this.pids.owner = ownerRecord();
      this.pids.persistent = state.persistent;
      writePids(stateDir, this.pids);
    }
  }

  get kubeconfigPath(): string {
    return this.state.kubeconfigPath;
  }
  get nodes(): string[] {
    return [...this.state.nodes];
  }
  get scaleNodes(): string[] {
    return [...(this.state.scaleNodes ?? [])];
  }
  get auditLogPath(): string | undefined {
    return this.state.auditLogPath;
  }
  kubeconfigFor(user: string): string {
    const path = this.state.clientKubeconfigs?.[user];
    if (!path) throw new Error(`no kubeconfig for user ${user}: start the cluster with clientUsers: ['${user}']`);
    return path;
  }
  get logDir(): string {
    return this.state.logDir;
  }
  get binDir(): string {
    return this.state.binDir;
  }
  get apiServerUrl(): string {
    return this.state.apiServerUrl;
  }

  processes(): Record<string, number> {
    this.reload();
    return Object.fromEntries(Object.entries(this.pids.procs).map(([k, v]) => [k, v.pid]));
  }

  private reload(): void {
    this.pids = readPids(this.stateDir) ?? this.pids;
  }

  record(name: string, rec: ProcRecord): void {
    this.reload();
    this.pids.procs[name] = { pid: rec.pid, startTime: rec.startTime, cmd: rec.cmd };
    writePids(this.stateDir, this.pids);
  }

  private forget(name: string): void {
    this.reload();
    delete this.pids.procs[name];
    writePids(this.stateDir, this.pids);
  }

  /** Starts a component, recorded before this returns. */
  spawn(name: string, bin: string, args: string[]): ProcRecord {
    const rec = spawnDetached({
      name,
      cmd: join(this.state.binDir, bin),
      args,
      logFile: join(this.state.logDir, `${name}.log`),
      unref: this.state.persistent,
    });
    this.record(name, rec);
    return rec;
  }

  /** `node` is a node name, or SCALE_KWOK for the kwok of all scale nodes. */
  spawnKwok(node: string): ProcRecord {
    const args = this.state.kwokArgs[node];
    if (!args) throw new Error(`no kwok arguments recorded for ${node}`);
    return this.spawn(`kwok-${node}`, 'kwok', args);
  }

  /** Name of a recorded process that has died, if any. */
  deadProcess(): string | undefined {
    this.reload();
    return Object.entries(this.pids.procs).find(([, r]) => !isAlive(r.pid, r.startTime))?.[0];
  }

  logOf(name: string): string {
    return join(this.state.logDir, `${name}.log`);
  }

  kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    return run(join(this.state.binDir, 'kubectl'), args, {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 120_000,
      env: { ...process.env, KUBECONFIG: this.state.kubeconfigPath },
    });
  }

  private checkNode(node: string): void {
    if (!this.state.nodes.includes(node)) throw new Error(`unknown node ${node} (nodes: ${this.state.nodes.join(', ')})`);
  }

  kubeletRunning(node: string): boolean {
    this.checkNode(node);
    this.reload();
    const rec = this.pids.procs[`kwok-${node}`];
    return rec !== undefined && isAlive(rec.pid, rec.startTime);
  }

  async stopKubelet(node: string): Promise<void> {
    this.checkNode(node);
    this.reload();
    const rec = this.pids.procs[`kwok-${node}`];
    if (rec) await killGroups([rec], 10_000);
    this.forget(`kwok-${node}`);
  }

  async startKubelet(node: string, timeoutMs = 60_000): Promise<void> {
    this.checkNode(node);
    if (this.kubeletRunning(node)) return;
    // kwok's lease holder identity is hostname_<random uuid> per process, and a kwok leaves a
    // Lease held by another identity alone until it expires (up to nodeLeaseDurationSeconds); it
    // also tries to create the Lease before its informer has listed it ("already exists", retry
    // after a renew interval). A real kubelet restarts under the same identity and renews at once.
    // Deleting the stale Lease gives the same result: the new kwok creates it right away. The node
    // lifecycle controller ignores a missing Lease and sees the new one's renewTime as a heartbeat.
    await this.kubectl(['-n', NODE_LEASE_NAMESPACE, 'delete', 'lease', node, '--ignore-not-found', '--wait=false']);
    const rec = this.spawnKwok(node);
    await this.waitFor(
      `kwok-${node} to hold the Lease of ${node}`,
      async () => {
        const holder = await this.kubectl(['-n', NODE_LEASE_NAMESPACE, 'get', 'lease', node, '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => '');
        return holder.trim() !== '' || undefined;
      },
      timeoutMs,
      [rec],
    );
    await this.resyncPods(node, rec);
  }

  /**
   * kwok v0.8.0 looks at the pods already bound to its node only once, right after it takes the
   * Lease, and races its own informers: pods seen before its node/lease caches are filled are
   * skipped ("not managed" / "read only") and never looked at again until they change. So pods
   * the node lifecycle controller marked NotReady while the kubelet was down would stay NotReady,
   * and pods deleted meanwhile would stay Terminating. A real kubelet re-syncs all its pods on
   * start. Equivalent here: touch (annotate) the pods kwok still has to act on, until it has.
   */
  private async resyncPods(node: string, kwok: ProcRecord): Promise<void> {
    interface PodItem {
      metadata: { name: string; namespace: string; deletionTimestamp?: string };
      status?: { phase?: string; conditions?: { type: string; status: string }[] };
    }
    const pending = (p: PodItem): boolean =>
      p.metadata.deletionTimestamp === undefined &&
      (p.status?.phase === 'Pending' || p.status?.phase === 'Running') &&
      p.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True';
    for (let attempt = 0; attempt < 8; attempt++) {
      await sleep(attempt === 0 ? 500 : 1500);
      if (!isAlive(kwok.pid, kwok.startTime)) throw new Error(`kwok-${node} exited; last lines of ${this.logOf(`kwok-${node}`)}:\n${tail(this.logOf(`kwok-${node}`))}`);
      const list = JSON.parse(
        await this.kubectl(['get', 'pods', '--all-namespaces', '--field-selector', `spec.nodeName=${node}`, '-o', 'json']),
      ) as { items: PodItem[] };
      // Terminating pods: touched once (kwok then deletes them on its own schedule).
      const stale = list.items.filter((p) => pending(p) || (attempt === 0 && p.metadata.deletionTimestamp !== undefined));
      if (stale.length === 0) return;
      const byNs = new Map<string, string[]>();
      for (const p of stale) byNs.set(p.metadata.namespace, [...(byNs.get(p.metadata.namespace) ?? []), p.metadata.name]);
      const stamp = `${new Date().toISOString()}#${attempt}`;
      for (const [ns, names] of byNs) {
        await this.kubectl(['-n', ns, 'annotate', 'pods', ...names, `${RESYNC_ANNOTATION}=${stamp}`, '--overwrite']).catch(
          () => undefined, // a pod went away meanwhile
        );
      }
    }
    throw new Error(`kwok-${node} did not take over the pods on ${node} after restart`);
  }

  /** Polls fn until it returns a value other than undefined; fails early if a process dies. */
  async waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, watch?: ProcRecord[]): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    for (;;) {
      const dead = watch
        ? Object.entries(this.pids.procs).find(([, r]) => watch.some((w) => w.pid === r.pid) && !isAlive(r.pid, r.startTime))?.[0]
        : this.deadProcess();
      if (dead) throw new Error(`${dead} exited while waiting for ${what}; last lines of ${this.logOf(dead)}:\n${tail(this.logOf(dead))}`);
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        lastErr = err;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
      }
      await sleep(200);
    }
  }

  /** Records kube-apiserver's arguments in state.json, so restarts (also from another process) reuse them. */
  setApiServerArgs(args: string[], extraArgs: string[], adminTls: ClusterState['adminTls']): void {
    this.state = { ...this.state, apiServerArgs: args, apiServerExtraArgs: extraArgs, adminTls };
    writeFileSync(join(this.stateDir, 'state.json'), JSON.stringify(this.state, null, 2));
  }

  spawnApiServer(): ProcRecord {
    if (!this.state.apiServerArgs) throw new Error(`${this.stateDir}/state.json has no kube-apiserver arguments (cluster started by an older version)`);
    return this.spawn('kube-apiserver', 'kube-apiserver', [...this.state.apiServerArgs, ...(this.state.apiServerExtraArgs ?? [])]);
  }

  async waitApiServerReady(timeoutMs: number, apiServer?: ProcRecord): Promise<void> {
    const paths = this.state.adminTls;
    if (!paths) throw new Error(`${this.stateDir}/state.json has no admin credentials (cluster started by an older version)`);
    const tls = { ca: readFileSync(paths.ca, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), key: readFileSync(paths.key, 'utf8') };
    await this.waitFor(
      'kube-apiserver /readyz',
      async () => ((await httpsGet(`${this.apiServerUrl}/readyz`, tls)).status === 200 ? true : undefined),
      timeoutMs,
      apiServer ? [apiServer] : undefined,
    );
  }

  async restartApiServer(opts: { downMs?: number; extraArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<{ stopMs: number; totalMs: number }> {
    const started = Date.now();
    if (opts.extraArgs) this.setApiServerArgs(this.state.apiServerArgs ?? [], opts.extraArgs, this.state.adminTls);
    this.reload();
    const rec = this.pids.procs['kube-apiserver'];
    // Its graceful shutdown needs etcd and takes about a second; 15 s before SIGKILL.
    if (rec) await killGroups([rec], 15_000);
    this.forget('kube-apiserver');
    const stopMs = Date.now() - started;
    if (opts.downMs) await sleep(opts.downMs);
    const next = this.spawnApiServer();
    await this.waitApiServerReady(opts.readyTimeoutMs ?? 60_000, next);
    return { stopMs, totalMs: Date.now() - started };
  }

  async pauseEtcd(ms: number): Promise<void> {
    this.reload();
    const rec = this.pids.procs.etcd;
    if (!rec || !isAlive(rec.pid, rec.startTime)) throw new Error('etcd is not running');
    const resume = (): void => {
      try {
        process.kill(rec.pid, 'SIGCONT');
      } catch {
        // already gone
      }
    };
    process.on('exit', resume);
    try {
      process.kill(rec.pid, 'SIGSTOP');
      await sleep(ms);
    } finally {
      resume();
      process.off('exit', resume);
    }
  }

  async stop(): Promise<void> {
    owned.delete(this);
    this.reload();
    await killCluster(this.pids.procs);
    this.removeStateDir();
  }

  killSync(): void {
    this.reload();
    killGroupsSync(Object.values(this.pids.procs));
    this.removeStateDir();
  }

  private removeStateDir(): void {
    if (this.removed) return;
    this.removed = true;
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Starts a cluster; resolves once nodes are Ready and pods get scheduled and run. */
export async function startCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  const started = Date.now();
  const log = opts.log ?? ((): void => undefined);
  const timeoutMs = opts.startTimeoutMs ?? 180_000;
  const specs = normalizeNodes(opts.nodes);
  const scaleCount = opts.scaleNodes ?? 0;
  if (!Number.isInteger(scaleCount) || scaleCount < 0 || scaleCount > MAX_SCALE_NODES) {
    throw new Error(`scaleNodes must be an integer from 0 to ${MAX_SCALE_NODES}, got ${scaleCount}`);
  }
  const scaleNames = Array.from({ length: scaleCount }, (_, i) => scaleNodeName(i));
  const persistent = opts.persistent ?? false;

  await reapStale(DEFAULT_STATE_ROOT).catch(() => []);
  const stateDir = opts.stateDir ?? mkdtempSync(join(ensureDir(DEFAULT_STATE_ROOT), 'c-'));
  if (existsSync(join(stateDir, 'pids.json'))) {
    throw new Error(`${stateDir} already holds a cluster (pids.json): stop it first`);
  }
  ensureDir(stateDir);
  // Recorded first: if this process dies half-way, reapStale() finds a dead owner and cleans up.
  writePids(stateDir, { owner: ownerRecord(), persistent, procs: {} });
  const logDir = ensureDir(opts.logDir ?? join(stateDir, 'logs'));
  let cluster: ClusterImpl | undefined;
  try {
    const pkiDir = ensureDir(join(stateDir, 'pki'));

    const binDirP = opts.binDir ? Promise.resolve(opts.binDir) : ensureBinaries(opts.kubernetesVersion);
    const [binDir, pki, ports] = await Promise.all([
      binDirP,
      generatePki(pkiDir, specs.map((s) => s.name), opts.apiServerAddress ? [opts.apiServerAddress] : [], opts.clientUsers ?? []),
      freePorts(5),
    ]);
    const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort] = ports as [number, number, number, number, number];
    const apiServerUrl = `https://${opts.apiServerAddress ?? '127.0.0.1'}:${apiPort}`;
    log(`binaries and PKI ready (${Date.now() - started} ms); apiserver will be ${apiServerUrl}`);

    const kubeconfigPath = join(stateDir, 'admin.kubeconfig');
    const kubeconfigs = {
      admin: kubeconfigPath,
      kcm: join(stateDir, 'kube-controller-manager.kubeconfig'),
      scheduler: join(stateDir, 'kube-scheduler.kubeconfig'),
    };
    writeFileSync(kubeconfigs.admin, kubeconfigYaml(apiServerUrl, pki.ca.cert, pki.admin, 'admin'), { mode: 0o600 });
    writeFileSync(kubeconfigs.kcm, kubeconfigYaml(apiServerUrl, pki.ca.cert, pki.controllerManager, 'kube-controller-manager'));
    writeFileSync(kubeconfigs.scheduler, kubeconfigYaml(apiServerUrl, pki.ca.cert, pki.scheduler, 'kube-scheduler'));
    const clientKubeconfigs: Record<string, string> = {};
    for (const [user, pair] of Object.entries(pki.clients)) {
      clientKubeconfigs[user] = join(stateDir, `${user}.kubeconfig`);
      writeFileSync(clientKubeconfigs[user], kubeconfigYaml(apiServerUrl, pki.ca.cert, pair, user), { mode: 0o600 });
    }
    const auditLogPath = opts.auditPolicy !== undefined ? join(logDir, 'audit.log') : undefined;
    const kwokConfigPath = join(stateDir, 'kwok.yaml');
    writeFileSync(
      kwokConfigPath,
      kwokConfigYaml({ nodeLeaseDurationSeconds: opts.nodeLeaseDurationSeconds, podDeletion: opts.podDeletion }),
    );
    const kwokArgs: Record<string, string[]> = {};
    specs.forEach((spec, i) => {
      const kc = join(stateDir, `kubelet-${spec.name}.kubeconfig`);
      writeFileSync(kc, kubeconfigYaml(apiServerUrl, pki.ca.cert, pki.kubelets[spec.name]!, `system:node:${spec.name}`));
      kwokArgs[spec.name] = [
        `--kubeconfig=${kc}`,
        `--config=${kwokConfigPath}`,
        `--manage-single-node=${spec.name}`,
        `--node-name=${spec.name}`,
        `--node-ip=${nodeIp(i)}`,
        `--cidr=${podCidr(i)}`,
        `--node-lease-duration-seconds=${opts.nodeLeaseDurationSeconds ?? 40}`,
      ];
    });
    if (scaleCount > 0) {
      const scaleConfigPath = join(stateDir, 'kwok-scale.yaml');
      // More workers: one process plays every scale node and every pod on them, and under load
      // each status patch waits on the API server (measured ~1.5 s with 10,000 pods being
      // created on 2 busy cores), so throughput is workers / latency.
      writeFileSync(scaleConfigPath, kwokConfigYaml({ podDeletion: opts.podDeletion, parallelism: 64 }));
      // An admin identity: the Node authorizer would let a system:node:NAME identity write only its own node.
      kwokArgs[SCALE_KWOK] = [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${scaleConfigPath}`,
        `--manage-nodes-with-label-selector=${SCALE_NODE_LABEL}=true`,
        `--node-lease-duration-seconds=${opts.scaleNodeLeaseDurationSeconds ?? 120}`,
        // INFO logs a line per lease renewal and pod patch: 50 lines/s on 1,000 nodes.
        '--v=WARN',
      ];
    }

    const state: ClusterState = {
      binDir, kubeconfigPath, logDir, apiServerUrl, nodes: specs.map((s) => s.name), scaleNodes: scaleNames, kwokArgs, persistent,
      auditLogPath, clientKubeconfigs,
    };
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify(state, null, 2));
    cluster = new ClusterImpl(stateDir, state, true);
    owned.add(cluster);
    installExitHandlers();

    await bringUp(cluster, { opts, specs, scaleNames, auditLogPath, pki, kubeconfigs, ports: { etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort }, timeoutMs, started, log });
  } catch (err) {
    // Keep the logs of a failed start (the state dir goes away).
    let logs = logDir;
    if (!opts.logDir) {
      logs = mkdtempSync(join(tmpdir(), 'safe-drain-failed-cluster-logs-'));
      cpSync(logDir, logs, { recursive: true });
    }
    if (cluster) await cluster.stop();
    else rmSync(stateDir, { recursive: true, force: true });
    throw new Error(`local cluster failed to start: ${err instanceof Error ? err.message : String(err)} (logs: ${logs})`, { cause: err });
  }
  // A persistent cluster is meant to outlive this process: our exit must not kill it.
  if (persistent) owned.delete(cluster);
  log(`cluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return cluster;
}

const KWOK_NODE_RBAC = stringify({
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'safe-drain:kwok-node-reader' },
      rules: [
        { apiGroups: [''], resources: ['nodes', 'pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'safe-drain:kwok-node-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'safe-drain:kwok-node-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
    },
  ],
});

interface BringUp {
  opts: ClusterOptions;
  specs: NodeSpec[];
  scaleNames: string[];
  auditLogPath: string | undefined;
  pki: Pki;
  kubeconfigs: { admin: string; kcm: string; scheduler: string };
  ports: { etcdPort: number; etcdPeerPort: number; apiPort: number; kcmPort: number; schedPort: number };
  timeoutMs: number;
  started: number;
  log: (msg: string) => void;
}

async function bringUp(c: ClusterImpl, b: BringUp): Promise<void> {
  const { opts, specs, scaleNames, pki, kubeconfigs, ports, log } = b;
  const scale = scaleNames.length > 0;
  const left = (): number => Math.max(1000, b.timeoutMs - (Date.now() - b.started));
  const stateDir = c.stateDir;

  // etcd
  c.spawn('etcd', 'etcd', [
    '--name=safe-drain',
    `--data-dir=${join(stateDir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${ports.etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${ports.etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeerPort}`,
    `--initial-cluster=safe-drain=http://127.0.0.1:${ports.etcdPeerPort}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync=true', // throwaway data: no fsync, much faster on slow disks
    '--auto-compaction-retention=1',
    '--quota-backend-bytes=8589934592',
    '--log-level=warn',
  ]);

  // kube-apiserver: it retries etcd itself, so start it right away.
  const tolerationSeconds = b.opts.defaultTolerationSeconds;
  const apiServerArgs = [
    `--etcd-servers=http://127.0.0.1:${ports.etcdPort}`,
    `--bind-address=${opts.apiServerAddress ?? '127.0.0.1'}`,
    `--advertise-address=${opts.apiServerAddress ?? '127.0.0.1'}`,
    `--secure-port=${ports.apiPort}`,
    `--cert-dir=${join(stateDir, 'apiserver-certs')}`,
    `--tls-cert-file=${pki.apiserver.cert}`,
    `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    '--authorization-mode=Node,RBAC',
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // 127.0.0.1 cannot be an endpoint of the `kubernetes` Service (loopback is invalid there).
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    ...(tolerationSeconds !== undefined
      ? [`--default-not-ready-toleration-seconds=${tolerationSeconds}`, `--default-unreachable-toleration-seconds=${tolerationSeconds}`]
      : []),
    ...(b.auditLogPath !== undefined ? auditArgs(stateDir, b.auditLogPath, opts.auditPolicy ?? '') : []),
  ];
  c.setApiServerArgs(apiServerArgs, opts.apiServerExtraArgs ?? [], { ca: pki.ca.cert, cert: pki.admin.cert, key: pki.admin.key });
  c.spawnApiServer();
  await c.waitApiServerReady(left());
  log(`kube-apiserver ready (${Date.now() - b.started} ms)`);

  // controller-manager and scheduler
  const kcmArgs = [
    `--kubeconfig=${kubeconfigs.kcm}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.kcmPort}`,
    '--leader-elect=false',
    '--use-service-account-credentials=true',
    `--root-ca-file=${pki.ca.cert}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    '--cluster-name=safe-drain',
    '--controllers=*',
    // A thousand nodes and 10,000 pods: the ReplicaSet/DaemonSet controllers create pods at this rate.
    ...(scale ? ['--kube-api-qps=500', '--kube-api-burst=1000'] : ['--kube-api-qps=100', '--kube-api-burst=200']),
    // Scale mode: 2 minutes unless asked (renewals every 30 s may lag under bulk pod creation; a
    // scale node that goes NotReady would taint and evict its pods mid-benchmark).
    ...((opts.nodeMonitorGracePeriod ?? (scale ? '2m' : undefined))
      ? [`--node-monitor-grace-period=${opts.nodeMonitorGracePeriod ?? '2m'}`]
      : []),
  ];
  c.spawn('kube-controller-manager', 'kube-controller-manager', kcmArgs);
  c.spawn('kube-scheduler', 'kube-scheduler', [
    `--kubeconfig=${kubeconfigs.scheduler}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.schedPort}`,
    '--leader-elect=false',
    // Default 50 QPS: 10,000 bindings would take over 3 minutes.
    ...(scale ? ['--kube-api-qps=500', '--kube-api-burst=1000'] : []),
  ]);

  // The simulated kubelets authenticate as system:node:NAME (group system:nodes), so the Node
  // authorizer and the NodeRestriction admission plugin bound them like real kubelets: each may
  // write only its own Node, Lease and pods. kwok additionally lists all Nodes at start-up
  // (waitForReady) and watches Leases through an informer, which the Node authorizer does not
  // grant: a read-only RBAC role adds that.
  await c.kubectl(['apply', '-f', '-'], { input: KWOK_NODE_RBAC });
  if (opts.kubelets === 'external') {
    await c.waitFor(
      'the default ServiceAccount (kube-controller-manager)',
      async () => ((await c.kubectl(['-n', 'default', 'get', 'serviceaccount', 'default', '-o', 'name'])).trim() ? true : undefined),
      left(),
    );
    log(`control plane ready for external kubelets (${Date.now() - b.started} ms)`);
    return;
  }

  // Nodes first (with labels, taints, capacity, podCIDR), then one kwok per node.
  await c.kubectl(['create', '-f', '-'], {
    input: specs.map((s, i) => stringify(nodeManifest(s, i))).join('---\n'),
  });
  for (const spec of specs) c.spawnKwok(spec.name);
  if (scale) {
    await createScaleNodes(c, scaleNames);
    c.spawnKwok(SCALE_KWOK);
    log(`${scaleNames.length} scale nodes created (${Date.now() - b.started} ms)`);
  }

  const nodeNames = [...specs.map((s) => s.name), ...scaleNames];
  await c.waitFor(
    'nodes Ready',
    async () => {
      const out = await c.kubectl([
        'get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      const ready = new Set(out.split('\n').filter((l) => l.endsWith('=True')).map((l) => l.split('=')[0]));
      return nodeNames.every((n) => ready.has(n)) || undefined;
    },
    left(),
  );
  log(`nodes Ready (${Date.now() - b.started} ms)`);

  await c.waitFor(
    'the default ServiceAccount (kube-controller-manager)',
    async () => ((await c.kubectl(['-n', 'default', 'get', 'serviceaccount', 'default', '-o', 'name'])).trim() ? true : undefined),
    left(),
  );

  // One probe pod per kwok: the scheduler binds it, that node's kwok runs it with an IP.
  const probeNodes = [...specs.map((s) => s.name), ...scaleNames.slice(0, 1)];
  const probes = probeNodes.map((n) => `safe-drain-probe-${n}`);
  await c.kubectl(['create', '-f', '-'], {
    input: probeNodes
      .map((node, i) =>
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: probes[i], namespace: 'default', labels: { 'safe-drain.io/probe': 'true' } },
          spec: {
            nodeSelector: { 'kubernetes.io/hostname': node },
            tolerations: [{ operator: 'Exists' }],
            terminationGracePeriodSeconds: 0,
            containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }],
          },
        }),
      )
      .join('---\n'),
  });
  await c.waitFor(
    'probe pods scheduled and Ready',
    async () => {
      const out = await c.kubectl([
        '-n', 'default', 'get', 'pods', '-l', 'safe-drain.io/probe=true', '-o',
        'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      const ok = out.split('\n').filter((l) => / \S+ \S+ True$/.test(l)).length;
      return ok === probes.length || undefined;
    },
    left(),
  );
  await c.kubectl(['-n', 'default', 'delete', 'pods', '-l', 'safe-drain.io/probe=true', '--wait=true', `--timeout=${Math.ceil(left() / 1000)}s`]);
  log(`scheduler and kubelets verified (${Date.now() - b.started} ms)`);
}

/** kube-apiserver flags for an audit log of JSON lines, written synchronously (no event is dropped). */
function auditArgs(stateDir: string, logPath: string, policy: string): string[] {
  const policyPath = join(stateDir, 'audit-policy.yaml');
  writeFileSync(policyPath, policy);
  return [
    `--audit-policy-file=${policyPath}`,
    `--audit-log-path=${logPath}`,
    '--audit-log-format=json',
    '--audit-log-mode=blocking',
    '--audit-log-maxsize=0', // no rotation: a benchmark reads the file by offset
  ];
}

/** The scale nodes, created through the API in parallel batches (kubectl would create 1,000 one by one). */
async function createScaleNodes(c: ClusterImpl, names: string[]): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(c.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const manifests = names.map(
    (name, i) => nodeManifest({ name, labels: { [SCALE_NODE_LABEL]: 'true' } }, i, scaleAddressing(i)) as V1Node,
  );
  await inBatches(manifests, 32, async (body) => {
    await core.createNode({ body });
  });
}

/** Runs fn over items with at most `width` calls in flight. */
export async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function readState(stateDir: string): ClusterState {
  return JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as ClusterState;
}

/** Attaches to a cluster started earlier (e.g. by the CLI) from its state dir. */
export function openCluster(stateDir: string): LocalCluster {
  if (!existsSync(join(stateDir, 'state.json'))) throw new Error(`no cluster in ${stateDir}`);
  return new ClusterImpl(stateDir, readState(stateDir), false);
}

export { reapStale };

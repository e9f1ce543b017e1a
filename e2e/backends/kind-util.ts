// Pure helpers of the kind backend (e2e/backends/kind.ts): cluster config, command lines, the
// availability probe's shell script and the parsing of its output. No I/O here, so the unit
// tests (test/unit/kind) cover them on any machine.
import { stringify } from 'yaml';
import type { AvailabilitySample } from '../backend.js';

/** The kind release the workflows install (`go install sigs.k8s.io/kind@KIND_VERSION`). */
export const KIND_VERSION = 'v0.33.0';

/**
 * Node images built for kind v0.33.0 (its release notes). kind asks for the digest: an image of
 * the same tag built for another kind release may not boot with this one.
 */
export const KIND_NODE_IMAGES: Readonly<Record<string, string>> = {
  'v1.37.0': 'kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5',
  'v1.36.4': 'kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed',
  'v1.35.8': 'kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0',
  'v1.34.11': 'kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d',
};

/** kind v0.33.0's default node image. */
export const DEFAULT_KUBERNETES_VERSION = 'v1.37.0';

/**
 * The node image for a Kubernetes version: a kindest/node tag (`v1.36.4`, `1.36.4`) known to
 * this kind release resolves to its digest-pinned image; an unknown tag becomes
 * `kindest/node:<tag>` (unpinned); a full image reference (contains `/` or `:`) is kept as is.
 */
export function kindNodeImage(version: string = DEFAULT_KUBERNETES_VERSION): string {
  const v = version.trim();
  if (v === '') throw new Error('kindNodeImage: empty Kubernetes version');
  if (v.includes('/') || v.includes(':')) return v;
  const tag = v.startsWith('v') ? v : `v${v}`;
  if (!/^v\d+\.\d+\.\d+([-.+][0-9A-Za-z.-]+)?$/.test(tag)) {
    throw new Error(`kindNodeImage: "${version}" is neither a kindest/node tag (v1.36.4) nor an image reference`);
  }
  return KIND_NODE_IMAGES[tag] ?? `kindest/node:${tag}`;
}

export interface KindClusterConfigOptions {
  /** Worker nodes (besides the one control plane); at least 1. */
  workers: number;
  nodeImage: string;
  /** Labels put on every worker node. */
  workerLabels?: Record<string, string>;
}

/**
 * kind's Cluster config (kind.x-k8s.io/v1alpha4): one control plane and `workers` workers, all
 * on `nodeImage`. The control plane keeps its NoSchedule taint, so workloads land on workers
 * only. Everything else stays at kind's defaults (kindnet, kube-proxy iptables mode, the
 * upstream default toleration of 300 s and node-monitor grace period): the e2e scenarios
 * measure the defaults.
 */
export function renderKindConfig(opts: KindClusterConfigOptions): string {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) {
    throw new Error(`renderKindConfig: workers must be an integer >= 1, got ${opts.workers}`);
  }
  const labels = opts.workerLabels && Object.keys(opts.workerLabels).length > 0 ? opts.workerLabels : undefined;
  const worker = (): Record<string, unknown> => ({ role: 'worker', image: opts.nodeImage, ...(labels ? { labels: { ...labels } } : {}) });
  const doc = {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    nodes: [{ role: 'control-plane', image: opts.nodeImage }, ...Array.from({ length: opts.workers }, worker)],
  };
  // No anchors/aliases: every node spelled out, as a person would write it.
  return stringify(doc, { aliasDuplicateObjects: false });
}

/** kind names node containers (and so Kubernetes nodes) `<cluster>-control-plane`, `<cluster>-worker`, `<cluster>-worker2`… */
export function kindNodeNames(cluster: string, workers: number): { controlPlane: string; workers: string[] } {
  return {
    controlPlane: `${cluster}-control-plane`,
    workers: Array.from({ length: workers }, (_, i) => `${cluster}-worker${i === 0 ? '' : String(i + 1)}`),
  };
}

/** Cluster names become container names and a kubeconfig context: keep to what kind accepts. */
export function validateClusterName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name)) {
    throw new Error(`invalid kind cluster name "${name}": lower-case letters, digits and '-', at most 40 characters`);
  }
  return name;
}

/** `kind create cluster`: the kubeconfig goes to `kubeconfigPath`, never the user's ~/.kube/config. */
export function kindCreateArgs(opts: { name: string; configPath: string; kubeconfigPath: string; waitSeconds?: number }): string[] {
  return [
    'create',
    'cluster',
    '--name',
    opts.name,
    '--config',
    opts.configPath,
    '--kubeconfig',
    opts.kubeconfigPath,
    '--wait',
    `${opts.waitSeconds ?? 300}s`,
  ];
}

export function kindDeleteArgs(name: string, kubeconfigPath?: string): string[] {
  return ['delete', 'cluster', '--name', name, ...(kubeconfigPath ? ['--kubeconfig', kubeconfigPath] : [])];
}

/** External kubeconfig (API server on 127.0.0.1:<port>), for the engine running on the host. */
export function kindGetKubeconfigArgs(name: string, internal = false): string[] {
  return ['get', 'kubeconfig', '--name', name, ...(internal ? ['--internal'] : [])];
}

export function kindGetNodesArgs(name: string): string[] {
  return ['get', 'nodes', '--name', name];
}

export function kindLoadImageArgs(name: string, image: string): string[] {
  return ['load', 'docker-image', image, '--name', name];
}

export function kindExportLogsArgs(name: string, dir: string): string[] {
  return ['export', 'logs', dir, '--name', name];
}

/**
 * `docker exec <node> systemctl stop|start kubelet`. kind's kubelet unit has Restart=always:
 * killing the process is not a stop, systemd must stop the unit. The node's containers keep
 * running (containerd is untouched), exactly like a kubelet that died on a real node.
 */
export function kubeletSystemctlArgs(node: string, action: 'stop' | 'start' | 'is-active'): string[] {
  return ['exec', node, 'systemctl', action, 'kubelet'];
}

/**
 * The availability probe, a POSIX sh loop for busybox (sh, wget, timeout, usleep) or any shell
 * with wget. Every `interval` ms it opens a new HTTP connection to `url` (no keep-alive: each
 * request goes through the Service's NAT afresh) and prints one line per request:
 *
 *     <epoch-ms> ok <first line of the body>      HTTP 2xx within the timeout
 *     <epoch-ms> fail <error>                     anything else
 *
 * The timestamp is taken when the request starts. `timeout` rather than `wget -T`: Debian's
 * static busybox 1.35 crashes on -T; a request killed by it reads `fail timeout after Ns`. The
 * subshell's stderr goes into the detail too, so nothing but sample lines reaches stdout.
 * SIGTERM ends the loop after the current request: the trap only sets a flag, checked once the
 * request's line is printed (a trap that exits would run as soon as the request's command
 * substitution returns, before its line is echoed, losing the in-flight request's sample).
 * Positional parameters: $1 url, $2 interval ms, $3 timeout s.
 */
export const PROBE_SCRIPT = `stopping=
trap 'stopping=1' TERM INT
url="$1"; interval_ms="\${2:-150}"; timeout_s="\${3:-1}"
now_ms() {
  t="$EPOCHREALTIME"
  if [ -n "$t" ]; then
    f="\${t#*.}000"; f="\${f%"\${f#???}"}"; echo "\${t%.*}$f"
  else
    echo "$(date +%s)000"
  fi
}
one_line() { tr -s '\\r\\n\\t' '   ' | head -c 160; }
while [ -z "$stopping" ]; do
  at="$(now_ms)"
  # 'exit $?' keeps the subshell from exec'ing timeout itself: the shell that reports a
  # killed request ("Terminated") is then the subshell, whose stderr is captured.
  if out="$(exec 2>&1; timeout "$timeout_s" wget -q -O - "$url"; exit $?)"; then
    echo "$at ok $(printf '%s' "$out" | one_line)"
  else
    rc=$?
    case "$rc" in 124|137|143) out="timeout after \${timeout_s}s" ;; esac
    echo "$at fail $(printf '%s' "$out" | one_line)"
  fi
  [ -z "$stopping" ] || break
  usleep "$((interval_ms * 1000))" 2>/dev/null || sleep 0.2
done
`;

/**
 * PROBE_SCRIPT with each request in the background: a request is started every interval whatever
 * the ones before are doing. A failing request can hang for the whole timeout (packets to a pod
 * that is gone are dropped), and PROBE_SCRIPT's next request waits for it, so its samples are
 * ~1 s apart exactly while the service is down and it sees the recovery up to a second late.
 * Here the recovery is seen within an interval: the resolution the e2e needs to hold
 * safe-drain's reported downtime against it (0.5 s). Lines are still `<start ms> ok|fail detail`
 * (one short write each, so lines do not interleave), no longer in time order; on TERM the loop
 * ends and the requests in flight are waited for.
 */
export const PROBE_SCRIPT_CONCURRENT = `stopping=
trap 'stopping=1' TERM INT
url="$1"; interval_ms="\${2:-150}"; timeout_s="\${3:-1}"
now_ms() {
  t="$EPOCHREALTIME"
  if [ -n "$t" ]; then
    f="\${t#*.}000"; f="\${f%"\${f#???}"}"; echo "\${t%.*}$f"
  else
    echo "$(date +%s)000"
  fi
}
one_line() { tr -s '\\r\\n\\t' '   ' | head -c 160; }
request() {
  at="$1"
  if out="$(exec 2>&1; timeout "$timeout_s" wget -q -O - "$url"; exit $?)"; then
    echo "$at ok $(printf '%s' "$out" | one_line)"
  else
    rc=$?
    case "$rc" in 124|137|143) out="timeout after \${timeout_s}s" ;; esac
    echo "$at fail $(printf '%s' "$out" | one_line)"
  fi
}
while [ -z "$stopping" ]; do
  request "$(now_ms)" &
  usleep "$((interval_ms * 1000))" 2>/dev/null || sleep 0.2
done
wait
`;

/** Container command running PROBE_SCRIPT: `sh -c SCRIPT probe URL INTERVAL TIMEOUT`. */
export function probeCommand(url: string, intervalMs = 150, timeoutSeconds = 1, concurrent = false): string[] {
  if (!/^https?:\/\/[^\s'"]+$/.test(url)) throw new Error(`probeCommand: not an http(s) URL: ${url}`);
  if (!Number.isInteger(intervalMs) || intervalMs < 10) throw new Error(`probeCommand: interval must be an integer >= 10 ms, got ${intervalMs}`);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) throw new Error(`probeCommand: timeout must be an integer >= 1 s, got ${timeoutSeconds}`);
  return ['sh', '-c', concurrent ? PROBE_SCRIPT_CONCURRENT : PROBE_SCRIPT, 'probe', url, String(intervalMs), String(timeoutSeconds)];
}

/**
 * One probe output line → a sample; undefined for anything else (blank lines, shell noise).
 * Format: `<epoch-ms> <ok|fail> [detail]`; seconds with a fraction (`1712345678.123`) are also
 * accepted.
 */
export function parseProbeLine(line: string): AvailabilitySample | undefined {
  const m = /^\s*(\d{9,13}(?:\.\d+)?)\s+(ok|fail)(?:\s+(.*?))?\s*$/.exec(line);
  if (!m) return undefined;
  const raw = m[1]!;
  const at = raw.includes('.') || raw.length <= 10 ? Math.round(Number(raw) * 1000) : Number(raw);
  if (!Number.isFinite(at)) return undefined;
  const detail = m[3];
  return { at, available: m[2] === 'ok', ...(detail !== undefined && detail !== '' ? { detail } : {}) };
}

/** A whole output (any line endings) → samples in time order; a trailing partial line is ignored if unparseable. */
export function parseProbeOutput(text: string): AvailabilitySample[] {
  const samples: AvailabilitySample[] = [];
  for (const line of text.split(/\r?\n/)) {
    const s = parseProbeLine(line);
    if (s) samples.push(s);
  }
  return samples.map((s, i) => ({ s, i })).sort((a, b) => a.s.at - b.s.at || a.i - b.i).map(({ s }) => s);
}

/**
 * Incremental line splitter for a log stream: feed chunks, get complete lines back; `end()`
 * returns the last unterminated line, if any.
 */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    const text = this.rest + chunk;
    const parts = text.split(/\r?\n/);
    this.rest = parts.pop() ?? '';
    return parts;
  }
  end(): string[] {
    const r = this.rest;
    this.rest = '';
    return r === '' ? [] : [r];
  }
}

/** Name of the companion NodePort Service the probe creates for a ClusterIP Service (<= 63 chars, DNS-1035). */
export function probeServiceName(service: string): string {
  const suffix = '-sd-probe';
  return `${service.slice(0, 63 - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** The subset of a core/v1 Service the probe looks at (structurally a V1Service). */
export interface ServiceLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    type?: string;
    selector?: Record<string, string>;
    ports?: Array<{ name?: string; port: number; targetPort?: number | string; nodePort?: number; protocol?: string }>;
  };
}

/**
 * How the probe reaches a Service from the `kind` Docker network: through a NodePort, i.e. the
 * node's kube-proxy rules, so every request is load-balanced by the Service to its ready
 * endpoints exactly as in-cluster traffic is.
 *   - NodePort/LoadBalancer Service with a nodePort on `port`: that very Service.
 *   - otherwise (ClusterIP): a companion NodePort Service with the same selector and port
 *     mapping (hence the same endpoints), created by the backend and deleted with the probe.
 */
export function probeEndpointFor(
  svc: ServiceLike,
  port: number,
): { kind: 'nodePort'; nodePort: number } | { kind: 'companion'; service: ServiceLike } {
  const name = svc.metadata?.name ?? '';
  const ports = svc.spec?.ports ?? [];
  const p = ports.find((x) => x.port === port);
  if (!p) {
    throw new Error(`Service ${svc.metadata?.namespace ?? ''}/${name} has no port ${port} (ports: ${ports.map((x) => x.port).join(', ') || 'none'})`);
  }
  const type = svc.spec?.type ?? 'ClusterIP';
  if ((type === 'NodePort' || type === 'LoadBalancer') && p.nodePort) return { kind: 'nodePort', nodePort: p.nodePort };
  if (type === 'ExternalName') throw new Error(`Service ${name} is ExternalName: nothing to probe`);
  const selector = svc.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) {
    throw new Error(`Service ${name} has no selector: a companion NodePort Service would have no endpoints`);
  }
  return {
    kind: 'companion',
    service: {
      metadata: {
        name: probeServiceName(name),
        ...(svc.metadata?.namespace ? { namespace: svc.metadata.namespace } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'safe-drain-e2e', 'safe-drain.e2e/probe-for': name.slice(0, 63) },
      },
      spec: {
        type: 'NodePort',
        selector: { ...selector },
        ports: [{ name: 'probe', port: p.port, targetPort: p.targetPort ?? p.port, protocol: p.protocol ?? 'TCP' }],
      },
    },
  };
}

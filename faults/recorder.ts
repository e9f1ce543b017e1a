// The independent recorder: its own list+watch of pods, PDBs, Deployments and Nodes, straight
// to the API server with the admin identity (never through a fault proxy, never the engine's
// code), and its own count of evictions outside budget.
//
// The rule, "evictions outside budget": the API server admits an eviction only when the PDB's
// status allows it, and decrements that status itself, so "disruptionsAllowed was 0" is true
// of no admitted eviction and would check nothing. What must hold is the budget's purpose: a
// PDB's selected pods never drop below its desired healthy count because of an eviction. So, in
// the order of this recorder's single pod watch (the order of etcd writes for pods):
//   when a pod gets a deletionTimestamp and its DisruptionTarget condition has reason
//   EvictionByEvictionAPI (the eviction API sets it before deleting), and the pod was Ready and
//   not terminating just before, then for each PDB in its namespace whose *current* selector
//   matches it: healthy = selected pods that are Ready and have no deletionTimestamp (as the
//   disruption controller counts currentHealthy), counted right after this pod left;
//   desired = spec.minAvailable when it is an integer, else the PDB's last observed
//   status.desiredHealthy (percentages and maxUnavailable depend on the controller's scale).
//   healthy < desired is one eviction outside budget.
// Deletions by other causes (ReplicaSet scale-down after a restore, taint manager) that take a
// set below its budget are kept apart (otherBelowBudget) and shown, not counted: a PDB does not
// guard them. A pod evicted and gone while this recorder's watch was reconnecting is seen only by
// the relist (no deletionTimestamp moment) and cannot be judged: such gaps are counted (missed).
import {
  AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, Watch,
  type KubernetesObject, type V1Deployment, type V1LabelSelector, type V1Node, type V1Pod, type V1PodDisruptionBudget,
} from '@kubernetes/client-node';

type Listed<T> = { items: T[]; metadata?: { resourceVersion?: string } };

export interface BudgetViolation {
  at: number;
  pod: string;
  pdb: string;
  healthyAfter: number;
  desiredHealthy: number;
  cause: string;
}

const key = (o: KubernetesObject): string => (o.metadata?.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata?.name ?? ''));

export function isReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function disruptionCause(p: V1Pod): string {
  const c = p.status?.conditions?.find((x) => x.type === 'DisruptionTarget' && x.status === 'True');
  return c?.reason ?? 'deleted';
}

function matches(selector: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    const val = labels[e.key];
    switch (e.operator) {
      case 'In': if (!has || !e.values?.includes(val!)) return false; break;
      case 'NotIn': if (has && e.values?.includes(val!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  // An empty selector in policy/v1 selects every pod of the namespace.
  return true;
}

/** A list+watch of one collection that resumes after every disconnect and relists after 410. */
class Collection<T extends KubernetesObject> {
  readonly items = new Map<string, T>();
  private rv = '';
  private abort?: AbortController;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  /** Relists after the first: windows in which changes may have been folded together. */
  relists = 0;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly list: () => Promise<Listed<T>>,
    private readonly onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T, before: T | undefined) => void,
  ) {}

  async start(): Promise<void> {
    await this.relist(false);
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async relist(count: boolean): Promise<void> {
    const listed = await this.list();
    if (count) this.relists++;
    const seen = new Set<string>();
    for (const item of listed.items) {
      const k = key(item);
      seen.add(k);
      const before = this.items.get(k);
      this.items.set(k, item);
      if (before?.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.onEvent(before ? 'MODIFIED' : 'ADDED', item, before);
    }
    for (const [k, obj] of [...this.items]) {
      if (!seen.has(k)) {
        this.items.delete(k);
        this.onEvent('DELETED', obj, obj);
      }
    }
    this.rv = listed.metadata?.resourceVersion ?? '';
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let gone = false;
    try {
      this.abort = await new Watch(this.kc).watch(
        this.path,
        { resourceVersion: this.rv, allowWatchBookmarks: true, timeoutSeconds: 60 },
        (type: string, obj: T & { code?: number }) => {
          if (type === 'BOOKMARK') {
            this.rv = obj.metadata?.resourceVersion ?? this.rv;
            return;
          }
          if (type === 'ERROR') {
            if (obj.code === 410) gone = true;
            return;
          }
          const k = key(obj);
          const before = this.items.get(k);
          this.rv = obj.metadata?.resourceVersion ?? this.rv;
          if (type === 'DELETED') this.items.delete(k);
          else this.items.set(k, obj);
          this.onEvent(type as 'ADDED' | 'MODIFIED' | 'DELETED', obj, before);
        },
        (err: unknown) => {
          if ((err as { statusCode?: number } | null)?.statusCode === 410) gone = true;
          this.again(gone);
        },
      );
    } catch {
      // Not connected (API server down): resume from the same resourceVersion, no relist.
      this.again(false);
    }
  }

  private again(relist: boolean): void {
    if (this.stopped) return;
    // 500 ms between attempts: the API server may be down for seconds (a fault of the matrix).
    this.timer = setTimeout(() => {
      void (async () => {
        try {
          if (relist) await this.relist(true);
        } catch {
          this.again(true);
          return;
        }
        await this.connect();
      })();
    }, 500);
  }
}

export class Recorder {
  readonly violations: BudgetViolation[] = [];
  readonly otherBelowBudget: BudgetViolation[] = [];
  /** Pods the eviction API took: namespace/name, node, time. */
  readonly evictions: { at: number; pod: string; node: string }[] = [];
  /** Highest spec.replicas seen per Deployment since reset(). */
  readonly maxReplicas = new Map<string, number>();
  private readonly pods: Collection<V1Pod>;
  private readonly pdbs: Collection<V1PodDisruptionBudget>;
  private readonly deployments: Collection<V1Deployment>;
  private readonly nodes: Collection<V1Node>;
  private readonly waiters = new Set<() => void>();

  constructor(kc: KubeConfig, private readonly inScope: (namespace: string) => boolean) {
    const core = kc.makeApiClient(CoreV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    this.pods = new Collection(kc, '/api/v1/pods', () => core.listPodForAllNamespaces(), (t, p, b) => this.onPod(t, p, b));
    this.pdbs = new Collection(kc, '/apis/policy/v1/poddisruptionbudgets', () => policy.listPodDisruptionBudgetForAllNamespaces(), () => this.wake());
    this.deployments = new Collection(kc, '/apis/apps/v1/deployments', () => apps.listDeploymentForAllNamespaces(), (_t, d) => {
      const k = key(d);
      this.maxReplicas.set(k, Math.max(this.maxReplicas.get(k) ?? 0, d.spec?.replicas ?? 0));
      this.wake();
    });
    this.nodes = new Collection(kc, '/api/v1/nodes', () => core.listNode(), () => this.wake());
  }

  async start(): Promise<void> {
    await Promise.all([this.pdbs.start(), this.deployments.start(), this.nodes.start()]);
    await this.pods.start();
  }

  stop(): void {
    for (const c of [this.pods, this.pdbs, this.deployments, this.nodes]) c.stop();
  }

  /** Relists of the pod watch (windows this recorder could not judge). */
  get missed(): number {
    return this.pods.relists;
  }

  pod(k: string): V1Pod | undefined {
    return this.pods.items.get(k);
  }
  podList(): V1Pod[] {
    return [...this.pods.items.values()];
  }
  deployment(k: string): V1Deployment | undefined {
    return this.deployments.items.get(k);
  }
  node(name: string): V1Node | undefined {
    return this.nodes.items.get(name);
  }

  /** Resolves true once `pred` holds (checked on every event), false after timeoutMs. */
  until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!pred()) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Starts a new scenario's bookkeeping of the highest replicas. */
  resetMaxReplicas(): void {
    this.maxReplicas.clear();
    for (const d of this.deployments.items.values()) this.maxReplicas.set(key(d), d.spec?.replicas ?? 0);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private onPod(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: V1Pod, before: V1Pod | undefined): void {
    const ns = pod.metadata?.namespace ?? '';
    if (this.inScope(ns) && before && !before.metadata?.deletionTimestamp && (type === 'DELETED' || pod.metadata?.deletionTimestamp)) {
      // This pod just started leaving (the pod map already holds its new state).
      const cause = disruptionCause(pod);
      const k = key(pod);
      if (cause === 'EvictionByEvictionAPI') this.evictions.push({ at: Date.now(), pod: k, node: pod.spec?.nodeName ?? '' });
      if (isReady(before)) {
        for (const pdb of this.pdbs.items.values()) {
          if (pdb.metadata?.namespace !== ns || !matches(pdb.spec?.selector, pod.metadata?.labels ?? {})) continue;
          const min = pdb.spec?.minAvailable;
          const desired = typeof min === 'number' ? min : (pdb.status?.desiredHealthy ?? 0);
          let healthy = 0;
          for (const p of this.pods.items.values()) {
            if (p.metadata?.namespace === ns && !p.metadata?.deletionTimestamp && isReady(p) && matches(pdb.spec?.selector, p.metadata?.labels ?? {})) healthy++;
          }
          if (healthy < desired) {
            const v = { at: Date.now(), pod: k, pdb: key(pdb), healthyAfter: healthy, desiredHealthy: desired, cause };
            (cause === 'EvictionByEvictionAPI' ? this.violations : this.otherBelowBudget).push(v);
          }
        }
      }
    }
    this.wake();
  }
}

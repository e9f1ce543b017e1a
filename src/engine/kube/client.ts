// The engine's only door to the API server: typed calls for exactly what a drain needs, each
// counted so benchmarks can check the request budget (<= 3 per evicted pod when nothing blocks).
import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  AutoscalingV2Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  type KubernetesObject,
  PolicyV1Api,
  setHeaderOptions,
  type V1DaemonSet,
  type V1Deployment,
  type V1Node,
  type V1ObjectReference,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1ReplicaSet,
  type V1StatefulSet,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { AsyncLocalStorage } from 'node:async_hooks';
import { abortReason, sleep, WaitAborted } from '../execute/abort.js';
import { describeApiError, parseApiError, statusCode } from './errors.js';
import { ResourceWatch, type ResourceWatchOptions } from './watch.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * How long a request keeps being retried while the API server does not answer or answers "later"
 * (a restart takes ~20 s with its graceful shutdown; an etcd stall or throttling, seconds).
 */
export const API_OUTAGE_BOUND_MS = 90_000;
const MAX_BACKOFF_MS = 8_000;
/** A Retry-After longer than this is not waited out in one piece. */
const MAX_RETRY_AFTER_MS = 30_000;

/**
 * A failure that passes by itself, and the server's advice: no answer at all (connection refused
 * or reset while the API server restarts), 429 (API Priority and Fairness throttling), 502/503/504
 * (shutting down, not ready, gateway), or a 500 from an etcd timeout. Undefined: the error is final.
 */
export function transientFailure(err: unknown): { retryAfterMs?: number } | undefined {
  const status = parseApiError(err);
  const retryAfterMs = status.retryAfterSeconds !== undefined ? status.retryAfterSeconds * 1000 : undefined;
  if (statusCode(err) === undefined) return isConnectionFailure(err) ? {} : undefined;
  if (status.code === 429 || status.code === 502 || status.code === 503 || status.code === 504) return { retryAfterMs };
  if (status.code === 500 && /etcdserver|timed? ?out|timeout|leader changed|please try again/i.test(status.message)) return { retryAfterMs };
  return undefined;
}

/** fetch's "fetch failed" and the socket errors under it (ECONNREFUSED, ECONNRESET, ...). */
function isConnectionFailure(err: unknown): boolean {
  const chain: unknown[] = [];
  for (let e: unknown = err; e instanceof Error && chain.length < 5; e = (e as Error & { cause?: unknown }).cause) chain.push(e);
  return chain.some((e) => {
    const code = (e as { code?: unknown }).code;
    return (
      (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_CLOSED)$/.test(code)) ||
      /fetch failed|socket hang up|other side closed/i.test((e as Error).message)
    );
  });
}
const DRY_RUN_ALL = 'All';
const READ = { read: true };

/** `p`, or WaitAborted as soon as `signal` fires (the request itself runs on and is ignored). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new WaitAborted(abortReason(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
/** Page size for lists (kubectl drain's --chunk-size default). */
const CHUNK_SIZE = 500;
/** A page of a list arrives in well under a second; a minute of silence is a stall. */
const PAGE_IDLE_TIMEOUT_MS = 60_000;

export interface EvictRequest {
  namespace: string;
  name: string;
  uid: string;
  /** -1: the pod's own grace period. */
  gracePeriodSeconds: number;
  dryRun: boolean;
}

export interface AccessQuery {
  verb: string;
  resource: string;
  group: string;
  subresource?: string;
  namespace?: string;
}

export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly autoscaling: AutoscalingV2Api;
  readonly authz: AuthorizationV1Api;
  /** API requests sent through this client, watch connections included. */
  requests = 0;

  constructor(readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.policy = kubeConfig.makeApiClient(PolicyV1Api);
    this.autoscaling = kubeConfig.makeApiClient(AutoscalingV2Api);
    this.authz = kubeConfig.makeApiClient(AuthorizationV1Api);
  }

  /**
   * How long a request may keep failing transiently (see transientFailure) before its error is
   * final. run.ts keeps it short until the checks have passed (a cluster that does not answer
   * then is most likely the wrong one), then rides out restarts and stalls.
   */
  outageBoundMs = API_OUTAGE_BOUND_MS;
  /** Told each retry, for the log. */
  onRetry?: (message: string) => void;

  /**
   * The deadline that bounds reads made inside `readsBoundBy` (async context, so it follows the
   * work wherever it goes). Writes are never cut short: a write given up on mid-flight may still
   * land, and the report would not know.
   */
  private readonly readBound = new AsyncLocalStorage<AbortSignal | undefined>();

  /** Runs `fn` with its reads (gets, lists, their retries) ending in WaitAborted when `signal` fires. */
  readsBoundBy<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    return this.readBound.run(signal, fn);
  }

  /** Runs `fn` with no bound on its reads (undoing changes runs to its end after a timeout too). */
  unbounded<T>(fn: () => Promise<T>): Promise<T> {
    return this.readBound.run(undefined, fn);
  }

  /**
   * Sends a request (counted), retrying transient failures with backoff and Retry-After. A read
   * (`read: true`) inside readsBoundBy stops waiting, retries included, when that bound fires.
   */
  private async count<T>(send: () => Promise<T>, { retry = true, read = false } = {}): Promise<T> {
    const bound = read ? this.readBound.getStore() : undefined;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      if (bound?.aborted) throw new WaitAborted(abortReason(bound));
      this.requests++;
      try {
        return await (bound ? untilAborted(send(), bound) : send());
      } catch (err) {
        const transient = retry ? transientFailure(err) : undefined;
        if (!transient || Date.now() - started >= this.outageBoundMs) throw err;
        const delayMs = Math.min(Math.max(Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt), transient.retryAfterMs ?? 0), MAX_RETRY_AFTER_MS);
        this.onRetry?.(`${describeApiError(err)}: retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt + 1})`);
        if (bound) await sleep(delayMs, bound);
        else await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  getNode(name: string): Promise<V1Node> {
    return this.count(() => this.core.readNode({ name }), READ);
  }

  /** Every node (of the selector), plain parsed JSON as scanAllPods' pods: a thousand typed nodes cost more than the rest. */
  async listNodes(labelSelector?: string): Promise<V1Node[]> {
    const nodes: V1Node[] = [];
    await this.scanRaw<V1Node>('/api/v1/nodes', labelSelector, (items) => nodes.push(...items));
    return nodes;
  }

  /**
   * Every pod of the cluster, one page (CHUNK_SIZE) at a time, handed to `onPage` and then
   * dropped: the caller keeps only what it needs, so memory holds one page, never the whole
   * cluster. One paged list per call. The pods are plain parsed JSON, as watch events deliver
   * them (timestamps are strings): the typed conversion of every pod of a large cluster cost
   * more than the rest of a plan, for objects that are mostly reduced to a sum and dropped.
   */
  scanAllPods(onPage: (pods: V1Pod[], resourceVersion: string) => void): Promise<void> {
    return this.scanRaw<V1Pod>('/api/v1/pods', undefined, onPage);
  }

  /** A paged list (CHUNK_SIZE, continue) of plain JSON objects, each page counted and retried. */
  private async scanRaw<T>(path: string, labelSelector: string | undefined, onPage: (items: T[], resourceVersion: string) => void): Promise<void> {
    let cont: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(CHUNK_SIZE), ...(labelSelector ? { labelSelector } : {}), ...(cont ? { continue: cont } : {}) });
      const page = await this.count(() => this.getJson<{ items?: T[]; metadata?: { continue?: string; resourceVersion?: string } }>(`${path}?${query}`), READ);
      // Every page of a paged list carries the list's snapshot resourceVersion.
      onPage(page.items ?? [], page.metadata?.resourceVersion ?? '');
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  /**
   * One GET answered with parsed JSON, untyped. A non-2xx answer raises ApiException (code, Status
   * body, headers) like the typed calls, so transientFailure and the error texts read it the same.
   */
  private async getJson<T>(path: string): Promise<T> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig has no current cluster with a server address');
    const url = new URL(server.replace(/\/+$/, '') + path);
    const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code < 200 || code > 299) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            reject(new ApiException(code, `HTTP-Code: ${code} Message: GET ${url.pathname}`, body, headers));
            return;
          }
          try {
            resolve(JSON.parse(body) as T);
          } catch (err) {
            reject(new Error(`GET ${url.pathname}: the API server's answer is not JSON (${(err as Error).message})`));
          }
        });
      });
      // A socket silent this long is a stalled server: the error is transient, so count() retries.
      req.setTimeout(PAGE_IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error(`GET ${url.pathname}: no data for ${PAGE_IDLE_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end();
    });
  }

  /** A ResourceWatch whose connections count as requests of this client. */
  watch<T extends KubernetesObject>(opts: Omit<ResourceWatchOptions<T>, 'onRequest'>): ResourceWatch<T> {
    return new ResourceWatch<T>(this.kubeConfig, { ...opts, onRequest: () => this.requests++ });
  }

  getReplicaSet(namespace: string, name: string): Promise<V1ReplicaSet> {
    return this.count(() => this.apps.readNamespacedReplicaSet({ namespace, name }), READ);
  }

  /** A namespace's ReplicaSets, page by page (CHUNK_SIZE), each page handed over and dropped. */
  async scanReplicaSets(namespace: string, onPage: (items: V1ReplicaSet[]) => void): Promise<void> {
    let cont: string | undefined;
    do {
      const page = await this.count(() => this.apps.listNamespacedReplicaSet({ namespace, limit: CHUNK_SIZE, _continue: cont }), READ);
      onPage(page.items);
      cont = page.metadata?._continue || undefined;
    } while (cont);
  }

  /** A namespace's Deployments, page by page (CHUNK_SIZE), each page handed over and dropped. */
  async scanDeployments(namespace: string, onPage: (items: V1Deployment[]) => void): Promise<void> {
    let cont: string | undefined;
    do {
      const page = await this.count(() => this.apps.listNamespacedDeployment({ namespace, limit: CHUNK_SIZE, _continue: cont }), READ);
      onPage(page.items);
      cont = page.metadata?._continue || undefined;
    } while (cont);
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.count(() => this.apps.readNamespacedDeployment({ namespace, name }), READ);
  }

  getStatefulSet(namespace: string, name: string): Promise<V1StatefulSet> {
    return this.count(() => this.apps.readNamespacedStatefulSet({ namespace, name }), READ);
  }

  getDaemonSet(namespace: string, name: string): Promise<V1DaemonSet> {
    return this.count(() => this.apps.readNamespacedDaemonSet({ namespace, name }), READ);
  }

  async listHpas(namespace: string): Promise<V2HorizontalPodAutoscaler[]> {
    return (await this.count(() => this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }), READ)).items;
  }

  async listPdbs(): Promise<{ items: V1PodDisruptionBudget[]; resourceVersion: string }> {
    const res = await this.count(() => this.policy.listPodDisruptionBudgetForAllNamespaces({}), READ);
    return { items: res.items, resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  /** Merge patch of spec.unschedulable (what kubectl cordon/uncordon does). */
  setUnschedulable(name: string, unschedulable: boolean, dryRun: boolean): Promise<V1Node> {
    return this.count(() =>
      this.core.patchNode(
        { name, body: { spec: { unschedulable: unschedulable ? true : null } }, dryRun: dryRun ? DRY_RUN_ALL : undefined },
        mergePatch,
      ),
    );
  }

  /** Merge patch of the node's metadata (the drain lock annotation, with a resourceVersion precondition). */
  patchNodeMetadata(name: string, metadata: object): Promise<V1Node> {
    return this.count(() => this.core.patchNode({ name, body: { metadata } }, mergePatch));
  }

  /** JSON Patch of a node (its `test` operations make the whole patch conditional, on the server). */
  patchNodeJson(name: string, operations: object[]): Promise<V1Node> {
    return this.count(() => this.core.patchNode({ name, body: operations }));
  }

  /** policy/v1 Eviction with a UID precondition, so a same-named replacement is never evicted by mistake. */
  async evict(req: EvictRequest): Promise<void> {
    await this.count(() =>
      this.core.createNamespacedPodEviction({
        name: req.name,
        namespace: req.namespace,
        dryRun: req.dryRun ? DRY_RUN_ALL : undefined,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: req.name, namespace: req.namespace },
          deleteOptions: {
            preconditions: { uid: req.uid },
            ...(req.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: req.gracePeriodSeconds } : {}),
            ...(req.dryRun ? { dryRun: [DRY_RUN_ALL] } : {}),
          },
        },
      }),
      // Every answer to an eviction means something for the drain (evict.ts decides, and retries).
      { retry: false },
    );
  }

  patchDeployment(namespace: string, name: string, body: object, dryRun: boolean): Promise<V1Deployment> {
    return this.count(() =>
      this.apps.patchNamespacedDeployment({ namespace, name, body, dryRun: dryRun ? DRY_RUN_ALL : undefined }, mergePatch),
    );
  }

  /** A core/v1 Event on the node, so `kubectl describe node` shows who drained it. */
  nodeEvent(node: V1Node, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const name = node.metadata?.name ?? '';
    // Node events live in "default" with uid = node name, as the kubelet's: `kubectl describe node` searches them that way.
    return this.event('default', { kind: 'Node', name, uid: name, apiVersion: 'v1' }, type, reason, message);
  }

  /** A core/v1 Event on a workload (surge migration changes are visible on the object). */
  workloadEvent(kind: string, namespace: string, name: string, uid: string | undefined, reason: string, message: string): Promise<void> {
    return this.event(namespace, { kind, namespace, name, uid, apiVersion: 'apps/v1' }, 'Normal', reason, message);
  }

  private async event(namespace: string, involvedObject: V1ObjectReference, type: string, reason: string, message: string): Promise<void> {
    const now = new Date();
    await this.count(() =>
      this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${involvedObject.name}.safe-drain.` },
          involvedObject,
          type,
          reason,
          message,
          source: { component: 'safe-drain' },
          reportingComponent: 'safe-drain',
          reportingInstance: 'safe-drain',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      }),
    );
  }

  async canI(q: AccessQuery): Promise<{ allowed: boolean; reason?: string }> {
    const res = await this.count(() =>
      this.authz.createSelfSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: {
            resourceAttributes: {
              verb: q.verb,
              resource: q.resource,
              group: q.group,
              subresource: q.subresource,
              namespace: q.namespace,
            },
          },
        },
      }),
    );
    return { allowed: res.status?.allowed === true, reason: res.status?.reason };
  }
}

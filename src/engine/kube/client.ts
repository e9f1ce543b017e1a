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
import { ListStream, type ListDecoder, type ListFields } from './list-stream.js';
import { nodeFootprint, podFootprint, PROTOBUF, ProtoListStream, type ItemDecoder } from './proto-list.js';
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
  // Not `instanceof Error`: Node's socket errors may come from another realm (a vm context, as under jest).
  for (let e: unknown = err; typeof e === 'object' && e !== null && chain.length < 5; e = (e as Error & { cause?: unknown }).cause) chain.push(e);
  return chain.some((e) => {
    const code = (e as { code?: unknown }).code;
    return (
      (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_CLOSED)$/.test(code)) ||
      /fetch failed|socket hang up|other side closed/i.test(String((e as Error).message))
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
/**
 * kube-apiserver's words for an authorizer that has not loaded RBAC yet: "informers not synced",
 * or the bootstrap roles every cluster binds to every authenticated user reported not found
 * (seen right after a restart; a ClusterRole deleted for real names only itself).
 */
const RBAC_NOT_LOADED = /not synced|clusterrole\.rbac\.authorization\.k8s\.io "system:(?:basic-user|discovery|public-info-viewer)" not found/i;
/** Page size for lists (kubectl drain's --chunk-size default). */
const CHUNK_SIZE = 500;
/** A page of a list arrives in well under a second; a minute of silence is a stall. */
const PAGE_IDLE_TIMEOUT_MS = 60_000;
/** Two connections: the page being read and the next one, asked for meanwhile. Idle ones close after 30 s. */
const PAGE_AGENT: http.AgentOptions = { keepAlive: true, maxSockets: 2, timeout: 30_000 };


type ListSelectors = { labelSelector?: string; fieldSelector?: string };

/** How a paged list is folded, page by page: see KubeClient.scanAllPods. */
export interface PageFold<T, P> {
  /** A fresh accumulator for one attempt at one page. */
  start(): P;
  /** Items of the page, as they arrive. */
  add(page: P, items: T[]): void;
  /** The page arrived whole (pages are committed in order, each once). */
  commit(page: P, resourceVersion: string): void;
}

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
        const transient = retry ? (transientFailure(err) ?? ((await this.forbiddenWhileStarting(err)) ? {} : undefined)) : undefined;
        if (!transient || Date.now() - started >= this.outageBoundMs) throw err;
        const delayMs = Math.min(Math.max(Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt), transient.retryAfterMs ?? 0), MAX_RETRY_AFTER_MS);
        this.onRetry?.(`${describeApiError(err)}: retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt + 1})`);
        if (bound) await sleep(delayMs, bound);
        else await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  /**
   * A 403 from an API server that is not ready: kube-apiserver answers before its RBAC caches
   * have synced (after a restart, for seconds) and denies what the identity may do. Such a 403
   * passes by itself; one asked when /readyz says ready (every identity may read it) is final.
   */
  async forbiddenWhileStarting(err: unknown): Promise<boolean> {
    if (statusCode(err) !== 403) return false;
    if (RBAC_NOT_LOADED.test(parseApiError(err).message)) return true;
    try {
      // Anything but 200 counts as not ready: in that window even /readyz, which every identity
      // may read once RBAC is loaded, is denied. Where a cluster denies it for good, a real 403
      // is retried within the outage bound before it is final: a delay, never a wrong answer.
      return (await this.readyzStatus()) !== 200;
    } catch {
      // No answer at all: the API server is going away or coming back.
      return true;
    }
  }

  /** HTTP status of GET /readyz (counted), bounded by the page stall timeout. */
  private async readyzStatus(): Promise<number> {
    const { url, opts, send } = await this.rawGet('/readyz', {});
    this.requests++;
    return new Promise<number>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.setTimeout(PAGE_IDLE_TIMEOUT_MS, () => req.destroy(new Error('GET /readyz: no answer')));
      req.on('error', reject);
      req.end();
    });
  }

  /**
   * A read made with the typed API objects directly (a watch's list, a one-off list): counted,
   * retried through API server restarts and throttling like every call here, and bounded by
   * readsBoundBy. A watch's first list that failed at once on a restarting API server failed its
   * pod (fault row 2).
   */
  read<T>(send: () => Promise<T>): Promise<T> {
    return this.count(send, READ);
  }

  getNode(name: string): Promise<V1Node> {
    return this.count(() => this.core.readNode({ name }), READ);
  }

  /** Every node (of the selector), plain parsed JSON as scanAllPods' pods: a thousand typed nodes cost more than the rest. */
  listNodes(labelSelector?: string): Promise<V1Node[]> {
    return this.collect<V1Node>('/api/v1/nodes', { labelSelector });
  }

  /**
   * Every pod of the cluster, one paged list (CHUNK_SIZE), each pod parsed on its own as it
   * arrives and handed to `fold`, which keeps only what it needs: memory never holds a page of
   * pods, let alone the cluster. The pods are plain parsed JSON, as watch events deliver them
   * (timestamps are strings): the typed conversion of every pod of a large cluster cost more
   * than the rest of a plan, for objects that are mostly reduced to a sum and dropped.
   */
  scanAllPods<P>(fold: PageFold<V1Pod, P>): Promise<void> {
    return this.scanRaw('/api/v1/pods', {}, fold);
  }

  /**
   * Every pod of the cluster reduced to what the capacity check reads (node, phase, requests:
   * kube/proto-list.ts), asked for in the API server's protobuf encoding: a third of the JSON's
   * bytes and of the server's time. A server that answers JSON instead is read as JSON (whole
   * pods, which the same fold reduces).
   */
  scanPodFootprints<P>(fold: PageFold<V1Pod, P>): Promise<void> {
    return this.scanRaw('/api/v1/pods', {}, fold, podFootprint);
  }

  /** Every node reduced to what the capacity check reads (kube/proto-list.ts), in protobuf like scanPodFootprints. */
  listNodeFootprints(): Promise<V1Node[]> {
    return this.collect<V1Node>('/api/v1/nodes', {}, nodeFootprint);
  }

  /** The pods bound to one node, whole (JSON): the API server's cache finds them by its node index. */
  listPodsOnNode(node: string): Promise<V1Pod[]> {
    return this.collect<V1Pod>('/api/v1/pods', { fieldSelector: `spec.nodeName=${node}` });
  }

  /** Every item of a paged list, kept (scanRaw's pages, in order). */
  private async collect<T>(path: string, selectors: ListSelectors, protobufItem?: ItemDecoder<T>): Promise<T[]> {
    const items: T[] = [];
    await this.scanRaw<T, T[]>(path, selectors, {
      start: () => [],
      add: (page, more) => page.push(...more),
      commit: (page) => items.push(...page),
    }, protobufItem);
    return items;
  }

  /**
   * A paged list (CHUNK_SIZE, continue) of plain JSON objects, each page counted and retried.
   * The next page is asked for as soon as this one's continue token has arrived (the API server
   * writes metadata before the items), so the server builds it while this one is read and
   * parsed; pages are still committed in order, each only once it arrived whole.
   */
  private async scanRaw<T, P>(
    path: string,
    selectors: ListSelectors,
    fold: PageFold<T, P>,
    /** Decodes one item of a protobuf answer: given, protobuf is asked for (JSON still read if answered). */
    protobufItem?: ItemDecoder<T>,
  ): Promise<void> {
    // Ends the pages still streaming when the scan stops early (an error, or the read bound).
    const abandoned = new AbortController();
    type Page = { fields: Promise<ListFields>; done: Promise<{ partial: P; fields: ListFields }> };
    const startPage = (cont: string | undefined): Page => {
      const query = new URLSearchParams({
        limit: String(CHUNK_SIZE),
        ...(selectors.labelSelector ? { labelSelector: selectors.labelSelector } : {}),
        ...(selectors.fieldSelector ? { fieldSelector: selectors.fieldSelector } : {}),
        ...(cont ? { continue: cont } : {}),
      });
      let learned!: (fields: ListFields) => void;
      const fields = new Promise<ListFields>((resolve) => (learned = resolve));
      const done = this.count(() => this.streamPage(`${path}?${query}`, protobufItem, fold, learned, abandoned.signal), READ);
      // Awaited below, unless the scan stops first: then its failure is nobody's news.
      done.catch(() => undefined);
      return { fields, done };
    };
    try {
      let page: Page | undefined = startPage(undefined);
      while (page) {
        const fields: ListFields = await Promise.race([page.fields, page.done.then((d) => d.fields)]);
        const next: Page | undefined = fields.metadata?.continue ? startPage(fields.metadata.continue) : undefined;
        const { partial, fields: whole } = await page.done;
        // Every page of a paged list carries the list's snapshot resourceVersion.
        fold.commit(partial, whole.metadata?.resourceVersion ?? '');
        page = next;
      }
    } finally {
      abandoned.abort();
    }
  }

  /** Pages of lists travel over a few kept-alive connections, not one TLS handshake each. */
  private pageAgent?: http.Agent;

  /** A GET of `path` on the current cluster, with the kubeconfig's credentials and TLS settings. */
  private async rawGet(path: string, headers: Record<string, string>) {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster?.server) throw new Error('the kubeconfig has no current cluster with a server address');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    const opts: https.RequestOptions = { method: 'GET', headers };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const send = url.protocol === 'http:' ? http.request : https.request;
    return { url, opts, send, proxied: !!cluster.proxyUrl };
  }

  /** Closes the kept-alive connections of list pages (idle ones never hold the process open anyway). */
  close(): void {
    this.pageAgent?.destroy();
    this.pageAgent = undefined;
  }

  /**
   * One GET of a list page, its items folded into a fresh accumulator as they arrive (a failed
   * attempt's accumulator is dropped, so a retry never folds an item twice). A non-2xx answer
   * raises ApiException (code, Status body, headers) like the typed calls, so transientFailure
   * and the error texts read it the same.
   */
  private async streamPage<T, P>(
    path: string,
    protobufItem: ItemDecoder<T> | undefined,
    fold: PageFold<T, P>,
    onFields: (f: ListFields) => void,
    abandoned: AbortSignal,
  ): Promise<{ partial: P; fields: ListFields }> {
    const { url, opts, send, proxied } = await this.rawGet(path, { Accept: protobufItem ? `${PROTOBUF}, application/json` : 'application/json' });
    // A proxy keeps client-node's agent (it knows the proxy); otherwise one of our own that keeps connections.
    if (!proxied) {
      this.pageAgent ??= url.protocol === 'http:' ? new http.Agent(PAGE_AGENT) : new https.Agent(PAGE_AGENT);
      opts.agent = this.pageAgent;
    }
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            reject(new ApiException(code, `HTTP-Code: ${code} Message: GET ${url.pathname}`, Buffer.concat(chunks).toString('utf8'), headers));
          });
          return;
        }
        // Protobuf where asked for and answered (the server chooses among what Accept lists).
        const list: ListDecoder<T> =
          protobufItem && (res.headers['content-type'] ?? '').startsWith(PROTOBUF) ? new ProtoListStream(protobufItem) : new ListStream<T>();
        const partial = fold.start();
        let told = false;
        const notJson = (err: unknown) => new Error(`GET ${url.pathname}: the API server's answer is not a list we can read (${(err as Error).message})`);
        res.on('data', (c: Buffer) => {
          try {
            const items = list.push(c);
            if (items.length > 0) fold.add(partial, items);
          } catch (err) {
            req.destroy(notJson(err));
            return;
          }
          if (!told && list.fields) {
            told = true;
            onFields(list.fields);
          }
        });
        res.on('error', reject);
        res.on('end', () => {
          try {
            const { fields, items } = list.end();
            if (items.length > 0) fold.add(partial, items);
            onFields(fields);
            resolve({ partial, fields });
          } catch (err) {
            reject(notJson(err));
          }
        });
      });
      const onAbandoned = () => req.destroy(new Error(`GET ${url.pathname}: abandoned, the list stopped early`));
      abandoned.addEventListener('abort', onAbandoned, { once: true });
      req.on('close', () => abandoned.removeEventListener('abort', onAbandoned));
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

  /** A namespace's ReplicaSets (undefined: the whole cluster's), page by page (CHUNK_SIZE), each page handed over and dropped. */
  async scanReplicaSets(namespace: string | undefined, onPage: (items: V1ReplicaSet[]) => void): Promise<void> {
    let cont: string | undefined;
    do {
      const page = await this.count(
        () => (namespace === undefined ? this.apps.listReplicaSetForAllNamespaces({ limit: CHUNK_SIZE, _continue: cont }) : this.apps.listNamespacedReplicaSet({ namespace, limit: CHUNK_SIZE, _continue: cont })),
        READ,
      );
      onPage(page.items);
      cont = page.metadata?._continue || undefined;
    } while (cont);
  }

  /** A namespace's Deployments (undefined: the whole cluster's), page by page (CHUNK_SIZE), each page handed over and dropped. */
  async scanDeployments(namespace: string | undefined, onPage: (items: V1Deployment[]) => void): Promise<void> {
    let cont: string | undefined;
    do {
      const page = await this.count(
        () => (namespace === undefined ? this.apps.listDeploymentForAllNamespaces({ limit: CHUNK_SIZE, _continue: cont }) : this.apps.listNamespacedDeployment({ namespace, limit: CHUNK_SIZE, _continue: cont })),
        READ,
      );
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

  /** A namespace's HPAs (undefined: the whole cluster's; there are few). */
  async listHpas(namespace: string | undefined): Promise<V2HorizontalPodAutoscaler[]> {
    return (await this.count(() => (namespace === undefined ? this.autoscaling.listHorizontalPodAutoscalerForAllNamespaces({}) : this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace })), READ)).items;
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

// The engine's only door to the API server: calls for exactly what a drain needs, each counted
// so benchmarks can check the request budget (<= 3 per evicted pod when nothing blocks), retried
// through restarts and throttling, and bounded by the run's deadline. Objects are the API
// server's JSON as parsed (kube/transport.ts), shaped like client-node's types (timestamps are
// strings).
import {
  type KubeConfig,
  type KubernetesObject,
  type V1DaemonSet,
  type V1Deployment,
  type V1EndpointSlice,
  type V1Namespace,
  type V1Node,
  type V1ObjectReference,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1ReplicaSet,
  type V1SelfSubjectAccessReview,
  type V1Service,
  type V1StatefulSet,
  type V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import { AsyncLocalStorage } from 'node:async_hooks';
import { systemClock, type Clock } from '../clock.js';
import { WaitAborted } from '../errors.js';
import { abortReason, sleep } from '../wait.js';
import { describeApiError, parseApiError, statusCode } from './errors.js';
import { ListStream, type ListDecoder, type ListFields } from './list-stream.js';
import { nodeFootprint, podFootprint, PROTOBUF, ProtoListStream, type ItemDecoder } from './proto-list.js';
import { apiException, JSON_PATCH, MERGE_PATCH, REQUEST_IDLE_TIMEOUT_MS, Transport, type SendOptions } from './transport.js';
import { ResourceWatch, type ResourceWatchOptions } from './watch.js';

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
/** A signal that never fires: the bound of a wait that has none (writes, undo reads). */
const NEVER = new AbortController().signal;
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
/** A page of a list arrives in well under a second; silence past the API server's own timeout is a stall. */
const PAGE_IDLE_TIMEOUT_MS = REQUEST_IDLE_TIMEOUT_MS;


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

const enc = encodeURIComponent;
const WORKLOAD_RESOURCES = { Deployment: 'deployments', StatefulSet: 'statefulsets', ReplicaSet: 'replicasets' } as const;
/** `/api/v1` or `/apis/<group>/<version>`, then `namespaces/<ns>/` when namespaced, then the resource. */
const collection = (groupVersion: string, resource: string, namespace?: string) =>
  `${groupVersion === 'v1' ? '/api/v1' : `/apis/${groupVersion}`}${namespace === undefined ? '' : `/namespaces/${enc(namespace)}`}/${resource}`;
const dryRunQuery = (dryRun: boolean) => (dryRun ? { dryRun: DRY_RUN_ALL } : {});

export class KubeClient {
  /** API requests sent through this client, watch connections included. */
  requests = 0;
  /** The HTTP underneath (replaced by a plain object in unit tests). */
  transport: Pick<Transport, 'json' | 'prepare' | 'watch' | 'close'>;

  constructor(
    readonly kubeConfig: KubeConfig,
    /** Times the retries (tests replace it). */
    readonly clock: Clock = systemClock,
  ) {
    this.transport = new Transport(kubeConfig);
  }

  private send<T>(method: string, path: string, o?: SendOptions): Promise<T> {
    return this.transport.json<T>(method, path, o);
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
    const started = this.clock.now();
    for (let attempt = 1; ; attempt++) {
      if (bound?.aborted) throw new WaitAborted(abortReason(bound));
      this.requests++;
      try {
        return await (bound ? untilAborted(send(), bound) : send());
      } catch (err) {
        const transient = retry ? (transientFailure(err) ?? ((await this.forbiddenWhileStarting(err)) ? {} : undefined)) : undefined;
        if (!transient || this.clock.now() - started >= this.outageBoundMs) throw err;
        const delayMs = Math.min(Math.max(Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt), transient.retryAfterMs ?? 0), MAX_RETRY_AFTER_MS);
        this.onRetry?.(`${describeApiError(err)}: retrying in ${(delayMs / 1000).toFixed(1)}s (attempt ${attempt + 1})`);
        await sleep(delayMs, bound ?? NEVER, this.clock);
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
    const { url, opts, send } = await this.transport.prepare('GET', '/readyz', {});
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
   * One object by its API path (e.g. a Service the gate is to watch): counted, retried through
   * API server restarts and throttling like every call here, and bounded by readsBoundBy.
   */
  getAt<T>(path: string): Promise<T> {
    return this.count(() => this.send<T>('GET', path), READ);
  }

  /**
   * Every item of a collection by its API path (paged), with the list's resourceVersion: a
   * watch's list, a one-off list. A watch's first list that failed at once on a restarting API
   * server failed its pod (fault row 2): these are retried like every read.
   */
  async listAt<T>(path: string, selectors: ListSelectors = {}, protobufItem?: ItemDecoder<T>): Promise<{ items: T[]; resourceVersion: string }> {
    const items: T[] = [];
    let resourceVersion = '';
    await this.scanRaw<T, T[]>(
      path,
      selectors,
      {
        start: () => [],
        add: (page, more) => page.push(...more),
        commit: (page, rv) => {
          items.push(...page);
          resourceVersion ||= rv;
        },
      },
      protobufItem,
    );
    return { items, resourceVersion };
  }

  getNode(name: string): Promise<V1Node> {
    return this.getAt<V1Node>(`/api/v1/nodes/${enc(name)}`);
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
    return (await this.listAt<T>(path, selectors, protobufItem)).items;
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

  /** Closes the kept-alive connections (idle ones never hold the process open anyway). */
  close(): void {
    this.transport.close();
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
    const { url, opts, send } = await this.transport.prepare('GET', path, { Accept: protobufItem ? `${PROTOBUF}, application/json` : 'application/json' });
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => reject(apiException(code, `GET ${url.pathname}`, Buffer.concat(chunks).toString('utf8'), res.headers)));
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
    return new ResourceWatch<T>(this.transport, { ...opts, onRequest: () => this.requests++ });
  }

  getReplicaSet(namespace: string, name: string): Promise<V1ReplicaSet> {
    return this.getAt(`${collection('apps/v1', 'replicasets', namespace)}/${enc(name)}`);
  }

  /** A namespace's ReplicaSets (undefined: the whole cluster's), page by page (CHUNK_SIZE), each page handed over and dropped. */
  scanReplicaSets(namespace: string | undefined, onPage: (items: V1ReplicaSet[]) => void): Promise<void> {
    return this.scanPages(collection('apps/v1', 'replicasets', namespace), onPage);
  }

  /** A namespace's Deployments (undefined: the whole cluster's), page by page (CHUNK_SIZE), each page handed over and dropped. */
  scanDeployments(namespace: string | undefined, onPage: (items: V1Deployment[]) => void): Promise<void> {
    return this.scanPages(collection('apps/v1', 'deployments', namespace), onPage);
  }

  private scanPages<T>(path: string, onPage: (items: T[]) => void): Promise<void> {
    return this.scanRaw<T, T[]>(path, {}, { start: () => [], add: (page, more) => page.push(...more), commit: (page) => onPage(page) });
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment> {
    return this.getAt(`${collection('apps/v1', 'deployments', namespace)}/${enc(name)}`);
  }

  getStatefulSet(namespace: string, name: string): Promise<V1StatefulSet> {
    return this.getAt(`${collection('apps/v1', 'statefulsets', namespace)}/${enc(name)}`);
  }

  getDaemonSet(namespace: string, name: string): Promise<V1DaemonSet> {
    return this.getAt(`${collection('apps/v1', 'daemonsets', namespace)}/${enc(name)}`);
  }

  /** A namespace's HPAs (undefined: the whole cluster's; there are few). */
  async listHpas(namespace: string | undefined): Promise<V2HorizontalPodAutoscaler[]> {
    return (await this.listAt<V2HorizontalPodAutoscaler>(collection('autoscaling/v2', 'horizontalpodautoscalers', namespace))).items;
  }

  listPdbs(): Promise<{ items: V1PodDisruptionBudget[]; resourceVersion: string }> {
    return this.listAt<V1PodDisruptionBudget>(collection('policy/v1', 'poddisruptionbudgets'));
  }

  /** Merge patch of spec.unschedulable (what kubectl cordon/uncordon does). */
  setUnschedulable(name: string, unschedulable: boolean, dryRun: boolean): Promise<V1Node> {
    const body = { spec: { unschedulable: unschedulable ? true : null } };
    return this.count(() => this.send<V1Node>('PATCH', `/api/v1/nodes/${enc(name)}`, { body, contentType: MERGE_PATCH, query: dryRunQuery(dryRun) }));
  }

  /** Merge patch of the node's metadata (the drain lock annotation, with a resourceVersion precondition). */
  patchNodeMetadata(name: string, metadata: object): Promise<V1Node> {
    return this.count(() => this.send<V1Node>('PATCH', `/api/v1/nodes/${enc(name)}`, { body: { metadata }, contentType: MERGE_PATCH }));
  }

  /** JSON Patch of a node (its `test` operations make the whole patch conditional, on the server). */
  patchNodeJson(name: string, operations: object[]): Promise<V1Node> {
    return this.count(() => this.send<V1Node>('PATCH', `/api/v1/nodes/${enc(name)}`, { body: operations, contentType: JSON_PATCH }));
  }

  /** policy/v1 Eviction with a UID precondition, so a same-named replacement is never evicted by mistake. */
  async evict(req: EvictRequest): Promise<void> {
    const body = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: req.name, namespace: req.namespace },
      deleteOptions: {
        preconditions: { uid: req.uid },
        ...(req.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: req.gracePeriodSeconds } : {}),
        ...(req.dryRun ? { dryRun: [DRY_RUN_ALL] } : {}),
      },
    };
    await this.count(
      () => this.send('POST', `${collection('v1', 'pods', req.namespace)}/${enc(req.name)}/eviction`, { body, query: dryRunQuery(req.dryRun) }),
      // Every answer to an eviction means something for the drain (evict.ts decides, and retries).
      { retry: false },
    );
  }

  /**
   * DELETE of a pod, only ever for one whose eviction the API server already admitted (its PDB
   * lists it in status.disruptedPods) but never carried out; the UID precondition makes sure it
   * is that pod, not a same-named successor.
   */
  async deletePod(req: Omit<EvictRequest, 'dryRun'>): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: req.uid }, ...(req.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: req.gracePeriodSeconds } : {}) };
    await this.count(() => this.send('DELETE', `${collection('v1', 'pods', req.namespace)}/${enc(req.name)}`, { body }), { retry: false });
  }

  patchDeployment(namespace: string, name: string, body: object, dryRun: boolean): Promise<V1Deployment> {
    return this.count(() =>
      this.send<V1Deployment>('PATCH', `${collection('apps/v1', 'deployments', namespace)}/${enc(name)}`, { body, contentType: MERGE_PATCH, query: dryRunQuery(dryRun) }),
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
    const now = new Date().toISOString();
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
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
    };
    await this.count(() => this.send('POST', collection('v1', 'events', namespace), { body }));
  }

  // ---- Watches and reads the engine needs, each knowing its API path (kube/ owns every path) ----

  /** The cluster's PodDisruptionBudgets, listed and watched. */
  watchPdbs(onError?: (m: string) => void): ResourceWatch<V1PodDisruptionBudget> {
    return this.watch<V1PodDisruptionBudget>({ path: collection('policy/v1', 'poddisruptionbudgets'), list: () => this.listPdbs(), onError });
  }

  getPdb(namespace: string, name: string): Promise<V1PodDisruptionBudget> {
    return this.getAt(`${collection('policy/v1', 'poddisruptionbudgets', namespace)}/${enc(name)}`);
  }

  /**
   * The cluster's pods, watched from a list the caller folds itself (`list`: kube/cluster-pods.ts
   * scanClusterPods); `keep` says which pods the cache holds, `observe` sees every one.
   */
  watchClusterPods(opts: Pick<ResourceWatchOptions<V1Pod>, 'list' | 'keep' | 'observe' | 'onError'>): ResourceWatch<V1Pod> {
    return this.watch<V1Pod>({ path: collection('v1', 'pods'), ...opts });
  }

  /** The cluster's nodes, watched; the cache holds those `keep` accepts. */
  watchNodes(opts: Pick<ResourceWatchOptions<V1Node>, 'keep' | 'onError'>): ResourceWatch<V1Node> {
    return this.watch<V1Node>({ path: collection('v1', 'nodes'), ...opts });
  }

  /** One Deployment, StatefulSet or ReplicaSet, watched (a field selector on its name). */
  watchWorkload<T extends KubernetesObject>(kind: 'Deployment' | 'StatefulSet' | 'ReplicaSet', namespace: string, name: string): ResourceWatch<T> {
    const path = collection('apps/v1', WORKLOAD_RESOURCES[kind], namespace);
    const fieldSelector = `metadata.name=${name}`;
    return this.watch<T>({ path, fieldSelector, list: () => this.listAt<T>(path, { fieldSelector }) });
  }

  /** A namespace's pods matching a label selector, watched (a workload's pods). */
  watchPodsMatching(namespace: string, labelSelector: string): ResourceWatch<V1Pod> {
    const path = collection('v1', 'pods', namespace);
    return this.watch<V1Pod>({ path, labelSelector, list: () => this.listAt<V1Pod>(path, { labelSelector }) });
  }

  /** A namespace's ReplicaSets matching a label selector (a Deployment's). */
  async listReplicaSetsMatching(namespace: string, labelSelector: string): Promise<V1ReplicaSet[]> {
    return (await this.listAt<V1ReplicaSet>(collection('apps/v1', 'replicasets', namespace), { labelSelector })).items;
  }

  /** The cluster's Deployments with a label (safe-drain's raise marker). */
  async listDeploymentsLabelled(labelSelector: string): Promise<V1Deployment[]> {
    return (await this.listAt<V1Deployment>(collection('apps/v1', 'deployments'), { labelSelector })).items;
  }

  async canI(q: AccessQuery): Promise<{ allowed: boolean; reason?: string }> {
    const body = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb: q.verb, resource: q.resource, group: q.group, subresource: q.subresource, namespace: q.namespace } },
    };
    const res = await this.count(() => this.send<V1SelfSubjectAccessReview>('POST', collection('authorization.k8s.io/v1', 'selfsubjectaccessreviews'), { body }));
    return { allowed: res.status?.allowed === true, reason: res.status?.reason };
  }

  // --- what the availability gate reads (availability/monitor.ts) ---------------------------

  getService(namespace: string, name: string): Promise<V1Service> {
    return this.getAt(`${collection('v1', 'services', namespace)}/${enc(name)}`);
  }

  getNamespace(name: string): Promise<V1Namespace> {
    return this.getAt(`${collection('v1', 'namespaces')}/${enc(name)}`);
  }

  /** The Services of a namespace (undefined: the whole cluster's), of a label selector when given. */
  listServices(namespace: string | undefined, labelSelector?: string): Promise<V1Service[]> {
    return this.collect<V1Service>(collection('v1', 'services', namespace), { labelSelector });
  }

  /** The EndpointSlices of a label selector, with the list's resourceVersion. */
  listEndpointSlices(labelSelector: string): Promise<{ items: V1EndpointSlice[]; resourceVersion: string }> {
    return this.listAt<V1EndpointSlice>(collection('discovery.k8s.io/v1', 'endpointslices'), { labelSelector });
  }

  /** A list+watch of the EndpointSlices of a label selector, not yet started. */
  watchEndpointSlices(labelSelector: string, onError: (message: string) => void): Pick<ResourceWatch<V1EndpointSlice>, 'start' | 'stop' | 'items' | 'subscribe'> {
    return this.watch<V1EndpointSlice>({
      path: collection('discovery.k8s.io/v1', 'endpointslices'),
      labelSelector,
      list: () => this.listEndpointSlices(labelSelector),
      onError,
    });
  }
}

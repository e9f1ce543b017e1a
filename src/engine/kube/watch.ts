// A list+watch cache of one kind of object. Waiting in the engine is event-driven: a waiter
// subscribes and is woken by the API server's watch events instead of polling.
//
// An idle watch on a quiet PDB is normal, so we ask the server for bookmarks, let it close the
// watch first (timeoutSeconds), treat a connection silent for longer than that as dead, and
// resume from the last resourceVersion: no relist unless 410 Gone.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Transport } from './transport.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export type WatchListener<T> = (type: WatchEventType, obj: T) => void;

export interface ResourceWatchOptions<T> {
  /** API path of the collection, e.g. /apis/policy/v1/poddisruptionbudgets */
  path: string;
  /**
   * Initial list; returns the items and the list's resourceVersion. Without it, the first watch
   * starts with no resourceVersion and the server sends the existing objects as ADDED events.
   */
  list?: () => Promise<{ items: T[]; resourceVersion: string }>;
  fieldSelector?: string;
  labelSelector?: string;
  /** Called for connection problems worth a debug line. */
  onError?: (message: string) => void;
  /** Called for each watch connection opened (request accounting; lists count themselves). */
  onRequest?: () => void;
  /**
   * Only objects this accepts are cached and announced (a watch of a whole collection that needs
   * a few of its objects: memory holds those, not the collection). An object the cache holds that
   * stops being accepted is announced as DELETED.
   */
  keep?: (obj: T) => boolean;
  /**
   * Told every watch event, kept or not (an index over the whole collection; the initial list is
   * the `list` function's to index, as it reads every page).
   */
  observe?: (type: WatchEventType, obj: T) => void;
}

/** A live cache of one kind of object: what the engine needs of a ResourceWatch (tests hand in their own). */
export interface Watch<T> {
  start(): Promise<void>;
  stop(): void;
  get(key: string): T | undefined;
  items(): T[];
  /** Returns the unsubscribe function. */
  subscribe(listener: WatchListener<T>): () => void;
}

const SERVER_TIMEOUT_SECONDS = 290;
const RECONNECT_DELAY_MS = 1000;

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name}` : (obj.metadata?.name ?? '');
}

/** What a ResourceWatch needs of the HTTP underneath (kube/transport.ts). */
type WatchTransport = Pick<Transport, 'watch'>;

export class ResourceWatch<T extends KubernetesObject> implements Watch<T> {
  private readonly cache = new Map<string, T>();
  private readonly listeners = new Set<WatchListener<T>>();
  private resourceVersion = '';
  private abort?: AbortController;
  private stopped = false;
  private reconnectTimer?: NodeJS.Timeout;

  private readonly transport: WatchTransport;

  /** Over a KubeClient's transport (its connections), or a kubeconfig's own. */
  constructor(
    source: KubeConfig | WatchTransport,
    private readonly opts: ResourceWatchOptions<T>,
  ) {
    this.transport = source instanceof KubeConfig ? new Transport(source) : source;
  }

  /**
   * Lists, fills the cache, and starts watching. Resolves once the watch is connected, so no
   * change after start() is missed (without `list`, the cache fills from the first events).
   */
  async start(): Promise<void> {
    await this.relist();
    await this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.abort?.abort();
    this.listeners.clear();
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  items(): T[] {
    return [...this.cache.values()];
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: WatchListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async relist(): Promise<void> {
    if (!this.opts.list) {
      this.resourceVersion = ''; // the next watch replays the current state as ADDED events
      return;
    }
    const { items, resourceVersion } = await this.opts.list();
    const seen = new Set<string>();
    for (const item of items) {
      if (this.opts.keep && !this.opts.keep(item)) continue;
      const key = objectKey(item);
      seen.add(key);
      const before = this.cache.get(key);
      this.cache.set(key, item);
      if (!before) this.emit('ADDED', item);
      else if (before.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.emit('MODIFIED', item);
    }
    for (const [key, obj] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('DELETED', obj);
      }
    }
    this.resourceVersion = resourceVersion;
  }

  private emit(type: WatchEventType, obj: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(type, obj);
      } catch (err) {
        this.opts.onError?.(`watch listener failed: ${(err as Error).message}`);
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let gone = false;
    this.opts.onRequest?.();
    this.abort = await this.transport.watch(
      this.opts.path,
      {
        resourceVersion: this.resourceVersion || undefined,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(SERVER_TIMEOUT_SECONDS),
        fieldSelector: this.opts.fieldSelector,
        labelSelector: this.opts.labelSelector,
      },
      (type, raw) => {
        const obj = raw as T & { code?: number; message?: string };
        if (type === 'BOOKMARK') {
          this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
          return;
        }
        if (type === 'ERROR') {
          // 410 Gone: our resourceVersion is too old; relist.
          if (obj.code === 410) gone = true;
          this.opts.onError?.(`watch ${this.opts.path}: ${obj.message ?? 'error event'}`);
          return;
        }
        const key = objectKey(obj);
        this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
        this.opts.observe?.(type as WatchEventType, obj);
        if (this.opts.keep && !this.opts.keep(obj)) {
          const held = this.cache.get(key);
          if (held) {
            this.cache.delete(key);
            this.emit('DELETED', held);
          }
          return;
        }
        // A replayed ADDED for an object we already hold (after a restart without resourceVersion) is no news.
        const before = this.cache.get(key);
        if (type === 'ADDED' && before?.metadata?.resourceVersion === obj.metadata?.resourceVersion) return;
        if (type === 'DELETED') this.cache.delete(key);
        else this.cache.set(key, obj);
        this.emit(type as WatchEventType, obj);
      },
      (err: unknown) => {
        if (this.stopped) return;
        if (err && (err as { statusCode?: number }).statusCode === 410) gone = true;
        if (err) this.opts.onError?.(`watch ${this.opts.path} closed: ${(err as Error).message ?? String(err)}`);
        this.scheduleReconnect(gone);
      },
      // Longer than the server's own timeout, so the server ends idle watches, not the client.
      (SERVER_TIMEOUT_SECONDS + 30) * 1000,
    );
    // stop() while the connection was being made found no connection to abort: end it now.
    if (this.stopped) this.abort.abort();
  }

  private scheduleReconnect(relist: boolean): void {
    if (this.stopped) return;
    this.reconnectTimer = setTimeout(() => {
      void (async () => {
        try {
          if (relist) await this.relist();
        } catch (err) {
          this.opts.onError?.(`relist ${this.opts.path} failed: ${(err as Error).message}`);
          this.scheduleReconnect(true);
          return;
        }
        await this.connect();
      })();
    }, RECONNECT_DELAY_MS);
    // Unref'd: a watch someone forgot to stop must not keep a process alive; a run holds the
    // process alive itself while it waits (holdProcessAlive in run.ts).
    this.reconnectTimer.unref();
  }
}

// HTTP to the API server with the kubeconfig's credentials and TLS settings (client-node's
// KubeConfig applies them), answers as plain parsed JSON. Requests, list pages and watches all
// go through here; KubeClient adds counting, retries and bounds on top.
//
// client-node's generated API classes are not used: they load every model of the API with the
// module (the CLI spent ~0.1 s of CPU starting up on them, before its first request), and
// convert each object into a typed copy that the engine reads exactly like the JSON.
import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';

/** Requests in flight at once on kept-alive connections (a permission check sends ~25 at once). */
const MAX_SOCKETS = 32;
/** Kept-alive connections close after this long idle. */
const IDLE_SOCKET_MS = 30_000;
/**
 * A request whose connection is silent this long is a stalled server (a transient failure).
 * Longer than kube-apiserver's own request timeout (60 s), so a request it gives up on comes
 * back as its 504, not as a connection we cut while the write may still land.
 */
export const REQUEST_IDLE_TIMEOUT_MS = 90_000;

export interface Prepared {
  url: URL;
  opts: https.RequestOptions;
  send: typeof https.request;
}

export interface SendOptions {
  query?: Record<string, string | undefined>;
  /** JSON-encoded as the body. */
  body?: unknown;
  contentType?: string;
  accept?: string;
}

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

/** A watch event as the API server streams it, one JSON object per line. */
export type WatchEventHandler = (type: string, object: unknown) => void;

export class Transport {
  /** Requests and list pages: kept-alive connections, so a request rarely pays a TLS handshake. */
  private pooled?: http.Agent;
  /** Watches hold their connection for minutes: not from the pool, never kept after. */
  private watches?: http.Agent;

  constructor(readonly kubeConfig: KubeConfig) {}

  /** The request's URL and options: credentials applied (an exec plugin's token refreshed when due). */
  async prepare(method: string, pathAndQuery: string, headers: Record<string, string>, use: 'request' | 'watch' = 'request'): Promise<Prepared> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster?.server) throw new Error('the kubeconfig has no current cluster with a server address');
    const url = new URL(cluster.server.replace(/\/+$/, '') + pathAndQuery);
    const opts: https.RequestOptions = { method, headers };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    // A proxy keeps client-node's agent (it knows the proxy); otherwise one of ours.
    if (!cluster.proxyUrl) opts.agent = this.agent(url.protocol === 'http:', use);
    return { url, opts, send: url.protocol === 'http:' ? http.request : https.request };
  }

  private agent(plain: boolean, use: 'request' | 'watch'): http.Agent {
    const Agent = plain ? http.Agent : https.Agent;
    if (use === 'watch') return (this.watches ??= new Agent({ keepAlive: false }));
    return (this.pooled ??= new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS }));
  }

  /**
   * One request; resolves with the parsed JSON answer of a 2xx, else rejects with client-node's
   * ApiException (HTTP code, the Status body as text, headers) that errors.ts reads.
   */
  async json<T>(method: string, path: string, o: SendOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: o.accept ?? 'application/json' };
    const payload = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body));
    if (payload) {
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const { url, opts, send } = await this.prepare(method, path + queryString(o.query), headers);
    return new Promise<T>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (code < 200 || code > 299) {
            reject(apiException(code, `${method} ${url.pathname}`, text, res.headers));
            return;
          }
          try {
            resolve((text === '' ? {} : JSON.parse(text)) as T);
          } catch (err) {
            reject(new Error(`${method} ${url.pathname}: the API server's answer is not JSON (${(err as Error).message})`));
          }
        });
      });
      req.setTimeout(REQUEST_IDLE_TIMEOUT_MS, () =>
        req.destroy(Object.assign(new Error(`${method} ${url.pathname}: no answer for ${REQUEST_IDLE_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * Opens a watch (`?watch=true` and `query`): each event goes to `onEvent`; `onDone` is called
   * once, when the stream ends (null), fails, goes silent for `idleMs`, or is refused (an error
   * with `statusCode`, e.g. 410). Never rejects; the returned controller ends the watch.
   */
  async watch(path: string, query: Record<string, string | undefined>, onEvent: WatchEventHandler, onDone: (err: unknown) => void, idleMs: number): Promise<AbortController> {
    const controller = new AbortController();
    let done = false;
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      controller.abort();
      onDone(err);
    };
    try {
      const { url, opts, send } = await this.prepare('GET', path + queryString({ watch: 'true', ...query }), { Accept: 'application/json' }, 'watch');
      opts.signal = controller.signal;
      await new Promise<void>((connected) => {
        const req = send(url, opts, (res) => {
          connected();
          if (res.statusCode !== 200) {
            res.resume();
            finish(Object.assign(new Error(`watch ${url.pathname}: ${res.statusCode} ${res.statusMessage ?? http.STATUS_CODES[res.statusCode ?? 0] ?? ''}`), { statusCode: res.statusCode }));
            return;
          }
          let pending = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            pending += chunk;
            for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
              const line = pending.slice(0, nl);
              pending = pending.slice(nl + 1);
              if (line.trim() === '') continue;
              let event: { type?: string; object?: unknown };
              try {
                event = JSON.parse(line) as typeof event;
              } catch {
                continue; // not an event: nothing to tell
              }
              if (event.type) onEvent(event.type, event.object);
            }
          });
          res.on('error', finish);
          res.on('end', () => finish(null));
          res.on('close', () => finish(null));
        });
        req.setTimeout(idleMs, () => req.destroy(Object.assign(new Error(`watch ${url.pathname}: no data for ${idleMs / 1000}s`), { code: 'ETIMEDOUT' })));
        req.on('error', (err) => {
          connected();
          finish(err);
        });
        req.end();
      });
    } catch (err) {
      finish(err);
    }
    return controller;
  }

  /** Closes kept-alive connections (idle ones never hold the process open anyway). */
  close(): void {
    this.pooled?.destroy();
    this.pooled = undefined;
    this.watches?.destroy();
    this.watches = undefined;
  }
}

export function queryString(query: Record<string, string | undefined> | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A non-2xx answer as client-node's ApiException, which errors.ts and transientFailure read. */
export function apiException(code: number, what: string, body: string, headers: http.IncomingHttpHeaders): ApiException<string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
  return new ApiException(code, `HTTP-Code: ${code} Message: ${what}`, body, flat);
}

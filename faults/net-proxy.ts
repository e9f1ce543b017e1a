// A TCP proxy on loopback in front of the API server, the one fault a real component cannot
// produce by itself: every chunk the server sends is held back `delayMs` (order kept), and a
// connection can be cut `cutAfterMs` after it opened (watches and requests in flight end with a
// reset). TLS passes through untouched: the API server's certificate covers IP:127.0.0.1
// (cluster/src/pki.ts), so a kubeconfig pointing at https://127.0.0.1:<proxy port> verifies as is.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Each chunk from the server reaches the client this long after it arrived. */
  delayMs?: number;
  /** Each connection is destroyed this long after it opened (both sides). */
  cutAfterMs?: number;
  /** Asked for each new connection: true resets it at once (a server that is gone). */
  refuse?: () => boolean;
}

export interface FaultProxy {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections destroyed by cutAfterMs. */
  readonly cuts: number;
  setDelay(ms: number): void;
  setCutAfter(ms: number | undefined): void;
  /** Called for every accepted connection (e.g. "the client started talking to the API"). */
  onConnection(listener: () => void): void;
  close(): Promise<void>;
}

/** Writes chunks to `to` no earlier than delayMs after each arrived, in arrival order. */
function delayedPipe(from: Socket, to: Socket, delay: () => number): void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = (): void => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0]!.due <= now) {
      if (!to.destroyed) to.write(queue.shift()!.chunk);
      else queue.shift();
    }
    if (queue.length) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended && !to.destroyed) to.end();
  };
  from.on('data', (chunk: Buffer) => {
    // Never earlier than the chunk before it: a TCP stream keeps its order.
    const due = Math.max(Date.now() + delay(), queue.at(-1)?.due ?? 0);
    queue.push({ due, chunk });
    if (!timer) timer = setTimeout(flush, Math.max(0, due - Date.now()));
  });
  from.on('end', () => {
    ended = true;
    if (!timer) flush();
  });
  from.on('close', () => {
    if (!ended && !queue.length) to.destroy();
  });
  to.on('close', () => {
    if (timer) clearTimeout(timer);
    queue.length = 0;
    from.destroy();
  });
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  let delayMs = opts.delayMs ?? 0;
  let cutAfterMs = opts.cutAfterMs;
  let connections = 0;
  let cuts = 0;
  const listeners: (() => void)[] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (opts.refuse?.()) {
      client.resetAndDestroy();
      return;
    }
    connections++;
    for (const l of listeners) l();
    const upstream = connect(opts.target.port, opts.target.host);
    open.add(client);
    open.add(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => open.delete(client));
    upstream.on('close', () => open.delete(upstream));
    // Client to server: as is. Server to client: delayed.
    client.pipe(upstream);
    delayedPipe(upstream, client, () => delayMs);
    if (cutAfterMs !== undefined) {
      const cut = setTimeout(() => {
        cuts++;
        client.resetAndDestroy();
        upstream.destroy();
      }, cutAfterMs);
      client.on('close', () => clearTimeout(cut));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    get cuts() {
      return cuts;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    setCutAfter: (ms) => {
      cutAfterMs = ms;
    },
    onConnection: (l) => listeners.push(l),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

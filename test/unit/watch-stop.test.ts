// A ResourceWatch stopped while its watch request is still connecting must not stay open: a run
// stops its watches when it ends, whether or not their connections have been answered yet.
import http from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ResourceWatch } from '../../src/engine/kube/watch.js';
import { listenLoopback } from './fixtures/loopback.js';

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('ResourceWatch.stop', () => {
  it('closes a watch whose connection was answered only after stop()', async () => {
    let answer!: () => void;
    const requested = new Promise<void>((resolveRequested) => {
      server = http.createServer((req, res) => {
        resolveRequested();
        answer = () => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write(''); // headers out, stream open: the watch is connected
        };
        req.socket.on('close', () => closed.resolve());
      });
    });
    const closed = (() => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    })();
    const kc = await listenLoopback(server!);
    const watch = new ResourceWatch(kc, { path: '/api/v1/pods' });
    const started = watch.start();
    await requested;
    watch.stop();
    answer();
    await started;
    let timer: NodeJS.Timeout | undefined;
    const within = await Promise.race([closed.promise.then(() => 'closed'), new Promise((r) => (timer = setTimeout(() => r('still open after 3 s'), 3000)))]);
    clearTimeout(timer);
    expect(within).toBe('closed');
  });
});

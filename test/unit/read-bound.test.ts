// KubeClient.readsBoundBy: a read in flight, or being retried, when the drain's deadline fires
// ends then (WaitAborted with the deadline's reason), so a slow API server cannot stretch a wait
// past `timeout`; writes and undo work (client.unbounded) run to their end. The client's API
// HTTP underneath (its transport) is replaced by plain functions: what is tested is the client's own waiting.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { WaitAborted } from '../../src/engine/errors.js';
import { KubeClient } from '../../src/engine/kube/client.js';

function client(core: object): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const c = new KubeClient(kc);
  // The API server's answers: a GET is the node read, a PATCH the node patch.
  const answers = core as { readNode?: () => Promise<unknown>; patchNode?: () => Promise<unknown> };
  c.transport = Object.assign(Object.create(c.transport) as KubeClient['transport'], {
    json: (method: string) => (method === 'GET' ? answers.readNode!() : answers.patchNode!()),
  });
  return c;
}

/** A request the server answers only when `answer()` is called. */
function pending<T>(value: T): { send: () => Promise<T>; answer: () => void } {
  let answer = () => undefined as void;
  const p = new Promise<T>((resolve) => (answer = () => resolve(value)));
  return { send: () => p, answer };
}

const node = { metadata: { name: 'w1' } };

describe('reads bound by a deadline', () => {
  it('a read in flight ends with the deadline\'s reason when it fires', async () => {
    const slow = pending(node);
    const c = client({ readNode: slow.send });
    const deadline = new AbortController();
    const read = c.readsBoundBy(deadline.signal, () => c.getNode('w1'));
    deadline.abort(new Error('timeout of 15s expired'));
    await expect(read).rejects.toEqual(new WaitAborted('timeout of 15s expired'));
    slow.answer(); // the late answer is ignored
  });

  it('a read being retried (API server down) stops retrying when the deadline fires', async () => {
    let calls = 0;
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    const c = client({ readNode: async () => { calls++; throw refused; } });
    const deadline = new AbortController();
    const read = c.readsBoundBy(deadline.signal, () => c.getNode('w1'));
    await new Promise((r) => setImmediate(r));
    deadline.abort(new Error('timeout of 1s expired'));
    await expect(read).rejects.toBeInstanceOf(WaitAborted);
    expect(calls).toBe(1); // waiting out its backoff when the deadline fired, not sending again
  });

  it('an expired deadline stops a read before it is sent', async () => {
    let calls = 0;
    const c = client({ readNode: async () => { calls++; return node; } });
    await expect(c.readsBoundBy(AbortSignal.abort(new Error('cancelled')), () => c.getNode('w1'))).rejects.toEqual(new WaitAborted('cancelled'));
    expect(calls).toBe(0);
  });

  it('writes and unbounded work inside a bounded scope run to their answer', async () => {
    const patch = pending(node);
    const read = pending(node);
    const c = client({ patchNode: patch.send, readNode: read.send });
    const deadline = new AbortController();
    const work = c.readsBoundBy(deadline.signal, async () => {
      const write = c.setUnschedulable('w1', true, false);
      const undo = c.unbounded(() => c.getNode('w1'));
      deadline.abort(new Error('timeout'));
      patch.answer();
      read.answer();
      return Promise.all([write, undo]);
    });
    await expect(work).resolves.toEqual([node, node]);
  });

  it('outside any bound, a read waits for its answer', async () => {
    const slow = pending(node);
    const c = client({ readNode: slow.send });
    const read = c.getNode('w1');
    slow.answer();
    await expect(read).resolves.toEqual(node);
  });
});

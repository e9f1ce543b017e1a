// Bad input that only the cluster can judge fails before any change, naming the input and the
// fix; and what a run leaves for people: Events on the node, wait-for-replacements.
import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/engine/types.js';
import { deployment, drain, ensureNamespace, pinTo, useCluster, waitReady } from './support.js';

const tc = useCluster(
  { nodes: [{ name: 'w1', labels: { pool: 'blue' } }, { name: 'w2', labels: { pool: 'green' } }, { name: 'w3', labels: { pool: 'green' } }] },
  { uncordonAfterEach: false },
);

async function inputError(p: Promise<unknown>): Promise<InputError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('cluster-checked inputs', () => {
  it('an unknown node is named, with the known nodes, and nothing changes', async () => {
    const before = (await tc.core.listNode()).items.map((n) => n.metadata?.resourceVersion);
    const e = await inputError(drain(tc, { nodes: ['w1', 'w9'] }));
    expect(e.input).toBe('node');
    expect(e.message).toMatch(/no node named "w9"/);
    expect(e.fix).toMatch(/Known nodes: w1, w2, w3/);
    expect((await tc.core.listNode()).items.map((n) => n.metadata?.resourceVersion)).toEqual(before);
  }, 60_000);

  it('a selector matching nothing, and a malformed one', async () => {
    const none = await inputError(drain(tc, { selector: 'pool=red' }));
    expect(none.input).toBe('selector');
    expect(none.message).toMatch(/matches no node/);
    const bad = await inputError(drain(tc, { selector: 'pool in (a' }));
    expect(bad.input).toBe('selector');
  }, 60_000);

  it('a kubeconfig pointing at no server', async () => {
    const path = `${tc.cluster.stateDir}/nowhere.kubeconfig`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, `apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: { server: "https://127.0.0.1:1" }\nusers:\n- name: u\n  user: { token: t }\ncontexts:\n- name: c\n  context: { cluster: x, user: u }\ncurrent-context: c\n`);
    const e = await inputError(drain(tc, { nodes: ['w1'] }, { kubeconfigPath: path }));
    expect(e.input).toBe('kubeconfig');
    expect(e.message).toMatch(/cannot reach the API server https:\/\/127\.0\.0\.1:1/);
  }, 60_000);
});

describe('what a drain leaves behind', () => {
  it('drains the nodes a selector picks one at a time, records Events on each node, and waits for replacements', async () => {
    const ns = 'leaves';
    await ensureNamespace(tc, ns);
    const unpin = await pinTo(tc, 'w2');
    await tc.apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'web', 2) });
    await waitReady(tc, ns, 'web', 2);
    await unpin();

    const { report } = await drain(tc, { selector: 'pool=green', waitForReplacements: true, migration: 'evict', timeoutMs: 120_000 });

    expect(report.success).toBe(true);
    expect(report.nodes.map((n) => n.node)).toEqual(['w2', 'w3']);
    // w2's pods could only go to w1 (w3 is green too, and drained next): they are all Ready there.
    const pods = await waitReady(tc, ns, 'web', 2);
    expect(pods.every((p) => p.spec?.nodeName === 'w1')).toBe(true);
    expect(report.nodes[0]!.timeline.some((t) => /replacement Ready/.test(t.message))).toBe(true);
    const events = (await tc.core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node,involvedObject.name=w2' })).items;
    const reasons = events.map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['SafeDrainCordoned', 'SafeDrainStarted', 'SafeDrainSucceeded']));
    expect(events.find((e) => e.reason === 'SafeDrainStarted')?.message).toMatch(/integration-test/);
    for (const n of ['w2', 'w3']) await tc.cluster.kubectl(['uncordon', n]);
  }, 240_000);
});

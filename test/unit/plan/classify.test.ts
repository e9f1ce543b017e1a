import { describe, expect, it } from '@jest/globals';
import { classifyPod, decideAction, decidePod, type PodContext } from '../../../src/engine/plan/classify.js';
import { parseLabelSelector } from '../../../src/engine/plan/selector.js';
import type { PodClass } from '../../../src/engine/types.js';
import { makePod, NOW } from './fixtures.js';

/** A Ready node, DaemonSets that exist, skip-wait-for-delete-timeout off. */
const ctx: PodContext = { daemonSetExists: true, nodeReady: true, now: NOW, skipWaitForDeleteTimeoutSeconds: 0 };
const noFlags = { ignoreDaemonsets: false, deleteEmptydirData: false, force: false };
const allFlags = { ignoreDaemonsets: true, deleteEmptydirData: true, force: true };

describe('classifyPod', () => {
  it.each<[string, Parameters<typeof makePod>[1], PodClass]>([
    ['Succeeded', { phase: 'Succeeded' }, 'finished'],
    ['Failed', { phase: 'Failed', owner: null, emptyDir: true }, 'finished'],
    ['deletionTimestamp', { deleting: true }, 'terminating'],
    ['DaemonSet owner', { owner: { kind: 'DaemonSet', name: 'fluentd' } }, 'daemonset'],
    ['mirror annotation', { mirror: true, owner: { kind: 'Node', name: 'node-a' } }, 'mirror'],
    ['emptyDir', { emptyDir: true }, 'local-storage'],
    ['no controller', { owner: null }, 'unmanaged'],
    ['ReplicaSet owner', {}, 'movable'],
    ['StatefulSet owner', { owner: { kind: 'StatefulSet', name: 'db' } }, 'movable'],
  ])('%s → %s', (_, opts, expected) => {
    expect(classifyPod(makePod('p', opts), ctx)).toBe(expected);
  });

  it('checks in order: mirror, finished, terminating, DaemonSet, emptyDir, unmanaged', () => {
    expect(classifyPod(makePod('p', { phase: 'Succeeded', deleting: true }), ctx)).toBe('finished');
    expect(classifyPod(makePod('p', { deleting: true, owner: { kind: 'DaemonSet', name: 'ds' } }), ctx)).toBe('terminating');
    expect(classifyPod(makePod('p', { owner: { kind: 'DaemonSet', name: 'ds' }, emptyDir: true }), ctx)).toBe('daemonset');
    expect(classifyPod(makePod('p', { mirror: true, owner: null, emptyDir: true }), ctx)).toBe('mirror');
    expect(classifyPod(makePod('p', { emptyDir: true, owner: null }), ctx)).toBe('local-storage');
  });

  // Issue 8 item 13: kubectl's mirrorPodFilter skips mirror pods whatever their phase; a finished
  // one used to be classed 'finished' and evicted.
  it.each<[string, Parameters<typeof makePod>[1]]>([
    ['Succeeded', { phase: 'Succeeded' }],
    ['Failed', { phase: 'Failed' }],
    ['terminating', { deleting: true }],
    ['Pending', { phase: 'Pending', ready: false }],
  ])('a mirror pod is a mirror pod when %s', (_, opts) => {
    const pod = makePod('static', { mirror: true, owner: { kind: 'Node', name: 'node-a', apiVersion: 'v1' }, ...opts });
    expect(classifyPod(pod, ctx)).toBe('mirror');
    expect(decidePod(pod, allFlags, ctx)).toMatchObject({ podClass: 'mirror', action: 'skip' });
  });

  it('ignores owner references that are not the controller', () => {
    const pod = makePod('p', { owner: null });
    pod.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'ReplicaSet', name: 'x', uid: 'u', controller: false }];
    expect(classifyPod(pod, ctx)).toBe('unmanaged');
  });

  it('does not count other volume types as local storage', () => {
    const pod = makePod('p');
    pod.spec!.volumes = [{ name: 'cfg', configMap: { name: 'cfg' } }];
    expect(classifyPod(pod, ctx)).toBe('movable');
  });
});

describe('decideAction', () => {
  it.each<[PodClass, 'evict' | 'wait' | 'skip']>([
    ['finished', 'evict'],
    ['terminating', 'wait'],
    ['mirror', 'skip'],
    ['movable', 'evict'],
  ])('%s → %s whatever the flags', (podClass, action) => {
    expect(decideAction(podClass, noFlags).action).toBe(action);
    expect(decideAction(podClass, allFlags).action).toBe(action);
  });

  it('DaemonSet pods stay with ignore-daemonsets, are refused without it', () => {
    expect(decideAction('daemonset', { ...noFlags, ignoreDaemonsets: true })).toMatchObject({ action: 'skip', missing: [] });
    expect(decideAction('daemonset', { ...allFlags, ignoreDaemonsets: false })).toMatchObject({ action: 'refuse', missing: ['ignore-daemonsets'] });
  });

  it('emptyDir pods need delete-emptydir-data', () => {
    expect(decideAction('local-storage', noFlags)).toMatchObject({ action: 'refuse', missing: ['delete-emptydir-data'] });
    expect(decideAction('local-storage', { ...noFlags, deleteEmptydirData: true })).toMatchObject({ action: 'evict', missing: [] });
  });

  it('unmanaged pods need force', () => {
    expect(decideAction('unmanaged', { ...allFlags, force: false })).toMatchObject({ action: 'refuse', missing: ['force'] });
    expect(decideAction('unmanaged', { ...noFlags, force: true })).toMatchObject({ action: 'evict', missing: [] });
  });

  it('an unmanaged pod with emptyDir needs both flags, and names every missing one', () => {
    expect(decideAction('local-storage', noFlags, true).missing).toEqual(['delete-emptydir-data', 'force']);
    expect(decideAction('local-storage', { ...noFlags, deleteEmptydirData: true }, true)).toMatchObject({ action: 'refuse', missing: ['force'] });
    expect(decideAction('local-storage', { ...noFlags, force: true }, true)).toMatchObject({ action: 'refuse', missing: ['delete-emptydir-data'] });
    expect(decideAction('local-storage', { ...noFlags, force: true, deleteEmptydirData: true }, true).action).toBe('evict');
  });

  it('says why', () => {
    expect(decideAction('finished', noFlags).reason).toMatch(/without a PDB check/);
    expect(decideAction('unmanaged', noFlags).reason).toMatch(/no controller/);
  });
});

// Issue 8 item 13: kubectl GETs the apps/v1 DaemonSet a pod names as its controller, and
// deletes the pod only with --force when there is none.
describe('a pod whose DaemonSet does not exist', () => {
  const missing: PodContext = { ...ctx, daemonSetExists: false };
  const kruise = makePod('agent-x', { owner: { kind: 'DaemonSet', name: 'agent', apiVersion: 'apps.kruise.io/v1alpha1' } });

  it('is not a DaemonSet pod: no controller kubectl knows, refused without force, naming the DaemonSet and its apiVersion', () => {
    expect(classifyPod(kruise, missing)).toBe('unmanaged');
    const d = decidePod(kruise, { ...noFlags, ignoreDaemonsets: true }, missing);
    expect(d).toMatchObject({ podClass: 'unmanaged', action: 'refuse', missing: ['force'] });
    expect(d.reason).toMatch(/DaemonSet agent \(apps\.kruise\.io\/v1alpha1\) is not an apps\/v1 DaemonSet that exists/);
    expect(d.problem?.force).toMatch(/DaemonSet agent/);
  });

  it('is deleted with force, whatever ignore-daemonsets says', () => {
    for (const ignoreDaemonsets of [true, false]) {
      const d = decidePod(kruise, { ...noFlags, ignoreDaemonsets, force: true }, missing);
      expect(d).toMatchObject({ podClass: 'unmanaged', action: 'evict', missing: [] });
      expect(d.reason).toMatch(/deleted \(force\)/);
    }
  });

  it('with emptyDir needs force and delete-emptydir-data', () => {
    const pod = makePod('agent-y', { owner: { kind: 'DaemonSet', name: 'gone' }, emptyDir: true });
    expect(decidePod(pod, noFlags, missing)).toMatchObject({ podClass: 'local-storage', action: 'refuse', missing: ['delete-emptydir-data', 'force'] });
    expect(decidePod(pod, allFlags, missing)).toMatchObject({ action: 'evict' });
  });

  it('a finished one is just deleted, as kubectl does', () => {
    const pod = makePod('agent-z', { owner: { kind: 'DaemonSet', name: 'gone' }, phase: 'Succeeded' });
    expect(decidePod(pod, noFlags, missing)).toMatchObject({ podClass: 'finished', action: 'evict' });
  });

  it('an existing DaemonSet keeps its pods DaemonSet pods', () => {
    expect(decidePod(kruise, { ...noFlags, ignoreDaemonsets: true }, ctx)).toMatchObject({ podClass: 'daemonset', action: 'skip' });
  });
});

// Issue 8 item 14: kubectl's skipDeletedFilter counts from the pod's deletionTimestamp.
describe('skip-wait-for-delete-timeout', () => {
  // The fixture's deleting pods have deletionTimestamp 60 s before NOW.
  const leaving = makePod('leaving', { deleting: true });

  it('a pod terminating for longer than the timeout is skipped, the reason naming how long', () => {
    const d = decidePod(leaving, noFlags, { ...ctx, skipWaitForDeleteTimeoutSeconds: 30 });
    expect(d).toMatchObject({ podClass: 'terminating', action: 'skip', missing: [] });
    expect(d.reason).toBe('terminating, its deletionTimestamp passed 60s ago (more than skip-wait-for-delete-timeout 30s): not waited for');
  });

  it('a pod terminating for less, or with the option off, is waited for', () => {
    expect(decidePod(leaving, noFlags, { ...ctx, skipWaitForDeleteTimeoutSeconds: 90 })).toMatchObject({ action: 'wait' });
    expect(decidePod(leaving, noFlags, ctx)).toMatchObject({ action: 'wait' });
  });

  it('comes before every other rule, as kubectl\'s first filter: a long-deleted finished or bare pod is skipped too', () => {
    const long = { ...ctx, skipWaitForDeleteTimeoutSeconds: 10 };
    expect(decidePod(makePod('done', { deleting: true, phase: 'Failed' }), noFlags, long)).toMatchObject({ podClass: 'terminating', action: 'skip' });
    expect(decidePod(makePod('bare', { deleting: true, owner: null }), noFlags, long)).toMatchObject({ action: 'skip', missing: [] });
  });

  it('on a NotReady node with the option off, a deletion requested over 20 s ago is not waited for', () => {
    const notReady = { ...ctx, nodeReady: false };
    // deletionTimestamp 60 s ago, with a 30 s grace period: requested 90 s ago.
    expect(decidePod(makePod('a', { deleting: true, deletionGracePeriodSeconds: 30 }), noFlags, notReady)).toMatchObject({
      action: 'skip',
      reason: expect.stringMatching(/NotReady node/),
    });
    // deletionTimestamp 20 s from now with a 30 s grace period: requested 10 s ago.
    const recent = new Date(NOW + 20_000).toISOString();
    expect(decidePod(makePod('b', { deletedAt: recent, deletionGracePeriodSeconds: 30 }), noFlags, notReady)).toMatchObject({ action: 'wait' });
  });
});

describe('decidePod', () => {
  it('works out the emptyDir + unmanaged combination from the pod', () => {
    const d = decidePod(makePod('bare', { owner: null, emptyDir: true }), noFlags, ctx);
    expect(d).toMatchObject({ podClass: 'local-storage', action: 'refuse', missing: ['delete-emptydir-data', 'force'] });
  });

  it('skips pods the pod-selector does not select, before any refusal', () => {
    const selector = parseLabelSelector('app=web');
    const bare = makePod('bare', { owner: null, labels: { app: 'batch' } });
    expect(decidePod(bare, noFlags, ctx, selector)).toMatchObject({ podClass: 'unmanaged', action: 'skip', reason: 'not selected by pod-selector' });
    const web = makePod('web', { labels: { app: 'web' } });
    expect(decidePod(web, noFlags, ctx, selector)).toMatchObject({ podClass: 'movable', action: 'evict' });
  });
});

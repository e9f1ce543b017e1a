import { describe, expect, it } from '@jest/globals';
import { classifyPod, decideAction, decidePod } from '../../../src/engine/plan/classify.js';
import { parseLabelSelector } from '../../../src/engine/plan/selector.js';
import type { PodClass } from '../../../src/engine/types.js';
import { makePod } from './fixtures.js';

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
    expect(classifyPod(makePod('p', opts))).toBe(expected);
  });

  it('checks in kubectl order: finished, terminating, DaemonSet, mirror, emptyDir, unmanaged', () => {
    expect(classifyPod(makePod('p', { phase: 'Succeeded', deleting: true }))).toBe('finished');
    expect(classifyPod(makePod('p', { deleting: true, owner: { kind: 'DaemonSet', name: 'ds' } }))).toBe('terminating');
    expect(classifyPod(makePod('p', { owner: { kind: 'DaemonSet', name: 'ds' }, emptyDir: true }))).toBe('daemonset');
    expect(classifyPod(makePod('p', { mirror: true, owner: null, emptyDir: true }))).toBe('mirror');
    expect(classifyPod(makePod('p', { emptyDir: true, owner: null }))).toBe('local-storage');
  });

  it('ignores owner references that are not the controller', () => {
    const pod = makePod('p', { owner: null });
    pod.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'ReplicaSet', name: 'x', uid: 'u', controller: false }];
    expect(classifyPod(pod)).toBe('unmanaged');
  });

  it('does not count other volume types as local storage', () => {
    const pod = makePod('p');
    pod.spec!.volumes = [{ name: 'cfg', configMap: { name: 'cfg' } }];
    expect(classifyPod(pod)).toBe('movable');
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

describe('decidePod', () => {
  it('works out the emptyDir + unmanaged combination from the pod', () => {
    const d = decidePod(makePod('bare', { owner: null, emptyDir: true }), noFlags);
    expect(d).toMatchObject({ podClass: 'local-storage', action: 'refuse', missing: ['delete-emptydir-data', 'force'] });
  });

  it('skips pods the pod-selector does not select, before any refusal', () => {
    const selector = parseLabelSelector('app=web');
    const bare = makePod('bare', { owner: null, labels: { app: 'batch' } });
    expect(decidePod(bare, noFlags, selector)).toMatchObject({ podClass: 'unmanaged', action: 'skip', reason: 'not selected by pod-selector' });
    const web = makePod('web', { labels: { app: 'web' } });
    expect(decidePod(web, noFlags, selector)).toMatchObject({ podClass: 'movable', action: 'evict' });
  });
});

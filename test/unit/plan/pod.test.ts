import { describe, expect, it } from '@jest/globals';
import { daemonSetKeyOf, deleteWaitDeadline, deletionTime, NOT_READY_NODE_DELETE_WAIT_MS, workloadKeyOf } from '../../../src/engine/plan/pod.js';
import { DELETED_AT, makePod } from './fixtures.js';

const deletedAt = Date.parse(DELETED_AT);

describe('deleteWaitDeadline (skip-wait-for-delete-timeout, issue 8 item 14)', () => {
  it('counts N seconds from the deletionTimestamp, not from when the wait starts', () => {
    const pod = makePod('p', { deleting: true, deletionGracePeriodSeconds: 30 });
    expect(deleteWaitDeadline(pod, 5, true)).toBe(deletedAt + 5_000);
    expect(deleteWaitDeadline(pod, 5, false)).toBe(deletedAt + 5_000);
  });

  it('off (0) on a Ready node: waited for', () => {
    expect(deleteWaitDeadline(makePod('p', { deleting: true }), 0, true)).toBeUndefined();
  });

  it('off on a NotReady node: a bounded wait from the deletion request (deletionTimestamp minus the grace period)', () => {
    const pod = makePod('p', { deleting: true, deletionGracePeriodSeconds: 30 });
    expect(deleteWaitDeadline(pod, 0, false)).toBe(deletedAt - 30_000 + NOT_READY_NODE_DELETE_WAIT_MS);
  });

  it('a pod not marked for deletion yet has no deadline', () => {
    expect(deleteWaitDeadline(makePod('p'), 5, true)).toBeUndefined();
    expect(deleteWaitDeadline(makePod('p'), 0, false)).toBeUndefined();
  });

  it('reads the deletionTimestamp as a Date (typed calls) or a string (watch events)', () => {
    const pod = makePod('p');
    (pod.metadata as { deletionTimestamp?: unknown }).deletionTimestamp = DELETED_AT;
    expect(deletionTime(pod)).toBe(deletedAt);
    expect(deletionTime(makePod('q', { deleting: true }))).toBe(deletedAt);
  });
});

describe('daemonSetKeyOf (issue 8 item 13)', () => {
  it('keys the built-in DaemonSet kind (apps, or the old extensions group)', () => {
    expect(daemonSetKeyOf(makePod('p', { owner: { kind: 'DaemonSet', name: 'logs' } }))).toBe('DaemonSet/default/logs');
    expect(daemonSetKeyOf(makePod('p', { owner: { kind: 'DaemonSet', name: 'logs', apiVersion: 'extensions/v1beta1' } }))).toBe('DaemonSet/default/logs');
  });

  it('a DaemonSet kind of another API group has no workload key either', () => {
    expect(workloadKeyOf(makePod('p', { owner: { kind: 'DaemonSet', name: 'x', apiVersion: 'apps.kruise.io/v1alpha1' } }))).toBeUndefined();
    expect(workloadKeyOf(makePod('p', { owner: { kind: 'DaemonSet', name: 'x' } }))).toBe('DaemonSet/default/x');
    expect(workloadKeyOf(makePod('p', { owner: { kind: 'ReplicaSet', name: 'x' } }))).toBe('ReplicaSet/default/x');
  });

  it('gives no key to a DaemonSet kind of another API group, or to other controllers', () => {
    expect(daemonSetKeyOf(makePod('p', { owner: { kind: 'DaemonSet', name: 'x', apiVersion: 'apps.kruise.io/v1alpha1' } }))).toBeUndefined();
    expect(daemonSetKeyOf(makePod('p'))).toBeUndefined();
    expect(daemonSetKeyOf(makePod('p', { owner: null }))).toBeUndefined();
  });
});

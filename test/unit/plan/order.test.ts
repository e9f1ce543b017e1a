import { describe, expect, it } from '@jest/globals';
import { evictionGroups, evictionTier, isCritical } from '../../../src/engine/plan/order.js';
import type { PodAction, PodPlan } from '../../../src/engine/types.js';

function row(name: string, o: { ns?: string; priority?: number; pcn?: string; ds?: boolean; action?: PodAction } = {}): PodPlan {
  return {
    namespace: o.ns ?? 'default',
    name,
    uid: name,
    podClass: o.ds ? 'daemonset' : 'movable',
    action: o.action ?? 'evict',
    reason: '',
    priority: o.priority ?? 0,
    priorityClassName: o.pcn,
    owner: { kind: o.ds ? 'DaemonSet' : 'ReplicaSet', name: `${name}-owner` },
    pdbs: [],
  };
}

const names = (groups: PodPlan[][]) => groups.map((g) => g.map((p) => `${p.namespace}/${p.name}`));

describe('isCritical / evictionTier', () => {
  it('knows the two critical priority classes', () => {
    expect(isCritical('system-cluster-critical')).toBe(true);
    expect(isCritical('system-node-critical')).toBe(true);
    expect(isCritical('high')).toBe(false);
    expect(isCritical(undefined)).toBe(false);
  });

  it('orders: non-critical, non-critical DaemonSet, critical, critical DaemonSet', () => {
    expect(evictionTier(row('a'))).toBe(0);
    expect(evictionTier(row('a', { ds: true }))).toBe(1);
    expect(evictionTier(row('a', { pcn: 'system-cluster-critical' }))).toBe(2);
    expect(evictionTier(row('a', { pcn: 'system-node-critical', ds: true }))).toBe(3);
  });
});

describe('evictionGroups', () => {
  it('puts critical pods last and DaemonSets after the others of their tier', () => {
    const pods = [
      row('dns', { ns: 'kube-system', pcn: 'system-cluster-critical', priority: 2_000_000_000 }),
      row('cni', { ns: 'kube-system', pcn: 'system-node-critical', ds: true, priority: 2_000_001_000 }),
      row('logs', { ds: true }),
      row('web'),
    ];
    expect(names(evictionGroups(pods))).toEqual([['default/web'], ['default/logs'], ['kube-system/dns'], ['kube-system/cni']]);
    expect(pods.map((p) => [p.name, p.group])).toEqual([
      ['dns', 2],
      ['cni', 3],
      ['logs', 1],
      ['web', 0],
    ]);
  });

  it('drops empty groups and numbers the rest from 0', () => {
    const pods = [row('web'), row('dns', { pcn: 'system-cluster-critical' })];
    const groups = evictionGroups(pods);
    expect(names(groups)).toEqual([['default/web'], ['default/dns']]);
    expect(pods.map((p) => p.group)).toEqual([0, 1]);
  });

  it('orders inside a group by priority (lowest first), then namespace, then name', () => {
    const pods = [row('b', { priority: 10 }), row('z', { ns: 'a-ns', priority: 10 }), row('c', { priority: -5 }), row('a', { priority: 10 })];
    expect(names(evictionGroups(pods))).toEqual([['default/c', 'a-ns/z', 'default/a', 'default/b']]);
  });

  it('includes evict and migrate, leaves out the rest', () => {
    const pods = [
      row('m', { action: 'migrate' }),
      row('s', { action: 'skip' }),
      row('w', { action: 'wait' }),
      row('r', { action: 'refuse' }),
      row('e'),
    ];
    expect(names(evictionGroups(pods))).toEqual([['default/e', 'default/m']]);
    expect(pods.filter((p) => p.group !== undefined).map((p) => p.name)).toEqual(['m', 'e']);
  });

  it('returns no groups for nothing to evict', () => {
    expect(evictionGroups([row('s', { action: 'skip' })])).toEqual([]);
  });
});

// The drain lock's pure decisions (engine/execute/drain-lock.ts): who may take a node's lock.
// What the API server decides (the resourceVersion precondition: one of two writers wins) is
// tested on the real control plane (test/integration/drain-lock.test.ts).
import { describe, expect, it } from '@jest/globals';
import {
  ANNOTATION_DRAIN_LOCK, decideLock, LOCK_LEASE_MS, lockStateOf, processAlive, refusalMessage, type LockHolder, type LockIdentity,
} from '../../src/engine/execute/drain-lock.js';

const NOW = Date.parse('2026-11-28T05:00:00.000Z');
const me: LockIdentity = { holder: 'me', host: 'runner-a', pid: 100, scope: 'boot-1/pid:[1]' };
const iso = (ms: number): string => new Date(ms).toISOString();
const other = (fields: Partial<LockHolder> = {}): LockHolder => ({
  holder: 'other', host: 'runner-a', pid: 200, scope: 'boot-1/pid:[1]', acquired: iso(NOW - 60_000), renewed: iso(NOW - 5_000), ...fields,
});
const held = (h: LockHolder) => ({ state: 'held' as const, holder: h });
const alive = () => true;
const dead = () => false;

describe('decideLock', () => {
  it('takes a free lock', () => {
    expect(decideLock({ state: 'free' }, me, NOW, alive)).toEqual({ action: 'take' });
  });

  it('refuses a lock a live run renewed within the lease, naming it', () => {
    const d = decideLock(held(other()), me, NOW, alive);
    expect(d).toMatchObject({ action: 'refuse', holder: { host: 'runner-a', pid: 200 }, why: 'it was renewed 5 s ago' });
  });

  it('takes over the lock of a dead process on the same host and pid namespace at once', () => {
    expect(decideLock(held(other()), me, NOW, dead)).toMatchObject({ action: 'take-over', why: 'its process (pid 200 on runner-a) no longer exists' });
  });

  it('never judges a pid of another host or another pid namespace: only the lease counts there', () => {
    expect(decideLock(held(other({ host: 'runner-b' })), me, NOW, dead).action).toBe('refuse');
    expect(decideLock(held(other({ scope: 'boot-2/pid:[1]' })), me, NOW, dead).action).toBe('refuse');
    expect(decideLock(held(other({ scope: '' })), { ...me, scope: '' }, NOW, dead).action).toBe('refuse');
  });

  it('takes over a lock not renewed for longer than the lease, from any host', () => {
    const stale = other({ host: 'runner-b', renewed: iso(NOW - LOCK_LEASE_MS - 1000) });
    expect(decideLock(held(stale), me, NOW, alive)).toMatchObject({ action: 'take-over', why: `it was not renewed for ${LOCK_LEASE_MS / 1000 + 1} s (lease ${LOCK_LEASE_MS / 1000} s)` });
    expect(decideLock(held(other({ host: 'runner-b', renewed: iso(NOW - LOCK_LEASE_MS) })), me, NOW, alive).action).toBe('refuse');
  });

  it('treats a renewal in the future (a clock ahead) as live', () => {
    expect(decideLock(held(other({ host: 'runner-b', renewed: iso(NOW + 60_000) })), me, NOW, alive)).toMatchObject({ action: 'refuse', why: 'it was renewed 0 s ago' });
  });

  it('recognises its own holder id (the post step and its main step)', () => {
    expect(decideLock(held(other({ holder: 'me', pid: 1 })), me, NOW, alive).action).toBe('ours');
  });

  it('refuses a lock it cannot read, rather than guess whose it is', () => {
    expect(decideLock({ state: 'unreadable', raw: 'garbage' }, me, NOW, dead)).toEqual({ action: 'refuse', why: 'its lock annotation cannot be read (garbage)' });
  });
});

describe('lockStateOf', () => {
  const node = (value?: string) => ({ metadata: { name: 'w1', ...(value !== undefined && { annotations: { [ANNOTATION_DRAIN_LOCK]: value } }) } });

  it('reads a holder back as written', () => {
    const h = other();
    expect(lockStateOf(node(JSON.stringify(h)))).toEqual({ state: 'held', holder: h });
    expect(lockStateOf(node())).toEqual({ state: 'free' });
  });

  it('calls anything without a holder, pid and renewal time unreadable', () => {
    for (const raw of ['', 'x', '{}', JSON.stringify({ ...other(), pid: 'x' }), JSON.stringify({ ...other(), renewed: 'yesterday' })]) {
      expect(lockStateOf(node(raw)).state).toBe('unreadable');
    }
  });
});

describe('refusalMessage', () => {
  it('names the node, the holder (host, pid, since), that nothing changed, and what to do', () => {
    const d = decideLock(held(other({ origin: 'https://github.com/o/r/actions/runs/1' })), me, NOW, alive);
    if (d.action !== 'refuse') throw new Error(d.action);
    expect(refusalMessage('w1', d)).toBe(
      'node w1: another safe-drain run holds its drain lock (host runner-a, pid 200, https://github.com/o/r/actions/runs/1, since 2026-11-28T04:59:00.000Z; ' +
        'it was renewed 5 s ago): nothing was changed. Wait for that run to end (it releases the lock; a lock not renewed for 120 s is taken over), ' +
        'then run again; if that run is gone, remove the lock: kubectl annotate node w1 safe-drain.io/drain-lock-',
    );
  });
});

describe('processAlive', () => {
  it('is true for this process and false for a pid that does not exist', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(2 ** 22 + 12345)).toBe(false); // above Linux's pid_max limit
  });
});

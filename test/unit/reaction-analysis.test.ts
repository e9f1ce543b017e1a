// The budget-reaction benchmark reads the API server's audit log: which PDB status update allowed
// each eviction. The watch event of a status update leaves when the write commits, before the
// audit log records the update's completion, so a fast drain's eviction can arrive between the
// two: that update still allowed it (seen 2 times in 60 evictions at a ~10 ms median reaction).
import { describe, expect, it } from '@jest/globals';
import { analyse } from '../../bench/reaction-bench.js';
import type { AuditEvent } from '../../bench/support.js';

const NS = 'reaction-0';
const BASE = Date.parse('2026-11-28T08:00:00Z');
/** An audit timestamp `ms` after BASE, with microseconds as the API server writes them. */
const ts = (ms: number) => `${new Date(BASE + Math.floor(ms)).toISOString().slice(0, 19)}.${String(Math.round((BASE + ms) * 1000) % 1_000_000).padStart(6, '0')}Z`;

function eviction(pod: string, receivedMs: number): AuditEvent {
  return {
    auditID: `e-${pod}-${receivedMs}`,
    stage: 'ResponseComplete',
    verb: 'create',
    user: { username: 'safe-drain-bench' },
    objectRef: { resource: 'pods', subresource: 'eviction', namespace: NS, name: pod },
    responseStatus: { code: 201 },
    requestReceivedTimestamp: ts(receivedMs),
    stageTimestamp: ts(receivedMs + 30),
  };
}

function status(pdb: string, receivedMs: number, doneMs: number, allowed: number): AuditEvent {
  return {
    auditID: `s-${pdb}-${receivedMs}`,
    stage: 'ResponseComplete',
    verb: 'update',
    user: { username: 'system:serviceaccount:kube-system:disruption-controller' },
    objectRef: { resource: 'poddisruptionbudgets', subresource: 'status', namespace: NS, name: pdb, apiGroup: 'policy' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: ts(receivedMs),
    stageTimestamp: ts(doneMs),
    requestObject: { status: { disruptionsAllowed: allowed } },
  };
}

describe('which PDB status update allowed an eviction (audit log)', () => {
  it('a status update completed before the eviction arrived: reaction from its completion', () => {
    const events = [eviction('r00-abc-1', 100), status('r00', 150, 160, 0), status('r00', 2100, 2110, 1), eviction('r00-abc-2', 2125)];
    const a = analyse(events, BASE, BASE + 3000, NS);
    expect(a.unexplained).toEqual([]);
    expect(a.reactionsMs.map(Math.round)).toEqual([15]);
    expect(a.latenciesMs.map(Math.round)).toEqual([2010]);
  });

  it('an eviction that arrived after the allowing update was received but before its completion was logged is explained by it', () => {
    const events = [eviction('r00-abc-1', 100), status('r00', 150, 160, 0), status('r00', 2100, 2146, 1), eviction('r00-abc-2', 2129)];
    const a = analyse(events, BASE, BASE + 3000, NS);
    expect(a.unexplained).toEqual([]);
    // At most the time since the update was received: its write committed in between.
    expect(a.reactionsMs.map(Math.round)).toEqual([29]);
  });

  it('an eviction with no allowing update before it stays unexplained', () => {
    const events = [eviction('r00-abc-1', 100), status('r00', 150, 160, 0), eviction('r00-abc-2', 2129), status('r00', 2200, 2210, 1)];
    expect(analyse(events, BASE, BASE + 3000, NS).unexplained).toEqual([`${NS}/r00-abc-2`]);
  });
});

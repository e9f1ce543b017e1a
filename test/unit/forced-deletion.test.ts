// A pod is deleted (or evicted) without its PDB's consent only when an input asks for it by name.
// First where the engine could: every call of a DELETE of a pod in src/ and what guards it. Then
// every answer an eviction can get, each played on a fake clock for hours with the defaults:
// nothing is ever deleted, except by the admitted-eviction rule (plan/pdb.ts admittedEviction,
// its own path, unchanged). Then the same answers with force-after and disable-eviction: only a
// budget refusal, and only after the time asked for, leads to a DELETE.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { PodFailure, WaitAborted } from '../../src/engine/errors.js';
import type { BudgetWaiter } from '../../src/engine/execute/budget.js';
import { SurgeInstead, evictWithBudget, type EvictionApi, type EvictionEnv } from '../../src/engine/execute/eviction.js';
import { forcePolicy } from '../../src/engine/execute/forced.js';
import type { Watch } from '../../src/engine/kube/watch.js';
import { DEFAULT_OPTIONS, type BudgetBypass, type PodPlan, type PodResult } from '../../src/engine/types.js';
import { apiError, budgetRefusal } from './fixtures/api-errors.js';
import { FakeClock } from './fixtures/fake-clock.js';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Each place `call` appears in the code of src/ (comments left out), as "file: the function it is in". */
function callSites(call: RegExp): string[] {
  return sourceFiles(SRC).flatMap((file) => {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    return [...text.matchAll(new RegExp(call.source, 'g'))].map((m) => {
      const before = text.slice(0, m.index);
      const fn = [...before.matchAll(/(?:function|async function)\s+(\w+)|^\s+(?:async\s+)?(\w+)\(.*\)(?::[^{]+)?\s*\{$/gm)].pop();
      return `${relative(SRC, file)}: ${fn?.[1] ?? fn?.[2] ?? '?'}`;
    });
  });
}

describe('where a pod can be deleted', () => {
  it('one DELETE of pods in kube/, called from the admitted-eviction rule and from forceDelete only', () => {
    expect(callSites(/'DELETE'/)).toEqual(['engine/kube/client.ts: deletePod']);
    expect(callSites(/\.deletePod\(/).sort()).toEqual(['engine/execute/eviction.ts: completeAdmittedEviction', 'engine/execute/forced.ts: forceDelete']);
  });

  it('forceDelete is called only with a ForcePolicy, which only the options make, and the defaults make none', () => {
    expect(callSites(/(?<!function )\bforceDelete\(/)).toEqual(['engine/execute/eviction.ts: deleteBypassingBudget']);
    expect(callSites(/(?<!function )\bforcePolicy\(/)).toEqual(['engine/execute/bypass.ts: withForcedDeletions']);
    expect(forcePolicy(DEFAULT_OPTIONS)).toBeUndefined();
    expect(forcePolicy({ disableEviction: false, forceAfterMs: 0 })).toBeUndefined();
    expect(forcePolicy({ disableEviction: true, forceAfterMs: 0 })).toMatchObject({ by: 'disable-eviction' });
    expect(forcePolicy({ disableEviction: false, forceAfterMs: 1 })).toMatchObject({ by: 'force-after', afterMs: 1 });
  });
});

const pod: PodPlan = { namespace: 'shop', name: 'web-1', uid: 'u1', podClass: 'movable', action: 'evict', reason: '', priority: 0, pdbs: ['shop/web'] };
const HOUR = 3_600_000;
/** How long the budget waiter sleeps before looking again (its fallback), in this rig. */
const WAKE_MS = 60_000;

type Answer = () => unknown;

interface Rig {
  env: EvictionEnv;
  clock: FakeClock;
  r: PodResult;
  evictions: number;
  deletes: { at: number; req: unknown }[];
  bypasses: BudgetBypass[];
  stop: AbortController;
  surge: AbortController;
}

/**
 * The eviction loop against an API server that answers every eviction with `answer`, a PDB whose
 * status is `status`, and a budget waiter that wakes every WAKE_MS (or when its signal fires).
 */
function rig(answer: Answer, o: { status?: V1PodDisruptionBudget['status']; dryRun?: boolean; force?: EvictionEnv['force'] } = {}): Rig {
  const clock = new FakeClock();
  const pdb = (): V1PodDisruptionBudget => ({ metadata: { namespace: 'shop', name: 'web', resourceVersion: '7', generation: 1 }, status: o.status });
  const stop = new AbortController();
  const surge = new AbortController();
  const api: EvictionApi = {
    evict: async () => {
      state.evictions++;
      const a = answer();
      if (a) throw a;
    },
    deletePod: async (req) => void state.deletes.push({ at: clock.now(), req }),
    getPdb: async () => pdb(),
    forbiddenWhileStarting: async () => false,
  };
  const budgets = {
    wait: (_pdb: string | undefined, w: { signal: AbortSignal }) =>
      new Promise((resolve, reject) => {
        const cancel = clock.after(WAKE_MS, () => resolve({ reason: 'fallback', settle: () => undefined }));
        w.signal.addEventListener('abort', () => (cancel(), reject(new WaitAborted('aborted'))), { once: true });
      }),
  } as unknown as BudgetWaiter;
  const noop = () => undefined;
  const created = new Date(clock.now() - HOUR).toISOString() as unknown as Date;
  const current: V1Pod = { metadata: { namespace: 'shop', name: 'web-1', uid: 'u1', creationTimestamp: created } };
  const state: Rig = {
    clock,
    r: { pod: 'shop/web-1', outcome: 'blocked', budgetWaits: 0 },
    evictions: 0,
    deletes: [],
    bypasses: [],
    stop,
    surge,
    env: {
      api,
      clock,
      budgets,
      pdbs: { get: () => pdb() } as unknown as Watch<V1PodDisruptionBudget>,
      logger: { info: noop, warn: noop, error: noop, debug: noop, group: (_n, fn) => fn() },
      gracePeriodSeconds: -1,
      dryRun: o.dryRun ?? false,
      mark: noop,
      podNow: () => current,
      surgeInstead: surge.signal,
      ...(o.force && { force: o.force }),
      onBypass: (b) => void state.bypasses.push(b),
    },
  };
  return state;
}

/** Runs the loop for `hours` of fake time (or until it ends); what it ended with, if it did. */
async function play(s: Rig, hours: number): Promise<{ ended: boolean; error?: unknown }> {
  let ended = false;
  let error: unknown;
  const done = evictWithBudget(s.env, pod, s.r, s.stop.signal).then(
    () => (ended = true),
    (err: unknown) => ((ended = true), (error = err)),
  );
  await s.clock.runUntil(() => ended, hours * HOUR);
  if (!ended) {
    s.stop.abort(new Error('the drain ended'));
    await done;
  }
  return { ended: !s.stop.signal.aborted, error };
}

/** Every answer an eviction can get that does not let the pod go. */
const refusals: [string, Answer][] = [
  ['a budget refusal (429 with a DisruptionBudget cause), forever', () => budgetRefusal('web')],
  ['a budget not yet observed (429, Retry-After 10)', () => budgetRefusal('web', 10)],
  ['API throttling (429 without a budget cause)', () => apiError(429, 'Too many requests, please try again later.')],
  ['a budget in a state the controller repairs (403)', () => apiError(403, 'DisruptedPods map too big - too many evictions not confirmed by PDB controller')],
  ['more than one PDB (500)', () => apiError(500, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.')],
  ['an API server that keeps failing (503)', () => apiError(503, 'the server is currently unable to handle the request')],
  ['a resourceVersion conflict (409)', () => apiError(409, 'the ResourceVersion in the precondition (1) does not match')],
  ['a forbidden eviction (403)', () => apiError(403, 'pods "web-1" is forbidden: cannot create resource "pods/eviction"')],
];

describe('without disable-eviction or force-after, nothing is deleted whatever the eviction answers', () => {
  it.each(refusals)('%s: no DELETE in 10 hours', async (_name, answer) => {
    const s = rig(answer);
    const { error } = await play(s, 10);
    expect(s.deletes).toEqual([]);
    expect(s.bypasses).toEqual([]);
    expect(s.r.outcome).toBe('blocked');
    expect(s.r.bypass).toBeUndefined();
    // Each path ends its own way: still waiting when the drain ended, or a failure naming the pod.
    if (error !== undefined && !(error instanceof WaitAborted)) expect(error).toBeInstanceOf(PodFailure);
  });

  it('a budget refusal while its PDB lists an admitted eviction of this pod, but the budget is not met without it: no DELETE', async () => {
    const listed = { 'web-1': new Date(Date.UTC(2026, 11, 7, 11, 59, 50)).toISOString() } as unknown as Record<string, Date>;
    const s = rig(() => budgetRefusal('web'), { status: { observedGeneration: 1, currentHealthy: 1, desiredHealthy: 2, expectedPods: 2, disruptionsAllowed: 0, disruptedPods: listed } });
    await play(s, 10);
    expect(s.deletes).toEqual([]);
  });

  it('the admitted-eviction rule, its own path: a DELETE only when the budget is met without the pod, and no bypass is recorded', async () => {
    const listed = { 'web-1': new Date(Date.UTC(2026, 11, 7, 11, 59, 50)).toISOString() } as unknown as Record<string, Date>;
    const s = rig(() => budgetRefusal('web'), { status: { observedGeneration: 1, currentHealthy: 2, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0, disruptedPods: listed } });
    await play(s, 1);
    expect(s.deletes).toHaveLength(1);
    expect(s.r).toMatchObject({ outcome: 'evicted' });
    expect(s.r.bypass).toBeUndefined();
    expect(s.bypasses).toEqual([]);
  });

  it('the admitted-eviction rule: a run stopped while it read the PDB (its lock lost) deletes nothing', async () => {
    const listed = { 'web-1': new Date(Date.UTC(2026, 11, 7, 11, 59, 50)).toISOString() } as unknown as Record<string, Date>;
    const s = rig(() => budgetRefusal('web'), { status: { observedGeneration: 1, currentHealthy: 2, desiredHealthy: 2, expectedPods: 3, disruptionsAllowed: 0, disruptedPods: listed } });
    const read = s.env.api.getPdb.bind(s.env.api);
    s.env.api.getPdb = async (ns, name) => {
      const fresh = await read(ns, name);
      s.stop.abort(new Error('the drain lock was taken over'));
      return fresh;
    };
    await play(s, 1);
    expect(s.deletes).toEqual([]);
  });

  it('a dry run and a wait given up for a migration delete nothing either', async () => {
    const dry = rig(() => budgetRefusal('web'), { dryRun: true });
    await play(dry, 1);
    expect(dry.deletes).toEqual([]);
    const surged = rig(() => budgetRefusal('web'));
    surged.clock.after(5 * WAKE_MS + 1, () => surged.surge.abort(new Error('migrate instead')));
    const { error } = await play(surged, 1);
    expect(error).toBeInstanceOf(SurgeInstead);
    expect(surged.deletes).toEqual([]);
  });
});

describe('force-after: a budget refusal that has lasted that long, and nothing else', () => {
  const force = forcePolicy({ disableEviction: false, forceAfterMs: 5 * 60_000 })!;

  it('deletes the pod 5 minutes after its PDB first refused it, not before, and records the bypass', async () => {
    const s = rig(() => budgetRefusal('web'), { force });
    const started = s.clock.now();
    await play(s, 10);
    expect(s.deletes).toEqual([{ at: started + 5 * 60_000, req: { namespace: 'shop', name: 'web-1', uid: 'u1', gracePeriodSeconds: -1, dryRun: false } }]);
    expect(s.r).toMatchObject({ outcome: 'force-deleted', bypass: { pod: 'shop/web-1', by: 'force-after', pdb: 'shop/web', waitedMs: 5 * 60_000 } });
    expect(s.bypasses).toEqual([s.r.bypass]);
    expect(s.evictions).toBe(5); // one refusal a minute; the bound comes before a sixth attempt
  });

  it.each(refusals.slice(2))('%s: no DELETE (not a budget wait)', async (_name, answer) => {
    const s = rig(answer, { force });
    await play(s, 10);
    expect(s.deletes).toEqual([]);
  });
});

describe('disable-eviction: a DELETE instead of any eviction', () => {
  it('deletes at once, sends no eviction, and records the bypass of the pod\'s PDB', async () => {
    const s = rig(() => budgetRefusal('web'), { force: forcePolicy({ disableEviction: true, forceAfterMs: 0 }) });
    await play(s, 1);
    expect(s.evictions).toBe(0);
    expect(s.deletes).toHaveLength(1);
    expect(s.r).toMatchObject({ outcome: 'force-deleted', bypass: { by: 'disable-eviction', pdb: 'shop/web', waitedMs: 0 } });
  });

  it('a run already stopped (its drain lock lost, its deadline passed) deletes nothing', async () => {
    const s = rig(() => budgetRefusal('web'), { force: forcePolicy({ disableEviction: true, forceAfterMs: 0 }) });
    s.stop.abort(new Error('the drain lock was taken over'));
    const { error } = await play(s, 1);
    expect(s.deletes).toHaveLength(0);
    expect(error).toBeInstanceOf(WaitAborted);
  });
});

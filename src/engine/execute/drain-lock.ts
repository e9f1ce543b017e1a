// A per-node drain lock: two runs on one node at once would each raise replicas on top of the
// other's raise, and one run's restore of "leftovers" would undo a raise the other, live, run
// still needs. The lock is an annotation on the Node, safe-drain.io/drain-lock = JSON of its
// holder, written with the node's resourceVersion as precondition: of two runs that read the
// node free, the API server lets exactly one write win (the other gets 409 and reads again).
//
// Why a node annotation, not a coordination.k8s.io Lease: the lock must cover exactly the node,
// the run already may get and patch nodes (cordon), and a Lease needs a namespace the user would
// have to choose plus new RBAC. The annotation is also visible where people look
// (`kubectl describe node`) and removable with one kubectl command.
//
// Liveness: the holder renews `renewed` every LOCK_RENEW_MS. A lock is taken over when it was not
// renewed for LOCK_LEASE_MS, or at once when its holder is a process on this same host and pid
// namespace that no longer exists (a SIGKILLed run rerun on the same runner). Clocks: `renewed` is
// the holder's clock read by the reader's; they must agree to well within the lease (NTP).
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { V1Node } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import type { KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import type { Logger } from '../types.js';

export const ANNOTATION_DRAIN_LOCK = 'safe-drain.io/drain-lock';
/**
 * A lock not renewed for this long is taken over. Longer than the API outage a live run rides
 * out (kube/client.ts API_OUTAGE_BOUND_MS, 90 s), so a run that cannot renew only because the API
 * server is down does not lose its lock to another run.
 */
export const LOCK_LEASE_MS = 120_000;
export const LOCK_RENEW_MS = 10_000;
/** Conflicts (409) retried by re-reading the node: its status and labels change all the time. */
const MAX_CONFLICT_RETRIES = 10;

/** Who holds a lock, as written in the annotation. */
export interface LockHolder {
  /** Unique per run (the Action's post step reuses its main step's). */
  holder: string;
  host: string;
  pid: number;
  /** boot id + pid namespace: a pid means the same process only where this matches. */
  scope: string;
  /** Who ran it (workflow run URL, CLI user@host). */
  origin?: string;
  acquired: string;
  renewed: string;
}

export type LockIdentity = Pick<LockHolder, 'holder' | 'host' | 'pid' | 'scope'> & { origin?: string };

export type LockState = { state: 'free' } | { state: 'held'; holder: LockHolder } | { state: 'unreadable'; raw: string };

export type LockDecision =
  | { action: 'take' } // free
  | { action: 'ours'; holder: LockHolder } // written by this holder id (the main step's lock, seen by its post step)
  | { action: 'take-over'; holder: LockHolder; why: string } // its holder is gone
  | { action: 'refuse'; holder?: LockHolder; why: string }; // a live holder, or a lock that cannot be read

/** The process running this code, for the lock. */
export function localIdentity(holder: string = randomUUID(), origin?: string): LockIdentity {
  return { holder, host: hostname(), pid: process.pid, scope: pidScope(), ...(origin && { origin }) };
}

function pidScope(): string {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return ''; // not Linux: a pid is never judged, only the lease
  }
}

/** Whether `pid` is a live process here (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockStateOf(node: V1Node): LockState {
  const raw = node.metadata?.annotations?.[ANNOTATION_DRAIN_LOCK];
  if (raw === undefined) return { state: 'free' };
  try {
    const h = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof h.holder === 'string' && typeof h.host === 'string' && Number.isInteger(h.pid) && typeof h.renewed === 'string' && !Number.isNaN(Date.parse(h.renewed))) {
      return { state: 'held', holder: { scope: '', acquired: h.renewed, ...h } as LockHolder };
    }
  } catch {
    // falls through: unreadable
  }
  return { state: 'unreadable', raw };
}

/** What a run identified by `me` may do with a node's lock at `now` (pure; `alive` checks a local pid). */
export function decideLock(current: LockState, me: LockIdentity, now: number, alive: (pid: number) => boolean): LockDecision {
  if (current.state === 'free') return { action: 'take' };
  if (current.state === 'unreadable') return { action: 'refuse', why: `its lock annotation cannot be read (${current.raw.slice(0, 120)})` };
  const h = current.holder;
  if (h.holder === me.holder) return { action: 'ours', holder: h };
  if (h.scope !== '' && h.scope === me.scope && h.host === me.host && h.pid !== me.pid && !alive(h.pid)) {
    return { action: 'take-over', holder: h, why: `its process (pid ${h.pid} on ${h.host}) no longer exists` };
  }
  const silentMs = now - Date.parse(h.renewed);
  if (silentMs > LOCK_LEASE_MS) {
    return { action: 'take-over', holder: h, why: `it was not renewed for ${Math.round(silentMs / 1000)} s (lease ${LOCK_LEASE_MS / 1000} s)` };
  }
  return { action: 'refuse', holder: h, why: `it was renewed ${Math.max(0, Math.round(silentMs / 1000))} s ago` };
}

/** The holder in words, for logs and errors. */
export function describeHolder(h: LockHolder): string {
  return `host ${h.host}, pid ${h.pid}${h.origin ? `, ${h.origin}` : ''}, since ${h.acquired}`;
}

const removeLockCommand = (node: string): string => `kubectl annotate node ${node} ${ANNOTATION_DRAIN_LOCK}-`;

/** The refusal a run gets for a node another run holds: names the holder and what to do. */
export function refusalMessage(node: string, d: Extract<LockDecision, { action: 'refuse' }>): string {
  return (
    `node ${node}: ${refusalReason(d)}: nothing was changed. Wait for that run to end (it releases the lock; a lock not renewed for ` +
    `${LOCK_LEASE_MS / 1000} s is taken over), then run again; if that run is gone, remove the lock: ${removeLockCommand(node)}`
  );
}

function refusalReason(d: Extract<LockDecision, { action: 'refuse' }>): string {
  return d.holder ? `another safe-drain run holds its drain lock (${describeHolder(d.holder)}; ${d.why})` : `its drain lock is held, but ${d.why}`;
}

export interface LockRefusal {
  node: string;
  /** Who holds it, in words. */
  reason: string;
  /** The whole refusal: what holds it, that nothing changed, what to do. */
  message: string;
}

export interface AcquiredLock {
  node: string;
  /** What the lock held before: a dead run's (taken over), or this holder id's own from an earlier step. */
  previous?: { holder: LockHolder; why: string; sameHolder: boolean };
}

/** What the lock needs of the API. */
export type LockApi = Pick<KubeClient, 'getNode' | 'patchNodeMetadata' | 'patchNodeJson'>;

/**
 * The locks of one run: taken together before any change, renewed while the run lives,
 * released at its end (also on failure and cancellation). `lost` aborts when another run took
 * one over (it judged this run dead): the run must stop before its next change, and make no
 * further write for that node (holds() says which nodes are still this run's).
 */
export class DrainLocks {
  private readonly lostController = new AbortController();
  readonly lost: AbortSignal = this.lostController.signal;
  /** Nodes whose lock another run took over, or someone removed. */
  private readonly lostNodes = new Set<string>();
  private cancelRenewal: (() => void) | undefined;
  private renewing = false;
  /** The annotation value this run last wrote, per node: renewal and release test it on the server. */
  private readonly written = new Map<string, string>();

  private constructor(
    private readonly client: LockApi,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly me: LockIdentity,
    readonly acquired: AcquiredLock[],
  ) {}

  /** Whether this run still holds the lock of `node` (taken, not lost, not released). */
  holds(node: string): boolean {
    return this.acquired.some((a) => a.node === node) && !this.lostNodes.has(node);
  }

  /** Nodes whose lock this run lost. */
  get lostLocks(): string[] {
    return [...this.lostNodes];
  }

  /**
   * Takes the lock of every node in `nodes` (sorted: the same order in every run), or none:
   * on a refusal the ones already taken are released and the refusals returned.
   */
  static async acquire(client: LockApi, logger: Logger, clock: Clock, nodes: string[], me: LockIdentity, read: V1Node[] = []): Promise<DrainLocks | LockRefusal[]> {
    const locks = new DrainLocks(client, logger, clock, me, []);
    const refusals: LockRefusal[] = [];
    try {
      for (const node of [...new Set(nodes)].sort()) {
        const r = await locks.take(node, read.find((n) => n.metadata?.name === node));
        if ('message' in r) refusals.push(r);
        else locks.acquired.push(r);
      }
    } catch (err) {
      await locks.release();
      throw err;
    }
    if (refusals.length > 0) {
      await locks.release();
      return refusals;
    }
    locks.scheduleRenewal();
    return locks;
  }

  /** The next renewal round, LOCK_RENEW_MS from now (the clock's timers do not hold the process). */
  private scheduleRenewal(): void {
    this.cancelRenewal = this.clock.after(LOCK_RENEW_MS, () => {
      void this.renew().finally(() => {
        if (this.cancelRenewal) this.scheduleRenewal();
      });
    });
  }

  /**
   * `read`: the node as the run read it moments ago, used for the first attempt instead of a GET
   * of its own; the write's resourceVersion precondition makes a stale copy a 409, and the next
   * attempt reads the node afresh (as it does before refusing).
   */
  private async take(node: string, read?: V1Node): Promise<AcquiredLock | LockRefusal> {
    for (let attempt = 1; ; attempt++) {
      const early = attempt === 1 && read?.metadata?.resourceVersion ? read : undefined;
      const n = early ?? (await this.client.getNode(node));
      const now = this.clock.now();
      const d = decideLock(lockStateOf(n), this.me, now, processAlive);
      if (d.action === 'refuse' && early) continue; // a refusal is decided on a fresh read only
      if (d.action === 'refuse') return { node, reason: refusalReason(d), message: refusalMessage(node, d) };
      const stamp = new Date(now).toISOString();
      const holder: LockHolder = { ...this.me, acquired: stamp, renewed: stamp };
      try {
        await this.writeLock(n, holder);
      } catch (err) {
        if (statusCode(err) === 409 && attempt < MAX_CONFLICT_RETRIES) continue; // the node changed (or another run won): read again
        throw err;
      }
      if (d.action === 'take-over') this.logger.warn(`node ${node}: took over the drain lock of an earlier run (${describeHolder(d.holder)}): ${d.why}`, { node });
      this.logger.info(`node ${node}: drain lock taken (holder ${this.me.holder})`);
      return { node, ...(d.action !== 'take' && { previous: { holder: d.holder, why: d.action === 'ours' ? 'left by this holder id' : d.why, sameHolder: d.action === 'ours' } }) };
    }
  }

  private async writeLock(n: V1Node, holder: LockHolder | null): Promise<void> {
    const name = n.metadata?.name ?? '';
    const value = holder ? JSON.stringify(holder) : null;
    await this.client.patchNodeMetadata(name, {
      resourceVersion: n.metadata?.resourceVersion, // optimistic concurrency: of two writers, one wins
      annotations: { [ANNOTATION_DRAIN_LOCK]: value },
    });
    if (value === null) this.written.delete(name);
    else this.written.set(name, value);
  }

  /**
   * One request instead of a read and a write: replaces (or removes) the lock only if it still
   * holds exactly what this run wrote last (a JSON Patch `test`, checked by the API server).
   * False when that could not be done; the caller then reads the node and decides.
   */
  private async rewriteIfUnchanged(node: string, holder: LockHolder | null): Promise<boolean> {
    const last = this.written.get(node);
    if (last === undefined) return false;
    const path = `/metadata/annotations/${ANNOTATION_DRAIN_LOCK.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const value = holder ? JSON.stringify(holder) : null;
    try {
      await this.client.patchNodeJson(node, [{ op: 'test', path, value: last }, value === null ? { op: 'remove', path } : { op: 'replace', path, value }]);
    } catch (err) {
      if (statusCode(err) === 404) return value === null; // no node, no lock
      return false;
    }
    if (value === null) this.written.delete(node);
    else this.written.set(node, value);
    return true;
  }

  /** One renewal round; a lock found in another holder's hands aborts `lost`. */
  private async renew(): Promise<void> {
    if (this.renewing || this.lost.aborted) return;
    this.renewing = true;
    try {
      for (const { node } of this.acquired) {
        const last = this.written.get(node);
        if (this.lostNodes.has(node)) continue;
        const renewed = new Date(this.clock.now()).toISOString();
        if (last && (await this.rewriteIfUnchanged(node, { ...(JSON.parse(last) as LockHolder), renewed }))) continue;
        for (let attempt = 1; attempt <= MAX_CONFLICT_RETRIES; attempt++) {
          const n = await this.client.getNode(node);
          const state = lockStateOf(n);
          if (state.state !== 'held' || state.holder.holder !== this.me.holder) {
            const who = state.state === 'held' ? `another run took it over (${describeHolder(state.holder)})` : 'it was removed by someone else';
            this.lostNodes.add(node);
            this.written.delete(node);
            this.lostController.abort(new Error(`the drain lock of node ${node} is no longer this run's: ${who}; stopping before the next change`));
            return;
          }
          try {
            await this.writeLock(n, { ...state.holder, renewed });
            break;
          } catch (err) {
            if (statusCode(err) !== 409) throw err;
          }
        }
      }
    } catch (err) {
      // The next round tries again; the lease is longer than an outage the client rides out.
      this.logger.debug(`drain lock renewal failed: ${describeApiError(err)}`);
    } finally {
      this.renewing = false;
    }
  }

  /** Removes every lock still this run's. Never throws: returns what could not be released, with the fix. */
  async release(): Promise<string[]> {
    this.cancelRenewal?.();
    this.cancelRenewal = undefined;
    const failures: string[] = [];
    for (const { node } of this.acquired) {
      if (this.lostNodes.has(node)) continue; // another run's now: not this run's to remove
      try {
        if (await this.rewriteIfUnchanged(node, null)) {
          this.logger.debug(`node ${node}: drain lock released`);
          continue;
        }
        for (let attempt = 1; ; attempt++) {
          let n: V1Node;
          try {
            n = await this.client.getNode(node);
          } catch (err) {
            if (statusCode(err) === 404) break;
            throw err;
          }
          const state = lockStateOf(n);
          if (state.state !== 'held' || state.holder.holder !== this.me.holder) break; // not ours (any more): not ours to remove
          try {
            await this.writeLock(n, null);
            this.logger.debug(`node ${node}: drain lock released`);
            break;
          } catch (err) {
            if (statusCode(err) === 409 && attempt < MAX_CONFLICT_RETRIES) continue;
            throw err;
          }
        }
      } catch (err) {
        const message = `node ${node}: could not release the drain lock (${describeApiError(err)}); the next run takes it over once it is stale, or remove it now: ${removeLockCommand(node)}`;
        this.logger.error(message, { node });
        failures.push(message);
      }
    }
    this.acquired.length = 0;
    return failures;
  }
}

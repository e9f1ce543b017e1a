// Zero-downtime migration of a Deployment whose eviction would leave it with no ready replica
// (one replica, or a PDB with no disruption to spare): bring the replacement up elsewhere first.
// A run-wide decision: a Deployment has ONE migration at a time for the whole run, shared by
// every node of the run that moves its pods (WorkloadMigrations). The method is chosen by
// plan/migration.ts on the live object (the plan used the same rules):
//
//  - rollout restart (kubectl rollout restart's pod-template annotation) when the strategy adds
//    a pod before removing one: the Deployment controller replaces every pod, new first, old
//    second, with the run's nodes cordoned; a node that joins waits for the same rollout;
//  - otherwise a temporary scale-up (SharedRaise) by the pods moved, for every node that joins
//    while it lasts; each node waits until as many more pods are Ready as were Ready among its
//    moved ones, evicts its old pods (the budget now allows it), and the raise is restored
//    exactly once, when no node needs it any more, also on failure, timeout or cancellation.
//    The raise carries a marker naming the run and its nodes, so a crash leaves something the
//    next run restores, and a write retried after a lost answer never raises twice;
//  - an HPA-managed Deployment is never scaled by hand (the HPA would undo it).
//
// Every write carries the resourceVersion it was computed from (optimistic concurrency), and
// every wait ends on its own evidence (waitForDeployment): never forever with replicas raised.
import type { V1Deployment, V1DeploymentCondition, V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../clock.js';
import { MigrationStuck } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { statusCode } from '../kube/errors.js';
import type { Watch } from '../kube/watch.js';
import { chooseMigrationFor, rolloutStrategy, type MigrationChoice } from '../plan/migration.js';
import { workloadIdentity } from '../plan/pod.js';
import type { Logger, WorkloadChange, WorkloadInfo } from '../types.js';
import { ANNOTATION_MIGRATION, MAX_CONFLICT_RETRIES, raiseMetadata, raiseOf, restoreRaise, type RestoreApi, type TemporaryRaise } from './restore.js';
import { isRolloutComplete, pausedRolloutCanFinish, progressDeadlineExceeded, waitForDeployment, watchWorkloadPods, type DeploymentWatchApi } from './workload-watch.js';

export { chooseMigration, resolveIntOrPercent, type MigrationMethod } from '../plan/migration.js';
export { ANNOTATION_MIGRATION, ANNOTATION_ORIGINAL_REPLICAS } from './restore.js';
export const ANNOTATION_RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
/** The API server's default for spec.progressDeadlineSeconds. */
const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

export type MigrateApi = RestoreApi & DeploymentWatchApi & Pick<KubeClient, 'getDeployment' | 'patchDeployment' | 'workloadEvent'>;

export interface MigrationEnv {
  api: MigrateApi;
  clock: Clock;
  logger: Logger;
  dryRun: boolean;
  /** This run's id (its drain-lock holder): written into the raise marker. */
  run: string;
  /** Whether the run may still write for `node` (it still holds that node's drain lock). */
  mayWrite(node: string): boolean;
  /** Records the change on `node`'s report (the same object for every node that shares it). */
  record(node: string, change: WorkloadChange): void;
  /** How long a new pod may stay Unschedulable before a migration gives up (default UNSCHEDULABLE_GRACE_MS). */
  unschedulableGraceMs?: number;
}

/** Pods of the Deployment one node moves, and how many of them are Ready. */
export interface MovingPods {
  total: number;
  ready: number;
}

export interface MigrationRequest {
  node: string;
  workload: WorkloadInfo;
  moving: MovingPods;
  /** Evicts this node's old pods of the workload (with budget waits) once the replacement is up. */
  evictOldPods: () => Promise<void>;
  /** This node's deadline and cancellation. */
  signal: AbortSignal;
}

/** One migration of one workload, shared by the nodes that join it while it lasts. */
interface Migration {
  /** Whether a node may still join it (else it waits for `ended` and starts the next one). */
  accepts(): boolean;
  join(req: MigrationRequest): Promise<void>;
  /** Settles (never rejects) once the migration is over and its changes undone. */
  ended: Promise<void>;
}

/** The run's migrations: at most one per workload at a time, whichever nodes need it. */
export class WorkloadMigrations {
  private readonly active = new Map<string, Migration>();

  constructor(private readonly env: MigrationEnv) {}

  /**
   * Migrates `req`'s pods: joins the workload's migration under way, or starts one. Resolves
   * when this node's old pods are gone or evicted (a rollout's old pods may still terminate).
   */
  async migrate(req: MigrationRequest): Promise<void> {
    const w = req.workload;
    const id = workloadIdentity(w);
    for (;;) {
      const current = this.active.get(id);
      if (current?.accepts()) return current.join(req);
      if (current) {
        await current.ended;
        continue;
      }
      const d = await this.env.api.getDeployment(w.namespace, w.name);
      if (this.active.has(id)) continue; // another node started one while this one read
      const choice = chooseMigrationFor(rolloutStrategy(d), w.hpa);
      this.env.logger.info(`Deployment/${w.namespace}/${w.name}: ${choice.method} (${choice.why})`);
      if (choice.method === 'evict') {
        this.env.record(req.node, { workload: `Deployment/${w.namespace}/${w.name}`, change: 'none: plain eviction', restored: true, message: choice.why });
        return req.evictOldPods();
      }
      const m: Migration = choice.method === 'rollout-restart' ? new SharedRollout(this.env, w, choice) : new SharedRaise(this.env, w, choice);
      this.active.set(id, m);
      void m.ended.then(() => {
        if (this.active.get(id) === m) this.active.delete(id);
      });
      return m.join(req);
    }
  }
}

/** Runs `write` on a fresh read of the Deployment, again on conflict (409), a bounded number of times. */
async function withFreshDeployment<T>(api: Pick<KubeClient, 'getDeployment'>, w: WorkloadInfo, write: (d: V1Deployment) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const d = await api.getDeployment(w.namespace, w.name);
    try {
      return await write(d);
    } catch (err) {
      if (statusCode(err) !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw err;
    }
  }
}

/** A ProgressDeadlineExceeded that was not there before the change (an old one says nothing about ours). */
function newDeadlineExceeded(d: V1Deployment, before: V1DeploymentCondition | undefined): V1DeploymentCondition | undefined {
  const now = progressDeadlineExceeded(d);
  if (!now) return undefined;
  const same = before && String(before.lastUpdateTime) === String(now.lastUpdateTime) && String(before.lastTransitionTime) === String(now.lastTransitionTime);
  return same ? undefined : now;
}

/** The Deployment's pods, watched from before a change: pods that appear later are the new ones. */
async function watchPodsFromNow(api: DeploymentWatchApi, d: V1Deployment): Promise<{ pods: Watch<V1Pod>; before: Set<string> }> {
  const pods = watchWorkloadPods(api, d);
  try {
    await pods.start();
  } catch (err) {
    pods.stop();
    throw err;
  }
  return { pods, before: new Set(pods.items().map((p) => p.metadata?.uid ?? '')) };
}

async function event(env: MigrationEnv, d: V1Deployment, reason: string, message: string): Promise<void> {
  try {
    await env.api.workloadEvent('Deployment', d.metadata?.namespace ?? '', d.metadata?.name ?? '', d.metadata?.uid, reason, message);
  } catch (err) {
    env.logger.debug(`event on Deployment ${d.metadata?.name} not recorded: ${(err as Error).message}`);
  }
}

/** A promise settled from outside, for `ended`. */
function settleable(): { promise: Promise<void>; settle: () => void } {
  let settle!: () => void;
  const promise = new Promise<void>((resolve) => (settle = resolve));
  return { promise, settle };
}

// ---- Rollout restart ---------------------------------------------------------------------------

class SharedRollout implements Migration {
  private readonly id: string;
  private readonly stamp: string;
  private patched?: Promise<V1DeploymentCondition | undefined>;
  private completed = false;
  private members = 0;
  private readonly change: WorkloadChange;
  private readonly end = settleable();
  readonly ended = this.end.promise;

  constructor(
    private readonly env: MigrationEnv,
    private readonly w: WorkloadInfo,
    choice: MigrationChoice,
  ) {
    this.id = `Deployment/${w.namespace}/${w.name}`;
    this.stamp = new Date(env.clock.now()).toISOString();
    this.change = env.dryRun
      ? { workload: this.id, change: 'rollout restart (dry run)', restored: true, message: choice.why }
      : { workload: this.id, change: 'rollout restart', restored: true, message: `${choice.why}; nothing to undo (the pod template carries ${ANNOTATION_RESTARTED_AT}=${this.stamp})` };
  }

  accepts(): boolean {
    return !this.completed;
  }

  async join(req: MigrationRequest): Promise<void> {
    this.members++;
    this.env.record(req.node, this.change);
    try {
      const d = await this.env.api.getDeployment(this.w.namespace, this.w.name);
      const watched = this.env.dryRun ? undefined : await watchPodsFromNow(this.env.api, d);
      try {
        this.patched ??= this.patch(req.node);
        const deadlineBefore = await this.patched;
        if (watched) await this.waitRolledOut(req, watched, deadlineBefore);
        this.completed = true;
      } finally {
        watched?.pods.stop();
      }
    } finally {
      if (--this.members === 0) {
        this.completed = true;
        this.end.settle();
      }
    }
  }

  /** The template annotation that makes the controller replace every pod; returns the progress condition it had. */
  private async patch(node: string): Promise<V1DeploymentCondition | undefined> {
    const { api, dryRun } = this.env;
    const note = `rollout restart by safe-drain to move pods off node ${node} at ${this.stamp}`;
    let before: V1DeploymentCondition | undefined;
    const d = await withFreshDeployment(api, this.w, async (fresh) => {
      // Decided again on what is written against: a Deployment paused meanwhile would never roll.
      const again = chooseMigrationFor(rolloutStrategy(fresh), this.w.hpa);
      if (again.method !== 'rollout-restart') throw new MigrationStuck(`${this.id}: cannot be moved by a rollout restart any more (${again.why}); run the drain again`);
      before = progressDeadlineExceeded(fresh);
      return api.patchDeployment(
        this.w.namespace,
        this.w.name,
        { metadata: { resourceVersion: fresh.metadata?.resourceVersion, annotations: { [ANNOTATION_MIGRATION]: note } }, spec: { template: { metadata: { annotations: { [ANNOTATION_RESTARTED_AT]: this.stamp } } } } },
        dryRun,
      );
    });
    if (!dryRun) await event(this.env, d, 'SafeDrainRolloutRestart', note);
    return before;
  }

  private async waitRolledOut(req: MigrationRequest, watched: { pods: Watch<V1Pod>; before: Set<string> }, deadlineBefore: V1DeploymentCondition | undefined): Promise<void> {
    const { w } = this;
    let pausedJudged: number | undefined;
    await waitForDeployment(
      this.env.api,
      this.env.clock,
      w,
      {
        id: this.id,
        done: (obj) => isRolloutComplete(obj),
        stuck: (obj) => {
          const deadline = newDeadlineExceeded(obj, deadlineBefore);
          if (deadline) return `its rollout restart stopped progressing (ProgressDeadlineExceeded: ${deadline.message ?? 'no message'}); see kubectl -n ${w.namespace} rollout status deployment/${w.name}`;
          // Paused mid-rollout: once the controller has seen the pause, one read per generation
          // tells whether the rollout can still finish (see pausedRolloutCanFinish).
          const generation = obj.metadata?.generation ?? 0;
          if (!obj.spec?.paused || (obj.status?.observedGeneration ?? 0) < generation || pausedJudged === generation) return undefined;
          pausedJudged = generation;
          return pausedRolloutCanFinish(this.env.api, obj, this.stamp).then((canFinish) =>
            canFinish
              ? undefined
              : `was paused while its rollout restart was under way: a paused Deployment never rolls further, so its old pods stay on node ${req.node}. Resume it (kubectl -n ${w.namespace} rollout resume deployment/${w.name}) and run the drain again`,
          );
        },
        pods: watched.pods,
        podsBefore: watched.before,
        unschedulableGraceMs: this.env.unschedulableGraceMs,
      },
      req.signal,
    );
  }
}

// ---- Temporary scale-up ------------------------------------------------------------------------

class SharedRaise implements Migration {
  private readonly id: string;
  private readonly nodes: string[] = [];
  /** Pods moved by every node that joined, and how many of them were Ready. */
  private readonly moving: MovingPods = { total: 0, ready: 0 };
  private members = 0;
  private restoring = false;
  /** Set by the first read: replicas before the raise, the value to restore, ready pods then. */
  private base?: { replicas: number; original: number; readyBefore: number; deadlineBefore?: V1DeploymentCondition; progressDeadlineSeconds: number };
  /** The replicas this run last wrote and saw land; a write is under way while `writing`. */
  private target?: number;
  private writing = false;
  private attempted = false;
  /** One write at a time: joins raise in the order they come. */
  private writes: Promise<unknown> = Promise.resolve();
  private readonly change: WorkloadChange;
  private readonly end = settleable();
  readonly ended = this.end.promise;

  constructor(
    private readonly env: MigrationEnv,
    private readonly w: WorkloadInfo,
    private readonly choice: MigrationChoice,
  ) {
    this.id = `Deployment/${w.namespace}/${w.name}`;
    this.change = { workload: this.id, change: 'temporary scale-up', restored: env.dryRun, message: choice.why };
  }

  accepts(): boolean {
    return !this.restoring;
  }

  async join(req: MigrationRequest): Promise<void> {
    this.members++;
    if (!this.nodes.includes(req.node)) this.nodes.push(req.node);
    this.moving.total += req.moving.total;
    this.moving.ready += req.moving.ready;
    this.env.record(req.node, this.change);
    try {
      const d = await this.env.api.getDeployment(this.w.namespace, this.w.name);
      const watched = this.env.dryRun ? undefined : await watchPodsFromNow(this.env.api, d);
      try {
        const readyNeeded = await this.serialized(() => this.raise());
        if (!watched) return;
        await this.waitReady(req, watched, readyNeeded);
        await req.evictOldPods();
      } finally {
        watched?.pods.stop();
      }
    } finally {
      if (--this.members === 0) await this.finish();
    }
  }

  private serialized<T>(write: () => Promise<T>): Promise<T> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  /** The replicas every node that joined needs: what there was before, plus every pod moved. */
  private intended(): number {
    return this.base!.replicas + this.moving.total;
  }

  /**
   * Raises replicas to cover every node that joined (idempotent: a write retried after a lost
   * answer finds its own marker and value, and writes nothing more). Returns how many Ready pods
   * the joining node waits for.
   */
  private async raise(): Promise<number> {
    const { api, dryRun } = this.env;
    this.writing = true;
    try {
      const d = await withFreshDeployment(api, this.w, (fresh) => this.raiseOn(fresh));
      if (d && !dryRun) await event(this.env, d, 'SafeDrainScaleUp', this.note(this.target));
    } finally {
      this.writing = false;
    }
    const { original, readyBefore } = this.base!;
    this.change.change = `replicas ${original} → ${this.target}${dryRun ? ' (dry run)' : ` → ${original}`}`;
    return readyBefore + this.moving.ready;
  }

  /** One attempt at the raise on a fresh read; undefined when the Deployment already holds it. */
  private async raiseOn(fresh: V1Deployment): Promise<V1Deployment | undefined> {
    const replicas = fresh.spec?.replicas ?? 1;
    const marker = raiseOf(fresh);
    const ours = marker?.run === this.env.run;
    if (!this.base) {
      // Another run's raise still in effect (it drains another node): ours goes on top of it,
      // and its original stays the original, so replicas never ratchet up.
      if (marker && !ours) this.env.logger.warn(`${this.id}: already raised by safe-drain from ${marker.original} to ${replicas} for node ${marker.nodes.join(', ') || '(unknown)'}; raising on top, restoring to ${marker.original}`);
      this.base = {
        replicas,
        original: marker?.original ?? replicas,
        readyBefore: fresh.status?.readyReplicas ?? 0,
        deadlineBefore: progressDeadlineExceeded(fresh),
        progressDeadlineSeconds: fresh.spec?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
      };
    } else if (this.target !== undefined && (!ours || replicas !== this.target)) {
      throw new MigrationStuck(this.changedBySomeoneElse(fresh));
    }
    const want = this.intended();
    if (ours && replicas === want && marker.raised === want) {
      this.target = want; // an earlier attempt landed though its answer was lost
      return undefined;
    }
    this.attempted = true;
    const raise: TemporaryRaise = { original: this.base.original, raised: want, nodes: this.nodes, run: this.env.run };
    const d = await this.env.api.patchDeployment(this.w.namespace, this.w.name, { metadata: raiseMetadata(raise, this.note(want), fresh.metadata?.resourceVersion), spec: { replicas: want } }, this.env.dryRun);
    this.target = want;
    return d;
  }

  private note(raised = this.intended()): string {
    return `replicas ${this.base!.replicas} → ${raised} by safe-drain to move ${this.moving.total} pod(s) off node ${this.nodes.join(', ')}; restored to ${this.base!.original} when done`;
  }

  private changedBySomeoneElse(d: V1Deployment): string {
    const marker = raiseOf(d);
    if (marker?.run !== this.env.run) return `${this.id}: its safe-drain marker was removed or replaced by someone else while this run's raise to ${this.target} was in effect; safe-drain stopped its migration`;
    return `${this.id}: replicas was changed to ${d.spec?.replicas ?? 1} by someone else while safe-drain waited for its ${this.target} (a GitOps controller or an HPA reverting it?); safe-drain stopped its migration`;
  }

  /** Until as many more pods are Ready as were Ready among every joined node's moved pods. */
  private async waitReady(req: MigrationRequest, watched: { pods: Watch<V1Pod>; before: Set<string> }, readyNeeded: number): Promise<void> {
    const { deadlineBefore, progressDeadlineSeconds } = this.base!;
    const { w } = this;
    await waitForDeployment(
      this.env.api,
      this.env.clock,
      w,
      {
        id: this.id,
        done: (obj) => (obj.status?.readyReplicas ?? 0) >= readyNeeded,
        stuck: (obj) => {
          // A join's own raise is under way: the value in flight is this run's, not someone else's.
          if (this.writing) return undefined;
          if ((obj.spec?.replicas ?? 1) !== this.target || raiseOf(obj)?.run !== this.env.run) return this.changedBySomeoneElse(obj).slice(this.id.length + 2);
          const deadline = newDeadlineExceeded(obj, deadlineBefore);
          if (deadline) return `stopped progressing while scaled up to ${this.target} (ProgressDeadlineExceeded: ${deadline.message ?? 'no message'})`;
          return undefined;
        },
        pods: watched.pods,
        podsBefore: watched.before,
        unschedulableGraceMs: this.env.unschedulableGraceMs,
        // The controller reports ProgressDeadlineExceeded, but not for a paused Deployment (which
        // it still scales): its own progressDeadlineSeconds bounds every scale-up wait here too.
        deadline: {
          ms: progressDeadlineSeconds * 1000,
          why: `its new pods were not Ready within its progressDeadlineSeconds (${progressDeadlineSeconds}s) after replicas was raised to ${this.target}; see kubectl -n ${w.namespace} get pods`,
        },
      },
      req.signal,
    );
  }

  /** When no node needs the raise any more: restored exactly, unless a node's lock was lost. */
  private async finish(): Promise<void> {
    this.restoring = true;
    try {
      await this.writes;
      if (this.env.dryRun) return;
      if (!this.attempted || !this.base) {
        this.change.change = 'none: no raise was written';
        this.change.restored = true;
        return;
      }
      const lost = this.nodes.filter((n) => !this.env.mayWrite(n));
      if (lost.length > 0) {
        this.change.restored = false;
        this.change.message = `${this.choice.why}; NOT restored by this run: the drain lock of node ${lost.join(', ')} is no longer this run's, so the run that took it over restores the raise (its marker names the node)`;
        return;
      }
      const expected: TemporaryRaise = { original: this.base.original, raised: this.target ?? this.intended(), nodes: this.nodes, run: this.env.run };
      const restored = await restoreRaise(this.env.api, this.env.logger, this.w.namespace, this.w.name, { dryRun: false, expected });
      this.change.restored = restored.ok;
      this.change.message = `${this.choice.why}${this.nodes.length > 1 ? `; one raise shared by nodes ${this.nodes.join(', ')}` : ''}; ${restored.message}`;
    } finally {
      this.end.settle();
    }
  }
}

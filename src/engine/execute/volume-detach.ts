// A node is drained only when the volumes of the pods the drain removed no longer hold it: no
// VolumeAttachment of one of their PersistentVolumes names the node, and node.status.volumesAttached
// lists none of them (Cluster API waits on both). Volumes of pods that stay (DaemonSet, mirror,
// skip) are not waited for, as Karpenter does. An upgrade that terminates or reimages the machine
// next would otherwise cut a volume off mid-detach. Bounded by volume-detach-timeout (from when
// the pods have left) and by the drain's own deadline; woken by the VolumeAttachment watch (one
// for the run, started by the first node that needs it) and the node watch.
import type { V1Node, V1Pod, V1VolumeAttachment } from '@kubernetes/client-node';
import { WaitAborted } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { resolvePodVolumes, type PodVolume } from '../kube/volumes.js';
import type { Watch } from '../kube/watch.js';
import type { PodOutcome, PodResult, VolumeDetachReport } from '../types.js';
import { waitFor } from '../wait.js';
import type { NodeRun, Run } from './run-state.js';

/** Outcomes of pods the drain took off the node: their volumes must detach. */
const REMOVED: readonly PodOutcome[] = ['evicted', 'evicted-not-confirmed', 'migrated', 'deleted', 'force-deleted'];

/** Something that still attaches a volume to the node. */
export interface VolumeHold {
  /** The PersistentVolume. */
  pv: string;
  /** What says so: "VolumeAttachment <name>" or "node.status.volumesAttached". */
  by: string;
}

/** What of `volumes` still holds `node` (pure): its VolumeAttachments, and its status.volumesAttached. */
export function volumesHeld(nodeName: string, node: V1Node | undefined, attachments: V1VolumeAttachment[], volumes: PodVolume[]): VolumeHold[] {
  const pvs = new Set(volumes.map((v) => v.pv));
  const held: VolumeHold[] = attachments
    .filter((va) => va.spec?.nodeName === nodeName && pvs.has(va.spec?.source?.persistentVolumeName ?? ''))
    .map((va) => ({ pv: va.spec!.source!.persistentVolumeName!, by: `VolumeAttachment ${va.metadata?.name ?? ''}` }));
  const listed = new Set((node?.status?.volumesAttached ?? []).map((v) => v.name));
  for (const v of volumes) if (v.attachedName !== undefined && listed.has(v.attachedName)) held.push({ pv: v.pv, by: 'node.status.volumesAttached' });
  return held;
}

/** "pv-a (VolumeAttachment csi-1, node.status.volumesAttached), pv-b (...)". */
export function describeHolds(holds: VolumeHold[]): string {
  const byPv = new Map<string, string[]>();
  for (const h of holds) byPv.set(h.pv, [...(byPv.get(h.pv) ?? []), h.by]);
  return [...byPv].map(([pv, by]) => `${pv} (${by.join(', ')})`).join(', ');
}

/** The run's one list+watch of the VolumeAttachments naming its nodes, started when first needed. */
export class AttachmentWatch {
  private started?: Promise<Watch<V1VolumeAttachment>>;
  private watch?: Watch<V1VolumeAttachment>;

  constructor(
    private readonly api: Pick<KubeClient, 'watchVolumeAttachments'>,
    private readonly nodes: ReadonlySet<string>,
    private readonly onError: (m: string) => void,
  ) {}

  get(): Promise<Watch<V1VolumeAttachment>> {
    this.started ??= (async () => {
      const watch = this.api.watchVolumeAttachments({ keep: (va) => this.nodes.has(va.spec?.nodeName ?? ''), onError: this.onError });
      this.watch = watch;
      await watch.start();
      return watch;
    })();
    return this.started;
  }

  stop(): void {
    this.watch?.stop();
  }
}

/**
 * The volumes of a node's pods, read before its drain (a generic ephemeral volume's claim goes
 * with its pod); after the drain, `awaitDetached` waits for those of the pods it removed.
 * Undefined when there is nothing to wait for: volume-detach-timeout off, or a dry run.
 */
export async function trackVolumes(run: Run, n: NodeRun): Promise<VolumeTracker | undefined> {
  const { options } = run.env;
  if (options.volumeDetachTimeoutMs === 'off' || options.dryRun || options.operation !== 'drain') return undefined;
  const before = await resolvePodVolumes(run.env.api, n.plannedPods);
  sayUnresolved(run, n, before.unresolved);
  return new VolumeTracker(run, n, before.volumes, options.volumeDetachTimeoutMs);
}

function sayUnresolved(run: Run, n: NodeRun, unresolved: string[]): void {
  if (unresolved.length > 0) run.warn(`node ${n.name}: could not read claim(s) ${unresolved.join(', ')}: their volumes are not waited for`);
}

export class VolumeTracker {
  constructor(
    private readonly run: Run,
    private readonly n: NodeRun,
    private readonly volumes: PodVolume[],
    private readonly timeoutMs: number,
  ) {}

  /**
   * Waits until none of the removed pods' volumes holds the node, within volume-detach-timeout and
   * `signal`; records the wait (report, timeline) and, when it ran out, a problem naming the
   * volumes (the node is then not drained). `staying`: the pods still on the node.
   */
  async awaitDetached(results: PodResult[], staying: V1Pod[], signal: AbortSignal): Promise<VolumeDetachReport | undefined> {
    const removed = new Set(results.filter((r) => REMOVED.includes(r.outcome)).map((r) => r.pod));
    const kept = new Set((await resolvePodVolumes(this.run.env.api, staying)).volumes.map((v) => v.pv));
    const volumes = this.volumes.filter((v) => removed.has(v.pod) && !kept.has(v.pv));
    if (volumes.length === 0) return undefined;
    const { run, n } = this;
    const { clock } = run.env;
    run.services.attachments ??= new AttachmentWatch(run.env.api, new Set(run.nodes.map((x) => x.name)), (m) => run.env.logger.debug(m));
    const attachments = await run.services.attachments.get();
    const nodes = run.services.pool?.nodeWatch;
    const held = () => volumesHeld(n.name, nodes?.get(n.name), attachments.items(), volumes);
    const first = held();
    if (first.length === 0) return undefined;
    const started = clock.now();
    const end = this.timeoutMs > 0 ? started + this.timeoutMs : undefined;
    run.mark(n.name, 'wait', n.name, `waiting for volumes to detach: ${describeHolds(first)}`);
    run.env.logger.info(`node ${n.name}: waiting${end ? ` up to ${this.timeoutMs / 1000}s` : ''} for the volumes of the pods it drained to detach: ${describeHolds(first)}`);
    const ended = await waitFor<'detached' | 'timed-out'>({
      check: () => (held().length === 0 ? 'detached' : end !== undefined && clock.now() >= end ? 'timed-out' : undefined),
      subscribe: (changed) => {
        const offAttachments = attachments.subscribe(() => changed());
        const offNodes = nodes?.subscribe((_t, node) => node.metadata?.name === n.name && changed());
        return () => (offAttachments(), offNodes?.());
      },
      recheckAt: () => end,
      signal,
      clock,
    }).catch((err: unknown) => {
      if (err instanceof WaitAborted) return err;
      throw err;
    });
    return this.record(first, held(), clock.now() - started, ended);
  }

  private record(first: VolumeHold[], still: VolumeHold[], waitedMs: number, ended: 'detached' | 'timed-out' | WaitAborted): VolumeDetachReport {
    const { run, n } = this;
    const report: VolumeDetachReport = { waitedFor: [...new Set(first.map((h) => h.pv))], stillAttached: [...new Set(still.map((h) => h.pv))], waitedMs };
    if (ended === 'detached') {
      run.mark(n.name, 'wait', n.name, `volumes detached after ${Math.round(waitedMs / 100) / 10}s`);
      return report;
    }
    const why = ended === 'timed-out' ? `volume-detach-timeout (${this.timeoutMs / 1000}s) expired` : ended.why;
    report.endedBy = why;
    run.mark(n.name, 'error', n.name, `volumes still attached (${why}): ${describeHolds(still)}`);
    if (ended === 'timed-out') {
      n.problems.push(
        `node ${n.name}: volume(s) still attached ${this.timeoutMs / 1000}s after its pods left: ${describeHolds(still)}; the node is not drained ` +
          '(a machine terminated now could cut them off mid-detach): check the CSI driver and its attacher, or raise volume-detach-timeout',
      );
    }
    return report;
  }
}

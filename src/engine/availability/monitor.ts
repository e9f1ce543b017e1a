// The availability gate at run time. Before any change it resolves which Services to watch (a
// Service named that does not exist is bad input), then, for a drain, watches their EndpointSlices
// (one list+watch of all Service slices, through kube/watch.ts, which resumes and relists) and
// records each Service's ready-endpoint count whenever it changes; probes run beside it. With
// abort-on-downtime the gate is judged live and its first breach is reported to the run, which
// stops evicting. At the end the figures and the verdict go into the RunReport.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import type { ResourceWatch } from '../kube/watch.js';
import { objectKey } from '../kube/watch.js';
import type { DrainPlan, Logger, Operation } from '../types.js';
import { InputError } from '../types.js';
import {
  SERVICE_NAME_LABEL,
  countsOf,
  describeSelection,
  expectedZeroFailure,
  expectsZero,
  podsLeftWithoutReplacement,
  podsStillListed,
  probeFailure,
  probeFigures,
  readyEndpoints,
  recordPoint,
  round3,
  seconds,
  serviceFailure,
  serviceOfSlice,
  servicesWithReadyEndpointOn,
  seriesFigures,
  type ProbeSample,
  type ReadyEndpoint,
} from './figures.js';
import { Prober } from './probe.js';
import type { AvailabilityOptions, AvailabilityReport, ReadyPoint, ServiceAvailability } from './types.js';

/**
 * How long the end of a run waits for a watched Service that is at zero to get a ready endpoint
 * again: its outage is then measured to its end, not cut at the moment the drain returned (a
 * replacement pod typically becomes Ready seconds after its predecessor is gone).
 */
export const RECOVERY_WAIT_MS = 60_000;
/**
 * How long the verdict waits, after the drain, for the EndpointSlices to stop listing the pods it
 * removed: the EndpointSlice controller publishes a removal some milliseconds to seconds after the
 * pod is gone (longer on a loaded control plane), and a drop to zero it has not published yet is
 * an outage the gate would miss.
 */
export const SLICES_CATCH_UP_MS = 30_000;
const SLICES_PATH = '/apis/discovery.k8s.io/v1/endpointslices';

export interface MonitorContext {
  client: KubeClient;
  logger: Logger;
  options: AvailabilityOptions;
  operation: Operation;
  /** A dry run is judged like a plan: on what the plan expects, since nothing is evicted. */
  dryRun: boolean;
  /** Nodes this run drains (`auto` watches Services with a ready endpoint on them). */
  nodes: string[];
  /** Epoch ms the run started: the series' zero. */
  runStart: number;
  /** abort-on-downtime: told once, at the first breach of the gate. */
  onBreach?: (failure: string) => void;
}

interface Watched {
  service: string;
  slices: Map<string, V1EndpointSlice>;
  initial: ReadyEndpoint[];
  series: ReadyPoint[];
  outageTimer?: NodeJS.Timeout;
}

/** Whether this run has anything for the gate to do: only operations that evict (or plan to). */
export function monitorsAvailability(operation: Operation, options: AvailabilityOptions): boolean {
  return options.selection.mode !== 'off' && (operation === 'drain' || operation === 'plan');
}

export class AvailabilityMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly lostPods = new Set<string>();
  private readonly expectedZero = new Set<string>();
  private watch?: ResourceWatch<V1EndpointSlice>;
  private prober?: Prober;
  private breach?: string;
  /** The drain is still going: a breach can still stop it (abort-on-downtime). */
  private live = true;
  private finished?: AvailabilityReport;
  private readonly measured: boolean;

  private constructor(private readonly ctx: MonitorContext) {
    this.measured = ctx.operation === 'drain' && !ctx.dryRun;
  }

  /** Resolves the selection and starts watching; throws InputError (nothing changed yet) for a Service that does not exist. */
  static async start(ctx: MonitorContext): Promise<AvailabilityMonitor> {
    const monitor = new AvailabilityMonitor(ctx);
    try {
      await monitor.begin();
    } catch (err) {
      monitor.stopWatching();
      throw err;
    }
    return monitor;
  }

  /** The run's plan for one node: which watched Services it expects to take to zero. */
  notePlan(plan: DrainPlan): void {
    for (const pod of podsLeftWithoutReplacement(plan)) this.lostPods.add(pod);
    for (const w of this.watched.values()) {
      if (this.expectedZero.has(w.service) || !expectsZero(w.initial, this.lostPods)) continue;
      this.expectedZero.add(w.service);
      this.ctx.logger.warn(
        `availability: the plan expects Service ${w.service} to reach zero ready endpoints (all ${w.initial.length} are pods evicted without a replacement up first)`,
      );
    }
  }

  /** The abort-on-downtime breach, if the gate broke during the run. */
  get breached(): string | undefined {
    return this.breach;
  }

  /**
   * Ends watching and probing and returns the report. First the slices must have caught up with
   * the pods the run removed (`removedPods`, namespace/name; SLICES_CATCH_UP_MS at most); then a
   * drained Service still at zero is waited for (RECOVERY_WAIT_MS at most), so its outage is
   * measured to its end. `signal` ends either wait.
   */
  async finish(signal?: AbortSignal, removedPods: Iterable<string> = []): Promise<AvailabilityReport> {
    if (this.finished) return this.finished;
    // The drain is over: nothing is left to stop; the gate now only judges the whole run.
    this.live = false;
    for (const w of this.watched.values()) if (w.outageTimer) clearTimeout(w.outageTimer);
    try {
      if (this.measured) {
        await this.awaitSlicesCaughtUp(new Set(removedPods), signal);
        await this.awaitRecovery(signal);
      }
    } finally {
      await this.prober?.stop();
      this.stopWatching();
    }
    this.finished = this.report();
    return this.finished;
  }

  /** Stops everything without a report (a run that ended on an error before finishing). */
  stopWatching(): void {
    this.watch?.stop();
    for (const w of this.watched.values()) if (w.outageTimer) clearTimeout(w.outageTimer);
    void this.prober?.stop();
  }

  // --- start ---------------------------------------------------------------------------------

  private async begin(): Promise<void> {
    const { ctx } = this;
    const requested = await this.resolveRequested();
    const slices = await this.startSlices();
    const byService = new Map<string, V1EndpointSlice[]>();
    for (const slice of slices) {
      const service = serviceOfSlice(slice);
      if (service) byService.set(service, [...(byService.get(service) ?? []), slice]);
    }
    const services = requested ?? servicesWithReadyEndpointOn(slices, new Set(ctx.nodes));
    const now = this.now();
    for (const service of services) {
      const own = byService.get(service) ?? [];
      const initial = readyEndpoints(own);
      this.watched.set(service, { service, slices: new Map(own.map((s) => [objectKey(s), s])), initial, series: [] });
      const counts = countsOf(own);
      recordPoint(this.watched.get(service)!.series, now, counts.ready, counts.serving);
      if (initial.length === 0) ctx.logger.warn(`availability: Service ${service} has no ready endpoint at the start (no selector, or nothing Ready behind it)`);
    }
    const what = services.length ? services.join(', ') : 'none';
    ctx.logger.info(
      `availability (${describeSelection(ctx.options.selection)}): ${this.measured ? 'watching' : 'would watch'} ${services.length} Service(s): ${what}`,
    );
    if (!this.measured) return;
    this.watch?.subscribe((type, slice) => this.onSlice(type, slice));
    if (ctx.options.probeUrls.length > 0) {
      this.prober = new Prober(
        ctx.options.probeUrls,
        ctx.options.probeIntervalMs,
        ctx.runStart,
        (url, sample) => this.onSample(url, sample),
        (url) => ctx.logger.warn(`availability: probe ${url} reached its sample limit; no more requests are sent to it`),
      );
      this.prober.start();
      ctx.logger.info(`availability: probing ${ctx.options.probeUrls.join(', ')} every ${ctx.options.probeIntervalMs} ms`);
    }
  }

  /** The Services the user named, checked against the cluster; undefined for `auto`. */
  private async resolveRequested(): Promise<string[] | undefined> {
    const selection = this.ctx.options.selection;
    const client = this.ctx.client;
    const enc = encodeURIComponent;
    switch (selection.mode) {
      case 'off':
      case 'auto':
        return undefined;
      case 'services': {
        const missing: string[] = [];
        for (const service of selection.services) {
          const [namespace, name] = service.split('/') as [string, string];
          try {
            await client.getAt(`/api/v1/namespaces/${enc(namespace)}/services/${enc(name)}`);
          } catch (err) {
            if (statusCode(err) !== 404) throw err;
            missing.push(service);
          }
        }
        if (missing.length > 0) {
          throw new InputError(
            'availability',
            `no Service ${missing.map((m) => `"${m}"`).join(', ')} in the cluster`,
            'Name Services as namespace/name exactly as `kubectl get services -A` shows them, or use auto.',
          );
        }
        return [...selection.services].sort();
      }
      case 'namespaces': {
        const found: string[] = [];
        for (const namespace of selection.namespaces) {
          try {
            await client.getAt(`/api/v1/namespaces/${enc(namespace)}`);
          } catch (err) {
            if (statusCode(err) !== 404) throw err;
            throw new InputError('availability', `no namespace "${namespace}" in the cluster`, 'Check the names with `kubectl get namespaces`.');
          }
          found.push(...(await this.listServices(`/api/v1/namespaces/${enc(namespace)}/services`)));
        }
        return [...new Set(found)].sort();
      }
      case 'selector': {
        let found: string[];
        try {
          found = await this.listServices('/api/v1/services', selection.selector);
        } catch (err) {
          if (statusCode(err) === 400) {
            throw new InputError('availability', `"selector: ${selection.selector}" is not a valid label selector (${describeApiError(err)})`, 'Use the kubectl -l syntax, e.g. "selector: app=web".');
          }
          throw err;
        }
        if (found.length === 0) {
          throw new InputError('availability', `"selector: ${selection.selector}" matches no Service`, 'Check the labels with `kubectl get services -A --show-labels`.');
        }
        return found.sort();
      }
    }
  }

  /** The Services of a collection (a label selector's), as namespace/name. */
  private async listServices(path: string, labelSelector?: string): Promise<string[]> {
    const { items } = await this.ctx.client.listAt<V1Service>(path, { labelSelector });
    return items.map((s) => objectKey(s));
  }

  /** Every Service's slices: a drain keeps them watched, a plan reads them once. */
  private async startSlices(): Promise<V1EndpointSlice[]> {
    if (!this.measured) return (await this.listSlices()).items;
    this.watch = this.ctx.client.watch<V1EndpointSlice>({
      path: SLICES_PATH,
      labelSelector: SERVICE_NAME_LABEL,
      list: () => this.listSlices(),
      onError: (m) => this.ctx.logger.debug(`availability: ${m}`),
    });
    await this.watch.start();
    return this.watch.items();
  }

  private listSlices(): Promise<{ items: V1EndpointSlice[]; resourceVersion: string }> {
    return this.ctx.client.listAt<V1EndpointSlice>(SLICES_PATH, { labelSelector: SERVICE_NAME_LABEL });
  }

  // --- while the run goes --------------------------------------------------------------------

  private now(): number {
    return Date.now() - this.ctx.runStart;
  }

  private onSlice(type: string, slice: V1EndpointSlice): void {
    const service = serviceOfSlice(slice);
    const w = service ? this.watched.get(service) : undefined;
    if (!w) return;
    if (type === 'DELETED') w.slices.delete(objectKey(slice));
    else w.slices.set(objectKey(slice), slice);
    const { ready, serving } = countsOf([...w.slices.values()]);
    if (!recordPoint(w.series, this.now(), ready, serving)) return;
    this.ctx.logger.debug(`availability: ${w.service} has ${ready} ready endpoint(s)${serving !== ready ? `, ${serving} terminating but serving` : ''}`);
    if (serving === 0) this.ctx.logger.warn(`availability: Service ${w.service} has no endpoint carrying traffic (+${seconds(this.now())} s)`);
    this.judgeLive(w);
  }

  private onSample(url: string, sample: ProbeSample): void {
    if (!sample.ok) this.ctx.logger.debug(`availability: probe ${url} failed: ${sample.detail}`);
    if (!this.ctx.onBreach || !this.live || sample.ok) return;
    const samples = this.prober?.samples.get(url) ?? [];
    const figures = probeFigures(url, samples, this.now(), this.ctx.options);
    const failure = probeFailure(url, figures.failures, figures.longestFailureSeconds * 1000, this.ctx.options);
    if (failure) this.broke(failure);
  }

  /** abort-on-downtime: the gate judged at every change, and once an outage outlasts max-downtime. */
  private judgeLive(w: Watched): void {
    if (!this.ctx.onBreach || !this.live || this.breach) return;
    const failure = this.failureNow(w);
    if (failure) return this.broke(failure);
    const last = w.series[w.series.length - 1];
    const max = this.ctx.options.maxDowntimeMs;
    if (w.outageTimer) clearTimeout(w.outageTimer);
    w.outageTimer = undefined;
    if (last !== undefined && (last.serving ?? last.ready) === 0 && max !== undefined) {
      const sofar = seriesFigures(w.series, this.now()).downtimeMs;
      // +1: the limit is "longer than max-downtime". Judged again when it fires, and armed again
      // if the outage has not yet outlasted the limit: a timer can fire up to a millisecond before
      // Date.now() shows its delay passed, and an outage judged 0 ms long must not go unjudged
      // until the Service recovers (the gate abort test saw that at max-downtime 0s).
      w.outageTimer = setTimeout(() => {
        w.outageTimer = undefined;
        this.judgeLive(w);
      }, Math.max(0, max - sofar) + 1);
    }
  }

  private failureNow(w: Watched): string | undefined {
    return serviceFailure(w.service, w.initial.length, seriesFigures(w.series, this.now()), this.ctx.options);
  }

  private broke(failure: string): void {
    if (this.breach || !this.live) return;
    this.breach = failure;
    this.ctx.logger.error(`availability gate broken: ${failure}; abort-on-downtime: stopping evictions`);
    this.ctx.onBreach?.(failure);
  }

  /** Waits until no watched slice lists a pod the run removed (see SLICES_CATCH_UP_MS). */
  private async awaitSlicesCaughtUp(removed: ReadonlySet<string>, signal?: AbortSignal): Promise<void> {
    const listed = () => podsStillListed([...this.watched.values()].flatMap((w) => [...w.slices.values()]), removed);
    if (removed.size === 0 || listed().length === 0) return;
    this.ctx.logger.debug(`availability: waiting up to ${SLICES_CATCH_UP_MS / 1000}s for the EndpointSlices to drop ${listed().join(', ')} (removed by this run)`);
    await this.waitForSlices(() => listed().length === 0, SLICES_CATCH_UP_MS, signal);
    const still = listed();
    if (still.length > 0) this.ctx.logger.warn(`availability: the EndpointSlices still list ${still.join(', ')} ${SLICES_CATCH_UP_MS / 1000}s after the drain removed them: the figures end here`);
  }

  private async awaitRecovery(signal?: AbortSignal): Promise<void> {
    const down = () =>
      [...this.watched.values()].filter((w) => {
        const last = w.series[w.series.length - 1];
        return w.initial.length > 0 && last !== undefined && (last.serving ?? last.ready) === 0;
      });
    if (down().length === 0 || signal?.aborted || !this.watch) return;
    this.ctx.logger.info(
      `availability: waiting up to ${RECOVERY_WAIT_MS / 1000}s for ${down().map((w) => w.service).join(', ')} to have a ready endpoint again, so the outage is measured to its end`,
    );
    await this.waitForSlices(() => down().length === 0, RECOVERY_WAIT_MS, signal);
    const still = down();
    if (still.length > 0) this.ctx.logger.warn(`availability: still no ready endpoint when the run ended: ${still.map((w) => w.service).join(', ')}`);
  }

  /** Resolves once `done()` holds after a slice event, after `boundMs`, or when `signal` fires. */
  private async waitForSlices(done: () => boolean, boundMs: number, signal?: AbortSignal): Promise<void> {
    const watch = this.watch;
    if (!watch || signal?.aborted || done()) return;
    await new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', end);
        resolve();
      };
      const timer = setTimeout(end, boundMs);
      // After onSlice (subscribed first) has recorded the change.
      const unsubscribe = watch.subscribe(() => {
        if (done()) end();
      });
      signal?.addEventListener('abort', end, { once: true });
    });
  }

  // --- the report ----------------------------------------------------------------------------

  private report(): AvailabilityReport {
    const { options } = this.ctx;
    const endAt = this.now();
    const services: ServiceAvailability[] = [...this.watched.values()].map((w) => {
      const expectedZero = this.expectedZero.has(w.service);
      const f = seriesFigures(w.series, endAt);
      const failure = this.measured ? serviceFailure(w.service, w.initial.length, f, options) : expectedZero ? expectedZeroFailure(w.service, options) : undefined;
      return {
        service: w.service,
        initialReady: w.initial.length,
        minReady: f.minReady,
        minReadyAt: f.minReadyAt,
        downtimeSeconds: round3(f.downtimeMs / 1000),
        longestOutageSeconds: round3(f.longestOutageMs / 1000),
        series: w.series,
        expectedZero,
        passed: failure === undefined,
        ...(failure !== undefined && { failure }),
        finalReady: f.lastReady,
      };
    });
    const probes = [...(this.prober?.samples ?? new Map<string, ProbeSample[]>())].map(([url, samples]) => probeFigures(url, samples, endAt, options));
    const failures = [...services.flatMap((s) => (s.failure ? [s.failure] : [])), ...probes.flatMap((p) => (p.failure ? [p.failure] : []))];
    return {
      selection: describeSelection(options.selection),
      services,
      probes,
      passed: failures.length === 0,
      aborted: this.breach !== undefined,
      failures,
      measured: this.measured,
      startedAt: this.ctx.runStart,
      ...(options.maxDowntimeMs !== undefined && { maxDowntimeSeconds: options.maxDowntimeMs / 1000 }),
      ...(options.minReadyRatio !== undefined && { minReadyRatio: options.minReadyRatio }),
    };
  }
}

// The availability gate at run time. Before any change it resolves which Services to watch (a
// Service named that does not exist is bad input), then, for a drain, watches their EndpointSlices
// (one list+watch of all Service slices, through kube/watch.ts, which resumes and relists) and
// records each Service's ready-endpoint count whenever it changes; probes run beside it. With
// abort-on-downtime the gate is judged live and its first breach is reported to the run, which
// stops evicting. At the end the figures and the verdict go into the RunReport. Every `now`, timer
// and wait is on the injected Clock, and the API is the few calls of GateApi, so a unit test
// drives the gate with a fake clock and a fake watch.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../clock.js';
import { WaitAborted } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { describeApiError, statusCode } from '../kube/errors.js';
import { objectKey } from '../kube/watch.js';
import type { DrainPlan, Logger, Operation } from '../types.js';
import { InputError } from '../types.js';
import { waitWithin } from '../wait.js';
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

/** What the gate asks of the API server (KubeClient has it; a unit test passes a plain object). */
export type GateApi = Pick<KubeClient, 'getService' | 'getNamespace' | 'listServices' | 'listEndpointSlices' | 'watchEndpointSlices'>;
type SliceWatch = ReturnType<GateApi['watchEndpointSlices']>;

export interface MonitorContext {
  client: GateApi;
  logger: Logger;
  options: AvailabilityOptions;
  operation: Operation;
  /** A dry run is judged like a plan: on what the plan expects, since nothing is evicted. */
  dryRun: boolean;
  /** Nodes this run drains (`auto` watches Services with a ready endpoint on them). */
  nodes: string[];
  /** Epoch ms (on `clock`) the run started: the series' zero. */
  runStart: number;
  /** Every `now`, timer and wait of the gate and its probes (default: the system's). */
  clock?: Clock;
  /** abort-on-downtime: told once, at the first breach of the gate. */
  onBreach?: (failure: string) => void;
}

interface Watched {
  service: string;
  slices: Map<string, V1EndpointSlice>;
  initial: ReadyEndpoint[];
  series: ReadyPoint[];
  /** Cancels the pending live judgement of an outage (abort-on-downtime). */
  cancelOutageTimer?: () => void;
}

/** Whether this run has anything for the gate to do: only operations that evict (or plan to). */
export function monitorsAvailability(operation: Operation, options: AvailabilityOptions): boolean {
  return options.selection.mode !== 'off' && (operation === 'drain' || operation === 'plan');
}

export class AvailabilityMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly lostPods = new Set<string>();
  private readonly expectedZero = new Set<string>();
  private watch?: SliceWatch;
  private prober?: Prober;
  private breach?: string;
  /** The drain is still going: a breach can still stop it (abort-on-downtime). */
  private live = true;
  private finished?: AvailabilityReport;
  private readonly measured: boolean;
  private readonly clock: Clock;

  private constructor(private readonly ctx: MonitorContext) {
    this.measured = ctx.operation === 'drain' && !ctx.dryRun;
    this.clock = ctx.clock ?? systemClock;
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
    this.cancelOutageTimers();
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
    this.cancelOutageTimers();
    void this.prober?.stop();
  }

  private cancelOutageTimers(): void {
    for (const w of this.watched.values()) {
      w.cancelOutageTimer?.();
      w.cancelOutageTimer = undefined;
    }
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
      this.prober = new Prober({
        urls: ctx.options.probeUrls,
        intervalMs: ctx.options.probeIntervalMs,
        runStart: ctx.runStart,
        clock: this.clock,
        onSample: (url, sample) => this.onSample(url, sample),
        onLimit: (url) => ctx.logger.warn(`availability: probe ${url} reached its sample limit; no more requests are sent to it`),
      });
      this.prober.start();
      ctx.logger.info(`availability: probing ${ctx.options.probeUrls.join(', ')} every ${ctx.options.probeIntervalMs} ms`);
    }
  }

  /** The Services the user named, checked against the cluster; undefined for `auto`. */
  private async resolveRequested(): Promise<string[] | undefined> {
    const selection = this.ctx.options.selection;
    switch (selection.mode) {
      case 'off':
      case 'auto':
        return undefined;
      case 'services':
        return this.namedServices(selection.services);
      case 'namespaces':
        return this.servicesOfNamespaces(selection.namespaces);
      case 'selector':
        return this.servicesOfSelector(selection.selector);
    }
  }

  /** The Services named (namespace/name), each checked to exist. */
  private async namedServices(services: string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const service of services) {
      const [namespace, name] = service.split('/') as [string, string];
      try {
        await this.ctx.client.getService(namespace, name);
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
    return [...services].sort();
  }

  /** Every Service of the namespaces named, each namespace checked to exist. */
  private async servicesOfNamespaces(namespaces: string[]): Promise<string[]> {
    const found: string[] = [];
    for (const namespace of namespaces) {
      try {
        await this.ctx.client.getNamespace(namespace);
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
        throw new InputError('availability', `no namespace "${namespace}" in the cluster`, 'Check the names with `kubectl get namespaces`.');
      }
      found.push(...(await this.ctx.client.listServices(namespace)).map((s) => objectKey(s)));
    }
    return [...new Set(found)].sort();
  }

  /** The Services of a label selector (all namespaces); none, or a selector the API refuses, is bad input. */
  private async servicesOfSelector(selector: string): Promise<string[]> {
    let found: string[];
    try {
      found = (await this.ctx.client.listServices(undefined, selector)).map((s) => objectKey(s));
    } catch (err) {
      if (statusCode(err) === 400) {
        throw new InputError('availability', `"selector: ${selector}" is not a valid label selector (${describeApiError(err)})`, 'Use the kubectl -l syntax, e.g. "selector: app=web".');
      }
      throw err;
    }
    if (found.length === 0) {
      throw new InputError('availability', `"selector: ${selector}" matches no Service`, 'Check the labels with `kubectl get services -A --show-labels`.');
    }
    return found.sort();
  }

  /** Every Service's slices: a drain keeps them watched, a plan reads them once. */
  private async startSlices(): Promise<V1EndpointSlice[]> {
    if (!this.measured) return (await this.ctx.client.listEndpointSlices(SERVICE_NAME_LABEL)).items;
    this.watch = this.ctx.client.watchEndpointSlices(SERVICE_NAME_LABEL, (m) => this.ctx.logger.debug(`availability: ${m}`));
    await this.watch.start();
    return this.watch.items();
  }

  // --- while the run goes --------------------------------------------------------------------

  private now(): number {
    return this.clock.now() - this.ctx.runStart;
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
    w.cancelOutageTimer?.();
    w.cancelOutageTimer = undefined;
    if (last !== undefined && (last.serving ?? last.ready) === 0 && max !== undefined) {
      const sofar = seriesFigures(w.series, this.now()).downtimeMs;
      // +1: the limit is "longer than max-downtime". Judged again when it fires, and armed again
      // while the outage has not yet outlasted the limit: a system timer can fire up to a
      // millisecond before the clock shows its delay passed, and an outage judged 0 ms long must
      // still be judged before the Service recovers.
      w.cancelOutageTimer = this.clock.after(Math.max(0, max - sofar) + 1, () => {
        w.cancelOutageTimer = undefined;
        this.judgeLive(w);
      });
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
    if (!watch || signal?.aborted) return;
    try {
      // Subscribed after onSlice, so each change is recorded before `done` reads it.
      await waitWithin(done, boundMs, { subscribe: (changed) => watch.subscribe(changed), signal: signal ?? new AbortController().signal, clock: this.clock });
    } catch (err) {
      // The run's signal ends the wait early; the callers report what is still pending.
      if (!(err instanceof WaitAborted)) throw err;
    }
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

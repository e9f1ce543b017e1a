// The fault matrix (issue 9): each scenario places its workloads, starts the safe-drain CLI as
// a child process, injects one real fault at a moment it observes in the cluster (never after a
// fixed sleep from the start), and judges the run by the same rule:
//   passed = evictions outside budget 0 (recorder.ts) and changes left 0 (replicas and
//   safe-drain.io/* marks as before; after the rerun for SIGKILL) and the run completed or
//   failed/cancelled with a report naming what is left, and the report agrees with the cluster,
//   and the process ended within the scenario's hard bound (hitting it = "hung").
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import { join } from 'node:path';
import { Watch } from '@kubernetes/client-node';
import { removeThrottle, throttleServiceAccount } from './apf.js';
import {
  DRAINER, NS_PREFIX, REPO, STANDARD, changesBetween, outcomeOf, place, removeNamespaces, reportDisagreements, reportNamesWhatIsLeft,
  snapshot, startDrain, waitKubeletsServing, type CliResult, type CliRun, type FaultContext, type Outcome, type WorkloadSpec,
} from './harness.js';
import { startFaultProxy, type FaultProxy } from './net-proxy.js';
import { DISRUPTED_POD_TIMEOUT_MS } from '../src/engine/plan/pdb.js';
import { ANNOTATION_DRAIN_LOCK } from '../src/engine/execute/drain-lock.js';

export interface ScenarioResult {
  fault: string;
  outcome: string;
  evictionsOutsideBudget: number;
  changesLeft: number;
  /** Drain time: the first run's wall time (plus the rerun's, for SIGKILL rows). */
  seconds: number;
  /** Drain time minus the fault-free reference drain of the same workloads, when comparable. */
  lostSeconds?: number;
  passed: boolean;
  /** What was seen: the fault's evidence, why it failed. */
  notes: string[];
  /** Set when the fault could not be produced: the scenario did not run (never a pass). */
  notRun?: string;
}

export interface Scenario {
  id: string;
  fault: string;
  run(ctx: FaultContext): Promise<ScenarioResult>;
}

const W1 = 'w1';
const W2 = 'w2';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): number => Math.round(ms / 100) / 10;

// ---- triggers: moments observed by the recorder ---------------------------------------------

const evictedIn = (ctx: FaultContext, ns: string, app?: string): number =>
  ctx.recorder.evictions.filter((e) => e.pod.startsWith(`${ns}/${app ?? ''}`)).length;

const raised = (ctx: FaultContext, ns: string, name: string, original: number): boolean => {
  const d = ctx.recorder.deployment(`${ns}/${name}`);
  return (d?.spec?.replicas ?? 0) > original || d?.metadata?.annotations?.['safe-drain.io/original-replicas'] !== undefined;
};

/** Evictions and a scale-up both in flight: the first eviction of `web` or the raise of `solo`, whichever first. */
const midDrain = (ctx: FaultContext, ns: string, timeoutMs = 60_000): Promise<boolean> =>
  ctx.recorder.until(() => evictedIn(ctx, ns, 'web') > 0 || raised(ctx, ns, 'solo', 1), timeoutMs);

const podsLeftOn = (ctx: FaultContext, ns: string, node: string): number =>
  ctx.recorder.podList().filter((p) => p.metadata?.namespace === ns && p.spec?.nodeName === node && !p.metadata?.deletionTimestamp).length;

// ---- the common run ---------------------------------------------------------------------------

interface DrainScenario {
  fault: string;
  namespaces: string[];
  setup(): Promise<void>;
  args: string[];
  kubeconfig?: string;
  boundMs: number;
  /** Runs alongside the drain: waits for its moment and injects the fault; returns evidence notes. */
  inject?(run: CliRun): Promise<string[]>;
  /** SIGKILL rows: run the drain once more after the first run ended. */
  rerun?: boolean;
  /** The rerun's hard bound (default boundMs). */
  rerunBoundMs?: number;
  allowed: Outcome[];
  /** Fault-free reference comparable: fill lostSeconds. */
  comparable?: boolean;
  /** The run whose report is compared with the cluster (default the last); two runs at once: the one that drained. */
  judged?(last: CliResult): Promise<CliResult>;
  /** Extra pass conditions (return failure notes). */
  extraChecks?(first: CliResult): Promise<string[]>;
  cleanup?(): Promise<void>;
}

async function runDrainScenario(ctx: FaultContext, s: DrainScenario): Promise<ScenarioResult> {
  const notes: string[] = [];
  let notRun: string | undefined;
  try {
    await s.setup();
    const before = await snapshot(ctx, s.namespaces);
    const inScope = (pod: string): boolean => s.namespaces.some((ns) => pod.startsWith(`${ns}/`));
    const v0 = ctx.recorder.violations.length;
    const o0 = ctx.recorder.otherBelowBudget.length;
    ctx.recorder.resetMaxReplicas();
    const args = [...s.args, '--kubeconfig', s.kubeconfig ?? ctx.kubeconfig];
    const run = startDrain(args, s.boundMs);
    const injected = (s.inject?.(run) ?? Promise.resolve([])).catch((err: unknown) => {
      notRun = `the fault could not be injected: ${(err as Error).message}`;
      return [] as string[];
    });
    const first = await run.done;
    notes.push(...(await injected));
    let last = first;
    let outcome: string = outcomeOf(first);
    let ms = first.ms;
    if (s.rerun) {
      // The fault is over: the rerun talks to the API server directly.
      const again = await startDrain([...s.args, '--kubeconfig', ctx.kubeconfig], s.rerunBoundMs ?? s.boundMs).done;
      last = again;
      ms += again.ms;
      outcome = `${outcome}, rerun ${outcomeOf(again)}`;
    }
    const changes = changesBetween(before, await snapshot(ctx, s.namespaces));
    const violations = ctx.recorder.violations.slice(v0).filter((v) => inScope(v.pod));
    const other = ctx.recorder.otherBelowBudget.slice(o0).filter((v) => inScope(v.pod));
    const disagreements = await reportDisagreements(ctx, (s.judged ? await s.judged(last) : last).report);
    const failures: string[] = [];
    const lastOutcome = outcomeOf(last);
    if (!(s.rerun ? lastOutcome === 'completed' : s.allowed.includes(lastOutcome))) {
      failures.push(`outcome ${lastOutcome} (allowed: ${s.rerun ? 'completed after the rerun' : s.allowed.join(', ')})`);
    }
    if (lastOutcome !== 'completed' && !reportNamesWhatIsLeft(last.report)) failures.push('the report does not name what is left');
    if (first.hung || last.hung) failures.push(`hung: still running at the hard bound of ${secs(s.boundMs)} s`);
    for (const v of violations) failures.push(`eviction outside budget: ${v.pod} left PDB ${v.pdb} at ${v.healthyAfter}/${v.desiredHealthy} healthy`);
    for (const c of changes) failures.push(`left behind: ${c}`);
    for (const d of disagreements) failures.push(`report vs cluster: ${d}`);
    if (last.report && last.code !== null && (last.code === 0) !== last.report.success) {
      failures.push(`exit code ${last.code} but the report says success ${last.report.success}`);
    }
    if (s.extraChecks) failures.push(...(await s.extraChecks(first)));
    for (const [d, max] of ctx.recorder.maxReplicas) {
      const was = before.get(`Deployment ${d} replicas`);
      if (was !== undefined && max > Number(was)) notes.push(`${d} raised to ${max} replicas during the run (was ${was})`);
    }
    for (const v of other) notes.push(`not an eviction (${v.cause}): ${v.pod} left PDB ${v.pdb} at ${v.healthyAfter}/${v.desiredHealthy}`);
    if (ctx.recorder.missed) notes.push(`recorder relisted ${ctx.recorder.missed} time(s) so far (gaps it cannot judge)`);
    saveLogs(s.fault, first, last);
    if (lastOutcome !== 'completed') {
      if (last.report?.error) notes.push(`report error: ${last.report.error}`);
      for (const n of last.report?.nodes ?? []) if (n.error) notes.push(`report ${n.node}: ${n.error}`);
    }
    if (failures.length) {
      notes.push(...failures);
      const tail = (r: CliResult): string => r.stderr.trim().split('\n').slice(-8).join('\n    ');
      notes.push(`exit ${first.code ?? first.signal}; stderr tail:\n    ${tail(first)}`);
      if (last !== first) notes.push(`rerun exit ${last.code ?? last.signal}; stderr tail:\n    ${tail(last)}`);
    }
    return {
      fault: s.fault,
      outcome: notRun ? 'not run' : outcome,
      evictionsOutsideBudget: violations.length,
      changesLeft: changes.length,
      seconds: secs(ms),
      ...(s.comparable && ctx.baselineSeconds !== undefined && { lostSeconds: Math.max(0, secs(ms) - ctx.baselineSeconds) }),
      passed: !notRun && failures.length === 0,
      notes,
      ...(notRun && { notRun }),
    };
  } catch (err) {
    return {
      fault: s.fault, outcome: 'not run', evictionsOutsideBudget: 0, changesLeft: 0, seconds: 0, passed: false,
      notes: [...notes, `scenario error: ${(err as Error).stack ?? String(err)}`], notRun: `scenario error: ${(err as Error).message}`,
    };
  } finally {
    await s.cleanup?.().catch((err: unknown) => ctx.log(`cleanup of "${s.fault}" failed: ${(err as Error).message}`));
    for (const n of ctx.cluster.nodes) await ctx.cluster.kubectl(['uncordon', n]).catch(() => undefined);
    // A run killed at its bound leaves its drain lock: the next scenario starts without it (this
    // one already counted it as left behind).
    for (const n of ctx.cluster.nodes) await ctx.cluster.kubectl(['annotate', 'node', n, `${ANNOTATION_DRAIN_LOCK}-`]).catch(() => undefined);
    // Waited out, so that no pod of this scenario is on a node the next one drains.
    await removeNamespaces(ctx, s.namespaces, true);
  }
}

/** The CLI's output of each run, for diagnosis: fault-results/logs/<fault>.log. */
function saveLogs(fault: string, first: CliResult, last: CliResult): void {
  const dir = join(REPO, 'fault-results', 'logs');
  mkdirSync(dir, { recursive: true });
  const runs = last === first ? [first] : [first, last];
  const text = runs.map((r, i) => `=== run ${i + 1}: exit ${r.code ?? r.signal}, ${r.ms} ms\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}\n`).join('\n');
  writeFileSync(join(dir, `${fault.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}.log`), text);
}

const drainArgs = (node = W1, extra: string[] = []): string[] => ['drain', '--node', node, ...extra];

function standard(id: string, fault: string, o: Partial<DrainScenario> & { workloads?: WorkloadSpec[] } = {}): Scenario {
  return {
    id,
    fault,
    run: (ctx) => {
      const ns = `${NS_PREFIX}${id}`;
      return runDrainScenario(ctx, {
        fault,
        namespaces: [ns],
        setup: () => place(ctx, W1, ns, o.workloads ?? STANDARD),
        args: drainArgs(),
        boundMs: 120_000,
        allowed: ['completed', 'failed with report'],
        comparable: true,
        ...o,
      });
    },
  };
}

// ---- 1. throttled API (APF) -------------------------------------------------------------------

/** Concurrent GETs as the drainer (same APF flow) until stopped or `maxMs`; counts the API server's 429s. */
function startLoad(
  ctx: FaultContext,
  ns: string,
  workers: number,
  maxMs: number,
): { throttled: () => number; stop: () => Promise<{ requests: number; throttled: number; retryAfter: boolean }> } {
  const server = new URL(ctx.cluster.apiServerUrl);
  const current = ctx.kc.getCurrentCluster()!;
  const ca = Buffer.from(current.caData!, 'base64').toString('utf8');
  const agent = new Agent({ keepAlive: true, maxSockets: workers, ca });
  let stopped = false;
  let requests = 0;
  let throttled = 0;
  let retryAfter = false;
  const deadline = Date.now() + maxMs;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const req = httpsRequest(
        { host: server.hostname, port: server.port, path: `/api/v1/namespaces/${ns}/pods`, agent, headers: { authorization: `Bearer ${ctx.token}` }, timeout: 10_000 },
        (res) => {
          requests++;
          if (res.statusCode === 429) {
            throttled++;
            if (res.headers['retry-after']) retryAfter = true;
          }
          res.resume();
          res.on('end', resolve);
          res.on('error', () => resolve());
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => setTimeout(resolve, 100));
      req.end();
    });
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped && Date.now() < deadline) await once();
  });
  return {
    throttled: () => throttled,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return { requests, throttled, retryAfter };
    },
  };
}

/** How long row 1 throttles the drainer. */
const THROTTLE_MS = 120_000;

const throttled: Scenario = {
  id: 'throttled',
  fault: '1 throttled API (APF 429)',
  run: (ctx) => {
    const ns = `${NS_PREFIX}throttled`;
    let load: ReturnType<typeof startLoad> | undefined;
    return runDrainScenario(ctx, {
      fault: '1 throttled API (APF 429)',
      namespaces: [ns],
      setup: async () => {
        await place(ctx, W1, ns, STANDARD);
        await throttleServiceAccount(ctx.cluster, DRAINER);
        // Give the API server a moment to pick up the new schema: probe until a 429 is seen.
        const probe = startLoad(ctx, ns, 16, 15_000);
        for (let i = 0; i < 60 && probe.throttled() === 0; i++) await sleep(250);
        const seen = await probe.stop();
        if (seen.throttled === 0) throw new Error(`APF did not throttle the drainer: 0 of ${seen.requests} probe requests got 429`);
      },
      // The load lasts THROTTLE_MS; a run that rides it out may still be asleep on the longest
      // Retry-After the client honours (30 s) when it ends, then drains: the bound allows both.
      boundMs: THROTTLE_MS + 30_000 + 60_000,
      inject: async (run) => {
        load = startLoad(ctx, ns, 16, THROTTLE_MS);
        const r = await run.done;
        const seen = await load.stop();
        load = undefined;
        const engineSaw = /\b429\b|too many requests/i.test(r.stderr);
        return [
          `load as the drainer: ${seen.requests} requests, ${seen.throttled} answered 429 by APF${seen.retryAfter ? ' (with Retry-After)' : ''}; ` +
            `the drain's own log ${engineSaw ? 'shows' : 'does not show'} 429s`,
        ];
      },
      cleanup: async () => {
        await load?.stop();
        await removeThrottle(ctx.cluster);
      },
      allowed: ['completed', 'failed with report'],
      args: drainArgs(),
      comparable: true,
    });
  },
};

// ---- 2. API server restarted mid-drain ----------------------------------------------------------

const apiRestart = standard('apirestart', '2 API server restarted mid-drain', {
  cleanup: () => waitKubeletsServing(currentCtx!),
  inject: async (run) => {
    const ns = `${NS_PREFIX}apirestart`;
    return injectAtMidDrain(run, ns, async (ctx) => {
      const t = await ctx.cluster.restartApiServer({ downMs: 3000 });
      return `kube-apiserver SIGTERMed (graceful shutdown ${secs(t.stopMs)} s), started 3 s later, ready again after ${secs(t.totalMs)} s in all`;
    });
  },
});

let currentCtx: FaultContext | undefined;
async function injectAtMidDrain(run: CliRun, ns: string, fault: (ctx: FaultContext) => Promise<string>): Promise<string[]> {
  const ctx = currentCtx!;
  const ok = await Promise.race([midDrain(ctx, ns), run.done.then(() => false)]);
  if (!ok) throw new Error('the drain ended (or never evicted/raised) before the fault could be injected mid-drain');
  return [await fault(ctx)];
}

// ---- 3. watches cut constantly, 410 Gone ----------------------------------------------------------

/** Writes a ConfigMap over and over: etcd's revision moves, so compaction makes old resourceVersions expire. */
function startChurn(ctx: FaultContext, ns: string): { stop: () => Promise<number> } {
  let stopped = false;
  let writes = 0;
  const loop = (async () => {
    await ctx.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'churn' }, data: { n: '0' } } }).catch(() => undefined);
    while (!stopped) {
      await ctx.core
        .patchNamespacedConfigMap({ namespace: ns, name: 'churn', body: [{ op: 'replace', path: '/data/n', value: String(++writes) }] })
        .catch(() => undefined);
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return writes;
    },
  };
}

/** Opens a watch from a resourceVersion taken `ageMs` ago and says whether the API server answered 410 Gone. */
async function probeGone(ctx: FaultContext, ns: string, ageMs: number): Promise<boolean> {
  const rv = (await ctx.core.listNamespacedConfigMap({ namespace: ns })).metadata?.resourceVersion ?? '';
  await sleep(ageMs);
  return new Promise((resolve) => {
    let gone = false;
    const timer = setTimeout(() => {
      void abort.then((a) => a.abort());
      resolve(gone);
    }, 5000);
    const abort = new Watch(ctx.kc).watch(
      `/api/v1/namespaces/${ns}/configmaps`,
      { resourceVersion: rv },
      (type: string, obj: { code?: number }) => {
        if (type === 'ERROR' && obj.code === 410) gone = true;
      },
      (err: unknown) => {
        if ((err as { statusCode?: number } | null)?.statusCode === 410) gone = true;
        clearTimeout(timer);
        resolve(gone);
      },
    );
  });
}

const WATCH_CUT_ARGS = ['--min-request-timeout=4', '--etcd-compaction-interval=3s', '--watch-cache=false'];

const watchesCut: Scenario = {
  id: 'watchcut',
  fault: '3 watches cut every 4 s + 410 Gone',
  run: (ctx) => {
    const ns = `${NS_PREFIX}watchcut`;
    const churnNs = `${NS_PREFIX}churn`;
    let proxy: FaultProxy | undefined;
    let churn: ReturnType<typeof startChurn> | undefined;
    const evidence: string[] = [];
    return runDrainScenario(ctx, {
      fault: '3 watches cut every 4 s + 410 Gone',
      namespaces: [ns, churnNs],
      setup: async () => {
        // Watches served from etcd (no watch cache) and compacted every 3 s: a watch resumed
        // from a resourceVersion a few seconds old is answered 410 Gone, as after a long outage.
        await ctx.cluster.restartApiServer({ extraArgs: WATCH_CUT_ARGS });
        await place(ctx, W1, ns, STANDARD);
        await ctx.core.createNamespace({ body: { metadata: { name: churnNs } } }).catch(() => undefined);
        churn = startChurn(ctx, churnNs);
        const gone = await probeGone(ctx, churnNs, 8000);
        evidence.push(`a watch resumed from an 8 s old resourceVersion: ${gone ? '410 Gone' : 'NOT 410 (not produced)'}`);
        if (!gone) throw new Error('the API server did not answer 410 Gone to a stale resourceVersion');
        const u = new URL(ctx.cluster.apiServerUrl);
        // Every connection (watch or request) is reset 4 s after it opened.
        proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) }, cutAfterMs: 4000 });
      },
      get kubeconfig() {
        return proxy ? ctx.kubeconfigVia(proxy.url, 'cut') : undefined;
      },
      args: drainArgs(),
      boundMs: 120_000,
      inject: async (run) => {
        const r = await run.done;
        const seen410 = /410|too old|expired|Gone/i.test(r.stderr);
        return [...evidence, `${proxy?.cuts ?? 0} connections cut by the proxy; the drain's own log ${seen410 ? 'shows' : 'does not show'} a 410/expired watch`];
      },
      allowed: ['completed', 'failed with report'],
      comparable: true,
      cleanup: async () => {
        await churn?.stop();
        await proxy?.close();
        await ctx.cluster.restartApiServer({ extraArgs: [] });
        await waitKubeletsServing(ctx);
      },
    });
  },
};

// ---- 4. etcd paused ----------------------------------------------------------------------------------

const etcdPaused = standard('etcdpause', '4 etcd paused 10 s mid-drain', {
  cleanup: () => waitKubeletsServing(currentCtx!),
  inject: (run) =>
    injectAtMidDrain(run, `${NS_PREFIX}etcdpause`, async (ctx) => {
      await ctx.cluster.pauseEtcd(10_000);
      return 'etcd SIGSTOPped for 10 s, then SIGCONT';
    }),
});

// ---- 5. node dies ----------------------------------------------------------------------------------

// The node goes NotReady 20 s after its kubelet stops (FAULT_CLUSTER); the engine waits at most
// 20 s for deletions a NotReady node cannot confirm. 90 s covers both with room to spare.
const nodeDies = standard('nodedies', '5a node dies mid-drain and stays dead', {
  boundMs: 90_000,
  inject: (run) =>
    injectAtMidDrain(run, `${NS_PREFIX}nodedies`, async (ctx) => {
      await ctx.cluster.stopKubelet(W1);
      return `kubelet of ${W1} stopped mid-drain (evictions/scale-up in flight); it stays down until the run ends`;
    }),
  cleanup: async () => {
    await currentCtx!.cluster.startKubelet(W1);
  },
});

const nodeReturns = standard('nodereturns', '5b node dies mid-drain, back after 30 s', {
  // The fault ends when the kubelet is back (30 s); the drain then has 60 s to finish.
  boundMs: 100_000,
  inject: (run) =>
    injectAtMidDrain(run, `${NS_PREFIX}nodereturns`, async (ctx) => {
      await ctx.cluster.stopKubelet(W1);
      await Promise.race([sleep(30_000), run.done]);
      await ctx.cluster.startKubelet(W1);
      return `kubelet of ${W1} stopped mid-drain, started again 30 s later`;
    }),
  cleanup: async () => {
    await currentCtx!.cluster.startKubelet(W1);
  },
});

// ---- 6. PDB deleted / selector changed while pods wait on it -------------------------------------

/** Pass conditions of a PDB-change row beyond the standard ones (failure notes). */
type PdbChangeCheck = (ctx: FaultContext, ns: string, changedAt: number, first: CliResult) => Promise<string[]> | string[];

/** The waiting pods must go once the budget no longer guards them, not when the replacement is Ready (6 s). */
const evictedPromptly: PdbChangeCheck = (ctx, ns, changedAt) => {
  const evictions = ctx.recorder.evictions.filter((e) => e.pod.startsWith(`${ns}/`));
  const lastAt = Math.max(...evictions.map((e) => e.at));
  return evictions.length >= 3 && lastAt - changedAt < 4000
    ? []
    : [`the waiting pods were not evicted promptly after the PDB change (${evictions.length} evictions, last ${secs(lastAt - changedAt)} s after it)`];
};

function pdbChange(id: string, fault: string, change: (ctx: FaultContext, ns: string) => Promise<void>, check: PdbChangeCheck = evictedPromptly, allowed: Outcome[] = ['completed', 'failed with report']): Scenario {
  const ns = `${NS_PREFIX}${id}`;
  let changedAt = 0;
  return standard(id, fault, {
    // Replacements Ready only 6 s after they start: after the first eviction the other two wait on the budget.
    workloads: [{ name: 'web', replicas: 3, readyDelay: '6s', pdb: { maxUnavailable: 1 } }],
    comparable: false,
    boundMs: 60_000,
    allowed,
    inject: async (run) => {
      const ctx = currentCtx!;
      const ok = await Promise.race([ctx.recorder.until(() => evictedIn(ctx, ns, 'web') > 0, 30_000), run.done.then(() => false)]);
      if (!ok) throw new Error('no first eviction: nothing waited on the budget');
      await sleep(1000); // the others are now waiting on the budget (the replacement needs 6 s)
      await change(ctx, ns);
      changedAt = Date.now();
      await run.done;
      return [`PDB changed ${secs(changedAt - run.startedAt)} s into the run`];
    },
    extraChecks: async (first) => check(currentCtx!, ns, changedAt, first),
  });
}

const pdbDeleted = pdbChange('pdbdeleted', '6a PDB deleted while pods wait on it', async (ctx, ns) => {
  await ctx.policy.deleteNamespacedPodDisruptionBudget({ namespace: ns, name: 'web' });
});

const pdbSelector = pdbChange('pdbselector', '6b PDB selector changed while pods wait on it', async (ctx, ns) => {
  await ctx.policy.patchNamespacedPodDisruptionBudget({
    namespace: ns,
    name: 'web',
    body: [{ op: 'replace', path: '/spec/selector', value: { matchLabels: { app: 'nothing-here' } } }],
  });
});

// minAvailable 3 of 3 can never allow an eviction by itself: the waiting pods are migrated
// (replacement first) instead of waiting until the timeout.
const pdbTightened = pdbChange(
  'pdbtightened',
  '6c PDB tightened to minAvailable 3 of 3 while pods wait on it',
  async (ctx, ns) => {
    await ctx.policy.patchNamespacedPodDisruptionBudget({
      namespace: ns,
      name: 'web',
      body: [
        { op: 'remove', path: '/spec/maxUnavailable' },
        { op: 'add', path: '/spec/minAvailable', value: 3 },
      ],
    });
  },
  (_ctx, _ns, _changedAt, first) => {
    const node = first.report?.nodes.find((n) => n.node === W1);
    const migrated = node?.results.filter((r) => r.outcome === 'migrated').length ?? 0;
    const switched = node?.timeline.filter((t) => t.message.startsWith('migrate instead:')).length ?? 0;
    return migrated > 0 && switched > 0 ? [] : [`the waiting pods were not migrated after the PDB change (${migrated} migrated, ${switched} waits given up)`];
  },
  ['completed'],
);

// ---- 7. two drains at once -----------------------------------------------------------------------

const twoDrains: Scenario = {
  id: 'twodrains',
  fault: '7 two drains of the same node at once',
  run: (ctx) => {
    const ns = `${NS_PREFIX}twodrains`;
    let second: Promise<CliResult> | undefined;
    return runDrainScenario(ctx, {
      fault: '7 two drains of the same node at once',
      namespaces: [ns],
      setup: () => place(ctx, W1, ns, STANDARD),
      args: drainArgs(),
      boundMs: 120_000,
      inject: async () => {
        second = startDrain([...drainArgs(), '--kubeconfig', ctx.kubeconfig], 120_000).done;
        const r = await second;
        const errors = [r.report?.error, ...(r.report?.nodes ?? []).map((n) => n.error && `${n.node}: ${n.error}`)].filter(Boolean);
        return [`second run: ${outcomeOf(r)} (exit ${r.code ?? r.signal})${errors.length ? `: ${errors.join('; ')}` : ''}`];
      },
      allowed: ['completed', 'failed with report'],
      // The run refused by the other's lock changed nothing: its report says so, not how the winner left the node.
      judged: async (first) => (outcomeOf(first) === 'completed' ? first : await second!),
      extraChecks: async (first) => {
        const out: string[] = [];
        const r = await second!;
        const o = outcomeOf(r);
        if (!['completed', 'failed with report'].includes(o)) out.push(`second run: ${o}`);
        if (o !== 'completed' && !reportNamesWhatIsLeft(r.report)) out.push('second run: report does not name what is left');
        // One clear outcome each: a run that did not complete was refused by the other's drain lock, and says whose.
        if (outcomeOf(first) !== 'completed' && o !== 'completed') out.push('neither run completed');
        for (const [which, run] of [['first', first], ['second', r]] as const) {
          const text = JSON.stringify(run.report?.nodes.map((n) => n.error) ?? []);
          if (outcomeOf(run) !== 'completed' && !/holds its drain lock \(host \S+, pid \d+/.test(text)) out.push(`${which} run failed, but not on the other's drain lock: ${text}`);
        }
        // One scale-up only: solo had 1 replica and 1 pod on the node.
        const max = ctx.recorder.maxReplicas.get(`${ns}/solo`) ?? 0;
        if (max > 2) out.push(`double surge: ${ns}/solo reached ${max} replicas (1 + 1 expected at most)`);
        if ((ctx.recorder.maxReplicas.get(`${ns}/web`) ?? 0) > 3) out.push(`${ns}/web was scaled up`);
        return out;
      },
    });
  },
};

// ---- 8. the runner dies --------------------------------------------------------------------------

type Phase = 'permission check' | 'plan' | 'cordon' | 'scale-up' | 'budget wait' | 'between nodes';
const PHASES: Phase[] = ['permission check', 'plan', 'cordon', 'scale-up', 'budget wait', 'between nodes'];

function runnerDies(phase: Phase, signal: 'SIGTERM' | 'SIGKILL'): Scenario {
  const id = `kill-${signal === 'SIGTERM' ? 'term' : 'kill'}-${phase.replace(/[^a-z]+/g, '')}`;
  const fault = `8 runner ${signal === 'SIGTERM' ? 'SIGTERM (+KILL 10 s)' : 'SIGKILL + rerun'}: ${phase}`;
  return {
    id,
    fault,
    run: (ctx) => {
      const ns = `${NS_PREFIX}${id}`;
      const selector = phase === 'between nodes';
      let proxy: FaultProxy | undefined;
      let killedAt = '';
      return runDrainScenario(ctx, {
        fault,
        namespaces: [ns],
        setup: async () => {
          if (selector) {
            for (const n of [W1, W2]) await ctx.cluster.kubectl(['label', 'node', n, `${NS_PREFIX}pool=${id}`, '--overwrite']);
            await place(ctx, [W1, W2], ns, [
              { name: 'web', replicas: 4, readyDelay: '1s', pdb: { maxUnavailable: 1 } },
              { name: 'solo', replicas: 1, recreate: true, readyDelay: '1s', pdb: { minAvailable: 1 } },
            ]);
            await ctx.recorder.until(() => podsLeftOn(ctx, ns, W1) > 0 && podsLeftOn(ctx, ns, W2) > 0, 5000);
            if (podsLeftOn(ctx, ns, W1) === 0 || podsLeftOn(ctx, ns, W2) === 0) throw new Error(`the scheduler put every pod of ${ns} on one node: no "between nodes" moment`);
          } else {
            await place(ctx, W1, ns, STANDARD);
          }
          if (phase === 'permission check') {
            // The permission check is the first thing the CLI says to the API server: seen as the first connection.
            const u = new URL(ctx.cluster.apiServerUrl);
            proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) }, delayMs: 300 });
          }
        },
        get kubeconfig() {
          return proxy ? ctx.kubeconfigVia(proxy.url, 'permission') : undefined;
        },
        args: selector ? ['drain', '--selector', `${NS_PREFIX}pool=${id}`] : drainArgs(),
        boundMs: 90_000,
        rerun: signal === 'SIGKILL',
        // A SIGKILL during an eviction request can leave the budget spent without the pod
        // deleted (the API server cancels the request between its budget update and the delete);
        // the disruption controller holds that for up to 2 minutes, and no eviction can pass
        // before. The rerun waits it out, saying why (seen 2026-12-06 after the cordon).
        rerunBoundMs: 90_000 + DISRUPTED_POD_TIMEOUT_MS,
        allowed: ['cancelled with report', 'failed with report', 'completed'],
        inject: async (run) => {
          let reached: Promise<boolean>;
          switch (phase) {
            case 'permission check':
              reached = new Promise((resolve) => proxy!.onConnection(() => resolve(true)));
              break;
            case 'plan':
              reached = run.line(/permissions for "drain" verified/);
              break;
            case 'cordon':
              reached = ctx.recorder.until(() => ctx.recorder.node(W1)?.spec?.unschedulable === true, 60_000);
              break;
            case 'scale-up':
              reached = ctx.recorder.until(() => raised(ctx, ns, 'solo', 1), 60_000);
              break;
            case 'budget wait':
              // One web pod evicted, its replacement needs 2 s: the other two wait on maxUnavailable 1.
              reached = ctx.recorder.until(() => evictedIn(ctx, ns, 'web') === 1, 60_000);
              break;
            case 'between nodes':
              reached = ctx.recorder.until(() => (podsLeftOn(ctx, ns, W1) === 0) !== (podsLeftOn(ctx, ns, W2) === 0), 60_000);
              break;
          }
          const ok = await Promise.race([reached, run.done.then(() => false)]);
          if (!ok) throw new Error(`the run ended before reaching the ${phase} phase`);
          killedAt = `${secs(Date.now() - run.startedAt)} s`;
          run.kill(signal);
          const r = await run.done;
          const notes = [`${signal} at ${killedAt} (${phase})`];
          if (signal === 'SIGTERM' && r.signal === 'SIGKILL') notes.push('did not exit within the 10 s grace: SIGKILLed');
          return notes;
        },
        extraChecks: async (first) =>
          signal === 'SIGTERM' && first.signal === 'SIGKILL' ? ['did not stop within the runner\'s 10 s grace after SIGTERM'] : [],
        cleanup: async () => {
          await proxy?.close();
          if (selector) for (const n of [W1, W2]) await ctx.cluster.kubectl(['label', 'node', n, `${NS_PREFIX}pool-`]).catch(() => undefined);
        },
      });
    },
  };
}

// ---- 9. slow API ---------------------------------------------------------------------------------------

const slowApi: Scenario = {
  id: 'slow',
  fault: '9 slow API (1 s per response chunk), timeout 15s',
  run: (ctx) => {
    const ns = `${NS_PREFIX}slow`;
    let proxy: FaultProxy | undefined;
    return runDrainScenario(ctx, {
      fault: '9 slow API (1 s per response chunk), timeout 15s',
      namespaces: [ns],
      setup: async () => {
        await place(ctx, W1, ns, STANDARD);
        const u = new URL(ctx.cluster.apiServerUrl);
        proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) }, delayMs: 1000 });
      },
      get kubeconfig() {
        return proxy ? ctx.kubeconfigVia(proxy.url, 'slow') : undefined;
      },
      args: drainArgs(W1, ['--timeout', '15s']),
      // The timeout (15 s) plus the restore and the report over a slow API.
      boundMs: 90_000,
      inject: async (run) => {
        await run.done;
        return [`${proxy?.connections ?? 0} connections through the 1 s delay`];
      },
      // The timeout bounds the run: 15 s, plus 30 s to restore a scale-up and report over this API (~10 requests of ~3 s).
      extraChecks: async (first) => (first.ms > 45_000 ? [`--timeout 15s, yet the run took ${secs(first.ms)} s`] : []),
      allowed: ['completed', 'failed with report'],
      comparable: true,
      cleanup: async () => {
        await proxy?.close();
      },
    });
  },
};

// ---- the matrix ------------------------------------------------------------------------------------------

const baseline = standard('baseline', '0 no fault (reference)', { allowed: ['completed'] });

export const SCENARIOS: Scenario[] = [
  baseline,
  throttled,
  apiRestart,
  watchesCut,
  etcdPaused,
  nodeDies,
  nodeReturns,
  pdbDeleted,
  pdbSelector,
  pdbTightened,
  twoDrains,
  ...PHASES.flatMap((p) => [runnerDies(p, 'SIGTERM'), runnerDies(p, 'SIGKILL')]),
  slowApi,
];

/**
 * The test file that runs a scenario (test/integration/faults-<family>.test.ts): one control plane
 * and one jest worker per family, so the matrix runs on as many workers as it has families.
 */
export const FAULT_FAMILIES = ['api', 'nodes-pdbs', 'runner-sigterm', 'runner-sigkill'] as const;
export type FaultFamily = (typeof FAULT_FAMILIES)[number];

export function faultFamily(s: Scenario): FaultFamily {
  if (s.id.startsWith('kill-term-')) return 'runner-sigterm';
  if (s.id.startsWith('kill-kill-')) return 'runner-sigkill';
  // Rows 5 (a node dies), 6 (the PDB changes) and 7 (two drains); the rest are API server faults.
  return /^[567]/.test(s.fault) ? 'nodes-pdbs' : 'api';
}

/** Runs one scenario; the baseline's time becomes the reference of the later ones. */
export async function runScenario(ctx: FaultContext, s: Scenario): Promise<ScenarioResult> {
  currentCtx = ctx;
  const r = await s.run(ctx);
  if (s.id === 'baseline' && r.passed) ctx.baselineSeconds = r.seconds;
  return r;
}

/**
 * The recorder's negative control: a Ready pod of a PDB at its minimum is marked as the eviction
 * API marks it (DisruptionTarget, EvictionByEvictionAPI) and deleted directly, past the budget.
 * The recorder must count exactly that one eviction outside budget; otherwise its zeros in the
 * matrix mean nothing. Returns what went wrong (empty when it counted it).
 */
export async function recorderSelfCheck(ctx: FaultContext): Promise<string[]> {
  const ns = `${NS_PREFIX}selfcheck`;
  try {
    await place(ctx, W1, ns, [{ name: 'web', replicas: 2, pdb: { minAvailable: 2 } }]);
    const v0 = ctx.recorder.violations.length;
    const pod = (await ctx.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items[0]!;
    const name = pod.metadata!.name!;
    const condition = { type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'fault matrix self-check', lastTransitionTime: new Date() };
    await ctx.core.patchNamespacedPodStatus({ namespace: ns, name, body: [{ op: 'add', path: '/status/conditions/-', value: condition }] });
    await ctx.core.deleteNamespacedPod({ namespace: ns, name });
    await ctx.recorder.until(() => ctx.recorder.violations.length > v0, 10_000);
    const seen = ctx.recorder.violations.slice(v0).filter((v) => v.pod.startsWith(`${ns}/`));
    return seen.length === 1 && seen[0]!.pod === `${ns}/${name}`
      ? []
      : [`the recorder counted ${seen.length} evictions outside budget for one forced past PDB ${ns}/web (expected exactly 1: ${ns}/${name})`];
  } finally {
    // Waited out: its pods sit on w1, which the next scenario drains.
    await removeNamespaces(ctx, [ns], true);
  }
}

// `npm run e2e`: the three migration paths on one backend (E2E_BACKEND=local|kind, or
// --backend), a timeline per scenario (JSON and markdown with a chart) and a closing table.
// Writes e2e-results/summary.json: one object per scenario, in the order a, b, c.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { samplesWithin } from './availability.js';
import type { ClusterBackend } from './backend.js';
import { renderScenarioMarkdown, renderSummaryTable } from './render.js';
import { makeContext, scenarioKubeletStop, scenarioPlainDrain, scenarioSafeDrain, type ScenarioResult } from './scenarios.js';

const OUT = process.env.E2E_RESULTS ?? 'e2e-results';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function startBackend(name: string): Promise<ClusterBackend | undefined> {
  if (name === 'local') {
    const { startLocalBackend } = await import('./backends/local.js');
    return startLocalBackend();
  }
  if (name === 'kind') {
    const { kindAvailability } = await import('./backends/kind-detect.js');
    const available = await kindAvailability();
    if (!available.ok) {
      const line = '!'.repeat(100);
      console.error(`${line}\n!! E2E SKIPPED (kind backend): ${available.reason}\n!! Nothing was tested; this is not a pass.\n${line}`);
      return undefined;
    }
    const { startKindBackend } = await import('./backends/kind.js');
    return startKindBackend({ kubernetesVersion: process.env.KIND_NODE_VERSION });
  }
  if (name === 'real-nodes') {
    // Real kubelets, containerd and kube-proxy in Docker containers; real HTTP probes.
    const { startRealNodesBackend } = await import('./backends/real-nodes.js');
    return startRealNodesBackend({ nodes: process.env.E2E_NODES ? Number(process.env.E2E_NODES) : undefined });
  }
  throw new Error(`unknown e2e backend "${name}": use local, kind or real-nodes`);
}

async function main(): Promise<number> {
  const backendName = arg('backend') ?? process.env.E2E_BACKEND ?? 'local';
  const only = (arg('scenarios') ?? process.env.E2E_SCENARIOS ?? 'a,b,c').split(',').map((s) => s.trim());
  mkdirSync(OUT, { recursive: true });
  const log = (m: string) => console.log(m);
  log(`e2e: backend ${backendName}, scenarios ${only.join(',')}`);
  const backend = await startBackend(backendName);
  if (!backend) {
    writeFileSync(join(OUT, 'summary.json'), JSON.stringify({ skipped: true, backend: backendName }, null, 2));
    return 3;
  }
  const results: ScenarioResult[] = [];
  const stopOnSignal = () => void backend.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  try {
    const ctx = makeContext(backend, log);
    const scenarios = [
      ['a', scenarioKubeletStop],
      ['b', scenarioPlainDrain],
      ['c', scenarioSafeDrain],
    ] as const;
    for (const [id, run] of scenarios) {
      if (!only.includes(id)) continue;
      log(`\n== scenario ${id}`);
      const r = await run(ctx);
      results.push(r);
      for (const c of r.checks) log(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
      writeFileSync(join(OUT, `${r.scenario}.json`), JSON.stringify(r, null, 2));
      writeFileSync(join(OUT, `${r.scenario}.md`), renderScenarioMarkdown(r, backend.name));
    }
  } finally {
    await backend.stop();
  }
  writeFileSync(
    join(OUT, 'summary.json'),
    JSON.stringify(
      results.map((r) => ({
        scenario: r.scenario,
        downtimeSeconds: r.downtimeSeconds,
        // b and c: safe-drain's own figure for the app's Service, beside the oracle's.
        ...(r.safeDrainAvailability ? { safeDrainReportedDowntimeSeconds: r.safeDrainAvailability.downtimeSeconds } : {}),
        // HTTP-probing backends: every sample is one real request (within the scenario's window).
        // The local backend's samples are EndpointSlice changes, not requests.
        ...(backend.name === 'local' ? {} : requestCounts(r)),
        events: r.events,
        passed: r.passed,
      })),
      null,
      2,
    ),
  );
  const table = renderSummaryTable(results, backend.name);
  writeFileSync(join(OUT, 'summary.md'), table);
  log(`\n${table}`);
  const passed = results.filter((r) => r.passed).length;
  log(`e2e: ${passed} passed, ${results.length - passed} failed`);
  return passed === results.length ? 0 : 1;
}

function requestCounts(r: ScenarioResult): { requestsSent: number; requestsFailed: number } {
  const inWindow = samplesWithin(r.samples, r.window);
  return { requestsSent: inWindow.length, requestsFailed: inWindow.filter((s) => !s.available).length };
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`e2e failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);

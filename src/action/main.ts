// The GitHub Action shell: inputs → parseOptions → runSafeDrain → outputs, job summary and
// annotations. All drain logic lives in the engine; this file only adapts it to Actions.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { cancelOnSignals, type Cancellation } from '../engine/cancel.js';
import { bestKnownOptions, parseOptions } from '../engine/options.js';
import { failedRunReport, NOTHING_CHANGED, stoppedBeforeAnyChange } from '../engine/report/failed-run.js';
import { computeOutputs } from '../engine/report/outputs.js';
import { renderSummary } from '../engine/report/markdown.js';
import { runSafeDrain } from '../engine/run.js';
import { InputError, type DrainOptions, type Logger, type RunReport } from '../engine/types.js';
import { commentOnPullRequest, commentRequested } from './comment.js';

/**
 * Publishes outputs, the job summary and the report file on every path: a refused input, a
 * missing permission, an unreachable cluster and an error escaping the engine get a report
 * (success false, the error, and whether anything was changed) like a finished run does.
 */
export async function run(): Promise<void> {
  const started = Date.now();
  const cancellation = listenForCancellation();
  const input = (name: string) => core.getInput(name);
  let kubeconfig: KubeconfigFile | undefined;
  let options: DrainOptions | undefined;
  let report: RunReport;
  let failure: string | undefined;
  let comment = false;
  try {
    options = parseOptions(input);
    comment = commentRequested(core.getInput('comment'));
    kubeconfig = writeKubeconfig(core.getInput('kubeconfig'));
    const context = core.getInput('context').trim();
    // Saved before the run: if this step is killed, the post step knows the drain locks it left.
    const lockHolder = randomUUID();
    core.saveState(LOCK_HOLDER_STATE, lockHolder);
    report = await runSafeDrain(options, {
      lockHolder,
      ...(kubeconfig && { kubeconfigPath: kubeconfig.path }),
      ...(context && { context }),
      shell: 'action',
      logger: actionsLogger(),
      origin: workflowRunOrigin(),
      signal: cancellation.signal,
    });
    if (!report.success) failure = failureMessage(report);
  } catch (err) {
    report = failedRunReport({ options: options ?? bestKnownOptions(input), error: err, startedAt: started });
    failure = err instanceof InputError ? err.message : `safe-drain failed: ${report.error}`;
    if (stoppedBeforeAnyChange(err) && !failure.includes(NOTHING_CHANGED)) failure += ` ${NOTHING_CHANGED}.`;
  } finally {
    kubeconfig?.remove();
    cancellation.dispose();
  }
  await publish(report);
  if (comment) await commentOnPullRequest(report, core.getInput('github-token'));
  if (failure !== undefined) core.setFailed(failure);
}

/** Step state: the id of this step's drain locks (engine/execute/drain-lock.ts), for the post step. */
export const LOCK_HOLDER_STATE = 'drain-lock-holder';

// --- kubeconfig --------------------------------------------------------------------------------

export interface KubeconfigFile {
  path: string;
  remove(): void;
}

/**
 * The `kubeconfig` input holds the YAML itself or its base64 (as secrets often store it). It is
 * masked in every form it may be printed in, written to a 0600 file in a private directory, and
 * removed when the step ends. Empty input: the engine falls back to KUBECONFIG / ~/.kube/config.
 */
export function writeKubeconfig(input: string): KubeconfigFile | undefined {
  const raw = input.trim();
  if (raw === '') return undefined;
  core.setSecret(raw); // before decoding, which may fail
  const yaml = decodeKubeconfig(raw);
  // Also mask the other forms it could be printed in: as YAML, as (unwrapped) base64.
  const forms = new Set([yaml, Buffer.from(yaml).toString('base64'), raw.replace(/\s+/g, '')]);
  forms.delete(raw);
  for (const form of forms) core.setSecret(form);
  maskCredentialValues(yaml);
  const dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'safe-drain-'));
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, yaml, { mode: 0o600, flag: 'wx' });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** YAML always contains ':'; base64 never does. */
function decodeKubeconfig(raw: string): string {
  if (raw.includes(':')) return raw;
  if (!/^[A-Za-z0-9+/=_\-\s]+$/.test(raw)) {
    throw new InputError('kubeconfig', 'is neither kubeconfig YAML nor base64', 'Pass the kubeconfig file content, or `base64 -w0` of it.');
  }
  const decoded = Buffer.from(raw.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (!decoded.includes(':')) {
    throw new InputError('kubeconfig', 'looks like base64 but does not decode to kubeconfig YAML', 'Pass the kubeconfig file content, or `base64 -w0` of it.');
  }
  return decoded;
}

const CREDENTIAL_KEYS = /^\s*-?\s*(token|password|client-key-data|client-certificate-data|id-token|refresh-token|client-secret|access-token)\s*:\s*["']?([^"'\s]+)/;

/** The runner may not mask a multi-line secret line by line, so mask each credential value too. */
function maskCredentialValues(yaml: string): void {
  for (const line of yaml.split('\n')) {
    const value = CREDENTIAL_KEYS.exec(line)?.[2];
    if (value && value.length >= 8) core.setSecret(value);
  }
}

// --- logging, origin, cancellation ----------------------------------------------------------------

export function actionsLogger(): Logger {
  // Actions cannot nest log groups: an inner group becomes a plain line inside the outer one.
  let openGroups = 0;
  return {
    info: (message) => core.info(message),
    warn: (message, where) => core.warning(message, { title: annotationTitle(where) }),
    error: (message, where) => core.error(message, { title: annotationTitle(where) }),
    debug: (message) => core.debug(message),
    async group(name, fn) {
      if (openGroups > 0) {
        core.info(`-- ${name}`);
        return fn();
      }
      openGroups++;
      try {
        return await core.group(name, fn);
      } finally {
        openGroups--;
      }
    },
  };
}

function annotationTitle(where: { node?: string; pod?: string } | undefined): string {
  const subjects = [where?.node && `node ${where.node}`, where?.pod && `pod ${where.pod}`].filter(Boolean);
  return subjects.length > 0 ? `safe-drain: ${subjects.join(', ')}` : 'safe-drain';
}

/** Names this workflow run in the Kubernetes Events safe-drain records on the node. */
export function workflowRunOrigin(env: NodeJS.ProcessEnv = process.env): string {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT, GITHUB_WORKFLOW, GITHUB_JOB } = env;
  if (!GITHUB_REPOSITORY || !GITHUB_RUN_ID) return 'safe-drain GitHub Action';
  const attempt = GITHUB_RUN_ATTEMPT && GITHUB_RUN_ATTEMPT !== '1' ? `/attempts/${GITHUB_RUN_ATTEMPT}` : '';
  const url = `${GITHUB_SERVER_URL || 'https://github.com'}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}${attempt}`;
  const names = [GITHUB_WORKFLOW && `workflow "${GITHUB_WORKFLOW}"`, GITHUB_JOB && `job "${GITHUB_JOB}"`].filter(Boolean);
  return names.length > 0 ? `${url} (${names.join(', ')})` : url;
}

/**
 * A cancelled workflow run gets SIGINT, then SIGTERM a few seconds later. Either one aborts the
 * engine, which then stops evicting and restores what it changed; the handlers stay installed
 * so that the second signal does not kill the process in the middle of that cleanup.
 */
function listenForCancellation(): Cancellation {
  return cancelOnSignals((name, alreadyCancelled) => {
    if (!alreadyCancelled) core.warning(`Received ${name}: cancelling the drain and cleaning up.`, { title: 'safe-drain cancelled' });
  });
}

// --- results -----------------------------------------------------------------------------------

/** Never throws: a report that cannot be written is warned about, and the other parts still go out. */
async function publish(report: RunReport): Promise<void> {
  const outputs = computeOutputs(report);
  core.setOutput('outcome', report.outcome);
  core.setOutput('warnings', JSON.stringify(report.warnings ?? []));
  core.setOutput('evicted', JSON.stringify(outputs.evicted));
  core.setOutput('skipped', JSON.stringify(outputs.skipped));
  core.setOutput('blocked', JSON.stringify(outputs.blocked));
  core.setOutput('duration-seconds', String(outputs.durationSeconds));
  core.setOutput('availability', outputs.availability ? JSON.stringify(outputs.availability) : '');
  const summary = renderSummary(report);
  try {
    core.setOutput('report', writeReportFile(report, summary));
  } catch (err) {
    core.warning(`Could not write the report file: ${errorText(err)}`);
  }
  try {
    await core.summary.addRaw(summary).write();
  } catch (err) {
    // No GITHUB_STEP_SUMMARY (e.g. act, or a self-hosted runner without it): not a drain failure.
    core.warning(`Could not write the job summary: ${errorText(err)}`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** report.json, and beside it summary.md: the job summary, readable by later steps and artifacts. */
function writeReportFile(report: RunReport, summary: string): string {
  const dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'safe-drain-report-'));
  const path = join(dir, 'report.json');
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'summary.md'), summary);
  return path;
}

function failureMessage(report: RunReport): string {
  const errors = report.nodes.filter((n) => n.error).map((n) => `${n.node}: ${n.error}`);
  const gate = report.availability?.failures.length ? ` Availability gate failed: ${report.availability.failures.join('; ')}.` : '';
  return `safe-drain ${report.options.operation} failed${errors.length > 0 ? ` (${errors.join('; ')})` : ''}.${gate} ${report.summary}`;
}

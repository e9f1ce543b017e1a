// The opt-in pull-request comment (`comment: true`): one comment per workflow job on the pull
// request, created on the first run and updated on every later one (found by a hidden marker),
// with the plan and the availability verdict. Only for pull_request events; commenting never
// changes the drain's outcome: a failure to comment is a warning.
import * as core from '@actions/core';
import * as github from '@actions/github';
import { renderPullRequestComment } from '../engine/report/comment.js';
import { InputError, type RunReport } from '../engine/types.js';

const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target'];
/** Bound on all the requests of one comment: a GitHub API that does not answer does not hold the job. */
const COMMENT_TIMEOUT_MS = 30_000;

/** The `comment` input; parsed with the others, before any change. */
export function commentRequested(text: string): boolean {
  const word = text.trim().toLowerCase();
  if (['', 'false', 'no', '0'].includes(word)) return false;
  if (['true', 'yes', '1'].includes(word)) return true;
  throw new InputError('comment', `"${text}" is not a boolean`, 'Use true or false.');
}

type Octokit = ReturnType<typeof github.getOctokit>;

interface IssueRef {
  owner: string;
  repo: string;
  issue_number: number;
}

/** Comments on the run's pull request; never throws. */
export async function commentOnPullRequest(report: RunReport, token: string): Promise<void> {
  const { context } = github;
  if (!PULL_REQUEST_EVENTS.includes(context.eventName)) {
    core.info(`comment: true, but this run is for a "${context.eventName || 'unknown'}" event, not a pull request: nothing to comment on.`);
    return;
  }
  const number = context.payload.pull_request?.number;
  if (typeof number !== 'number') {
    core.warning(`comment: true, but the ${context.eventName} event names no pull request: no comment written.`);
    return;
  }
  if (!token.trim()) {
    core.warning(`comment: true, but github-token is empty: no comment on pull request #${number}. Leave github-token at its default (\${{ github.token }}).`);
    return;
  }
  try {
    const marker = `<!-- safe-drain comment: ${context.workflow}/${context.job} -->`;
    const runUrl = context.runId ? `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}/actions/runs/${context.runId}` : undefined;
    const body = renderPullRequestComment(report, { marker, ...(runUrl && { runUrl }) });
    const octokit = github.getOctokit(token, { request: { signal: AbortSignal.timeout(COMMENT_TIMEOUT_MS) } });
    const { url, created } = await upsertComment(octokit, { ...context.repo, issue_number: number }, marker, body);
    core.info(`${created ? 'Commented on' : 'Updated the comment on'} pull request #${number}: ${url}`);
  } catch (err) {
    core.warning(`Could not comment on pull request #${number}: ${describeFailure(err)} The drain's outcome is unchanged.`, { title: 'safe-drain comment' });
  }
}

/** Updates the comment carrying `marker`, or creates it: one comment per workflow job, however many runs. */
async function upsertComment(octokit: Octokit, issue: IssueRef, marker: string, body: string): Promise<{ url: string; created: boolean }> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...issue, per_page: 100 });
  const mine = comments.find((c) => c.body?.includes(marker));
  if (mine) {
    const { data } = await octokit.rest.issues.updateComment({ owner: issue.owner, repo: issue.repo, comment_id: mine.id, body });
    return { url: data.html_url, created: false };
  }
  const { data } = await octokit.rest.issues.createComment({ ...issue, body });
  return { url: data.html_url, created: true };
}

function describeFailure(err: unknown): string {
  const status = (err as { status?: unknown }).status;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 403 || status === 404) {
    return `${status} ${message}. The token needs \`pull-requests: write\` (the workflow's \`permissions:\`); a pull request from a fork gets a read-only GITHUB_TOKEN.`;
  }
  return `${typeof status === 'number' ? `${status} ` : ''}${message}.`;
}

// The Action's pull-request comment (`comment: true`), from the bundled Action (dist/index.js)
// run as the runner runs it, against a local HTTP server on loopback that plays the GitHub REST
// endpoints it calls (GITHUB_API_URL points at it): list the pull request's comments, create
// one, update it. The plan is real, on the local control plane.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runActionStep } from './action-step.js';
import { bundleDir } from '../bundle.js';
import { FakeGitHub, runnerEnv, type FakeComment } from './fake-github.js';
import { useCluster } from './support.js';

const tc = useCluster({ nodes: 2 });

const github = new FakeGitHub();
let apiUrl: string;
let bundle: ReturnType<typeof bundleDir> | undefined;
let dist: string;

beforeAll(async () => {
  apiUrl = await github.start();
  bundle = bundleDir();
  dist = bundle.dir;
}, 300_000);
afterAll(async () => {
  await github.stop();
  bundle?.remove();
});
beforeEach(() => {
  github.requests.length = 0;
  github.failWith = undefined;
});

function planStep(eventName: string, comment = 'true') {
  const [node] = tc.cluster.nodes as [string];
  const inputs = { node, operation: 'plan', kubeconfig: readFileSync(tc.cluster.kubeconfigPath, 'utf8'), comment, 'github-token': 'test-token', 'max-downtime': '0s' };
  return runActionStep(inputs, join(dist, 'index.js'), runnerEnv(eventName, apiUrl));
}

describe('the pull-request comment', () => {
  it('creates one comment with the plan and the availability verdict, then updates that same comment', async () => {
    const first = await planStep('pull_request');
    expect(first.status).toBe(0);
    expect(first.outputs.outcome).toBe('ok');
    expect(github.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /repos/your-org/app/issues/7/comments?per_page=100', 'POST /repos/your-org/app/issues/7/comments']);
    expect(github.requests.every((r) => r.authorization === 'token test-token')).toBe(true);
    expect(github.comments).toHaveLength(1);
    const [comment] = github.comments as [FakeComment];
    const [node] = tc.cluster.nodes as [string];
    expect(comment.body.split('\n')[0]).toBe('<!-- safe-drain comment: resilience/drain-test -->');
    expect(comment.body).toContain('### safe-drain plan: passed');
    expect(comment.body).toContain('**Outcome:** `ok`');
    expect(comment.body).toContain(`<summary>Plan for node ${node}:`);
    expect(comment.body).toContain('**Availability gate:** Availability: 0 Services planned to be watched, the gate passed.');
    expect(comment.body).toContain('[workflow run and job summary](https://github.invalid/your-org/app/actions/runs/4242)');
    expect(first.stdout).toContain(`Commented on pull request #7: ${comment.html_url}`);

    const second = await planStep('pull_request');
    expect(second.status).toBe(0);
    expect(github.requests.slice(2).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /repos/your-org/app/issues/7/comments?per_page=100',
      `PATCH /repos/your-org/app/issues/comments/${comment.id}`,
    ]);
    expect(github.comments).toHaveLength(1);
    expect(second.stdout).toContain('Updated the comment on pull request #7');
  }, 180_000);

  it('a comment the API refuses (403) is a warning naming the permission; the step keeps its outcome', async () => {
    github.failWith = 403;
    const step = await planStep('pull_request');
    expect(step.status).toBe(0);
    expect(step.outputs.outcome).toBe('ok');
    expect(step.stdout).toMatch(/::warning title=safe-drain comment::Could not comment on pull request #7: 403 .*pull-requests: write/);
  }, 120_000);

  it('on a push event, and with comment false, asks nothing of the API', async () => {
    const push = await planStep('push');
    expect(push.status).toBe(0);
    expect(push.stdout).toContain('comment: true, but this run is for a "push" event, not a pull request: nothing to comment on.');
    const off = await planStep('pull_request', 'false');
    expect(off.status).toBe(0);
    expect(github.requests).toEqual([]);
  }, 120_000);
});

// A GitHub REST API on loopback for the pull-request comment's tests: the endpoints the comment
// calls (list a pull request's comments, create one, update one), every request recorded.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FakeComment {
  id: number;
  body: string;
  html_url: string;
}

/**
 * The GitHub REST endpoints the comment uses, for pull request #7 of your-org/app: every request
 * is recorded; `failWith` makes every answer that status.
 */
export class FakeGitHub {
  readonly requests: { method: string; path: string; authorization?: string; body?: unknown }[] = [];
  comments: FakeComment[] = [];
  failWith: number | undefined;
  private server: Server | undefined;
  private nextId = 1001;

  /** Listens on `host` (loopback by default); returns the API's base URL. */
  async start(host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      void readBody(req).then((text) => {
        const body = text ? (JSON.parse(text) as { body?: string }) : undefined;
        const path = req.url ?? '';
        this.requests.push({ method: req.method ?? '', path, ...(req.headers.authorization && { authorization: req.headers.authorization }), ...(body && { body }) });
        const [status, answer] = this.answer(req.method ?? '', path.split('?')[0]!, body);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    return `http://${host}:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private answer(method: string, path: string, body: { body?: string } | undefined): [number, unknown] {
    if (this.failWith !== undefined) return [this.failWith, { message: 'Resource not accessible by integration' }];
    const edit = /^\/repos\/your-org\/app\/issues\/comments\/(\d+)$/.exec(path);
    if (path === '/repos/your-org/app/issues/7/comments' && method === 'GET') return [200, this.comments];
    if (path === '/repos/your-org/app/issues/7/comments' && method === 'POST') {
      const comment = { id: this.nextId++, body: body?.body ?? '', html_url: `https://github.invalid/your-org/app/pull/7#issuecomment-${this.nextId}` };
      this.comments.push(comment);
      return [201, comment];
    }
    const existing = edit && this.comments.find((c) => c.id === Number(edit[1]));
    if (existing && method === 'PATCH') {
      existing.body = body?.body ?? '';
      return [200, existing];
    }
    return [404, { message: 'Not Found' }];
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => resolve(text));
  });
}

/** A pull_request (or other) event payload as the runner writes it, and the variables naming the run. */
export function runnerEnv(eventName: string, apiUrl: string): NodeJS.ProcessEnv {
  const event = join(mkdtempSync(join(tmpdir(), 'safe-drain-event-')), 'event.json');
  writeFileSync(event, JSON.stringify(eventName === 'pull_request' ? { action: 'synchronize', number: 7, pull_request: { number: 7 } } : { ref: 'refs/heads/main' }));
  return {
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: 'your-org/app',
    GITHUB_API_URL: apiUrl,
    GITHUB_SERVER_URL: 'https://github.invalid',
    GITHUB_WORKFLOW: 'resilience',
    GITHUB_JOB: 'drain-test',
    GITHUB_RUN_ID: '4242',
  };
}

// What actionlint does not check in the workflows (ours and the examples users copy) and a
// GitHub-hosted run would only show on its first run: an artifact upload whose path is a step's
// output must not run when that step wrote none ("Input required and not supplied: path", whatever
// if-no-files-found says), and no action of a major that runs on a Node.js GitHub retires.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
interface Step {
  name?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
const files = ['.github/workflows', 'examples/workflows'].flatMap((dir) => readdirSync(join(root, dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => `${dir}/${f}`));
const steps = files.flatMap((file) => {
  const wf = parse(readFileSync(join(root, file), 'utf8')) as { jobs: Record<string, { steps?: Step[] }> };
  return Object.entries(wf.jobs).flatMap(([job, j]) => (j.steps ?? []).map((step) => ({ where: `${file} job ${job} step "${step.name ?? step.uses}"`, step })));
});

/** The first major of each action whose runtime is node24 (older majors run on node20). */
const NODE24_MAJOR: Record<string, number> = {
  'actions/checkout': 5,
  'actions/setup-node': 5,
  'actions/setup-go': 6,
  'actions/upload-artifact': 6,
};

describe('workflow steps', () => {
  it('reads every workflow and example', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    expect(steps.length).toBeGreaterThan(50);
  });

  it('an upload whose path is a step output runs only when that output is set', () => {
    const uploads = steps.filter(({ step }) => step.uses?.startsWith('actions/upload-artifact@'));
    expect(uploads.length).toBeGreaterThan(0);
    const unguarded = uploads.filter(({ step }) => {
      const output = /^\$\{\{\s*(steps\.[\w-]+\.outputs\.[\w-]+)\s*\}\}$/.exec(String(step.with?.path ?? '').trim())?.[1];
      return output !== undefined && !new RegExp(`${output.replace(/\./g, '\\.')}\\s*!=\\s*''`).test(step.if ?? '');
    });
    expect(unguarded.map((u) => u.where)).toEqual([]);
  });

  it('uses no action major that runs on node20', () => {
    const old = steps.filter(({ step }) => {
      const m = /^([\w-]+\/[\w-]+)@v(\d+)$/.exec(step.uses ?? '');
      return m !== null && NODE24_MAJOR[m[1]!] !== undefined && Number(m[2]) < NODE24_MAJOR[m[1]!]!;
    });
    expect(old.map((o) => `${o.where}: ${o.step.uses}`)).toEqual([]);
  });
});

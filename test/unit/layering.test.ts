// The module map of docs/architecture.md, checked: which layer of src/ may import which. A new
// import across the lines fails here, naming the file and the import.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The layer of a file under src/: its folder, or the neutral file itself. */
function layerOf(file: string): string {
  const rel = relative(SRC, file).replace(/\\/g, '/');
  const m = /^engine\/(kube|plan|execute|report|availability)\//.exec(rel);
  if (m) return m[1]!;
  if (/^engine\/(errors|clock|wait|types)\.ts$/.test(rel)) return 'neutral';
  if (rel.startsWith('engine/')) return 'engine-root';
  return rel.split('/')[0]!; // action, cli
}

/** Who may import whom (besides itself and the neutral modules). */
const ALLOWED: Record<string, string[]> = {
  neutral: ['availability'], // types.ts names the gate's option and report types
  plan: [],
  kube: ['plan'],
  availability: ['kube', 'plan'],
  execute: ['kube', 'plan', 'report', 'availability'],
  report: ['plan', 'kube', 'execute', 'availability'], // kube/errors: API errors in words
  'engine-root': ['kube', 'plan', 'execute', 'report', 'availability'],
  action: ['engine-root', 'kube', 'plan', 'execute', 'report', 'availability'],
  cli: ['engine-root', 'kube', 'plan', 'execute', 'report', 'availability'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): { spec: string; target?: string }[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map(([, spec]) => ({
    spec: spec!,
    ...(spec!.startsWith('.') && { target: resolve(dirname(file), spec!.replace(/\.js$/, '.ts')) }),
  }));
}

describe('layering (docs/architecture.md)', () => {
  const all = files(SRC);

  it('every import crosses only the lines the map allows', () => {
    const wrong: string[] = [];
    for (const file of all) {
      const from = layerOf(file);
      for (const { spec, target } of imports(file)) {
        if (!target || !target.startsWith(SRC)) continue;
        const to = layerOf(target);
        if (to === from || to === 'neutral' || ALLOWED[from]?.includes(to)) continue;
        wrong.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the engine knows nothing of Actions or of the terminal', () => {
    const wrong = all
      .filter((f) => relative(SRC, f).startsWith('engine/'))
      .flatMap((f) => imports(f).filter((i) => i.spec.startsWith('@actions/') || /\/(action|cli)\//.test(i.target ?? '')).map((i) => `${relative(SRC, f)} imports ${i.spec}`));
    expect(wrong).toEqual([]);
  });

  it('only kube/ knows API paths', () => {
    const wrong = all.filter((f) => layerOf(f) !== 'kube' && /['`"]\/apis?\//.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(wrong).toEqual([]);
  });

  it('execute/ and availability/ take time from the injected clock', () => {
    const wrong = all
      .filter((f) => ['execute', 'availability'].includes(layerOf(f)))
      .filter((f) => /\bDate\.now\(\)|\bset(Timeout|Interval)\(/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(wrong).toEqual([]);
  });
});

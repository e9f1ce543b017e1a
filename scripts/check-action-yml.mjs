#!/usr/bin/env node
// Checks action.yml, the action's metadata, which actionlint does not look at:
//   - it parses as a YAML mapping; name, description, runs are present (author/branding optional);
//   - runs.using is node24 and runs.main (and pre/post if set) exist in the repository;
//     pre-if/post-if only with their step;
//   - every input and output has a non-empty description; input names are valid, `required`
//     is a boolean, `default` is a string/number/boolean (GitHub passes inputs as strings);
//   - a required input with a default is flagged (the default makes `required` meaningless);
//   - no unknown top-level or runs keys (typos such as `output:` are silent on GitHub).
// Usage: node scripts/check-action-yml.mjs [path/to/action.yml]. Exit 1 on any problem.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';

const file = resolve(process.argv[2] ?? 'action.yml');
const problems = [];
const fail = (msg) => problems.push(msg);

function main() {
  if (!existsSync(file)) {
    console.error(`[check-action-yml] ${file} does not exist: no action metadata to check`);
    return 1;
  }
  const doc = parseDocument(readFileSync(file, 'utf8'), { uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) fail(`YAML: ${e.message}`);
    return report();
  }
  const a = doc.toJS();
  if (a === null || typeof a !== 'object' || Array.isArray(a)) {
    fail('top level is not a mapping');
    return report();
  }

  const TOP = new Set(['name', 'author', 'description', 'inputs', 'outputs', 'runs', 'branding']);
  for (const k of Object.keys(a)) if (!TOP.has(k)) fail(`unknown top-level key "${k}" (allowed: ${[...TOP].join(', ')})`);
  for (const k of ['name', 'description']) if (typeof a[k] !== 'string' || a[k].trim() === '') fail(`"${k}" is missing or empty`);

  const runs = a.runs;
  if (!runs || typeof runs !== 'object') {
    fail('"runs" is missing');
  } else {
    const RUNS = new Set(['using', 'main', 'pre', 'post', 'pre-if', 'post-if']);
    for (const k of Object.keys(runs)) if (!RUNS.has(k)) fail(`unknown runs key "${k}" (a JavaScript action allows: ${[...RUNS].join(', ')})`);
    if (runs.using !== 'node24') fail(`runs.using is ${JSON.stringify(runs.using)}, expected "node24"`);
    if (typeof runs.main !== 'string' || runs.main.trim() === '') fail('runs.main is missing');
    // A condition without its step is silently ignored by GitHub.
    for (const k of ['pre', 'post']) {
      if (runs[`${k}-if`] !== undefined && runs[k] === undefined) fail(`runs.${k}-if is set but runs.${k} is not`);
      if (runs[`${k}-if`] !== undefined && typeof runs[`${k}-if`] !== 'string') fail(`runs.${k}-if must be a string expression such as always()`);
    }
    for (const k of ['main', 'pre', 'post']) {
      if (typeof runs[k] === 'string' && runs[k].trim() !== '') {
        const target = resolve(dirname(file), runs[k]);
        if (!existsSync(target)) fail(`runs.${k}: ${runs[k]} does not exist (run npm run bundle and commit dist/)`);
      }
    }
  }

  checkEntries(a.inputs, 'input', (name, v) => {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) fail(`input "${name}": invalid name (letters, digits, '-', '_'; not starting with a digit or '-')`);
    const INPUT = new Set(['description', 'required', 'default', 'deprecationMessage']);
    for (const k of Object.keys(v)) if (!INPUT.has(k)) fail(`input "${name}": unknown key "${k}"`);
    if ('required' in v && typeof v.required !== 'boolean') fail(`input "${name}": required must be true or false, got ${JSON.stringify(v.required)}`);
    if ('default' in v && !['string', 'number', 'boolean'].includes(typeof v.default)) fail(`input "${name}": default must be a scalar`);
    if (v.required === true && 'default' in v) fail(`input "${name}": required with a default (the default always satisfies it)`);
  });
  checkEntries(a.outputs, 'output', (name, v) => {
    const OUTPUT = new Set(['description']); // JavaScript actions' outputs have no `value`.
    for (const k of Object.keys(v)) if (!OUTPUT.has(k)) fail(`output "${name}": unknown key "${k}" (a JavaScript action's outputs only have a description)`);
  });

  if (a.branding !== undefined) {
    const b = a.branding;
    if (!b || typeof b !== 'object') fail('branding is not a mapping');
    else for (const k of Object.keys(b)) if (!['icon', 'color'].includes(k)) fail(`branding: unknown key "${k}"`);
  }
  return report(a);
}

function checkEntries(section, what, extra) {
  if (section === undefined || section === null) return;
  if (typeof section !== 'object' || Array.isArray(section)) {
    fail(`${what}s is not a mapping`);
    return;
  }
  for (const [name, v] of Object.entries(section)) {
    if (!v || typeof v !== 'object') {
      fail(`${what} "${name}": not a mapping (needs at least a description)`);
      continue;
    }
    if (typeof v.description !== 'string' || v.description.trim() === '') fail(`${what} "${name}": no description`);
    extra(name, v);
  }
}

function report(a) {
  if (problems.length > 0) {
    console.error(`[check-action-yml] ${file}: ${problems.length} problem(s):`);
    for (const p of problems) console.error(`  - ${p}`);
    return 1;
  }
  const n = (s) => (s && typeof s === 'object' ? Object.keys(s).length : 0);
  console.error(`[check-action-yml] ${file}: OK (${n(a.inputs)} inputs, ${n(a.outputs)} outputs, runs ${a.runs.using} ${a.runs.main})`);
  return 0;
}

process.exit(main());

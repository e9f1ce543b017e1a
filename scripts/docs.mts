// Generated documentation, so that it cannot drift from what it documents:
//   - the README's inputs and outputs tables, from action.yml (between the markers below);
//   - docs/report.schema.json, the JSON Schema of the report (RunReport in src/engine/types.ts:
//     the JSON report file, the CLI's --output json), from the type itself.
//   npx tsx scripts/docs.mts           write both
//   npx tsx scripts/docs.mts --check   exit 1 naming what is stale (test/unit/docs.test.ts runs it)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const README = join(root, 'README.md');
export const SCHEMA = join(root, 'docs', 'report.schema.json');
const START = '<!-- action-tables: generated from action.yml by scripts/docs.mts; do not edit by hand -->';
const END = '<!-- action-tables: end -->';

interface ActionYml {
  inputs: Record<string, { description: string; default?: string | number | boolean }>;
  outputs: Record<string, { description: string }>;
}

/** One line, `|` escaped: a table cell. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|');
}

export function actionTables(actionYml: string): string {
  const action = parse(actionYml) as ActionYml;
  const inputs = Object.entries(action.inputs).map(([name, i]) => {
    const value = i.default === undefined || i.default === '' ? '' : `\`${String(i.default)}\``;
    return `| \`${name}\` | ${value} | ${cell(i.description)} |`;
  });
  const outputs = Object.entries(action.outputs).map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`);
  return [
    START,
    '',
    '| input | default | meaning |',
    '| --- | --- | --- |',
    ...inputs,
    '',
    '| output | meaning |',
    '| --- | --- |',
    ...outputs,
    '',
    END,
  ].join('\n');
}

export function readmeWithTables(readme: string, tables: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`README.md has no generated tables (the lines ${START} and ${END})`);
  return `${readme.slice(0, start)}${tables}${readme.slice(end + END.length)}`;
}

/** The report's JSON Schema; `version` (a constant in it) is raised with every incompatible change. */
export function reportSchema(): string {
  const schema = createGenerator({
    path: join(root, 'src/engine/types.ts'),
    tsconfig: join(root, 'tsconfig.json'),
    type: 'RunReport',
    skipTypeCheck: true,
    additionalProperties: false,
  }).createSchema('RunReport');
  const described = {
    $schema: schema.$schema,
    $id: 'urn:safe-drain:report:v1',
    title: 'safe-drain run report, version 1',
    description:
      'The JSON report of one safe-drain run: the Action\'s `report` file and the CLI\'s `--output json`. ' +
      'Generated from RunReport (src/engine/types.ts) by scripts/docs.mts. `version` changes when a field changes meaning or goes away; new fields may be added within a version.',
    ...schema,
  };
  return `${JSON.stringify(described, null, 2)}\n`;
}

function main(): number {
  const check = process.argv.includes('--check');
  const readme = readFileSync(README, 'utf8');
  const wanted = [
    { path: README, now: readme, next: readmeWithTables(readme, actionTables(readFileSync(join(root, 'action.yml'), 'utf8'))), fix: 'the inputs/outputs tables' },
    { path: SCHEMA, now: readOrEmpty(SCHEMA), next: reportSchema(), fix: 'the report schema' },
  ];
  const stale = wanted.filter((w) => w.now !== w.next);
  if (check) {
    for (const w of stale) console.error(`${w.path}: ${w.fix} are out of date. Run \`npx tsx scripts/docs.mts\` and commit.`);
    return stale.length > 0 ? 1 : 0;
  }
  for (const w of stale) writeFileSync(w.path, w.next);
  console.log(stale.length > 0 ? `wrote ${stale.map((w) => w.path).join(', ')}` : 'up to date');
  return 0;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();

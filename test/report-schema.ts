// Every report the tests see is checked against the published JSON Schema (docs/report.schema.json,
// generated from RunReport by scripts/docs.mts): the shared helpers that produce reports (the
// engine's drain(), the CLI's --output json, the Action's report file, the fault harness, the
// e2e scenarios) call it.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

const schema = JSON.parse(readFileSync(new URL('../docs/report.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Every place `report` (as JSON would carry it) breaks the schema, one per line; undefined when it matches. */
export function reportSchemaProblems(report: unknown): string | undefined {
  if (validate(JSON.parse(JSON.stringify(report)) as unknown)) return undefined;
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('\n  ');
}

/** Throws naming every place `report` breaks the schema; returns it unchanged. */
export function expectValidReport<T>(report: T, what = 'the report'): T {
  const problems = reportSchemaProblems(report);
  if (problems !== undefined) throw new Error(`${what} does not match docs/report.schema.json:\n  ${problems}`);
  return report;
}

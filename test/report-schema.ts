// Every report the tests see is checked against the published JSON Schema (docs/report.schema.json,
// generated from RunReport by scripts/docs.mts): the shared helpers that produce reports (the
// engine's drain(), the CLI's --output json, the Action's report file) call expectValidReport.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

const schema = JSON.parse(readFileSync(new URL('../docs/report.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Throws naming every place `report` breaks the schema; returns it unchanged. */
export function expectValidReport<T>(report: T, what = 'the report'): T {
  if (!validate(report)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    throw new Error(`${what} does not match docs/report.schema.json:\n  ${problems.join('\n  ')}`);
  }
  return report;
}

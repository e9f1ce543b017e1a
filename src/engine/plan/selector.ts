// Label selectors (PDBs, --pod-selector) and node selector terms (required node affinity).
import type { V1LabelSelector, V1Node, V1NodeSelectorRequirement, V1NodeSelectorTerm } from '@kubernetes/client-node';

type Labels = Record<string, string> | undefined;

/** One requirement as label and node selectors both spell it. */
interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** Does `value` (undefined = label absent) satisfy the requirement? Unknown operators match nothing. */
function matchesRequirement(req: Requirement, value: string | undefined): boolean {
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      // As in Kubernetes: a missing label is "not in" any set.
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      // Both sides must be integers; anything else does not match.
      if (value === undefined || values.length !== 1 || !isInteger(value) || !isInteger(values[0] ?? '')) return false;
      const actual = BigInt(value);
      const bound = BigInt(values[0] ?? '0');
      return req.operator === 'Gt' ? actual > bound : actual < bound;
    }
    default:
      return false;
  }
}

function isInteger(s: string): boolean {
  return /^[+-]?\d+$/.test(s);
}

/**
 * policy/v1 semantics: an empty selector `{}` selects everything, a null/undefined selector
 * selects nothing. matchLabels and matchExpressions are ANDed.
 */
export function matchesLabelSelector(selector: V1LabelSelector | null | undefined, labels: Labels): boolean {
  if (!selector) return false;
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => matchesRequirement(req, labelValue(have, req.key)));
}

function labelValue(labels: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** Expressions of one node selector term are ANDed; a term with nothing in it matches no node. */
export function matchesNodeSelectorTerm(term: V1NodeSelectorTerm, node: V1Node): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  return (
    expressions.every((req) => matchesRequirement(req, labelValue(labels, req.key))) &&
    fields.every((req) => matchesRequirement(req, nodeField(node, req)))
  );
}

/** matchFields supports only metadata.name. */
function nodeField(node: V1Node, req: V1NodeSelectorRequirement): string | undefined {
  return req.key === 'metadata.name' ? node.metadata?.name : undefined;
}

/** Required node affinity: terms are ORed. An empty list matches no node. */
export function matchesNodeSelectorTerms(terms: V1NodeSelectorTerm[], node: V1Node): boolean {
  return terms.some((term) => matchesNodeSelectorTerm(term, node));
}

// ---- String form: "app=web,tier!=db,env in (a,b),!legacy,canary" ----

// A qualified name (optional DNS-subdomain prefix + "/"), as label keys are.
const KEY = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const SET_FORM = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const COMPARISON = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/;

/**
 * Parses a label selector string into a V1LabelSelector (matchExpressions only).
 * "" selects everything. Throws an Error naming the part that does not parse.
 */
export function parseLabelSelector(selector: string): V1LabelSelector {
  const parts = splitTopLevel(selector);
  if (parts.length === 1 && parts[0] === '') return {};
  return { matchExpressions: parts.map((part) => parseRequirement(part, selector)) };
}

/** Splits on commas that are not inside "( )". */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new Error(`invalid selector "${selector}": unbalanced ")"`);
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new Error(`invalid selector "${selector}": unclosed "("`);
  parts.push(current.trim());
  return parts;
}

function parseRequirement(part: string, selector: string): Requirement {
  const fail = (why: string): never => {
    throw new Error(`invalid selector "${selector}": ${why} in "${part}"`);
  };
  if (part === '') fail('empty requirement');
  const checkKey = (key: string): string => (KEY.test(key) ? key : fail(`invalid label key "${key}"`));
  const checkValue = (value: string): string => (VALUE.test(value) ? value : fail(`invalid label value "${value}"`));

  const set = SET_FORM.exec(part);
  if (set) {
    const [, key = '', op = '', list = ''] = set;
    const values = list.split(',').map((v) => checkValue(v.trim()));
    if (list.trim() === '') fail('empty value list');
    return { key: checkKey(key), operator: op === 'in' ? 'In' : 'NotIn', values };
  }
  if (part.startsWith('!')) return { key: checkKey(part.slice(1).trim()), operator: 'DoesNotExist' };

  const cmp = COMPARISON.exec(part);
  if (cmp) {
    const [, key = '', op = '', raw = ''] = cmp;
    const value = raw.trim();
    if (op === '>' || op === '<') {
      if (!isInteger(value)) fail(`"${op}" needs an integer, got "${value}"`);
      return { key: checkKey(key), operator: op === '>' ? 'Gt' : 'Lt', values: [value] };
    }
    return { key: checkKey(key), operator: op === '!=' ? 'NotIn' : 'In', values: [checkValue(value)] };
  }
  if (/\s/.test(part)) fail('unknown operator (use =, ==, !=, in, notin, !key or key)');
  return { key: checkKey(part), operator: 'Exists' };
}

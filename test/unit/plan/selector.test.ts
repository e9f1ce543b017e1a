import { describe, expect, it } from '@jest/globals';
import {
  matchesLabelSelector,
  matchesNodeSelectorTerm,
  matchesNodeSelectorTerms,
  parseLabelSelector,
} from '../../../src/engine/plan/selector.js';
import { makeNode } from './fixtures.js';

describe('matchesLabelSelector', () => {
  const labels = { app: 'web', tier: 'front', version: '3' };

  it('empty selector matches everything, null/undefined matches nothing', () => {
    expect(matchesLabelSelector({}, labels)).toBe(true);
    expect(matchesLabelSelector({}, undefined)).toBe(true);
    expect(matchesLabelSelector(null, labels)).toBe(false);
    expect(matchesLabelSelector(undefined, labels)).toBe(false);
  });

  it('matchLabels needs every pair', () => {
    expect(matchesLabelSelector({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { app: 'web', tier: 'back' } }, labels)).toBe(false);
    expect(matchesLabelSelector({ matchLabels: { app: 'web' } }, undefined)).toBe(false);
  });

  it.each([
    ['In', ['web', 'api'], true],
    ['In', ['api'], false],
    ['NotIn', ['api'], true],
    ['NotIn', ['web'], false],
    ['Exists', undefined, true],
    ['DoesNotExist', undefined, false],
  ])('app %s %p → %p', (operator, values, expected) => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator, values }] }, labels)).toBe(expected);
  });

  it('treats an absent key as NotIn any set and DoesNotExist', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels)).toBe(false);
  });

  it('ANDs matchLabels and matchExpressions', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] };
    expect(matchesLabelSelector(sel, labels)).toBe(false);
  });

  it('an unknown operator matches nothing', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'app', operator: 'Like', values: ['web'] }] }, labels)).toBe(false);
  });

  it('does not see inherited properties as labels', () => {
    expect(matchesLabelSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(false);
  });
});

describe('node selector terms', () => {
  const node = makeNode('node-b', { labels: { zone: 'a', cores: '16', disk: 'ssd' } });

  it.each([
    [{ key: 'zone', operator: 'In', values: ['a', 'b'] }, true],
    [{ key: 'zone', operator: 'NotIn', values: ['a'] }, false],
    [{ key: 'gpu', operator: 'DoesNotExist' }, true],
    [{ key: 'disk', operator: 'Exists' }, true],
    [{ key: 'cores', operator: 'Gt', values: ['8'] }, true],
    [{ key: 'cores', operator: 'Gt', values: ['16'] }, false],
    [{ key: 'cores', operator: 'Lt', values: ['32'] }, true],
    [{ key: 'zone', operator: 'Lt', values: ['32'] }, false], // not an integer
    [{ key: 'gpu', operator: 'Gt', values: ['1'] }, false], // absent
  ])('%p → %p', (req, expected) => {
    expect(matchesNodeSelectorTerm({ matchExpressions: [req] }, node)).toBe(expected);
  });

  it('ANDs expressions within a term', () => {
    const term = {
      matchExpressions: [
        { key: 'zone', operator: 'In', values: ['a'] },
        { key: 'disk', operator: 'In', values: ['hdd'] },
      ],
    };
    expect(matchesNodeSelectorTerm(term, node)).toBe(false);
  });

  it('ORs terms', () => {
    const miss = { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z'] }] };
    const hit = { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] };
    expect(matchesNodeSelectorTerms([miss, hit], node)).toBe(true);
    expect(matchesNodeSelectorTerms([miss], node)).toBe(false);
    expect(matchesNodeSelectorTerms([], node)).toBe(false);
  });

  it('matchFields looks at metadata.name', () => {
    expect(matchesNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-b'] }] }, node)).toBe(true);
    expect(matchesNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-c'] }] }, node)).toBe(false);
    expect(matchesNodeSelectorTerm({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-b'] }] }, node)).toBe(false);
  });

  it('an empty term matches no node', () => {
    expect(matchesNodeSelectorTerm({}, node)).toBe(false);
  });
});

describe('parseLabelSelector', () => {
  const matches = (selector: string, labels: Record<string, string>) => matchesLabelSelector(parseLabelSelector(selector), labels);

  it('empty string selects everything', () => {
    expect(parseLabelSelector('')).toEqual({});
    expect(parseLabelSelector('  ')).toEqual({});
    expect(matches('', {})).toBe(true);
  });

  it('parses every form', () => {
    expect(parseLabelSelector('app=web,tier!=db,env in (a, b),stage notin (x),!legacy,canary,n>3,m<9,k==v')).toEqual({
      matchExpressions: [
        { key: 'app', operator: 'In', values: ['web'] },
        { key: 'tier', operator: 'NotIn', values: ['db'] },
        { key: 'env', operator: 'In', values: ['a', 'b'] },
        { key: 'stage', operator: 'NotIn', values: ['x'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'canary', operator: 'Exists' },
        { key: 'n', operator: 'Gt', values: ['3'] },
        { key: 'm', operator: 'Lt', values: ['9'] },
        { key: 'k', operator: 'In', values: ['v'] },
      ],
    });
  });

  it('matches as kubectl does', () => {
    expect(matches('app=web,tier!=db', { app: 'web' })).toBe(true); // != matches a missing key
    expect(matches('app=web,tier!=db', { app: 'web', tier: 'db' })).toBe(false);
    expect(matches('env in (a,b)', { env: 'b' })).toBe(true);
    expect(matches('env in (a,b)', { env: 'c' })).toBe(false);
    expect(matches('!legacy', { legacy: 'yes' })).toBe(false);
    expect(matches('canary', { canary: '' })).toBe(true);
    expect(matches('example.com/team = payments', { 'example.com/team': 'payments' })).toBe(true);
  });

  it.each([
    ['app=web,', 'empty requirement in ""'],
    ['app in (a,b', 'unclosed "("'],
    ['app)', 'unbalanced ")"'],
    ['app=we b', 'invalid label value "we b" in "app=we b"'],
    ['-app=web', 'invalid label key "-app" in "-app=web"'],
    ['app in ()', 'empty value list in "app in ()"'],
    ['app like web', 'unknown operator'],
    ['n>three', '">" needs an integer, got "three" in "n>three"'],
    ['!', 'invalid label key "" in "!"'],
  ])('rejects %p: %s', (selector, message) => {
    expect(() => parseLabelSelector(selector)).toThrow(message);
    expect(() => parseLabelSelector(selector)).toThrow(`invalid selector "${selector}"`);
  });
});

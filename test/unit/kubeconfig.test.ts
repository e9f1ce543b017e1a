// Bad kubeconfig input fails before anything is touched, naming the input and the fix.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeConfig } from '../../src/engine/kube/config.js';
import { InputError } from '../../src/engine/types.js';

const dir = mkdtempSync(join(tmpdir(), 'sd-kc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const valid = `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: { server: https://127.0.0.1:6443 }
users:
- name: u
  user: { token: t }
contexts:
- name: ctx-a
  context: { cluster: a, user: u }
- name: ctx-b
  context: { cluster: missing, user: u }
current-context: ctx-a
`;

function inputError(fn: () => unknown): InputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('expected an InputError');
}

describe('loadKubeConfig', () => {
  it('loads a valid kubeconfig and selects the context', () => {
    const kc = loadKubeConfig({ path: file('ok.yaml', valid), context: 'ctx-a' });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });
  it('unreadable file: names the input', () => {
    const e = inputError(() => loadKubeConfig({ path: join(dir, 'nope.yaml') }));
    expect(e.input).toBe('kubeconfig');
    expect(e.message).toMatch(/cannot read .*nope\.yaml/);
  });
  it('not a kubeconfig: says how to pass one', () => {
    const e = inputError(() => loadKubeConfig({ path: file('bad.yaml', 'this: [is, not') }));
    expect(e.input).toBe('kubeconfig');
    expect(e.message).toMatch(/not a valid kubeconfig/);
    expect(e.fix).toMatch(/base64/);
  });
  it('no cluster or context', () => {
    const e = inputError(() => loadKubeConfig({ path: file('empty.yaml', 'apiVersion: v1\nkind: Config\n') }));
    expect(e.message).toMatch(/no cluster or no context/);
  });
  it('unknown context: lists the known ones', () => {
    const e = inputError(() => loadKubeConfig({ path: file('ok2.yaml', valid), context: 'prod' }));
    expect(e.input).toBe('context');
    expect(e.fix).toBe('Use one of: ctx-a, ctx-b.');
  });
  it('a context naming a missing cluster', () => {
    const e = inputError(() => loadKubeConfig({ path: file('ok3.yaml', valid), context: 'ctx-b' }));
    expect(e.input).toBe('context');
    expect(e.message).toMatch(/names no cluster/);
  });
});

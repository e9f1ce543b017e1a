// Bad kubeconfig input fails before anything is touched, naming the input and the fix.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeconfigError, kubeconfigOrigin, loadKubeConfig } from '../../src/engine/kube/config.js';
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
  it('not a kubeconfig: says how to pass one, to the CLI as a file and to the Action as content', () => {
    const path = file('bad.yaml', 'this: [is, not');
    const cli = inputError(() => loadKubeConfig({ path }));
    expect(cli.input).toBe('kubeconfig');
    expect(cli.message).toMatch(new RegExp(`^Input "kubeconfig": ${path} is not a valid kubeconfig`));
    expect(cli.fix).toMatch(/kubectl config view --raw/);
    const action = inputError(() => loadKubeConfig({ path, shell: 'action' }));
    // The Action's file is its own temporary copy of the input: the input is named, not the file.
    expect(action.message).toMatch(/^Input "kubeconfig": is not a valid kubeconfig/);
    expect(action.message).not.toContain(path);
    expect(action.fix).toMatch(/base64/);
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

// Where the kubeconfig comes from when none is named, as kubectl looks: KUBECONFIG, then
// ~/.kube/config, then the pod's service account; each refusal names where it looked.
describe('loadKubeConfig without a named kubeconfig', () => {
  const home = (name: string, config?: string) => {
    const h = join(dir, name);
    mkdirSync(join(h, '.kube'), { recursive: true });
    if (config !== undefined) writeFileSync(join(h, '.kube', 'config'), config);
    return h;
  };

  function kubeconfigError(fn: () => unknown): KubeconfigError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(KubeconfigError);
      expect((err as KubeconfigError).outcome).toBe('bad-input');
      return err as KubeconfigError;
    }
    throw new Error('expected a KubeconfigError');
  }

  it('reads KUBECONFIG first, and records where the kubeconfig came from', () => {
    const path = file('env.yaml', valid);
    const kc = loadKubeConfig({ env: { KUBECONFIG: path, HOME: home('h-env', 'not: [valid') } });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kubeconfigOrigin(kc)).toBe(`KUBECONFIG=${path}`);
  });

  it('names --kubeconfig for the CLI and the input for the Action as the origin', () => {
    const path = file('named.yaml', valid);
    expect(kubeconfigOrigin(loadKubeConfig({ path }))).toBe(`--kubeconfig ${path}`);
    expect(kubeconfigOrigin(loadKubeConfig({ path, shell: 'action' }))).toBe('the kubeconfig input');
  });

  it('a bad KUBECONFIG blames KUBECONFIG, not an option that was not given', () => {
    const e = kubeconfigError(() => loadKubeConfig({ env: { KUBECONFIG: join(dir, 'missing.yaml'), HOME: home('h-missing') } }));
    expect(e.message).toMatch(/^KUBECONFIG=.*missing\.yaml is not a valid kubeconfig \(.*missing\.yaml does not exist\)\. Nothing was changed\./);
    expect(e.message).not.toContain('--kubeconfig:');
    expect(e.fix).toBe('Point KUBECONFIG at a kubeconfig file, unset it to use ~/.kube/config, or pass --kubeconfig FILE.');
    const action = kubeconfigError(() => loadKubeConfig({ shell: 'action', env: { KUBECONFIG: join(dir, 'missing.yaml'), HOME: home('h-missing') } }));
    expect(action.fix).toBe('Set the `kubeconfig` input from a secret, or fix the earlier step that wrote KUBECONFIG.');
  });

  it('falls back to ~/.kube/config', () => {
    const h = home('h-default', valid);
    const kc = loadKubeConfig({ env: { HOME: h } });
    expect(kubeconfigOrigin(kc)).toBe(join(h, '.kube', 'config'));
  });

  it('uses the service account in a pod', () => {
    const prefix = join(dir, 'pod');
    mkdirSync(join(prefix, '/var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
    writeFileSync(join(prefix, '/var/run/secrets/kubernetes.io/serviceaccount/token'), 'token');
    const kc = loadKubeConfig({ env: { HOME: home('h-pod'), KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountPrefix: prefix });
    expect(kc.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
    expect(kubeconfigOrigin(kc)).toBe('in-cluster service account');
  });

  it('with no kubeconfig anywhere, says each place it looked and what to do, for the CLI and for the Action', () => {
    const h = home('h-none');
    const cli = kubeconfigError(() => loadKubeConfig({ env: { HOME: h }, serviceAccountPrefix: join(dir, 'no-pod') }));
    expect(cli.message).toBe(
      `no kubeconfig found: no --kubeconfig given, KUBECONFIG is not set, ${h}/.kube/config does not exist, ` +
        'not in a pod (no /var/run/secrets/kubernetes.io/serviceaccount/token, no KUBERNETES_SERVICE_HOST). Nothing was changed. ' +
        'Pass --kubeconfig FILE, set KUBECONFIG, or write ~/.kube/config (e.g. `kind export kubeconfig`, `aws eks update-kubeconfig --name CLUSTER`).',
    );
    const action = kubeconfigError(() => loadKubeConfig({ shell: 'action', env: { HOME: h }, serviceAccountPrefix: join(dir, 'no-pod') }));
    expect(action.message).toMatch(/^no kubeconfig found: the kubeconfig input is empty, KUBECONFIG is not set/);
    expect(action.fix).toMatch(/^Set the `kubeconfig` input from a secret/);
  });

  it('a current-context naming no cluster, with no --context given, is the kubeconfig\'s problem', () => {
    const path = file('dangling.yaml', valid.replace('current-context: ctx-a', 'current-context: ctx-b'));
    const e = kubeconfigError(() => loadKubeConfig({ env: { KUBECONFIG: path } }));
    expect(e.message).toMatch(/^the context "ctx-b" names no cluster defined in KUBECONFIG=/);
    expect(e.fix).toBe('Pass --context with one of: ctx-a, ctx-b, or fix its current-context.');
  });
});

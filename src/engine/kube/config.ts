// Loading cluster credentials, where kubectl finds them: the kubeconfig the user named (the CLI's
// --kubeconfig, the Action's `kubeconfig` input), else KUBECONFIG, else ~/.kube/config, else the
// pod's service account when running in a cluster. Every refusal says where it looked and what
// to do, in the words of the shell that asked (a CLI user passes a flag, a workflow sets an
// input). Exec-plugin kubeconfigs (EKS, GKE, AKS) are left to client-node.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { InputError, SafeDrainError } from '../errors.js';

/** Who asks: the errors speak of flags to the CLI and of inputs to the Action. */
export type Shell = 'cli' | 'action';

export interface KubeConfigSource {
  /** A kubeconfig file the user named: the CLI's --kubeconfig, or the file the Action wrote from its `kubeconfig` input. */
  path?: string;
  context?: string;
  shell?: Shell;
  /** Where KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of the service account's files, /var/run/secrets/... (tests point it elsewhere). */
  serviceAccountPrefix?: string;
}

/** A kubeconfig safe-drain found where the user did not name one (KUBECONFIG, ~/.kube/config), or none at all. */
export class KubeconfigError extends SafeDrainError {
  readonly outcome = 'bad-input';

  constructor(
    /** Where it looked, e.g. "KUBECONFIG=/x" or "--kubeconfig not given, KUBECONFIG not set, ...". */
    readonly looked: string,
    problem: string,
    readonly fix: string,
  ) {
    super(`${problem}. Nothing was changed. ${fix}`);
  }
}

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Where each loaded KubeConfig came from, for errors about its server (errors.ts ClusterUnreachable). */
const origins = new WeakMap<KubeConfig, string>();

/** Where `kc` was loaded from: "--kubeconfig FILE", "the kubeconfig input", "KUBECONFIG=...", "~/.kube/config", "in-cluster service account". */
export function kubeconfigOrigin(kc: KubeConfig): string | undefined {
  return origins.get(kc);
}

interface Found {
  /** How errors and reports name it. */
  origin: string;
  /** Whether the user named it (its errors then blame that flag or input: an InputError). */
  named: boolean;
  /** What a problem sentence starts with ("" for the Action's input: the error names the input). */
  subject: string;
  load(kc: KubeConfig): void;
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const shell = source.shell ?? 'cli';
  const found = locate(source, shell);
  const kc = new KubeConfig();
  try {
    found.load(kc);
  } catch (err) {
    if (err instanceof SafeDrainError) throw err;
    throw refusal(found, shell, `is not a valid kubeconfig (${(err as Error).message})`);
  }
  if (kc.getClusters().length === 0 || kc.getContexts().length === 0) {
    throw refusal(found, shell, 'defines no cluster or no context');
  }
  selectContext(kc, found, source.context, shell);
  origins.set(kc, found.origin);
  return kc;
}

/** The first place kubectl would take a kubeconfig from, or a KubeconfigError naming each place tried. */
function locate(source: KubeConfigSource, shell: Shell): Found {
  const env = source.env ?? process.env;
  if (source.path) {
    const path = source.path;
    const origin = shell === 'action' ? 'the kubeconfig input' : `--kubeconfig ${path}`;
    return { origin, named: true, subject: shell === 'action' ? '' : path, load: (kc) => kc.loadFromString(readNamedFile(path)) };
  }
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((f) => f !== '');
    const origin = `KUBECONFIG=${env.KUBECONFIG}`;
    return { origin, named: false, subject: origin, load: (kc) => loadMerged(kc, files) };
  }
  const home = env.HOME || homedir();
  const defaultFile = join(home, '.kube', 'config');
  if (existsSync(defaultFile)) return { origin: defaultFile, named: false, subject: defaultFile, load: (kc) => kc.loadFromFile(defaultFile) };
  const prefix = source.serviceAccountPrefix ?? '';
  if (env.KUBERNETES_SERVICE_HOST && existsSync(`${prefix}${SERVICE_ACCOUNT_TOKEN}`)) {
    const origin = 'in-cluster service account';
    return { origin, named: false, subject: `the ${origin}`, load: (kc) => inCluster(kc, env, prefix) };
  }
  const looked = [
    shell === 'action' ? 'the kubeconfig input is empty' : 'no --kubeconfig given',
    'KUBECONFIG is not set',
    `${defaultFile} does not exist`,
    `not in a pod (no ${SERVICE_ACCOUNT_TOKEN}${env.KUBERNETES_SERVICE_HOST ? '' : ', no KUBERNETES_SERVICE_HOST'})`,
  ].join(', ');
  throw new KubeconfigError(looked, `no kubeconfig found: ${looked}`, NO_KUBECONFIG_FIX[shell]);
}

const NO_KUBECONFIG_FIX: Record<Shell, string> = {
  cli: 'Pass --kubeconfig FILE, set KUBECONFIG, or write ~/.kube/config (e.g. `kind export kubeconfig`, `aws eks update-kubeconfig --name CLUSTER`).',
  action:
    'Set the `kubeconfig` input from a secret (`kubeconfig: ${{ secrets.KUBECONFIG }}`), or log in to the cluster in an earlier step ' +
    '(aws eks update-kubeconfig, google-github-actions/get-gke-credentials) so that KUBECONFIG or ~/.kube/config exists.',
};

function readNamedFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    // The Action's file is its own copy of the input: only a CLI user named a path that can be missing.
    throw new InputError('kubeconfig', `cannot read ${path} (${(err as Error).message})`, 'Pass a readable kubeconfig file.');
  }
}

/** KUBECONFIG lists files as kubectl reads them: the first one's current-context wins. */
function loadMerged(kc: KubeConfig, files: string[]): void {
  for (const [i, file] of files.entries()) {
    if (!existsSync(file)) throw new Error(`${file} does not exist`);
    if (i === 0) kc.loadFromFile(file);
    else {
      const more = new KubeConfig();
      more.loadFromFile(file);
      kc.mergeConfig(more, true);
    }
  }
}

function inCluster(kc: KubeConfig, env: NodeJS.ProcessEnv, prefix: string): void {
  // client-node reads the service's address from process.env.
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
  process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT ?? '443';
  try {
    kc.loadFromCluster(prefix);
  } finally {
    restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
    restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** A problem with the kubeconfig found: it blames the flag or input only when the user gave it. */
function refusal(found: Found, shell: Shell, problem: string): SafeDrainError {
  const sentence = found.subject ? `${found.subject} ${problem}` : problem;
  if (found.named) {
    const fix =
      shell === 'action'
        ? 'Pass the kubeconfig file content, or `base64 -w0` of it, e.g. from a repository secret.'
        : 'Pass a kubeconfig file, e.g. one written by `kubectl config view --raw --minify`.';
    return new InputError('kubeconfig', sentence, fix);
  }
  const fix: Record<Shell, string> = {
    cli: found.origin.startsWith('KUBECONFIG=')
      ? 'Point KUBECONFIG at a kubeconfig file, unset it to use ~/.kube/config, or pass --kubeconfig FILE.'
      : `Fix ${found.origin}, or pass --kubeconfig FILE.`,
    action: `Set the \`kubeconfig\` input from a secret, or fix the earlier step that wrote ${found.origin.startsWith('KUBECONFIG=') ? 'KUBECONFIG' : found.origin}.`,
  };
  return new KubeconfigError(found.origin, sentence, fix[shell]);
}

function selectContext(kc: KubeConfig, found: Found, context: string | undefined, shell: Shell): void {
  const known = kc.getContexts().map((c) => c.name);
  const setContext = shell === 'action' ? 'Set the context input to one of' : 'Pass --context with one of';
  if (context) {
    if (!known.includes(context)) throw new InputError('context', `no context "${context}" in ${found.origin}`, `Use one of: ${known.join(', ')}.`);
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) {
    const current = kc.getCurrentContext();
    const problem = current ? `the context "${current}" names no cluster defined in ${found.origin}` : `${found.origin} sets no current-context`;
    if (context) throw new InputError('context', problem, `${setContext}: ${known.join(', ')}.`);
    throw new KubeconfigError(found.origin, problem, `${setContext}: ${known.join(', ')}, or fix its current-context.`);
  }
}

// Loading cluster credentials. Bad kubeconfig input is the user's to fix, so it becomes an
// InputError naming the input; exec-plugin kubeconfigs (EKS, GKE, AKS) are left to client-node.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { InputError } from '../types.js';

export interface KubeConfigSource {
  /** Path of a kubeconfig file; default: KUBECONFIG, then ~/.kube/config (client-node's loadFromDefault). */
  path?: string;
  context?: string;
}

export function loadKubeConfig(source: KubeConfigSource): KubeConfig {
  const kc = new KubeConfig();
  const where = source.path ?? process.env.KUBECONFIG ?? '~/.kube/config';
  try {
    if (source.path) {
      let text: string;
      try {
        text = readFileSync(source.path, 'utf8');
      } catch (err) {
        throw new InputError('kubeconfig', `cannot read ${source.path} (${(err as Error).message})`, 'Pass a readable kubeconfig file.');
      }
      kc.loadFromString(text);
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(
      'kubeconfig',
      `${where} is not a valid kubeconfig (${(err as Error).message})`,
      'Pass the kubeconfig YAML itself, or its base64 encoding, e.g. from a repository secret.',
    );
  }
  if (kc.getClusters().length === 0 || kc.getContexts().length === 0) {
    throw new InputError(
      'kubeconfig',
      `${where} defines no cluster or no context`,
      'Set the kubeconfig input, or KUBECONFIG, to a kubeconfig with a cluster, a user and a context.',
    );
  }
  if (source.context) {
    const known = kc.getContexts().map((c) => c.name);
    if (!known.includes(source.context)) {
      throw new InputError('context', `no context "${source.context}" in ${where}`, `Use one of: ${known.join(', ')}.`);
    }
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new InputError(
      'context',
      `the current context "${kc.getCurrentContext()}" names no cluster in ${where}`,
      `Set the context input to one of: ${kc.getContexts().map((c) => c.name).join(', ')}.`,
    );
  }
  return kc;
}

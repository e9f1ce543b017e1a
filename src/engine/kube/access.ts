// Permission check before any change: one SelfSubjectAccessReview per verb the operation needs.
// A missing permission fails the run with the verb/resource named, before anything is touched.
import type { Operation } from '../types.js';
import type { AccessQuery, KubeClient } from './client.js';

export const RBAC_FILE = 'rbac/safe-drain-clusterrole.yaml';

const read: AccessQuery[] = [
  { verb: 'get', resource: 'nodes', group: '' },
  { verb: 'list', resource: 'nodes', group: '' },
  { verb: 'list', resource: 'pods', group: '' },
  { verb: 'list', resource: 'poddisruptionbudgets', group: 'policy' },
  { verb: 'watch', resource: 'poddisruptionbudgets', group: 'policy' },
  { verb: 'get', resource: 'replicasets', group: 'apps' },
  { verb: 'get', resource: 'deployments', group: 'apps' },
  { verb: 'get', resource: 'statefulsets', group: 'apps' },
  // kubectl's DaemonSet filter: a pod naming a DaemonSet that does not exist is not a DaemonSet pod.
  { verb: 'get', resource: 'daemonsets', group: 'apps' },
  { verb: 'list', resource: 'horizontalpodautoscalers', group: 'autoscaling' },
];
// get/patch nodes also cover the per-node drain lock (execute/drain-lock.ts) drain and uncordon take.
const cordon: AccessQuery[] = [
  { verb: 'get', resource: 'nodes', group: '' },
  { verb: 'patch', resource: 'nodes', group: '' },
  { verb: 'create', resource: 'events', group: '' },
];
const evict: AccessQuery[] = [
  { verb: 'watch', resource: 'pods', group: '' },
  // A node that goes NotReady mid-drain stops the drain instead of hanging it.
  { verb: 'watch', resource: 'nodes', group: '' },
  { verb: 'create', resource: 'pods', group: '', subresource: 'eviction' },
];
const migrate: AccessQuery[] = [
  { verb: 'patch', resource: 'deployments', group: 'apps' },
  { verb: 'list', resource: 'deployments', group: 'apps' },
  { verb: 'watch', resource: 'deployments', group: 'apps' },
  // A Deployment paused mid-rollout: its new ReplicaSet tells whether the rollout can finish.
  { verb: 'list', resource: 'replicasets', group: 'apps' },
];
/** Finding and undoing a temporary replica raise an interrupted run left (execute/restore.ts). */
const restoreLeftovers: AccessQuery[] = [
  { verb: 'list', resource: 'deployments', group: 'apps' },
  { verb: 'get', resource: 'deployments', group: 'apps' },
  { verb: 'patch', resource: 'deployments', group: 'apps' },
];
const waitReplacements: AccessQuery[] = ['deployments', 'replicasets', 'statefulsets'].flatMap((resource) => [
  { verb: 'list', resource, group: 'apps' },
  { verb: 'watch', resource, group: 'apps' },
]);

/** What `operation` needs; surge migration and wait-for-replacements add their workload verbs. */
export function requiredAccess(operation: Operation, surge: boolean, waitForReplacements = false): AccessQuery[] {
  switch (operation) {
    case 'plan':
      return read;
    case 'cordon':
      return cordon;
    case 'uncordon':
      return [...cordon, ...restoreLeftovers];
    case 'drain':
      return [...read, ...cordon, ...evict, ...restoreLeftovers, ...(surge ? migrate : []), ...(waitForReplacements ? waitReplacements : [])];
  }
}

export function describeAccess(q: AccessQuery): string {
  const res = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  return `${q.verb} ${q.group ? `${res}.${q.group}` : res}`;
}

export class PermissionError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `missing Kubernetes permissions: ${missing.join(', ')} (cluster-wide). Nothing was changed. ` +
        `Bind the identity in your kubeconfig to the ClusterRole shipped in ${RBAC_FILE}.`,
    );
    this.name = 'PermissionError';
  }
}

/** Throws PermissionError naming every missing permission. */
export async function checkAccess(client: KubeClient, operation: Operation, surge: boolean, waitForReplacements = false): Promise<void> {
  const queries = requiredAccess(operation, surge, waitForReplacements);
  const answers = await Promise.all(queries.map(async (q) => ({ q, ...(await client.canI(q)) })));
  const missing = answers.filter((a) => !a.allowed).map((a) => describeAccess(a.q));
  if (missing.length > 0) throw new PermissionError([...new Set(missing)]);
}

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
  // Owners of many pods in one namespace are resolved by a paged list instead of a GET each.
  { verb: 'list', resource: 'replicasets', group: 'apps' },
  { verb: 'list', resource: 'deployments', group: 'apps' },
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

/** The availability gate: the Services named, and their EndpointSlices (watched while draining). */
const availabilityRead: AccessQuery[] = [
  { verb: 'get', resource: 'services', group: '' },
  { verb: 'list', resource: 'services', group: '' },
  { verb: 'get', resource: 'namespaces', group: '' },
  { verb: 'list', resource: 'endpointslices', group: 'discovery.k8s.io' },
];
const availabilityWatch: AccessQuery[] = [...availabilityRead, { verb: 'watch', resource: 'endpointslices', group: 'discovery.k8s.io' }];

/**
 * The wait for the drained pods' volumes to detach (unless volume-detach-timeout: off): the
 * VolumeAttachments naming the node, and each pod's claim and its volume (PVC → PV).
 */
const volumeDetach: AccessQuery[] = [
  { verb: 'list', resource: 'volumeattachments', group: 'storage.k8s.io' },
  { verb: 'watch', resource: 'volumeattachments', group: 'storage.k8s.io' },
  { verb: 'get', resource: 'persistentvolumeclaims', group: '' },
  { verb: 'get', resource: 'persistentvolumes', group: '' },
];
/** disable-eviction / force-after delete pods: checked before any change, not found missing mid-drain. */
const forcedDeletion: AccessQuery[] = [{ verb: 'delete', resource: 'pods', group: '' }];

/** What a drain needs beyond its usual verbs, for what the options turn on. */
export interface DrainExtras {
  /** The volume-detach wait is on (volume-detach-timeout not off, not a dry run). */
  volumeDetach?: boolean;
  /** disable-eviction or force-after is set. */
  forcedDeletion?: boolean;
}

/**
 * What `operation` needs; surge migration and wait-for-replacements add their workload verbs,
 * the availability gate (when not off) its Service and EndpointSlice verbs.
 */
export function requiredAccess(operation: Operation, surge: boolean, waitForReplacements = false, availability = false, extras: DrainExtras = {}): AccessQuery[] {
  switch (operation) {
    case 'plan':
      return [...read, ...(availability ? availabilityRead : [])];
    case 'cordon':
      return cordon;
    case 'uncordon':
      return unique([...cordon, ...restoreLeftovers]);
    case 'drain':
      return unique([
        ...read,
        ...cordon,
        ...evict,
        ...restoreLeftovers,
        ...(surge ? migrate : []),
        ...(waitForReplacements ? waitReplacements : []),
        ...(availability ? availabilityWatch : []),
        ...(extras.volumeDetach ? volumeDetach : []),
        ...(extras.forcedDeletion ? forcedDeletion : []),
      ]);
  }
}

/** Each permission once: every query is one SelfSubjectAccessReview request. */
function unique(queries: AccessQuery[]): AccessQuery[] {
  const seen = new Map(queries.map((q) => [describeAccess(q), q]));
  return [...seen.values()];
}

export function describeAccess(q: AccessQuery): string {
  const res = q.subresource ? `${q.resource}/${q.subresource}` : q.resource;
  return `${q.verb} ${q.group ? `${res}.${q.group}` : res}`;
}

export { PermissionError } from '../errors.js';

/** The availability gate's own permissions, apart from the operation's. */
export function availabilityAccess(operation: Operation): AccessQuery[] {
  return operation === 'drain' ? availabilityWatch : availabilityRead;
}

/** The permissions among `queries` the identity lacks, each named once. */
export async function missingAccess(client: KubeClient, queries: AccessQuery[]): Promise<string[]> {
  const answers = await Promise.all(unique(queries).map(async (q) => ({ q, ...(await client.canI(q)) })));
  return [...new Set(answers.filter((a) => !a.allowed).map((a) => describeAccess(a.q)))];
}

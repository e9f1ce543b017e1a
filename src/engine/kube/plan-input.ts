// Gathers what the planner needs, as plain objects: the workloads owning the drained pods, and
// the planner's input for one node from what the run gathered once (kube/cluster-pods.ts: the
// pods, and what every node has room for; the PDBs from the shared watch cache).
import type { V1DaemonSet, V1Deployment, V1Node, V1Pod, V1PodDisruptionBudget, V1ReplicaSet } from '@kubernetes/client-node';
import type { NodeCapacity, PlanInput, WorkloadInfo } from '../types.js';
import type { KubeClient } from './client.js';
import { controllerOf, workloadKeyOf } from '../plan/pod.js';
import { rolloutStrategy } from '../plan/migration.js';
import { statusCode } from './errors.js';

/** Whether a Deployment's strategy lets a rollout add a pod before removing one. */
export function deploymentCanSurge(d: V1Deployment): boolean {
  const strategy = d.spec?.strategy;
  if (strategy?.type === 'Recreate') return false;
  const surge = strategy?.rollingUpdate?.maxSurge ?? '25%';
  if (typeof surge === 'number') return surge >= 1;
  const pct = /^(\d+)%$/.exec(surge);
  // A percentage rounds up (at least one pod for any non-zero percentage).
  return pct ? Number(pct[1]) > 0 : Number(surge) >= 1;
}

function deploymentInfo(d: V1Deployment): WorkloadInfo {
  return {
    kind: 'Deployment',
    namespace: d.metadata?.namespace ?? '',
    name: d.metadata?.name ?? '',
    replicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    canSurge: deploymentCanSurge(d),
    rollout: rolloutStrategy(d),
  };
}

async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

/** The apps/v1 DaemonSet, or undefined if there is none of that name. */
function getDaemonSet(client: KubeClient, namespace: string, name: string): Promise<V1DaemonSet | undefined> {
  return ignoreNotFound(client.getDaemonSet(namespace, name));
}

/**
 * In a namespace with at least this many ReplicaSets to resolve, one paged list of its
 * ReplicaSets and one of its Deployments replace two GETs per ReplicaSet: the cost per evicted
 * pod stays flat when a node holds pods of many Deployments (each page is reduced to the objects
 * asked for and dropped).
 */
export const LIST_WORKLOADS_FROM = 3;
/** Owners to resolve in at least this many namespaces: the cluster's lists, not each namespace's. */
export const LIST_CLUSTER_WIDE_FROM = 3;

interface ReplicaSetLookup {
  replicaSet(namespace: string, name: string): Promise<V1ReplicaSet | undefined>;
  deployment(namespace: string, name: string): Promise<V1Deployment | undefined>;
}

async function replicaSetLookup(client: KubeClient, pods: V1Pod[], known: Record<string, WorkloadInfo>): Promise<ReplicaSetLookup> {
  const wanted = new Map<string, Set<string>>();
  for (const pod of pods) {
    const owner = controllerOf(pod);
    const key = workloadKeyOf(pod);
    if (owner?.kind !== 'ReplicaSet' || key === undefined || key in known) continue;
    const ns = pod.metadata?.namespace ?? '';
    wanted.set(ns, (wanted.get(ns) ?? new Set()).add(owner.name));
  }
  const listed = new Map<string, { replicaSets: Map<string, V1ReplicaSet>; deployments: Map<string, V1Deployment> }>();
  // Owners spread over many namespaces (a node holds pods of many teams): one list of the
  // cluster's ReplicaSets and one of its Deployments, a constant per run, instead of a pair of
  // lists or of GETs per namespace.
  const clusterWide = wanted.size >= LIST_CLUSTER_WIDE_FROM;
  const scopes: (string | undefined)[] = clusterWide ? [undefined] : [...wanted].filter(([, names]) => names.size >= LIST_WORKLOADS_FROM).map(([ns]) => ns);
  for (const scope of scopes) {
    const inScope = scope === undefined ? [...wanted.keys()] : [scope];
    for (const ns of inScope) listed.set(ns, { replicaSets: new Map(), deployments: new Map() });
    const owners = new Map<string, Set<string>>();
    await client.scanReplicaSets(scope, (page) => {
      for (const rs of page) {
        const ns = rs.metadata?.namespace ?? '';
        const name = rs.metadata?.name ?? '';
        if (!wanted.get(ns)?.has(name) || !listed.has(ns)) continue;
        listed.get(ns)!.replicaSets.set(name, rs);
        for (const r of rs.metadata?.ownerReferences ?? []) if (r.controller && r.kind === 'Deployment') owners.set(ns, (owners.get(ns) ?? new Set()).add(r.name));
      }
    });
    await client.scanDeployments(scope, (page) => {
      for (const d of page) {
        const ns = d.metadata?.namespace ?? '';
        if (owners.get(ns)?.has(d.metadata?.name ?? '')) listed.get(ns)!.deployments.set(d.metadata!.name!, d);
      }
    });
  }
  return {
    // From the lists where the namespace was listed (absent = not found), else one GET each.
    replicaSet: async (ns, name) => (listed.has(ns) ? listed.get(ns)!.replicaSets.get(name) : ignoreNotFound(client.getReplicaSet(ns, name))),
    deployment: async (ns, name) => (listed.get(ns)?.deployments.get(name) ?? (listed.has(ns) ? undefined : ignoreNotFound(client.getDeployment(ns, name)))),
  };
}

/**
 * Resolves each pod's controller to workload info (ReplicaSet → its Deployment). Keys already in
 * `known` are not fetched again (a reconcile loop passes what it has); the result is `known`
 * merged with what was fetched. A controller that does not exist gets no entry, and is looked
 * up again on the next call.
 */
export async function fetchWorkloads(
  client: KubeClient,
  pods: V1Pod[],
  known: Record<string, WorkloadInfo> = {},
): Promise<Record<string, WorkloadInfo>> {
  const workloads: Record<string, WorkloadInfo> = {};
  const tried = new Set<string>();
  const deploymentNamespaces = new Set<string>();
  const lookup = await replicaSetLookup(client, pods, known);
  for (const pod of pods) {
    const owner = controllerOf(pod);
    const ns = pod.metadata?.namespace ?? '';
    if (!owner) continue;
    // A DaemonSet kind of another API group has no key: nothing to fetch, the planner refuses it.
    const key = workloadKeyOf(pod);
    if (key === undefined || key in known || tried.has(key)) continue;
    tried.add(key);
    if (owner.kind === 'DaemonSet') {
      // kubectl drain GETs the DaemonSet: a pod naming one that does not exist is no DaemonSet
      // pod, and is refused without force. Recorded only when it exists.
      const ds = await getDaemonSet(client, ns, owner.name);
      if (ds) {
        workloads[key] = {
          kind: 'DaemonSet',
          namespace: ns,
          name: owner.name,
          replicas: ds.status?.desiredNumberScheduled ?? 0,
          readyReplicas: ds.status?.numberReady ?? 0,
        };
      }
    } else if (owner.kind === 'ReplicaSet') {
      const rs = await lookup.replicaSet(ns, owner.name);
      if (!rs) continue;
      const dref = rs.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      const d = dref ? await lookup.deployment(ns, dref.name) : undefined;
      if (d) {
        workloads[key] = deploymentInfo(d);
        deploymentNamespaces.add(ns);
      } else {
        workloads[key] = {
          kind: 'ReplicaSet',
          namespace: ns,
          name: owner.name,
          replicas: rs.spec?.replicas ?? 1,
          readyReplicas: rs.status?.readyReplicas ?? 0,
        };
      }
    } else if (owner.kind === 'StatefulSet') {
      const sts = await ignoreNotFound(client.getStatefulSet(ns, owner.name));
      if (sts) {
        workloads[key] = {
          kind: 'StatefulSet',
          namespace: ns,
          name: owner.name,
          replicas: sts.spec?.replicas ?? 1,
          readyReplicas: sts.status?.readyReplicas ?? 0,
        };
      }
    }
  }
  // Scaling a Deployment an HPA manages would fight the HPA: note which ones have one.
  // One list of the cluster's HPAs (there are few) when the Deployments span namespaces.
  const hpaScopes = deploymentNamespaces.size >= 2 ? [undefined] : [...deploymentNamespaces];
  for (const scope of hpaScopes) {
    for (const hpa of await client.listHpas(scope)) {
      const ns = hpa.metadata?.namespace ?? '';
      const target = hpa.spec?.scaleTargetRef;
      if (target?.kind !== 'Deployment' || !deploymentNamespaces.has(ns)) continue;
      for (const w of Object.values(workloads)) {
        if (w.kind === 'Deployment' && w.namespace === ns && w.name === target.name) w.hpa = `${ns}/${hpa.metadata?.name}`;
      }
    }
  }
  return { ...known, ...workloads };
}

/**
 * Every node of the cluster with what its pods request (from scanClusterPods' one paged list):
 * every schedulable node is a candidate, however many there are.
 */
export function nodeCapacities(nodes: V1Node[], requested: Map<string, NodeCapacity['requested']>): NodeCapacity[] {
  return nodes.map((node) => ({ node, requested: { ...(requested.get(node.metadata?.name ?? '') ?? { cpuMillis: 0, memoryBytes: 0, pods: 0 }) } }));
}

/** The planner's input for one node, from what the run gathered once for all its nodes. */
export function planInputFor(
  node: V1Node,
  pods: V1Pod[],
  capacity: NodeCapacity[],
  pdbs: V1PodDisruptionBudget[],
  workloads: Record<string, WorkloadInfo>,
): PlanInput {
  const name = node.metadata?.name;
  const namespaces = new Set(pods.map((p) => p.metadata?.namespace));
  return {
    node,
    pods,
    now: Date.now(),
    pdbs: pdbs.filter((p) => namespaces.has(p.metadata?.namespace)),
    workloads,
    otherNodes: capacity.filter((c) => c.node.metadata?.name !== name),
  };
}

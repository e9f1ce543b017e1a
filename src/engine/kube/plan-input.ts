// Gathers what the planner needs, as plain objects: the workloads owning the drained pods, and
// the planner's input for one node from what the run gathered once (kube/cluster-pods.ts: the
// pods, and what every node has room for; the PDBs from the shared watch cache).
import type { V1DaemonSet, V1Deployment, V1Node, V1Pod, V1PodDisruptionBudget, V1ReplicaSet } from '@kubernetes/client-node';
import type { NodeCapacity, PlanInput, WorkloadInfo } from '../types.js';
import type { KubeClient } from './client.js';
import { controllerOf, workloadKeyOf } from '../plan/pod.js';
import { rolloutStrategy } from '../plan/migration.js';
import { statusCode } from './errors.js';
import { runBounded } from '../wait.js';

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
    selector: d.spec?.selector,
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

/** Owner GETs in flight at once (DaemonSets, StatefulSets, ReplicaSets resolved one by one). */
const OWNER_GETS_AT_ONCE = 8;

interface ReplicaSetLookup {
  replicaSet(namespace: string, name: string): Promise<V1ReplicaSet | undefined>;
  deployment(namespace: string, name: string): Promise<V1Deployment | undefined>;
}

/**
 * Resolves ReplicaSets and their Deployments: from lists where there are many to resolve, else
 * by GET. The lists are asked for together (the Deployments are kept for every listed namespace,
 * not only the owners the ReplicaSets name, so neither list waits for the other).
 */
function replicaSetLookup(client: KubeClient, wanted: Map<string, Set<string>>): ReplicaSetLookup {
  // Owners spread over many namespaces (a node holds pods of many teams): one list of the
  // cluster's ReplicaSets and one of its Deployments, a constant per run, instead of a pair of
  // lists or of GETs per namespace.
  const clusterWide = wanted.size >= LIST_CLUSTER_WIDE_FROM;
  const scopes: (string | undefined)[] = clusterWide ? [undefined] : [...wanted].filter(([, names]) => names.size >= LIST_WORKLOADS_FROM).map(([ns]) => ns);
  const listedNamespaces = new Set(clusterWide ? wanted.keys() : (scopes as string[]));
  const replicaSets = new Map<string, V1ReplicaSet>();
  const deployments = new Map<string, V1Deployment>();
  const key = (ns: string, name: string) => `${ns}/${name}`;
  const lists = Promise.all(
    scopes.flatMap((scope) => [
      client.scanReplicaSets(scope, (page) => {
        for (const rs of page) {
          const ns = rs.metadata?.namespace ?? '';
          const name = rs.metadata?.name ?? '';
          if (wanted.get(ns)?.has(name)) replicaSets.set(key(ns, name), rs);
        }
      }),
      client.scanDeployments(scope, (page) => {
        for (const d of page) {
          const ns = d.metadata?.namespace ?? '';
          if (listedNamespaces.has(ns)) deployments.set(key(ns, d.metadata?.name ?? ''), d);
        }
      }),
    ]),
  );
  lists.catch(() => undefined); // awaited by every lookup in a listed namespace
  return {
    // From the lists where the namespace was listed (absent = not found), else one GET each.
    replicaSet: async (ns, name) => (listedNamespaces.has(ns) ? (await lists, replicaSets.get(key(ns, name))) : ignoreNotFound(client.getReplicaSet(ns, name))),
    deployment: async (ns, name) => (listedNamespaces.has(ns) ? (await lists, deployments.get(key(ns, name))) : ignoreNotFound(client.getDeployment(ns, name))),
  };
}

/**
 * Resolves each pod's controller to workload info (ReplicaSet → its Deployment). Keys already in
 * `known` are not fetched again (a reconcile loop passes what it has); the result is `known`
 * merged with what was fetched. A controller that does not exist gets no entry, and is looked
 * up again on the next call. Everything is asked for at once (lists, HPAs, GETs a few at a
 * time): this stands between the pod list and the plan, on the way to the first eviction.
 */
export async function fetchWorkloads(
  client: KubeClient,
  pods: V1Pod[],
  known: Record<string, WorkloadInfo> = {},
): Promise<Record<string, WorkloadInfo>> {
  const owners = new Map<string, { namespace: string; kind: string; name: string }>();
  const replicaSetsWanted = new Map<string, Set<string>>();
  for (const pod of pods) {
    const owner = controllerOf(pod);
    // A DaemonSet kind of another API group has no key: nothing to fetch, the planner refuses it.
    const key = workloadKeyOf(pod);
    if (!owner || key === undefined || key in known || owners.has(key)) continue;
    const namespace = pod.metadata?.namespace ?? '';
    owners.set(key, { namespace, kind: owner.kind, name: owner.name });
    if (owner.kind === 'ReplicaSet') replicaSetsWanted.set(namespace, (replicaSetsWanted.get(namespace) ?? new Set()).add(owner.name));
  }
  const lookup = replicaSetLookup(client, replicaSetsWanted);
  // Scaling a Deployment an HPA manages would fight the HPA: note which ones have one. Listed
  // while the owners resolve, for the namespaces with ReplicaSets to resolve (one list of the
  // cluster's HPAs, there are few, when they span namespaces).
  const hpaScopes = replicaSetsWanted.size >= 2 ? [undefined] : [...replicaSetsWanted.keys()];
  const hpasListed = Promise.all(hpaScopes.map((scope) => client.listHpas(scope))).then((lists) => lists.flat());
  hpasListed.catch(() => undefined); // awaited below, unless an owner lookup fails first

  const resolveOwner = async (namespace: string, kind: string, name: string): Promise<WorkloadInfo | undefined> => {
    if (kind === 'DaemonSet') {
      // kubectl drain GETs the DaemonSet: a pod naming one that does not exist is no DaemonSet
      // pod, and is refused without force. Recorded only when it exists.
      const ds = await getDaemonSet(client, namespace, name);
      return ds && { kind: 'DaemonSet', namespace, name, replicas: ds.status?.desiredNumberScheduled ?? 0, readyReplicas: ds.status?.numberReady ?? 0 };
    }
    if (kind === 'ReplicaSet') {
      const rs = await lookup.replicaSet(namespace, name);
      if (!rs) return undefined;
      const dref = rs.metadata?.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      const d = dref ? await lookup.deployment(namespace, dref.name) : undefined;
      if (d) return deploymentInfo(d);
      return { kind: 'ReplicaSet', namespace, name, replicas: rs.spec?.replicas ?? 1, readyReplicas: rs.status?.readyReplicas ?? 0, selector: rs.spec?.selector };
    }
    if (kind === 'StatefulSet') {
      const sts = await ignoreNotFound(client.getStatefulSet(namespace, name));
      return sts && { kind: 'StatefulSet', namespace, name, replicas: sts.spec?.replicas ?? 1, readyReplicas: sts.status?.readyReplicas ?? 0, selector: sts.spec?.selector };
    }
    return undefined;
  };
  const keys = [...owners.keys()];
  const results = await runBounded(
    OWNER_GETS_AT_ONCE,
    keys.map((key) => () => {
      const o = owners.get(key)!;
      return resolveOwner(o.namespace, o.kind, o.name);
    }),
  );
  const workloads: Record<string, WorkloadInfo> = {};
  for (const [i, result] of results.entries()) {
    if (result.status === 'rejected') throw result.reason;
    if (result.value) workloads[keys[i]!] = result.value;
  }
  for (const hpa of await hpasListed) {
    const ns = hpa.metadata?.namespace ?? '';
    const target = hpa.spec?.scaleTargetRef;
    if (target?.kind !== 'Deployment') continue;
    for (const w of Object.values(workloads)) {
      if (w.kind === 'Deployment' && w.namespace === ns && w.name === target.name) w.hpa = `${ns}/${hpa.metadata?.name}`;
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
  now: number,
): PlanInput {
  const name = node.metadata?.name;
  const namespaces = new Set(pods.map((p) => p.metadata?.namespace));
  return {
    node,
    pods,
    now,
    pdbs: pdbs.filter((p) => namespaces.has(p.metadata?.namespace)),
    workloads,
    otherNodes: capacity.filter((c) => c.node.metadata?.name !== name),
  };
}

// How owners are resolved: a GET each for a few, one paged list per namespace for many (flat cost
// per evicted pod). The client is a plain object answering like the API server would.
import { describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1ReplicaSet, V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { fetchWorkloads, LIST_CLUSTER_WIDE_FROM, LIST_WORKLOADS_FROM } from '../../src/engine/kube/plan-input.js';
import type { KubeClient } from '../../src/engine/kube/client.js';
import { makePod } from './plan/fixtures.js';

function rs(ns: string, name: string, deployment: string): V1ReplicaSet {
  return { metadata: { namespace: ns, name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: 'd', controller: true }] }, spec: { replicas: 2, selector: {} } };
}
function dep(ns: string, name: string): V1Deployment {
  return { metadata: { namespace: ns, name }, spec: { replicas: 3, selector: {}, template: {} }, status: { readyReplicas: 3 } };
}

function fakeClient(replicaSets: V1ReplicaSet[], deployments: V1Deployment[], hpas: V2HorizontalPodAutoscaler[] = []) {
  const calls: string[] = [];
  const find = <T extends { metadata?: { namespace?: string; name?: string } }>(list: T[], ns: string, name: string) => {
    const found = list.find((o) => o.metadata?.namespace === ns && o.metadata?.name === name);
    if (!found) throw Object.assign(new Error('not found'), { code: 404 });
    return found;
  };
  const client = {
    getReplicaSet: async (ns: string, name: string) => (calls.push(`get rs ${ns}/${name}`), find(replicaSets, ns, name)),
    getDeployment: async (ns: string, name: string) => (calls.push(`get deploy ${ns}/${name}`), find(deployments, ns, name)),
    scanReplicaSets: async (ns: string | undefined, onPage: (items: V1ReplicaSet[]) => void) => (calls.push(`list rs ${ns ?? '(cluster)'}`), onPage(replicaSets.filter((r) => ns === undefined || r.metadata?.namespace === ns))),
    scanDeployments: async (ns: string | undefined, onPage: (items: V1Deployment[]) => void) => (calls.push(`list deploy ${ns ?? '(cluster)'}`), onPage(deployments.filter((d) => ns === undefined || d.metadata?.namespace === ns))),
    listHpas: async (ns: string | undefined) => (calls.push(`list hpa ${ns ?? '(cluster)'}`), hpas.filter((h) => ns === undefined || h.metadata?.namespace === ns)),
  } as unknown as KubeClient;
  return { client, calls };
}

describe('fetchWorkloads', () => {
  it(`lists a namespace's ReplicaSets and Deployments once when it has ${LIST_WORKLOADS_FROM} or more to resolve, and GETs the few elsewhere`, async () => {
    const names = ['a', 'b', 'c', 'd'];
    const { client, calls } = fakeClient(
      [...names.map((n) => rs('bulk', `${n}-rs`, n)), rs('small', 'x-rs', 'x')],
      [...names.map((n) => dep('bulk', n)), dep('small', 'x')],
    );
    const pods = [
      ...names.map((n) => makePod(`${n}-1`, { namespace: 'bulk', owner: { kind: 'ReplicaSet', name: `${n}-rs` } })),
      makePod('a-2', { namespace: 'bulk', owner: { kind: 'ReplicaSet', name: 'a-rs' } }),
      makePod('gone-1', { namespace: 'bulk', owner: { kind: 'ReplicaSet', name: 'gone-rs' } }),
      makePod('x-1', { namespace: 'small', owner: { kind: 'ReplicaSet', name: 'x-rs' } }),
    ];
    const workloads = await fetchWorkloads(client, pods);
    expect(calls.filter((c) => !c.startsWith('list hpa')).sort()).toEqual(['get deploy small/x', 'get rs small/x-rs', 'list deploy bulk', 'list rs bulk']);
    expect(Object.keys(workloads).sort()).toEqual(['ReplicaSet/bulk/a-rs', 'ReplicaSet/bulk/b-rs', 'ReplicaSet/bulk/c-rs', 'ReplicaSet/bulk/d-rs', 'ReplicaSet/small/x-rs']);
    expect(workloads['ReplicaSet/bulk/c-rs']).toMatchObject({ kind: 'Deployment', namespace: 'bulk', name: 'c', replicas: 3, readyReplicas: 3 });
  });

  it(`owners in ${LIST_CLUSTER_WIDE_FROM} or more namespaces (one pod each): the cluster's ReplicaSets, Deployments and HPAs listed once, no GET`, async () => {
    const namespaces = ['n1', 'n2', 'n3'];
    const { client, calls } = fakeClient(
      [...namespaces.map((ns) => rs(ns, 'web-rs', 'web')), rs('n9', 'web-rs', 'web')],
      [...namespaces.map((ns) => dep(ns, 'web')), dep('n9', 'web')],
      [
        { metadata: { namespace: 'n2', name: 'scaler' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 5 } },
        { metadata: { namespace: 'n9', name: 'elsewhere' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 5 } },
      ],
    );
    const pods = [...namespaces.map((ns) => makePod(`web-${ns}`, { namespace: ns, owner: { kind: 'ReplicaSet', name: 'web-rs' } })), makePod('lost', { namespace: 'n1', owner: { kind: 'ReplicaSet', name: 'gone-rs' } })];
    const workloads = await fetchWorkloads(client, pods);
    expect(calls).toEqual(['list rs (cluster)', 'list deploy (cluster)', 'list hpa (cluster)']);
    expect(Object.keys(workloads).sort()).toEqual(['ReplicaSet/n1/web-rs', 'ReplicaSet/n2/web-rs', 'ReplicaSet/n3/web-rs']);
    expect(workloads['ReplicaSet/n2/web-rs']).toMatchObject({ kind: 'Deployment', namespace: 'n2', name: 'web', hpa: 'n2/scaler' });
    expect(workloads['ReplicaSet/n1/web-rs']!.hpa).toBeUndefined();
  });

  it('asks for every owner at once: the lists, the HPA list and the GETs are all in flight before any answers', async () => {
    // A round trip each, one after the other, was three (lists) or more (GETs) round trips between
    // the pod list and the plan, on the way to the first eviction.
    const names = ['a', 'b', 'c'];
    const { client: answering } = fakeClient([...names.map((n) => rs('bulk', `${n}-rs`, n))], [...names.map((n) => dep('bulk', n))]);
    const inFlight: string[] = [];
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    const held = <A extends unknown[], R>(what: string, fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        inFlight.push(what);
        await answered;
        return fn(...args);
      };
    const a = answering as unknown as Record<string, (...args: never[]) => Promise<unknown>>;
    const client = {
      scanReplicaSets: held('list rs', a.scanReplicaSets!),
      scanDeployments: held('list deploy', a.scanDeployments!),
      listHpas: held('list hpa', a.listHpas!),
      getDaemonSet: held('get ds', async (ns: string, name: string) => ({ metadata: { namespace: ns, name }, status: { desiredNumberScheduled: 3, numberReady: 3 } })),
      getStatefulSet: held('get sts', async (ns: string, name: string) => ({ metadata: { namespace: ns, name }, spec: { replicas: 2 }, status: { readyReplicas: 2 } })),
    } as unknown as KubeClient;
    const pods = [
      ...names.map((n) => makePod(`${n}-1`, { namespace: 'bulk', owner: { kind: 'ReplicaSet', name: `${n}-rs` } })),
      makePod('agent-1', { namespace: 'sys', owner: { kind: 'DaemonSet', name: 'agent' } }),
      makePod('db-0', { namespace: 'data', owner: { kind: 'StatefulSet', name: 'db' } }),
    ];
    const fetched = fetchWorkloads(client, pods);
    await new Promise((r) => setImmediate(r));
    expect(inFlight.sort()).toEqual(['get ds', 'get sts', 'list deploy', 'list hpa', 'list rs']);
    answer();
    const workloads = await fetched;
    expect(workloads['ReplicaSet/bulk/a-rs']).toMatchObject({ kind: 'Deployment', name: 'a' });
    expect(workloads['DaemonSet/sys/agent']).toMatchObject({ kind: 'DaemonSet', replicas: 3 });
    expect(workloads['StatefulSet/data/db']).toMatchObject({ kind: 'StatefulSet', replicas: 2 });
  });
});

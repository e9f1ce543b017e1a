// Bulk workloads for the scale mode: Deployments with a PDB each, DaemonSets and StatefulSets,
// created through the API in parallel; their pods are made by kube-controller-manager and placed by
// the real scheduler, as on a real cluster. Readiness is read from the workloads' status (a few
// hundred objects), never from a list of ten thousand pods.
import {
  AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api, type V1Affinity, type V1PodTemplateSpec,
} from '@kubernetes/client-node';
import { inBatches, type LocalCluster } from './cluster.js';

export interface ScaleWorkloadOptions {
  /** Namespaces scale-00.. each get an equal share of the Deployments. Default 10. */
  namespaces?: number;
  /** Default 100 Deployments of 100 replicas, each with a PDB maxUnavailable 10%. */
  deployments?: number;
  replicas?: number;
  pdbMaxUnavailable?: string;
  /** Default 1 DaemonSet (one pod on every node). */
  daemonSets?: number;
  /** Default 3 StatefulSets of 10 replicas (no volumes). */
  statefulSets?: number;
  statefulSetReplicas?: number;
  /**
   * Nodes with this label key get none of these pods but the DaemonSets': a benchmark places its
   * own pods there and drains them.
   */
  avoidNodeLabel?: string;
  /** Bound on the wait for every workload Ready. Default 20 min (10,000 pods on 2 cores take a few). */
  readyTimeoutMs?: number;
  log?: (msg: string) => void;
}

export interface ScaleWorkloads {
  namespaces: string[];
  /** Pods the workloads asked for (DaemonSet pods counted from its desired count). */
  pods: number;
  seconds: number;
}

export const SCALE_APP_LABEL = 'safe-drain.local/scale-app';

function podTemplate(app: string, affinity: V1Affinity | undefined): V1PodTemplateSpec {
  return {
    metadata: { labels: { [SCALE_APP_LABEL]: app } },
    spec: {
      ...(affinity ? { affinity } : {}),
      containers: [{ name: 'app', image: 'registry.invalid/scale:1', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
    },
  };
}

export async function createScaleWorkloads(cluster: LocalCluster, o: ScaleWorkloadOptions = {}): Promise<ScaleWorkloads> {
  const started = Date.now();
  const log = o.log ?? ((): void => undefined);
  const nsCount = o.namespaces ?? 10;
  const deployments = o.deployments ?? 100;
  const replicas = o.replicas ?? 100;
  const daemonSets = o.daemonSets ?? 1;
  const statefulSets = o.statefulSets ?? 3;
  const stsReplicas = o.statefulSetReplicas ?? 10;
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const affinity: V1Affinity | undefined = o.avoidNodeLabel
    ? {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchExpressions: [{ key: o.avoidNodeLabel, operator: 'DoesNotExist' }] }],
          },
        },
      }
    : undefined;

  const namespaces = Array.from({ length: nsCount }, (_, i) => `scale-${String(i).padStart(2, '0')}`);
  await Promise.all(namespaces.map((name) => core.createNamespace({ body: { metadata: { name } } })));
  const nsOf = (i: number): string => namespaces[i % nsCount]!;

  const creates: (() => Promise<unknown>)[] = [];
  for (let i = 0; i < deployments; i++) {
    const name = `d${String(i).padStart(3, '0')}`;
    const namespace = nsOf(i);
    creates.push(() =>
      apps.createNamespacedDeployment({
        namespace,
        body: {
          metadata: { name },
          spec: { replicas, selector: { matchLabels: { [SCALE_APP_LABEL]: name } }, template: podTemplate(name, affinity) },
        },
      }),
    );
    creates.push(() =>
      policy.createNamespacedPodDisruptionBudget({
        namespace,
        body: {
          metadata: { name },
          spec: {
            maxUnavailable: o.pdbMaxUnavailable ?? '10%',
            selector: { matchLabels: { [SCALE_APP_LABEL]: name } },
          },
        },
      }),
    );
  }
  for (let i = 0; i < daemonSets; i++) {
    const name = `ds${i}`;
    creates.push(() =>
      apps.createNamespacedDaemonSet({
        namespace: namespaces[0]!,
        body: { metadata: { name }, spec: { selector: { matchLabels: { [SCALE_APP_LABEL]: name } }, template: podTemplate(name, undefined) } },
      }),
    );
  }
  for (let i = 0; i < statefulSets; i++) {
    const name = `sts${i}`;
    creates.push(() =>
      apps.createNamespacedStatefulSet({
        namespace: nsOf(i),
        body: {
          metadata: { name },
          spec: {
            serviceName: name,
            replicas: stsReplicas,
            podManagementPolicy: 'Parallel',
            selector: { matchLabels: { [SCALE_APP_LABEL]: name } },
            template: podTemplate(name, affinity),
          },
        },
      }),
    );
  }
  await inBatches(creates, 16, async (create) => {
    await create();
  });
  log(`${deployments} Deployments (${replicas} replicas, PDB each), ${daemonSets} DaemonSets, ${statefulSets} StatefulSets created (${Date.now() - started} ms)`);

  // Ready when every workload reports all its replicas ready.
  const deadline = Date.now() + (o.readyTimeoutMs ?? 20 * 60_000);
  let lastLog = 0;
  for (;;) {
    const [ds, dss, stss] = await Promise.all([
      apps.listDeploymentForAllNamespaces(),
      apps.listDaemonSetForAllNamespaces(),
      apps.listStatefulSetForAllNamespaces(),
    ]);
    const ours = <T extends { metadata?: { namespace?: string } }>(items: T[]): T[] =>
      items.filter((x) => namespaces.includes(x.metadata?.namespace ?? ''));
    let want = 0;
    let ready = 0;
    for (const d of ours(ds.items)) {
      want += d.spec?.replicas ?? 0;
      ready += d.status?.readyReplicas ?? 0;
    }
    for (const d of ours(dss.items)) {
      want += d.status?.desiredNumberScheduled ?? 0;
      ready += d.status?.numberReady ?? 0;
    }
    for (const s of ours(stss.items)) {
      want += s.spec?.replicas ?? 0;
      ready += s.status?.readyReplicas ?? 0;
    }
    const allSeen = ours(dss.items).length === daemonSets && ours(dss.items).every((d) => (d.status?.desiredNumberScheduled ?? 0) > 0);
    if (allSeen && want > 0 && ready === want) {
      const seconds = (Date.now() - started) / 1000;
      log(`${ready} pods Ready (${seconds.toFixed(1)} s)`);
      return { namespaces, pods: want, seconds };
    }
    if (Date.now() > deadline) throw new Error(`scale workloads: ${ready} of ${want} pods Ready after ${o.readyTimeoutMs ?? 1_200_000} ms`);
    if (Date.now() - lastLog > 10_000) {
      lastLog = Date.now();
      log(`${ready} of ${want} pods Ready (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

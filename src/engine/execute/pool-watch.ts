// The run's view of the nodes it drains and of their pods: ONE list+watch of the cluster's pods
// and ONE of its nodes for the whole run, however many nodes it drains (not one of each per
// node). The pod list is the planning scan (kube/cluster-pods.ts): each page is reduced to the
// full objects of the drained nodes' pods plus request sums for the other nodes, so memory holds
// the drained nodes' pods, never the cluster's. Every pod, kept or not, also feeds the run's
// ReadinessIndex (live-workloads.ts). Each node's drain reads a filtered view.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from '../kube/client.js';
import { scanClusterPods, type ClusterPods } from '../kube/cluster-pods.js';
import type { ResourceWatch } from '../kube/watch.js';
import { ReadinessIndex } from './live-workloads.js';
import type { PodSource } from './pod-work.js';

export class PoolWatch {
  private readonly names: Set<string>;
  private readonly podWatch: ResourceWatch<V1Pod>;
  readonly nodeWatch: ResourceWatch<V1Node>;
  /** Serving pods per workload, from every pod of the cluster. */
  readonly readiness = new ReadinessIndex();
  private firstScan?: ClusterPods;

  constructor(client: KubeClient, nodes: string[], onError: (m: string) => void) {
    this.names = new Set(nodes);
    this.podWatch = client.watchClusterPods({
      keep: (p) => this.names.has(p.spec?.nodeName ?? ''),
      observe: (type, p) => this.readiness.observe(type, p),
      onError,
      list: async () => {
        this.readiness.clear();
        const scan = await scanClusterPods(client, this.names, (p) => this.readiness.observe('ADDED', p));
        this.firstScan ??= scan;
        return { items: [...scan.onDrainedNodes.values()].flat(), resourceVersion: scan.resourceVersion };
      },
    });
    this.nodeWatch = client.watchNodes({ keep: (n) => this.names.has(n.metadata?.name ?? ''), onError });
  }

  /** Lists and starts watching; returns the first list's scan (what planning needs). */
  async start(): Promise<ClusterPods> {
    await Promise.all([this.podWatch.start(), this.nodeWatch.start()]);
    const scan = this.firstScan!;
    this.firstScan = undefined;
    return scan;
  }

  stop(): void {
    this.podWatch.stop();
    this.nodeWatch.stop();
  }

  node(name: string): V1Node | undefined {
    return this.nodeWatch.get(name);
  }

  /** The pods bound to one drained node, live. */
  podsOn(node: string): PodSource {
    const watch = this.podWatch;
    const here = (p: V1Pod | undefined) => (p?.spec?.nodeName === node ? p : undefined);
    return {
      get: (key) => here(watch.get(key)),
      items: () => watch.items().filter((p) => p.spec?.nodeName === node),
      subscribe: (listener) =>
        watch.subscribe((type, p) => {
          if (p.spec?.nodeName === node) listener(type, p);
        }),
    };
  }
}

// A cluster the e2e scenarios run against. Two implementations: `local` (real control plane +
// one kwok process per node, cluster/src) and `kind` (testcontainers, GitHub-hosted runners).
export type BackendName = 'local' | 'kind' | 'real-nodes';

export interface AvailabilitySample {
  /** Epoch ms. */
  at: number;
  /** true: the Service had a ready endpoint / answered an HTTP request. */
  available: boolean;
  detail?: string;
}

export interface AvailabilityProbe {
  /** Stops probing and returns every sample taken, in time order. */
  stop(): Promise<AvailabilitySample[]>;
}

export interface ProbeTarget {
  namespace: string;
  service: string;
  port: number;
}

export interface ClusterBackend {
  readonly name: BackendName;
  readonly kubeconfigPath: string;
  /** Worker nodes pods can be scheduled on. */
  readonly nodes: string[];
  /** Stops the node's kubelet for real (kwok process stop / `systemctl stop kubelet`). */
  stopKubelet(node: string): Promise<void>;
  startKubelet(node: string): Promise<void>;
  /** Measures availability of a Service continuously until stop(). */
  startAvailabilityProbe(target: ProbeTarget): Promise<AvailabilityProbe>;
  /** Image for the sample `helloworld` Deployment (must serve HTTP on containerPort 8080 on kind). */
  readonly sampleImage: string;
  /** Container args for the sample image (e.g. agnhost's `netexec --http-port=8080`). */
  readonly sampleArgs?: string[];
  /** Pod-template annotations for the sample app (the local backend uses one to give it a start-up time). */
  readonly samplePodAnnotations?: Record<string, string>;
  stop(): Promise<void>;
}

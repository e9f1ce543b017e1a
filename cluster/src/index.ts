// Public API of the local cluster (tests, e2e suite, bench).
export {
  startCluster, openCluster, reapStale, inBatches, scaleNodeName, SCALE_NODE_LABEL, DEFAULT_STATE_ROOT, RESYNC_ANNOTATION, CLI_STATE_DIR, SERVICE_CLUSTER_IP_RANGE,
  type ClusterOptions, type LocalCluster, type NodeSpec, type Taint,
} from './cluster.js';
export { ensureBinaries, BINARIES, K8S_VERSION_ENV, type BinaryName } from './binaries.js';
export { generatePki, FIRST_SERVICE_IP, type Pki, type CertPair } from './pki.js';
export { kwokConfigYaml, POD_DELETE_DELAY_ANNOTATION, POD_READY_DELAY_ANNOTATION, type KwokConfigOptions } from './kwok-config.js';
export { isAlive } from './procs.js';
export { createScaleWorkloads, SCALE_APP_LABEL, type ScaleWorkloadOptions, type ScaleWorkloads } from './scale.js';

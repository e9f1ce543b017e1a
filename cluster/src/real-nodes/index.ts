// The real-nodes backend of the local cluster: real kubelet/containerd/kube-proxy in Docker containers.
export {
  startRealNodesCluster, openRealNodesCluster, isRealNodesStateDir, reapStaleRealNodes, realNodesLeftovers, teardownSync,
  CLUSTER_CIDR, STATE_DIR_LABEL, type RealNodesCluster, type RealNodesOptions,
} from './real-nodes.js';
export { ensureNodeImages, type RealNodeImages } from './images.js';
export { KUBELET_SYSCTLS, readSysctls, savedSysctlsFile } from './host-sysctls.js';

// A real-nodes node as a testcontainers GenericContainer. testcontainers has builders for
// capabilities, security options, tmpfs and binds but none for the cgroup namespace, devices,
// device cgroup rules or an init process; its hostConfig is protected, so a subclass sets them
// (the way its own modules are written).
import { GenericContainer, Wait, type ImagePullPolicy } from 'testcontainers';

/** Never pull: every image of this backend is built locally (scripts/build-node-image.sh). */
export const NEVER_PULL: ImagePullPolicy = { shouldPull: () => false };

export interface NodeContainerOptions {
  image: string;
  name: string;
  network: string;
  labels: Record<string, string>;
  /** Files copied in before start (per-node configs, certificates). */
  files: { target: string; content: string; mode?: number }[];
  /**
   * --privileged (where it is allowed, e.g. GitHub-hosted runners). Default false: the capability
   * set, unconfined seccomp/apparmor/systempaths, a private cgroupns and /dev/kmsg are enough.
   */
  privileged?: boolean;
  startupTimeoutMs?: number;
}

export class NodeContainer extends GenericContainer {
  constructor(opts: NodeContainerOptions) {
    super(opts.image);
    this.withName(opts.name)
      .withHostname(opts.name)
      .withPullPolicy(NEVER_PULL)
      .withNetworkMode(opts.network)
      .withLabels(opts.labels)
      .withTmpFs({ '/run': 'rw,exec,mode=755', '/tmp': 'rw,exec,mode=1777' })
      .withBindMounts([{ source: '/lib/modules', target: '/lib/modules', mode: 'ro' }])
      .withCopyContentToContainer(opts.files)
      .withWaitStrategy(Wait.forLogMessage('safe-drain node ready'))
      .withStartupTimeout(opts.startupTimeoutMs ?? 120_000);
    if (opts.privileged) {
      this.withPrivilegedMode();
    } else {
      this.withAddedCapabilities('ALL')
        // The kubelet raises RLIMITs it needs no higher here; SYS_RESOURCE would let it touch host-wide limits.
        .withDroppedCapabilities('SYS_RESOURCE')
        .withSecurityOpt('seccomp=unconfined', 'apparmor=unconfined');
      // The API form of the CLI's `--security-opt systempaths=unconfined`: /proc/sys writable
      // (kube-proxy and the CNI plugins set per-network-namespace sysctls).
      const hc = this.hostConfig as { MaskedPaths?: string[]; ReadonlyPaths?: string[] };
      hc.MaskedPaths = [];
      hc.ReadonlyPaths = [];
      this.hostConfig.Devices = [{ PathOnHost: '/dev/kmsg', PathInContainer: '/dev/kmsg', CgroupPermissions: 'rwm' }];
      // containerd creates device nodes for pods (/dev/null, ...) inside the node's device cgroup.
      this.hostConfig.DeviceCgroupRules = ['a *:* rwm'];
    }
    // The kubelet's cgroups go below the node's own cgroup, not the host's root.
    (this.hostConfig as { CgroupnsMode?: string }).CgroupnsMode = 'private';
    // An init as PID 1 reaps a killed kubelet (stop-kubelet) and forwards SIGTERM.
    this.hostConfig.Init = true;
  }
}

// npm run cluster -- <command>: a long-lived local cluster for people (tests start their own).
//   up [--nodes N] [--node-monitor-grace-period 50s]   start it (processes outlive the command)
//   up --kubernetes v1.32.13                          an older supported release (built on first use)
//   up --nodes 3 --scale-nodes 1000                   plus 1,000 nodes played by ONE kwok (scale mode)
//   populate [--deployments 100 --replicas 100]        bulk workloads: Deployments + PDBs, DaemonSets, StatefulSets
//   up --real-nodes N                                  N real nodes instead (Docker containers with a
//                                                      real kubelet, containerd, kube-proxy: real-nodes/)
//   status                                             processes, nodes and their Ready state
//   stop-kubelet NODE / start-kubelet NODE             stop/start that node's kwok (its "kubelet")
//   kubectl ARGS...                                    run the cluster's kubectl against it
//   down                                               stop everything, remove the state dir
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { CLI_STATE_DIR, openCluster, SCALE_NODE_LABEL, startCluster, type LocalCluster } from './cluster.js';
import { createScaleWorkloads } from './scale.js';
import { K8S_VERSION_ENV } from './binaries.js';
import { isAlive, killStateDir, readPids } from './procs.js';
import { isRealNodesStateDir, openRealNodesCluster, startRealNodesCluster, teardownSync } from './real-nodes/index.js';

const program = new Command('cluster')
  .description('A local Kubernetes control plane with one kwok "kubelet" per node')
  .option('--state-dir <dir>', 'state dir of the cluster', CLI_STATE_DIR);

const stateDir = (): string => program.opts<{ stateDir: string }>().stateDir;

/** Every recorded process alive? (undefined: no cluster at all) */
function liveness(dir: string): { alive: string[]; dead: string[] } | undefined {
  const pids = readPids(dir);
  if (!pids) return undefined;
  const entries = Object.entries(pids.procs);
  return {
    alive: entries.filter(([, r]) => isAlive(r.pid, r.startTime)).map(([n]) => n),
    dead: entries.filter(([, r]) => !isAlive(r.pid, r.startTime)).map(([n]) => n),
  };
}

function attach(): LocalCluster {
  const dir = stateDir();
  if (!existsSync(join(dir, 'state.json'))) {
    console.error(`no cluster in ${dir}: run \`npm run cluster -- up\``);
    process.exit(1);
  }
  return openRealNodesCluster(dir) ?? openCluster(dir);
}

function printKubeconfig(c: LocalCluster): void {
  console.log(`kubeconfig: ${c.kubeconfigPath}`);
  console.log(`export KUBECONFIG=${c.kubeconfigPath}`);
}

program
  .command('up')
  .description('start the cluster (in the background; it outlives this command)')
  .option('--nodes <n>', 'number of worker nodes (w1..wN)', '3')
  .option('--node-monitor-grace-period <duration>', 'kube-controller-manager --node-monitor-grace-period (default: upstream 50s)')
  .option('--real-nodes <n>', 'N real nodes (Docker containers: kubelet, containerd, kube-proxy) instead of kwok nodes')
  .option('--scale-nodes <n>', 'scale mode: N more nodes (scale-0001..), all played by one kwok process', '0')
  .option('--kubernetes <version>', 'Kubernetes release of the control plane, e.g. v1.32.13 (default: SAFE_DRAIN_K8S_VERSION, else the newest supported)')
  .action(async (o: { nodes: string; nodeMonitorGracePeriod?: string; realNodes?: string; scaleNodes: string; kubernetes?: string }) => {
    // Also read by the real-nodes image build (kubelet, kube-proxy of the same release).
    if (o.kubernetes) process.env[K8S_VERSION_ENV] = o.kubernetes;
    const dir = stateDir();
    const live = liveness(dir);
    if (live && live.dead.length === 0 && live.alive.includes('kube-apiserver')) {
      console.error(`a cluster is already running in ${dir}`);
      printKubeconfig(openCluster(dir));
      return;
    }
    if (live || existsSync(dir)) {
      console.error(`cleaning up a broken cluster in ${dir} (dead: ${live?.dead.join(', ') || 'n/a'})`);
      if (isRealNodesStateDir(dir)) teardownSync(dir);
      await killStateDir(dir);
      rmSync(dir, { recursive: true, force: true });
    }
    if (o.realNodes !== undefined) {
      const rn = await startRealNodesCluster({
        nodes: Number(o.realNodes),
        nodeMonitorGracePeriod: o.nodeMonitorGracePeriod,
        stateDir: dir,
        persistent: true,
        log: (m) => console.error(`[cluster] ${m}`),
      });
      console.error(`real nodes: ${rn.nodes.map((n) => `${n} (${rn.nodeIp(n)})`).join(', ')}; Docker network ${rn.network}; logs: ${rn.logDir}`);
      printKubeconfig(rn);
      return;
    }
    const scaleNodes = Number(o.scaleNodes);
    const c = await startCluster({
      nodes: Number(o.nodes),
      scaleNodes,
      // 1,000 nodes take longer to register and turn Ready on a small machine.
      ...(scaleNodes > 0 ? { startTimeoutMs: 180_000 + scaleNodes * 300 } : {}),
      nodeMonitorGracePeriod: o.nodeMonitorGracePeriod,
      stateDir: dir,
      persistent: true,
      log: (m) => console.error(`[cluster] ${m}`),
    });
    console.error(`nodes: ${c.nodes.join(', ')}${c.scaleNodes.length ? ` and ${c.scaleNodes.length} scale nodes` : ''}; logs: ${c.logDir}`);
    printKubeconfig(c);
  });

program
  .command('populate')
  .description('bulk workloads on the running cluster: Deployments with a PDB each, DaemonSets, StatefulSets (pods placed by the scheduler)')
  .option('--deployments <n>', 'Deployments (spread over namespaces scale-00..)', '100')
  .option('--replicas <n>', 'replicas per Deployment', '100')
  .option('--pdb-max-unavailable <v>', 'maxUnavailable of each Deployment\'s PDB', '10%')
  .option('--daemonsets <n>', 'DaemonSets (one pod per node)', '1')
  .option('--statefulsets <n>', 'StatefulSets of 10 replicas', '3')
  .action(async (o: { deployments: string; replicas: string; pdbMaxUnavailable: string; daemonsets: string; statefulsets: string }) => {
    const int = (name: string, v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number >= 0, got ${v}`);
      return n;
    };
    const r = await createScaleWorkloads(attach(), {
      deployments: int('deployments', o.deployments),
      replicas: int('replicas', o.replicas),
      pdbMaxUnavailable: o.pdbMaxUnavailable,
      daemonSets: int('daemonsets', o.daemonsets),
      statefulSets: int('statefulsets', o.statefulsets),
      log: (m) => console.error(`[populate] ${m}`),
    });
    console.log(`${r.pods} pods Ready in ${r.seconds.toFixed(1)} s (namespaces ${r.namespaces[0]}..${r.namespaces.at(-1)})`);
  });

program
  .command('status')
  .description('processes, nodes and their Ready state (exit 1 when not healthy)')
  .action(async () => {
    const dir = stateDir();
    const pids = readPids(dir);
    if (!pids) {
      console.log(`no cluster in ${dir}`);
      process.exitCode = 1;
      return;
    }
    for (const [name, r] of Object.entries(pids.procs)) {
      console.log(`${name.padEnd(26)} pid ${String(r.pid).padEnd(8)} ${isAlive(r.pid, r.startTime) ? 'running' : 'DEAD'}`);
    }
    const rn = openRealNodesCluster(dir);
    const c = rn ?? openCluster(dir);
    if (rn) for (const n of rn.nodes) console.log(`${`kubelet on ${n}`.padEnd(26)} ${rn.kubeletRunning(n) ? 'running' : 'stopped (stop-kubelet)'} (container, ${rn.nodeIp(n)})`);
    else for (const n of c.nodes) if (!pids.procs[`kwok-${n}`]) console.log(`${`kwok-${n}`.padEnd(26)} stopped (stop-kubelet)`);
    const live = liveness(dir);
    if (!live?.alive.includes('kube-apiserver')) {
      console.log('kube-apiserver is not running');
      process.exitCode = 1;
      return;
    }
    console.log('');
    if (c.scaleNodes.length === 0) console.log((await c.kubectl(['get', 'nodes', '-o', 'wide'])).trimEnd());
    else {
      // A thousand rows help nobody: the per-node kwoks' nodes, then a count of the scale nodes.
      console.log((await c.kubectl(['get', 'nodes', '-o', 'wide', '-l', `!${SCALE_NODE_LABEL}`])).trimEnd());
      const ready = (await c.kubectl([
        'get', 'nodes', '-l', SCALE_NODE_LABEL, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ])).split('\n').filter((l) => l === 'True').length;
      console.log(`scale nodes (one kwok): ${ready} of ${c.scaleNodes.length} Ready`);
    }
    console.log(`\nexport KUBECONFIG=${c.kubeconfigPath}`);
    if (live.dead.length) process.exitCode = 1;
  });

program
  .command('stop-kubelet <node>')
  .description("stop the node's kwok process: its Lease stops renewing, the node goes NotReady after the grace period")
  .action(async (node: string) => {
    await attach().stopKubelet(node);
    console.log(`kubelet of ${node} stopped`);
  });

program
  .command('start-kubelet <node>')
  .description("start the node's kwok process again")
  .action(async (node: string) => {
    await attach().startKubelet(node);
    console.log(`kubelet of ${node} started`);
  });

program
  .command('kubectl')
  .description("run the cluster's kubectl with its admin kubeconfig")
  .allowUnknownOption()
  .helpOption(false)
  .argument('[args...]')
  .action((args: string[]) => {
    const c = attach();
    const child = spawn(join(c.binDir, 'kubectl'), args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: c.kubeconfigPath } });
    child.on('exit', (code) => process.exit(code ?? 1));
  });

program
  .command('down')
  .description('stop every process of the cluster and remove its state dir')
  .action(async () => {
    const dir = stateDir();
    if (!existsSync(dir)) {
      console.log(`no cluster in ${dir}`);
      return;
    }
    const rn = openRealNodesCluster(dir);
    if (rn) await rn.stop();
    else if (existsSync(join(dir, 'state.json'))) {
      if (isRealNodesStateDir(dir)) teardownSync(dir);
      await openCluster(dir).stop();
    } else {
      if (isRealNodesStateDir(dir)) teardownSync(dir);
      await killStateDir(dir);
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`cluster in ${dir} stopped and removed`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

// A drained node is done only once the volumes of the pods the drain removed no longer name it
// (issue 21): no VolumeAttachment of their PersistentVolume names the node, and its
// status.volumesAttached lists none of them. There is no CSI driver here: the test makes the
// VolumeAttachment objects itself and removes them at chosen moments. kube-controller-manager's
// attach/detach controller leaves them alone (the kwok nodes are not controller-managed for
// attach/detach), and a finalizer keeps each one until the test lets it go.
import { afterEach, describe, expect, it } from '@jest/globals';
import { StorageV1Api, type V1ClusterRole, type V1Pod } from '@kubernetes/client-node';
import type { RunReport } from '../../src/engine/types.js';
import { deleteNamespace, deployment, drain, ensureNamespace, eventually, kubeconfigForRole, memoryLogger, pinTo, shippedClusterRole, useCluster, waitReady } from './support.js';

const W1 = 'w1';
const DRIVER = 'fake.csi.safe-drain.test';
const HOLD = 'safe-drain.test/hold';
const tc = useCluster({ nodes: 3 });

const namespaces: string[] = [];
const volumes: string[] = [];
afterEach(async () => {
  for (const pv of volumes.splice(0)) await release(pv);
  await listAttached([]);
  for (const ns of namespaces.splice(0)) await deleteNamespace(tc, ns);
  for (const pv of await pvNames()) await tc.core.deletePersistentVolume({ name: pv }).catch(() => undefined);
}, 180_000);

const storage = () => tc.kc.makeApiClient(StorageV1Api);
const attachedName = (pv: string) => `kubernetes.io/csi/${DRIVER}^handle-${pv}`;

async function pvNames(): Promise<string[]> {
  return (await tc.core.listPersistentVolume()).items.map((pv) => pv.metadata!.name!).filter((n) => n.startsWith('pv-'));
}

/** A CSI PersistentVolume bound to claim `ns/claim` (setup). */
async function boundClaim(ns: string, claim: string, pv: string): Promise<void> {
  await ensureNamespace(tc, ns);
  namespaces.push(ns);
  await tc.core.createPersistentVolume({
    body: {
      metadata: { name: pv },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        claimRef: { namespace: ns, name: claim },
        csi: { driver: DRIVER, volumeHandle: `handle-${pv}` },
      },
    },
  });
  await tc.core.createNamespacedPersistentVolumeClaim({
    namespace: ns,
    body: { metadata: { name: claim }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: pv, resources: { requests: { storage: '1Gi' } } } },
  });
  await eventually(async () => (await tc.core.readNamespacedPersistentVolumeClaim({ namespace: ns, name: claim })).status?.phase === 'Bound', `claim ${ns}/${claim} Bound`);
}

/** A Deployment on w1 whose pod mounts `claim`; `labels` on its pod template. */
async function deployWithClaim(ns: string, name: string, claim: string, labels: Record<string, string> = {}): Promise<V1Pod> {
  const body = deployment(ns, name, 1);
  body.spec!.template.metadata!.labels = { ...body.spec!.template.metadata!.labels, ...labels };
  body.spec!.template.spec!.volumes = [{ name: 'data', persistentVolumeClaim: { claimName: claim } }];
  const unpin = await pinTo(tc, W1);
  try {
    await tc.apps.createNamespacedDeployment({ namespace: ns, body });
    const [pod] = await waitReady(tc, ns, name, 1);
    return pod!;
  } finally {
    await unpin();
  }
}

/** A VolumeAttachment of `pv` to w1, as a CSI attach leaves it; kept until release(). */
async function attach(pv: string): Promise<void> {
  volumes.push(pv);
  await storage().createVolumeAttachment({
    body: { metadata: { name: `va-${pv}`, finalizers: [HOLD] }, spec: { attacher: DRIVER, nodeName: W1, source: { persistentVolumeName: pv } }, status: { attached: true } },
  });
}

/** The VolumeAttachment of `pv` is let go and deleted (a detach finished). */
async function release(pv: string): Promise<void> {
  const name = `va-${pv}`;
  await tc.cluster.kubectl(['patch', 'volumeattachment', name, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']).catch(() => undefined);
  await storage().deleteVolumeAttachment({ name }).catch(() => undefined);
  await eventually(async () => !(await storage().listVolumeAttachment()).items.some((va) => va.metadata?.name === name), `VolumeAttachment ${name} gone`);
}

/** w1's status.volumesAttached, as the attach/detach controller writes it. */
async function listAttached(pvs: string[]): Promise<void> {
  const status = { volumesAttached: pvs.map((pv) => ({ name: attachedName(pv), devicePath: '' })) };
  await tc.cluster.kubectl(['patch', 'node', W1, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

const node = (report: RunReport) => report.nodes[0]!;

/** Drains w1 and resolves once the drain says it waits for volumes (or has ended); `done` is the drain itself. */
async function drainUntilVolumeWait(): Promise<{ done: Promise<{ report: RunReport; log: string[] }> }> {
  const logger = memoryLogger();
  let ended = false;
  const done = drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 120_000 }, { logger }).finally(() => (ended = true));
  await eventually(async () => ended || logger.lines.some((l) => l.includes(`node ${W1}: waiting up to`) && l.includes('to detach')), 'the drain waiting for volumes to detach');
  return { done };
}

describe('volumes of the drained pods', () => {
  it('a VolumeAttachment naming the node holds the drain until it is gone', async () => {
    await boundClaim('vol-va', 'data', 'pv-va');
    const pod = await deployWithClaim('vol-va', 'web', 'data');
    await attach('pv-va');

    const { done } = await drainUntilVolumeWait();
    expect((await tc.core.listNamespacedPod({ namespace: 'vol-va' })).items.some((p) => p.metadata?.name === pod.metadata?.name)).toBe(false);
    await release('pv-va');
    const { report } = await done;

    expect(report.success).toBe(true);
    expect(node(report).volumeDetach).toMatchObject({ waitedFor: ['pv-va'], stillAttached: [] });
    expect(node(report).timeline).toContainEqual(expect.objectContaining({ phase: 'wait', message: 'waiting for volumes to detach: pv-va (VolumeAttachment va-pv-va)' }));
    expect(node(report).timeline).toContainEqual(expect.objectContaining({ phase: 'wait', message: expect.stringMatching(/^volumes detached after/) }));
    expect(report.summary).toMatch(/volumes pv-va detached after/);
  }, 240_000);

  it('node.status.volumesAttached listing the volume holds the drain until it no longer does', async () => {
    await boundClaim('vol-status', 'data', 'pv-status');
    await deployWithClaim('vol-status', 'web', 'data');
    await listAttached(['pv-status']);

    const { done } = await drainUntilVolumeWait();
    await listAttached([]);
    const { report } = await done;

    expect(report.success).toBe(true);
    expect(node(report).volumeDetach).toMatchObject({ waitedFor: ['pv-status'], stillAttached: [] });
    expect(node(report).timeline).toContainEqual(expect.objectContaining({ message: 'waiting for volumes to detach: pv-status (node.status.volumesAttached)' }));
  }, 240_000);

  it('a volume still attached at volume-detach-timeout: the node is not drained, the volume and what holds it are named, the node stays cordoned', async () => {
    await boundClaim('vol-stuck', 'data', 'pv-stuck');
    await deployWithClaim('vol-stuck', 'web', 'data');
    await attach('pv-stuck');

    const { report } = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 120_000, volumeDetachTimeoutMs: 3_000 });

    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).toBe(true);
    expect(report.success).toBe(false);
    expect(node(report).volumeDetach).toMatchObject({ waitedFor: ['pv-stuck'], stillAttached: ['pv-stuck'], endedBy: 'volume-detach-timeout (3s) expired' });
    expect(node(report).error).toContain(`node ${W1}: volume(s) still attached 3s after its pods left: pv-stuck (VolumeAttachment va-pv-stuck); the node is not drained`);
    await tc.cluster.kubectl(['uncordon', W1]);
  }, 240_000);

  it('volumes of pods that stay (cluster.x-k8s.io/drain=skip) are not waited for, and volume-detach-timeout: off waits for none', async () => {
    await boundClaim('vol-skip', 'kept', 'pv-kept');
    await deployWithClaim('vol-skip', 'agent', 'kept', { 'cluster.x-k8s.io/drain': 'skip' });
    await attach('pv-kept');

    const skipped = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 120_000, volumeDetachTimeoutMs: 3_000 });

    expect(skipped.report.success).toBe(true);
    expect(node(skipped.report).volumeDetach).toBeUndefined();
    await tc.cluster.kubectl(['uncordon', W1]);

    await boundClaim('vol-off', 'data', 'pv-off');
    await deployWithClaim('vol-off', 'web', 'data');
    await attach('pv-off');

    const off = await drain(tc, { nodes: [W1], migration: 'evict', timeoutMs: 120_000, volumeDetachTimeoutMs: 'off' });

    expect(off.report.success).toBe(true);
    expect(node(off.report).volumeDetach).toBeUndefined();
    // Still attached: nothing waited for it.
    expect((await storage().listVolumeAttachment()).items.map((va) => va.metadata?.name)).toContain('va-pv-off');
  }, 240_000);

  it('an identity without the volume permissions is refused before any change, told what they are for; with volume-detach-timeout: off it drains', async () => {
    await boundClaim('vol-rbac', 'data', 'pv-rbac');
    await deployWithClaim('vol-rbac', 'web', 'data');
    const older: V1ClusterRole = {
      ...shippedClusterRole,
      rules: shippedClusterRole.rules!.filter((r) => !r.resources?.some((res) => ['volumeattachments', 'persistentvolumeclaims', 'persistentvolumes'].includes(res))),
    };
    const kubeconfigPath = await kubeconfigForRole(tc, older, 'safe-drain-no-volumes');

    await expect(drain(tc, { nodes: [W1], timeoutMs: 60_000 }, { kubeconfigPath })).rejects.toThrow(
      /list volumeattachments\.storage\.k8s\.io.*get persistentvolumeclaims.*rbac\/safe-drain-clusterrole\.yaml.*volume-detach-timeout: off drains without it/s,
    );
    expect((await tc.core.readNode({ name: W1 })).spec?.unschedulable).not.toBe(true);

    const { report } = await drain(tc, { nodes: [W1], timeoutMs: 60_000, volumeDetachTimeoutMs: 'off' }, { kubeconfigPath });
    expect(report.success).toBe(true);
  }, 240_000);
});

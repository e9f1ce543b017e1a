// What still attaches a drained pod's volume to the node (VolumeAttachments, status.volumesAttached),
// and how a pod's volumes are named (claims, generic ephemeral volumes, a CSI volume's attached name).
import { describe, expect, it } from '@jest/globals';
import type { V1Node, V1PersistentVolume, V1Pod, V1VolumeAttachment } from '@kubernetes/client-node';
import { describeHolds, volumesHeld } from '../../src/engine/execute/volume-detach.js';
import { attachedVolumeName, claimsOf, resolvePodVolumes, type VolumeApi } from '../../src/engine/kube/volumes.js';

const va = (name: string, node: string, pv: string): V1VolumeAttachment => ({ metadata: { name }, spec: { attacher: 'csi.example', nodeName: node, source: { persistentVolumeName: pv } } });
const nodeListing = (...names: string[]): V1Node => ({ metadata: { name: 'w1' }, status: { volumesAttached: names.map((name) => ({ name, devicePath: '' })) } });
const volume = { pod: 'shop/db-0', claim: 'shop/data-db-0', pv: 'pv-1', attachedName: 'kubernetes.io/csi/csi.example^vol-1' };

describe('volumesHeld', () => {
  it('a VolumeAttachment of the volume naming the node holds it; one naming another node, or another volume, does not', () => {
    const attachments = [va('csi-a', 'w1', 'pv-1'), va('csi-b', 'w2', 'pv-1'), va('csi-c', 'w1', 'pv-other')];
    expect(volumesHeld('w1', undefined, attachments, [volume])).toEqual([{ pv: 'pv-1', by: 'VolumeAttachment csi-a' }]);
    expect(volumesHeld('w1', undefined, attachments.slice(1), [volume])).toEqual([]);
  });

  it("the node's status.volumesAttached listing the volume's attached name holds it", () => {
    expect(volumesHeld('w1', nodeListing('kubernetes.io/csi/csi.example^vol-1'), [], [volume])).toEqual([{ pv: 'pv-1', by: 'node.status.volumesAttached' }]);
    expect(volumesHeld('w1', nodeListing('kubernetes.io/csi/csi.example^vol-2'), [], [volume])).toEqual([]);
    expect(volumesHeld('w1', nodeListing('kubernetes.io/csi/csi.example^vol-1'), [], [{ ...volume, attachedName: undefined }])).toEqual([]);
  });

  it('both, said once per volume', () => {
    const holds = volumesHeld('w1', nodeListing('kubernetes.io/csi/csi.example^vol-1'), [va('csi-a', 'w1', 'pv-1')], [volume]);
    expect(describeHolds(holds)).toBe('pv-1 (VolumeAttachment csi-a, node.status.volumesAttached)');
  });
});

describe("a pod's volumes", () => {
  const pod: V1Pod = {
    metadata: { namespace: 'shop', name: 'db-0' },
    spec: {
      containers: [],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: 'data-db-0' } },
        { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } },
        { name: 'cache', emptyDir: {} },
        { name: 'again', persistentVolumeClaim: { claimName: 'data-db-0' } },
      ],
    },
  };

  it('its claims, and the claim of each generic ephemeral volume (<pod>-<volume>)', () => {
    expect(claimsOf(pod)).toEqual(['data-db-0', 'db-0-scratch']);
  });

  it("a CSI volume's attached name as the attach/detach controller writes it; none for other kinds", () => {
    expect(attachedVolumeName({ spec: { csi: { driver: 'ebs.csi.aws.com', volumeHandle: 'vol-0abc' } } } as V1PersistentVolume)).toBe('kubernetes.io/csi/ebs.csi.aws.com^vol-0abc');
    expect(attachedVolumeName({ spec: { hostPath: { path: '/x' } } } as V1PersistentVolume)).toBeUndefined();
  });

  it('resolved claim → bound volume; an unbound or gone claim holds nothing; one that cannot be read is named', async () => {
    const notFound = Object.assign(new Error('not found'), { code: 404 });
    const api: VolumeApi = {
      getPersistentVolumeClaim: async (_ns, name) => {
        if (name === 'data-db-0') return { spec: { volumeName: 'pv-1' } };
        if (name === 'db-0-scratch') throw notFound;
        throw Object.assign(new Error('boom'), { code: 500 });
      },
      getPersistentVolume: async () => ({ spec: { csi: { driver: 'csi.example', volumeHandle: 'vol-1' } } }),
    };
    expect(await resolvePodVolumes(api, [pod])).toEqual({ volumes: [volume], unresolved: [] });
    const other: V1Pod = { metadata: { namespace: 'shop', name: 'x' }, spec: { containers: [], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'broken' } }] } };
    const { unresolved } = await resolvePodVolumes(api, [other]);
    expect(unresolved).toEqual([expect.stringMatching(/^shop\/broken \(/)]);
  });
});

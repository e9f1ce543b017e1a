// Which volumes a pod holds on its node, by the names the attach/detach machinery uses: the
// bound PersistentVolume of each of its claims (a VolumeAttachment's spec.source.
// persistentVolumeName) and, for a CSI volume, the name node.status.volumesAttached lists it by
// ("kubernetes.io/csi/<driver>^<volumeHandle>", kube-controller-manager's unique volume name).
// Only kube/ knows how a claim is read; execute/volume-detach.ts waits on the result.
import type { V1PersistentVolume, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { describeApiError, statusCode } from './errors.js';

export type VolumeApi = Pick<KubeClient, 'getPersistentVolumeClaim' | 'getPersistentVolume'>;

/** A volume a pod holds, as the node's attachments name it. */
export interface PodVolume {
  /** `namespace/name` of the pod. */
  pod: string;
  /** `namespace/name` of its claim. */
  claim: string;
  /** The bound PersistentVolume: what a VolumeAttachment names. */
  pv: string;
  /** How node.status.volumesAttached names it (CSI volumes only). */
  attachedName?: string;
}

/**
 * The claims a pod uses: its persistentVolumeClaim volumes, and its generic ephemeral volumes,
 * whose claim the ephemeral volume controller names `<pod>-<volume>`.
 */
export function claimsOf(pod: V1Pod): string[] {
  const pvcs = (pod.spec?.volumes ?? []).flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : v.ephemeral ? [`${pod.metadata?.name ?? ''}-${v.name}`] : []));
  return [...new Set(pvcs)];
}

/** node.status.volumesAttached's name for a CSI PersistentVolume; undefined for other kinds. */
export function attachedVolumeName(pv: V1PersistentVolume): string | undefined {
  const csi = pv.spec?.csi;
  return csi ? `kubernetes.io/csi/${csi.driver}^${csi.volumeHandle}` : undefined;
}

/**
 * The volumes of `pods` that are bound to a PersistentVolume. A claim that is gone or not bound
 * holds nothing on the node; one that cannot be read is named in `unresolved`, so the caller can
 * say what it could not check.
 */
export async function resolvePodVolumes(api: VolumeApi, pods: V1Pod[]): Promise<{ volumes: PodVolume[]; unresolved: string[] }> {
  const volumes: PodVolume[] = [];
  const unresolved: string[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? '';
    for (const claimName of claimsOf(pod)) {
      const claim = `${namespace}/${claimName}`;
      try {
        const pvName = (await api.getPersistentVolumeClaim(namespace, claimName)).spec?.volumeName;
        if (!pvName) continue;
        const attachedName = await readAttachedName(api, pvName);
        volumes.push({ pod: `${namespace}/${pod.metadata?.name ?? ''}`, claim, pv: pvName, ...(attachedName && { attachedName }) });
      } catch (err) {
        if (statusCode(err) !== 404) unresolved.push(`${claim} (${describeApiError(err)})`);
      }
    }
  }
  return { volumes, unresolved };
}

/** The PV's attached name; a PV already gone still has its VolumeAttachment checked. */
async function readAttachedName(api: VolumeApi, pv: string): Promise<string | undefined> {
  try {
    return attachedVolumeName(await api.getPersistentVolume(pv));
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

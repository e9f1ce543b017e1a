// waitForDeletion: an evicted pod is gone when the node's pod watch no longer holds a pod of
// that name with that UID (deleted, or replaced by a same-named pod with a new UID).
import type { V1Pod } from '@kubernetes/client-node';
import type { ResourceWatch } from '../kube/watch.js';
import { waitUntil } from './abort.js';

export type DeletionResult = 'deleted' | 'not-confirmed';

export function isGone(pods: ResourceWatch<V1Pod>, key: string, uid: string): boolean {
  const pod = pods.get(key);
  return !pod || pod.metadata?.uid !== uid;
}

/**
 * Resolves 'deleted' when the pod is gone, or 'not-confirmed' after `giveUpMs` (a NotReady node
 * whose kubelet will never confirm the deletion, or kubectl's --skip-wait-for-delete-timeout).
 * Rejects with WaitAborted when the signal fires.
 */
export async function waitForDeletion(
  pods: ResourceWatch<V1Pod>,
  key: string,
  uid: string,
  signal: AbortSignal,
  giveUpMs?: number,
): Promise<DeletionResult> {
  const gone = await waitUntil(
    () => isGone(pods, key, uid),
    (onChange) => pods.subscribe(() => onChange()),
    signal,
    giveUpMs,
  );
  return gone ? 'deleted' : 'not-confirmed';
}

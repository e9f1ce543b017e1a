// waitForDeletion: an evicted pod is gone when the node's pods no longer hold a pod of that name
// with that UID (deleted, or replaced by a same-named pod with a new UID).
import type { V1Pod } from '@kubernetes/client-node';
import { deleteWaitDeadline } from '../plan/pod.js';
import { WaitAborted, abortReason } from './abort.js';

export type DeletionResult = 'deleted' | 'not-confirmed';

interface PodLookup {
  get(key: string): V1Pod | undefined;
  subscribe(listener: () => void): () => void;
}

export function isGone(pods: Pick<PodLookup, 'get'>, key: string, uid: string): boolean {
  const pod = pods.get(key);
  return !pod || pod.metadata?.uid !== uid;
}

export interface DeletionWaitPolicy {
  /** kubectl's --skip-wait-for-delete-timeout: stop waiting N s after the pod's deletionTimestamp; 0 = off. */
  skipWaitSeconds: number;
  /** A NotReady node's kubelet cannot confirm deletions: their wait is bounded (plan/pod.ts). */
  nodeReady: boolean;
}

/**
 * Resolves 'deleted' when the pod is gone, or 'not-confirmed' once its deleteWaitDeadline passes
 * (known once the pod shows a deletionTimestamp). Woken by the pod source's events and that deadline; rejects with WaitAborted when the
 * signal fires.
 */
export function waitForDeletion(pods: PodLookup, key: string, uid: string, signal: AbortSignal, policy: DeletionWaitPolicy): Promise<DeletionResult> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    const finish = (fn: () => void) => {
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      if (timer) clearTimeout(timer);
      fn();
    };
    const onAbort = () => finish(() => reject(new WaitAborted(abortReason(signal))));
    const check = () => {
      if (isGone(pods, key, uid)) return finish(() => resolve('deleted'));
      const pod = pods.get(key);
      const endsAt = pod ? deleteWaitDeadline(pod, policy.skipWaitSeconds, policy.nodeReady) : undefined;
      if (endsAt !== undefined && Date.now() >= endsAt) return finish(() => resolve('not-confirmed'));
      if (timer) clearTimeout(timer);
      // The deadline can only be known once the deletionTimestamp shows; each event re-arms it.
      timer = endsAt !== undefined ? setTimeout(check, endsAt - Date.now()) : undefined;
    };
    if (signal.aborted) return reject(new WaitAborted(abortReason(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    unsubscribe = pods.subscribe(check);
    check();
  });
}

// waitForDeletion: an evicted pod is gone when the node's pods no longer hold a pod of that name
// with that UID (deleted, or replaced by a same-named pod with a new UID).
import type { V1Pod } from '@kubernetes/client-node';
import { WaitAborted, abortReason } from './abort.js';

export type DeletionResult = 'deleted' | 'not-confirmed';

/** How long to wait for a deletion the kubelet of a NotReady node may never confirm. */
export const UNREACHABLE_SKIP_WAIT_MS = 20_000;

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
  /** A NotReady node's kubelet cannot confirm deletions: wait at most UNREACHABLE_SKIP_WAIT_MS. */
  nodeReady: boolean;
}

/**
 * When to stop waiting for `pod`'s deletion (epoch ms), or undefined to wait until it is gone.
 * Like kubectl, skip-wait counts from the pod's deletionTimestamp (not from when we started
 * waiting); until the pod shows one, there is nothing to count from.
 */
export function deletionWaitEndsAt(pod: V1Pod | undefined, policy: DeletionWaitPolicy, waitStartedAt: number): number | undefined {
  const deleted = pod?.metadata?.deletionTimestamp;
  const skipAt = policy.skipWaitSeconds > 0 && deleted ? new Date(deleted).getTime() + policy.skipWaitSeconds * 1000 : undefined;
  if (policy.nodeReady) return skipAt;
  if (policy.skipWaitSeconds > 0) return skipAt ?? waitStartedAt + policy.skipWaitSeconds * 1000;
  return waitStartedAt + UNREACHABLE_SKIP_WAIT_MS;
}

/**
 * Resolves 'deleted' when the pod is gone, or 'not-confirmed' once deletionWaitEndsAt passes.
 * Woken by the pod source's events and by that one deadline; rejects with WaitAborted when the
 * signal fires.
 */
export function waitForDeletion(pods: PodLookup, key: string, uid: string, signal: AbortSignal, policy: DeletionWaitPolicy): Promise<DeletionResult> {
  const started = Date.now();
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
      const endsAt = deletionWaitEndsAt(pods.get(key), policy, started);
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

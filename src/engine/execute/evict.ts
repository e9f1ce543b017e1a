// One eviction attempt, and what the API server's answer means for the drain.
import type { EvictRequest, KubeClient } from '../kube/client.js';
import { parseApiError } from '../kube/errors.js';

export type EvictAttempt =
  | { kind: 'accepted' }
  /** NotFound, or the UID precondition failed: the pod we meant is already gone. */
  | { kind: 'gone' }
  /** 403 because the pod's namespace is being deleted: the namespace controller deletes the pod. */
  | { kind: 'namespace-terminating'; message: string }
  /** 429: a budget refuses now; wait and retry. `pdb` is parsed from the message when present. */
  | { kind: 'budget'; pdb?: string; message: string; retryAfterSeconds?: number }
  /** 500: the pod is selected by more than one PDB; never retry. */
  | { kind: 'multiple-pdbs'; message: string }
  /** 403 and friends: the run cannot go on. */
  | { kind: 'forbidden'; message: string }
  /** Anything else (transport error, 5xx): retry a few times with backoff. */
  | { kind: 'error'; code: number; message: string };

const BUDGET_NAME = /disruption budget (\S+) /i;

export async function evictOnce(client: KubeClient, req: EvictRequest): Promise<EvictAttempt> {
  try {
    await client.evict(req);
    return { kind: 'accepted' };
  } catch (err) {
    const status = parseApiError(err);
    switch (status.code) {
      case 404:
        return { kind: 'gone' };
      case 409:
        // A UID precondition mismatch: a new pod with the same name (a StatefulSet replica) is not ours to evict.
        return /precondition|UID/i.test(status.message) ? { kind: 'gone' } : { kind: 'error', code: 409, message: status.message };
      case 429: {
        const named = BUDGET_NAME.exec(status.message)?.[1];
        return {
          kind: 'budget',
          pdb: named ? `${req.namespace}/${named}` : undefined,
          message: status.message,
          retryAfterSeconds: status.retryAfterSeconds,
        };
      }
      case 500:
        if (/more than one PodDisruptionBudget/i.test(status.message)) return { kind: 'multiple-pdbs', message: status.message };
        return { kind: 'error', code: 500, message: status.message };
      case 401:
      case 403:
        if (/because it is being terminated/.test(status.message)) return { kind: 'namespace-terminating', message: status.message };
        return { kind: 'forbidden', message: status.message };
      default:
        return { kind: 'error', code: status.code, message: status.message };
    }
  }
}

// One eviction attempt, and what the API server's answer means for the drain. The texts matched
// here are the eviction handler's (kube-apiserver pkg/registry/core/pod/storage/eviction.go) and
// the storage layer's precondition check (k8s.io/apiserver pkg/storage Preconditions.Check), as
// of 1.37; test/integration/eviction-answers.test.ts checks them against a real API server.
import type { EvictRequest, KubeClient } from '../kube/client.js';

type EvictApi = Pick<KubeClient, 'evict' | 'forbiddenWhileStarting'>;
import { disruptionBudgetCause, disruptionBudgetOf, parseApiError, type ApiStatus } from '../kube/errors.js';

export type EvictAttempt =
  | { kind: 'accepted' }
  /** NotFound, or the UID precondition failed: the pod we meant is already gone. */
  | { kind: 'gone'; message: string }
  /** 403 because the pod's namespace is being deleted: the namespace controller deletes the pod. */
  | { kind: 'namespace-terminating'; message: string }
  /**
   * 429 from the pod's budget: wait for it and retry. `pdb` (namespace/name) is the budget the
   * API server named in its answer; `message` says what it needs ("needs 2 healthy pods and has 1").
   */
  | { kind: 'budget'; pdb?: string; message: string; retryAfterSeconds?: number }
  /**
   * The API server asks to come back later, for a reason that is not the budget's arithmetic:
   * a 403 from the PDB's state (DisruptedPods map too big, disruptionsAllowed negative: the
   * disruption controller repairs both) or a 429 without a budget cause (API throttling).
   */
  | { kind: 'busy'; code: number; pdb?: string; message: string; retryAfterSeconds?: number }
  /** 500: the pod is selected by more than one PDB; never retry. */
  | { kind: 'multiple-pdbs'; message: string }
  /** 401/403 for any other reason: the identity may not evict; the run cannot go on. */
  | { kind: 'forbidden'; message: string }
  /**
   * Anything else (transport error, 5xx, a 409 that is not the UID precondition, such as the
   * handler's own resourceVersion precondition on a Pending or not-Ready pod): retry with backoff.
   */
  | { kind: 'error'; code: number; message: string; retryAfterSeconds?: number };

/**
 * The UID precondition failed: the pod of that name is another pod (a StatefulSet replica
 * recreated under the same name). Two texts: the eviction handler's own check before it marks
 * the pod ("the UID in the precondition (A) does not match the UID in record (B)"), and the
 * storage layer's on delete ("Precondition failed: UID in precondition: A, UID in object meta: B").
 * The resourceVersion preconditions read "the ResourceVersion in the precondition ..." and
 * "Precondition failed: ResourceVersion in precondition: ...": not matched.
 */
const UID_PRECONDITION_FAILED = /\bUID in (?:the )?precondition\b/;

/** A 403 that is about the PDB's state, not about who is asking. */
function isBudgetStateRefusal(status: ApiStatus): boolean {
  return (
    disruptionBudgetOf(status) !== undefined ||
    /DisruptedPods map too big|pdb disruptions allowed is negative/.test(status.message)
  );
}

export async function evictOnce(client: EvictApi, req: EvictRequest): Promise<EvictAttempt> {
  try {
    await client.evict(req);
    return { kind: 'accepted' };
  } catch (err) {
    const attempt = interpretEvictionError(err, req.namespace);
    // Denied by an API server whose RBAC caches have not synced yet (it is restarting): retried
    // as a transient error, within the outage bound, never taken as "may not evict".
    if (attempt.kind === 'forbidden' && (await client.forbiddenWhileStarting(err))) {
      return { kind: 'error', code: 403, message: `${attempt.message} (the API server is not ready yet)` };
    }
    return attempt;
  }
}

/** What a failed eviction request means; `namespace` is the pod's (its PDB's) namespace. */
export function interpretEvictionError(err: unknown, namespace: string): EvictAttempt {
  const status = parseApiError(err);
  const named = disruptionBudgetOf(status);
  const pdb = named ? `${namespace}/${named}` : undefined;
  const retryAfterSeconds = status.retryAfterSeconds;
  switch (status.code) {
    case 404:
      return { kind: 'gone', message: status.message };
    case 409:
      if (UID_PRECONDITION_FAILED.test(status.message)) return { kind: 'gone', message: status.message };
      return { kind: 'error', code: 409, message: status.message, retryAfterSeconds };
    case 429: {
      const cause = disruptionBudgetCause(status);
      if (cause === undefined) return { kind: 'busy', code: 429, message: status.message, retryAfterSeconds };
      return { kind: 'budget', pdb, message: cause, retryAfterSeconds };
    }
    case 500:
      if (/more than one PodDisruptionBudget/i.test(status.message)) return { kind: 'multiple-pdbs', message: status.message };
      return { kind: 'error', code: 500, message: status.message, retryAfterSeconds };
    case 401:
    case 403:
      if (/because it is being terminated/.test(status.message)) return { kind: 'namespace-terminating', message: status.message };
      if (status.code === 403 && isBudgetStateRefusal(status)) {
        return { kind: 'busy', code: 403, pdb, message: status.message, retryAfterSeconds };
      }
      return { kind: 'forbidden', message: status.message };
    default:
      return { kind: 'error', code: status.code, message: status.message, retryAfterSeconds };
  }
}

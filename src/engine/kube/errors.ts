// What an API error means for a drain. client-node 2.x raises ApiException with the HTTP code,
// the Status body as a JSON string and the response headers.

export interface ApiStatus {
  code: number;
  reason?: string;
  message: string;
  /**
   * Status.details.causes, e.g. type "DisruptionBudget" with the PDB's name in its message. The
   * type is serialized as `reason` (metav1.StatusCause.Type has json tag "reason").
   */
  causes: { type?: string; message?: string }[];
  /** Status.details: the object the error is about (a 403 from a PDB's state names the PDB here). */
  details?: { kind?: string; group?: string; name?: string };
  /** Retry-After header (or Status.details.retryAfterSeconds), seconds; absent when 0 ("no advice"). */
  retryAfterSeconds?: number;
}

interface ApiExceptionLike {
  code: number;
  body?: unknown;
  headers?: Record<string, string>;
  message?: string;
}

function isApiException(err: unknown): err is ApiExceptionLike {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';
}

/** The HTTP status of an API error, or undefined for a transport error. */
export function statusCode(err: unknown): number | undefined {
  return isApiException(err) ? err.code : undefined;
}

export function parseApiError(err: unknown): ApiStatus {
  if (!isApiException(err)) {
    return { code: 0, message: err instanceof Error ? err.message : String(err), causes: [] };
  }
  let body: Record<string, unknown> = {};
  if (typeof err.body === 'string') {
    try {
      body = JSON.parse(err.body) as Record<string, unknown>;
    } catch {
      body = { message: err.body };
    }
  } else if (typeof err.body === 'object' && err.body !== null) {
    body = err.body as Record<string, unknown>;
  }
  const details = (body.details ?? {}) as {
    causes?: { reason?: string; message?: string }[];
    retryAfterSeconds?: number;
    kind?: string;
    group?: string;
    name?: string;
  };
  const header = err.headers?.['retry-after'] ?? err.headers?.['Retry-After'];
  const fromHeader = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  const retryAfter = fromHeader ?? details.retryAfterSeconds;
  return {
    code: err.code,
    reason: typeof body.reason === 'string' ? body.reason : undefined,
    message: (typeof body.message === 'string' ? body.message : (err.message ?? `HTTP ${err.code}`)).trim(),
    causes: (details.causes ?? []).map((c) => ({ type: c.reason, message: c.message })),
    details: details.kind !== undefined || details.name !== undefined ? { kind: details.kind, group: details.group, name: details.name } : undefined,
    // 0 is the server's "no advice" (a budget's 429 carries 0): a wait of 0 s would be a hot loop.
    retryAfterSeconds: typeof retryAfter === 'number' && retryAfter > 0 ? retryAfter : undefined,
  };
}

/** policy/v1 DisruptionBudgetCause. */
export const DISRUPTION_BUDGET_CAUSE = 'DisruptionBudget';

/**
 * The PodDisruptionBudget an eviction answer is about, by name (it is in the pod's namespace).
 * The eviction handler (kube-apiserver pkg/registry/core/pod/storage/eviction.go) puts it only in
 * a cause of type DisruptionBudget, "The disruption budget NAME needs N healthy pods and has M
 * currently" (or "... is still being processed by the server.", "... does not allow evicting pods
 * currently..."); its top-level message never names it. A 403 from the budget's state also names
 * it in details (kind poddisruptionbudget).
 */
export function disruptionBudgetOf(status: ApiStatus): string | undefined {
  for (const c of status.causes) {
    if (c.type !== DISRUPTION_BUDGET_CAUSE) continue;
    const name = /^The disruption budget (\S+) /.exec(c.message ?? '')?.[1];
    if (name) return name;
  }
  if (status.details?.name && /^poddisruptionbudgets?$/i.test(status.details.kind ?? '')) return status.details.name;
  return undefined;
}

/** The message of the DisruptionBudget cause, the one text that says what the budget needs. */
export function disruptionBudgetCause(status: ApiStatus): string | undefined {
  return status.causes.find((c) => c.type === DISRUPTION_BUDGET_CAUSE && c.message)?.message;
}

/**
 * Short human text for logs: "HTTP 403 Forbidden: ...". API Priority and Fairness answers 429 with
 * a plain-text body and no Status reason; it is named, since "Too many requests" alone does not
 * say who refused or why.
 */
export function describeApiError(err: unknown): string {
  const s = parseApiError(err);
  const message = s.message.trim();
  if (!s.code) return message;
  const reason = s.reason ?? (s.code === 429 ? 'TooManyRequests (throttled by the API server\'s API Priority and Fairness)' : undefined);
  return `HTTP ${s.code}${reason ? ` ${reason}` : ''}: ${message}`;
}

/**
 * What a run's final error says. An API error is described (never client-node's raw
 * "HTTP-Code: ... Unknown API Status Code!" text with its headers); a throttled run also says
 * what the user can do.
 */
export function errorText(err: unknown): string {
  if (statusCode(err) === undefined) return err instanceof Error ? err.message : String(err);
  const text = describeApiError(err);
  if (statusCode(err) !== 429) return text;
  return (
    `${text.replace(/\.?$/, '.')} The API server kept throttling safe-drain's requests for longer than its ` +
    'retry bound (shorter during the checks than once draining). Retry when the API server is less busy, ' +
    'or give this identity a FlowSchema with a less loaded priority level'
  );
}

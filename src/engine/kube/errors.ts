// What an API error means for a drain. client-node 2.x raises ApiException with the HTTP code,
// the Status body as a JSON string and the response headers.

export interface ApiStatus {
  code: number;
  reason?: string;
  message: string;
  /** Cause types from Status.details.causes, e.g. "DisruptionBudget". */
  causes: { type?: string; message?: string }[];
  /** Retry-After header (or Status.details.retryAfterSeconds), seconds. */
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
  const details = (body.details ?? {}) as { causes?: { type?: string; message?: string }[]; retryAfterSeconds?: number };
  const header = err.headers?.['retry-after'] ?? err.headers?.['Retry-After'];
  const fromHeader = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  return {
    code: err.code,
    reason: typeof body.reason === 'string' ? body.reason : undefined,
    message: typeof body.message === 'string' ? body.message : (err.message ?? `HTTP ${err.code}`),
    causes: details.causes ?? [],
    retryAfterSeconds: fromHeader ?? details.retryAfterSeconds,
  };
}

/** Short human text for logs: "HTTP 403 Forbidden: ...". */
export function describeApiError(err: unknown): string {
  const s = parseApiError(err);
  return s.code ? `HTTP ${s.code}${s.reason ? ` ${s.reason}` : ''}: ${s.message}` : s.message;
}

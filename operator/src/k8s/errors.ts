/**
 * Classifying API errors, from our REST client (KubeApiError: code, reason,
 * status) and from client-node (ApiException: code, body) alike, by shape,
 * so the operator does not load client-node just to read an error.
 */
interface ErrorShape {
  code?: number;
  reason?: string;
  body?: unknown;
  status?: { message?: string; reason?: string };
  message?: string;
}

const shape = (error: unknown): ErrorShape =>
  (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;

/** The API server's Status body, when the error carries one as text or object. */
function statusBody(error: unknown): { message?: string; reason?: string } | undefined {
  const { body, status } = shape(error);
  if (status) return status;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { message?: string; reason?: string };
    } catch {
      return undefined;
    }
  }
  return body as { message?: string; reason?: string } | undefined;
}

export const statusCode = (error: unknown): number | undefined => {
  const { code } = shape(error);
  return typeof code === 'number' ? code : undefined;
};

/** The `reason` of the API server's Status (e.g. AlreadyExists, Conflict, Forbidden). */
export const statusReason = (error: unknown): string | undefined =>
  shape(error).reason || statusBody(error)?.reason || undefined;

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isGone = (error: unknown) => statusCode(error) === 410;
export const isAlreadyExists = (error: unknown) =>
  statusCode(error) === 409 && statusReason(error) === 'AlreadyExists';
export const isConflict = (error: unknown) => statusCode(error) === 409 && !isAlreadyExists(error);

export function errorMessage(error: unknown): string {
  const fromStatus = statusBody(error)?.message;
  if (fromStatus) return fromStatus;
  const { body, message } = shape(error);
  if (typeof body === 'string' && body) return body;
  return message ?? String(error);
}

/** Worth retrying as is: a 5xx, throttling, a timeout or a broken connection (no HTTP status at all). */
export function isTransient(error: unknown): boolean {
  const code = statusCode(error);
  return code === undefined || code === 0 || code >= 500 || code === 429 || code === 408;
}

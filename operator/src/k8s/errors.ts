/** Classifying API errors from @kubernetes/client-node. */
import { ApiException } from '@kubernetes/client-node';

export const statusCode = (error: unknown): number | undefined =>
  error instanceof ApiException ? error.code : (error as { code?: number } | undefined)?.code;

export const isNotFound = (error: unknown) => statusCode(error) === 404;
export const isConflict = (error: unknown) => statusCode(error) === 409 && !isAlreadyExists(error);
export const isGone = (error: unknown) => statusCode(error) === 410;

export function isAlreadyExists(error: unknown): boolean {
  if (statusCode(error) !== 409) return false;
  return statusReason(error) === 'AlreadyExists';
}

/** The `reason` of the API server's Status body, when there is one. */
export function statusReason(error: unknown): string | undefined {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { reason?: string }).reason;
    } catch {
      return undefined;
    }
  }
  return (body as { reason?: string } | undefined)?.reason;
}

export function errorMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

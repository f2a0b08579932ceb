/**
 * Talks to the server that served this page, and nothing else: every URL is a
 * fixed relative `/api/...` path; nothing from the page URL can change it.
 */
import type { AuditTrailEvent, AuditTrailView } from '../../operator/src/server/ui/audit-trail.ts';
import type { RunnerStep, StepsStatus } from '../../operator/src/server/ui/steps.ts';
import type {
  ConditionView,
  TaskDetailView,
  TaskStreamEvent,
  TaskSummaryView,
} from '../../operator/src/server/ui/task-view.ts';
import type {
  ApprovalsResponse,
  ApprovalView,
  PairingResponse,
  StreamEvent,
  WhoamiResponse,
} from '../../operator/src/server/ui/view.ts';
import { authHeader } from './session.ts';

export type {
  ApprovalView,
  AuditTrailEvent,
  AuditTrailView,
  ConditionView,
  PairingResponse,
  RunnerStep,
  StepsStatus,
  StreamEvent,
  TaskDetailView,
  TaskStreamEvent,
  TaskSummaryView,
  WhoamiResponse,
};

export class ApiError extends Error {
  readonly status: number;
  /** 'apiserver' when the Kubernetes API server refused (its message passed through). */
  readonly source: string;
  constructor(status: number, message: string, source = 'ui') {
    super(message);
    this.status = status;
    this.source = source;
  }
}

const BASE_INIT: RequestInit = {
  cache: 'no-store',
  credentials: 'omit',
  referrerPolicy: 'no-referrer',
  redirect: 'error',
  mode: 'same-origin',
};

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(path, {
    ...BASE_INIT,
    ...init,
    headers: { Accept: 'application/json', ...authHeader(), ...(init.headers ?? {}) },
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const err = body as { error?: string; source?: string } | undefined;
    throw new ApiError(res.status, err?.error ?? `HTTP ${res.status}`, err?.source);
  }
  return body as T;
}

export const whoami = () => request<WhoamiResponse>('/api/whoami');

export const listApprovals = () => request<ApprovalsResponse>('/api/approvals');

/**
 * Decides one approval. `shownDigest` is the digest of the task this page displayed: the server
 * refuses the decision unless it is still the task's current digest (and the one the approval binds).
 */
export function decide(
  approval: Pick<ApprovalView, 'namespace' | 'name'>,
  shownDigest: string,
  verdict: 'Approved' | 'Denied',
  reason: string,
): Promise<ApprovalView> {
  const path = `/api/approvals/${encodeURIComponent(approval.namespace)}/${encodeURIComponent(approval.name)}/decision`;
  return request<ApprovalView>(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ verdict, reason, taskDigest: shownDigest }),
  });
}

/** Confirms a chat pairing code as this UI's approver; resolves once the operator has paired the account. */
export const confirmPairing = (code: string): Promise<PairingResponse> =>
  request<PairingResponse>('/api/pairings', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code }),
  });

/** The live stream of approvals and task rows. */
export const events = (signal: AbortSignal): AsyncGenerator<StreamEvent> =>
  serverEvents<StreamEvent>('/api/events', signal);

/** The live stream of one task page: the task, its runner steps, its audit trail. */
export const taskEvents = (
  namespace: string,
  name: string,
  signal: AbortSignal,
): AsyncGenerator<TaskStreamEvent> =>
  serverEvents<TaskStreamEvent>(
    `/api/tasks/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/events`,
    signal,
  );

/**
 * A server-sent event stream. EventSource cannot send an Authorization header (and a
 * token in its URL would leak into logs), so this reads the stream with fetch()
 * instead. Yields events until the stream ends.
 */
async function* serverEvents<E>(path: string, signal: AbortSignal): AsyncGenerator<E> {
  const res = await fetch(path, {
    ...BASE_INIT,
    headers: { Accept: 'text/event-stream', ...authHeader() },
    signal,
  });
  if (!res.ok || !res.body) {
    let message = `HTTP ${res.status}`;
    try {
      message = ((await res.json()) as { error?: string }).error ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, message);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data) yield JSON.parse(data) as E;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

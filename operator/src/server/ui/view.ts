/**
 * What the approval UI shows: one Approval joined with the AgentTask it is for.
 * The UI imports these types (type-only), so server and page share one contract.
 */
import type { ApprovalState } from '../../api/approval.ts';
import type { AgentTask, Approval } from '../../api/types.ts';
import { specDigest } from '../../policy/digest.ts';

export interface TaskView {
  name: string;
  uid: string;
  phase?: string;
  prompt: string;
  model: string;
  runtimeClassName: string;
  tools: string[];
  approval: string;
  timeoutSeconds: number;
  resources: { cpu?: string; memory?: string; ephemeralStorage?: string };
  /** sha256 of the task's *current* canonical spec. */
  digest: string;
  /** False when the task changed after this approval was requested: what is shown is not what is bound. */
  digestMatches: boolean;
}

export interface ApprovalView {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  createdAt?: string;
  /** status.state, `Pending` until the operator wrote one. */
  state: ApprovalState;
  /** Pending and not yet expired: a decision can still count. */
  decidable: boolean;
  risk: { level: string; reasons: string[] };
  taskDigest: string;
  expiresAt: string;
  approvers?: { users?: string[]; groups?: string[] };
  /** spec.decision as written (the operator may not have acted on it yet). */
  decision?: { verdict: string; decidedBy: string; reason?: string };
  decidedBy?: string;
  decidedAt?: string;
  /** status.reason: the decider's reason, or why it expired / was superseded. */
  reason?: string;
  taskRef: { name: string; uid: string };
  /** The task, when it still exists and is the one this approval was made for (same uid). */
  task?: TaskView;
}

export interface ApprovalsResponse {
  /** The server's clock (ISO), so the page can correct its countdowns. */
  serverTime: string;
  approvals: ApprovalView[];
}

export interface WhoamiResponse {
  /** The identity decisions are written as; null → the UI is read-only. */
  approver: string | null;
  readOnly: boolean;
  /** How to make it writable, when it is read-only. */
  hint?: string;
}

/** Server-sent events on /api/events, one JSON object per `data:` line. */
export type StreamEvent =
  | { type: 'snapshot'; serverTime: string; approvals: ApprovalView[] }
  | { type: 'upsert'; serverTime: string; approval: ApprovalView }
  | { type: 'delete'; serverTime: string; key: string };

export const approvalKey = (a: Approval): string => `${a.metadata.namespace}/${a.metadata.name}`;

function safeDigest(task: AgentTask): string {
  try {
    return specDigest(task.spec);
  } catch {
    return 'invalid';
  }
}

export function toTaskView(task: AgentTask, boundDigest: string): TaskView {
  const s = task.spec;
  const digest = safeDigest(task);
  return {
    name: task.metadata.name ?? '',
    uid: task.metadata.uid ?? '',
    ...(task.status?.phase ? { phase: task.status.phase } : {}),
    prompt: s.prompt,
    model: s.model,
    runtimeClassName: s.runtimeClassName,
    tools: [...(s.tools ?? [])],
    approval: s.approval,
    timeoutSeconds: s.timeoutSeconds,
    resources: { ...(s.resources ?? {}) },
    digest,
    digestMatches: digest === boundDigest,
  };
}

export function toApprovalView(approval: Approval, task: AgentTask | undefined, now: Date): ApprovalView {
  const { spec, status, metadata } = approval;
  const state: ApprovalState = status?.state ?? 'Pending';
  const expired = now.getTime() >= Date.parse(spec.expiresAt);
  const sameTask = task && task.metadata.uid === spec.taskRef.uid;
  const created = metadata.creationTimestamp;
  return {
    key: approvalKey(approval),
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    ...(created ? { createdAt: new Date(created).toISOString() } : {}),
    state,
    decidable: state === 'Pending' && !spec.decision && !expired,
    risk: { level: spec.risk.level, reasons: [...spec.risk.reasons] },
    taskDigest: spec.taskDigest,
    expiresAt: spec.expiresAt,
    ...(spec.approvers ? { approvers: structuredClone(spec.approvers) } : {}),
    ...(spec.decision ? { decision: { ...spec.decision } } : {}),
    ...(status?.decidedBy ? { decidedBy: status.decidedBy } : {}),
    ...(status?.decidedAt ? { decidedAt: status.decidedAt } : {}),
    ...(status?.reason ? { reason: status.reason } : {}),
    taskRef: { name: spec.taskRef.name, uid: spec.taskRef.uid },
    ...(sameTask ? { task: toTaskView(task, spec.taskDigest) } : {}),
  };
}

/**
 * What the approval UI shows: one Approval joined with the AgentTask it is for.
 * The UI imports these types (type-only), so server and page share one contract.
 */
import type { ApprovalState } from '../../api/approval.ts';
import type { AgentTask, Approval } from '../../api/types.ts';
import type { AssessOptions } from './assess.ts';
import { type Assessment, assessApproval, type Blocker, recordedRiskIfDifferent } from './assess.ts';
import type { RiskLevel, SpecSummary, TaskSummaryView } from './task-view.ts';

export type { Blocker, BlockerCode } from './assess.ts';

export interface TaskView extends SpecSummary {
  name: string;
  uid: string;
  phase?: string;
  /** sha256 of the task's *current* canonical spec: what the page shows, and posts back with a decision. */
  digest: string;
  /** False when the task changed after this approval was requested: what is shown is not what is bound. */
  digestMatches: boolean;
}

/** `unknown` when the task cannot be read: the risk is only ever recomputed from the task itself. */
export interface RiskView {
  level: RiskLevel;
  reasons: string[];
}

export interface ApprovalView {
  /** `namespace/name`. */
  key: string;
  namespace: string;
  name: string;
  createdAt?: string;
  /** status.state, `Pending` until the operator wrote one. */
  state: ApprovalState;
  /** Pending, not expired, and bound to the current spec of its own task: a decision can count. */
  decidable: boolean;
  /** Why it cannot be decided (set exactly when `decidable` is false). */
  blocker?: Blocker;
  /** Recomputed from the current task spec (rateRisk), never taken from the Approval. */
  risk: RiskView;
  /** The risk the Approval records, when it differs from the recomputed one: shown as a claim, never trusted. */
  recordedRisk?: { level: string; reasons: string[] };
  taskDigest: string;
  /** Effective expiry: min(spec.expiresAt, creation + TTL). */
  expiresAt: string;
  /** spec.expiresAt as written, when at least a second later than the effective expiry. */
  requestedExpiresAt?: string;
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
  /** The groups impersonated with the approver (they count for spec.approvers.groups). */
  groups: string[];
  readOnly: boolean;
  /** Whether chat pairing codes can be confirmed here (POST /api/pairings): approval channels are on. */
  pairing: boolean;
  /** How to make it writable, when it is read-only. */
  hint?: string;
}

/** POST /api/pairings, when paired: the chat account that now decides as `user`. */
export interface PairingResponse {
  account: string;
  user: string;
}

/**
 * Server-sent events on /api/events, one JSON object per `data:` line: approvals, and the task list
 * (rows only; a task page has its own stream).
 */
export type StreamEvent =
  | { type: 'snapshot'; serverTime: string; approvals: ApprovalView[]; tasks: TaskSummaryView[] }
  | { type: 'upsert'; serverTime: string; approval: ApprovalView }
  | { type: 'delete'; serverTime: string; key: string }
  | { type: 'task-upsert'; serverTime: string; task: TaskSummaryView }
  | { type: 'task-delete'; serverTime: string; key: string };

export const approvalKey = (a: Approval): string => `${a.metadata.namespace}/${a.metadata.name}`;

function toTaskView(
  task: AgentTask,
  current: NonNullable<Assessment['task']>,
  boundDigest: string,
): TaskView {
  const s = current.spec;
  return {
    name: task.metadata.name ?? '',
    uid: task.metadata.uid ?? '',
    ...(task.status?.phase ? { phase: task.status.phase } : {}),
    prompt: s.prompt,
    model: s.model,
    runtimeClassName: s.runtimeClassName,
    tools: [...s.tools],
    approval: s.approval,
    timeoutSeconds: s.timeoutSeconds,
    resources: { ...s.resources },
    budget: { ...s.budget },
    inputs: (s.inputs ?? []).map((i) => i.path),
    digest: current.digest,
    digestMatches: current.digest === boundDigest,
  };
}

const UNKNOWN_RISK: RiskView = {
  level: 'unknown',
  reasons: ['the task cannot be read (or is not the one this approval was made for): risk not recomputed'],
};

export function toApprovalView(
  approval: Approval,
  task: AgentTask | undefined,
  opts: AssessOptions,
): ApprovalView {
  const { spec, status, metadata } = approval;
  const assessed = assessApproval(approval, task, opts);
  const created = metadata.creationTimestamp;
  const risk: RiskView = assessed.task
    ? { level: assessed.task.risk.level, reasons: [...assessed.task.risk.reasons] }
    : UNKNOWN_RISK;
  const recordedRisk = recordedRiskIfDifferent(approval, assessed.task?.risk);
  return {
    key: approvalKey(approval),
    namespace: metadata.namespace ?? '',
    name: metadata.name ?? '',
    ...(created ? { createdAt: new Date(created).toISOString() } : {}),
    state: assessed.state,
    decidable: assessed.decidable,
    ...(assessed.blocker ? { blocker: { ...assessed.blocker } } : {}),
    risk,
    ...(recordedRisk ? { recordedRisk } : {}),
    taskDigest: spec.taskDigest,
    expiresAt: assessed.expiresAt,
    // Only a real cap is worth a note: creationTimestamp has whole seconds, spec.expiresAt milliseconds.
    ...(Date.parse(spec.expiresAt) - Date.parse(assessed.expiresAt) >= 1000
      ? { requestedExpiresAt: spec.expiresAt }
      : {}),
    ...(spec.approvers ? { approvers: structuredClone(spec.approvers) } : {}),
    ...(spec.decision ? { decision: { ...spec.decision } } : {}),
    ...(status?.decidedBy ? { decidedBy: status.decidedBy } : {}),
    ...(status?.decidedAt ? { decidedAt: status.decidedAt } : {}),
    ...(status?.reason ? { reason: status.reason } : {}),
    taskRef: { name: spec.taskRef.name, uid: spec.taskRef.uid },
    ...(task && assessed.task ? { task: toTaskView(task, assessed.task, spec.taskDigest) } : {}),
  };
}

/**
 * The Approval state machine as seen by one critical task: pure decisions over
 * what the caches show, table-tested in approval-decisions.test.ts. The gate
 * (approval-gate.ts) performs what these decide.
 *
 * - An Approval is bound to (task uid, task digest, approver list). Any other
 *   Approval of the task is superseded.
 * - Silence is a denial: the deadline is the earliest of the Approval's
 *   `expiresAt`, its creation + TTL, and the deadline the task recorded when it
 *   first asked. Deleting an Approval does not buy time: the next request keeps
 *   the recorded deadline.
 * - A decision counts only if the operator observes it before the deadline.
 */
import { createHash } from 'node:crypto';
import type { ApprovalSpec, ApprovalStatus } from '../api/approval.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { canonicalJson } from '../policy/digest.ts';
import { controllerUid } from '../sandbox/names.ts';

export type Approvers = ApprovalSpec['approvers'];

/** What the task recorded when it asked (status.approvalRef). */
export interface RecordedRequest {
  name: string;
  digest?: string;
  expiresAt?: string;
}

export interface ApprovalObservation {
  task: AgentTask;
  digest: string;
  approvers: Approvers;
  /** Approvals in the task's namespace whose taskRef.uid is the task's. */
  approvals: readonly Approval[];
  recorded: RecordedRequest | undefined;
  ttlSeconds: number;
  now: Date;
}

export type Settlement = { approval: Approval; status: ApprovalStatus };

export type ApprovalDecision = {
  /** Approvals to mark Superseded, with why. */
  supersede: Settlement[];
} & (
  | { next: 'request'; name: string; expiresAt: string }
  | { next: 'settle'; settle: Settlement; verdict: Verdict }
  | { next: 'markPending'; approval: Approval; verdict: Extract<Verdict, { verdict: 'pending' }> }
  | { next: 'none'; verdict: Verdict }
);

export type Verdict =
  | { verdict: 'approved'; approvalName: string; message: string }
  | { verdict: 'pending'; approvalName: string; expiresAt: string; message: string }
  | { verdict: 'denied'; approvalName: string; phase: 'Denied' | 'Expired'; reason: string; message: string };

const sameApprovers = (a: Approvers, b: Approvers) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/**
 * Deterministic per (task uid, generation, digest, approvers): a restart never asks twice, and an edit
 * back to an earlier spec (A→B→A) gets a fresh Approval instead of the superseded one.
 */
export function approvalName(task: AgentTask, digest: string, approvers: Approvers): string {
  const id = canonicalJson([task.metadata.uid, task.metadata.generation ?? 0, digest, approvers ?? null]);
  return `${task.metadata.name}-${createHash('sha256').update(id).digest('hex').slice(0, 10)}`;
}

/** The earliest of every deadline that applies to this Approval. */
export function deadlineOf(
  approval: Approval,
  recorded: RecordedRequest | undefined,
  ttlSeconds: number,
): Date {
  const candidates = [Date.parse(approval.spec.expiresAt)];
  const created = Date.parse(approval.metadata.creationTimestamp as unknown as string);
  if (Number.isFinite(created)) candidates.push(created + ttlSeconds * 1000);
  if (recorded && recorded.name === approval.metadata.name && recorded.expiresAt) {
    candidates.push(Date.parse(recorded.expiresAt));
  }
  return new Date(Math.min(...candidates.filter(Number.isFinite)));
}

/** Created by the operator for exactly this task, digest and approver list. */
export function bindsTo(approval: Approval, task: AgentTask, digest: string, approvers: Approvers): boolean {
  return (
    controllerUid(approval) === task.metadata.uid &&
    approval.spec.taskRef.uid === task.metadata.uid &&
    approval.spec.taskDigest === digest &&
    sameApprovers(approval.spec.approvers, approvers)
  );
}

function staleOnes(obs: ApprovalObservation): Settlement[] {
  return obs.approvals
    .filter((a) => controllerUid(a) === obs.task.metadata.uid && a.status?.state !== 'Superseded')
    .filter((a) => !bindsTo(a, obs.task, obs.digest, obs.approvers))
    .map((approval) => ({
      approval,
      status: {
        ...approval.status,
        state: 'Superseded',
        reason:
          approval.spec.taskDigest === obs.digest
            ? 'the approver settings changed; a new approval was requested'
            : `the task spec changed to ${obs.digest}; this approval no longer applies`,
      },
    }));
}

/** The newest non-superseded Approval bound to the current spec. */
function currentOne(obs: ApprovalObservation): Approval | undefined {
  return obs.approvals
    .filter((a) => a.status?.state !== 'Superseded' && bindsTo(a, obs.task, obs.digest, obs.approvers))
    .sort((a, b) =>
      String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')),
    )[0];
}

/** A new request keeps the deadline the task recorded for this digest: deletion buys no time. */
function requestDeadline(obs: ApprovalObservation): Date {
  const fresh = obs.now.getTime() + obs.ttlSeconds * 1000;
  const { recorded } = obs;
  const until =
    recorded && recorded.digest === obs.digest ? Date.parse(recorded.expiresAt ?? '') : Number.NaN;
  return new Date(Number.isFinite(until) ? Math.min(until, fresh) : fresh);
}

export function decideApproval(obs: ApprovalObservation): ApprovalDecision {
  const supersede = staleOnes(obs);
  const current = currentOne(obs);
  if (!current) {
    const deadline = requestDeadline(obs);
    const name = approvalName(obs.task, obs.digest, obs.approvers);
    if (deadline.getTime() <= obs.now.getTime()) {
      return { supersede, next: 'none', verdict: expired(name) };
    }
    return { supersede, next: 'request', name, expiresAt: deadline.toISOString() };
  }
  const name = current.metadata.name!;
  const deadline = deadlineOf(current, obs.recorded, obs.ttlSeconds);
  const state = current.status?.state;
  if (state === 'Approved') return { supersede, next: 'none', verdict: approved(current) };
  if (state === 'Denied') return { supersede, next: 'none', verdict: denied(current) };
  if (state === 'Expired') return { supersede, next: 'none', verdict: expired(name) };
  const decision = current.spec.decision;
  if (obs.now.getTime() >= deadline.getTime()) {
    const status: ApprovalStatus = {
      state: 'Expired',
      reason: 'no decision before expiresAt: counts as a denial',
    };
    return { supersede, next: 'settle', settle: { approval: current, status }, verdict: expired(name) };
  }
  if (decision) {
    const status: ApprovalStatus = {
      state: decision.verdict,
      decidedBy: decision.decidedBy,
      decidedAt: obs.now.toISOString(),
      ...(decision.reason ? { reason: decision.reason } : {}),
    };
    const settled = { ...current, status };
    const verdict = decision.verdict === 'Approved' ? approved(settled) : denied(settled);
    return { supersede, next: 'settle', settle: { approval: current, status }, verdict };
  }
  const verdict = pending(name, deadline);
  return state === 'Pending'
    ? { supersede, next: 'none', verdict }
    : { supersede, next: 'markPending', approval: current, verdict };
}

const approved = (a: Approval): Verdict => ({
  verdict: 'approved',
  approvalName: a.metadata.name!,
  message: `approved by ${a.status?.decidedBy} (${a.metadata.name})`,
});

const denied = (a: Approval): Verdict => ({
  verdict: 'denied',
  approvalName: a.metadata.name!,
  phase: 'Denied',
  reason: 'ApprovalDenied',
  message: `denied by ${a.status?.decidedBy}${a.status?.reason ? `: ${a.status.reason}` : ''}`,
});

const expired = (name: string): Verdict => ({
  verdict: 'denied',
  approvalName: name,
  phase: 'Expired',
  reason: 'ApprovalExpired',
  message: `Approval ${name} expired without a decision`,
});

const pending = (name: string, deadline: Date): Extract<Verdict, { verdict: 'pending' }> => ({
  verdict: 'pending',
  approvalName: name,
  expiresAt: deadline.toISOString(),
  message: `waiting for a human decision on Approval ${name} until ${deadline.toISOString()}`,
});

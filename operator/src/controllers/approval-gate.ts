/**
 * The approval gate a critical task passes before any pod exists. An Approval
 * is bound to the sha256 of the task's canonical spec: an edit creates a new
 * Approval and supersedes the old one. No decision by `expiresAt` is a denial.
 * A decision counts only if the operator observes it before it expires.
 */

import type { ApprovalSpec } from '../api/approval.ts';
import type { Risk } from '../api/common.ts';
import { API_VERSION, APPROVAL } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import type { ClusterClient } from '../k8s/client.ts';
import { isAlreadyExists } from '../k8s/errors.ts';
import { specDigest } from '../policy/digest.ts';
import type { Informer } from '../runtime/informer.ts';
import { childLabels, controllerReference, controllerUid } from '../sandbox/names.ts';
import type { TaskAudit } from './task-audit.ts';

export type GateResult =
  | { verdict: 'approved'; message: string }
  | { verdict: 'pending'; approvalName: string; message: string; requeueAfterMs?: number }
  | { verdict: 'denied'; phase: 'Denied' | 'Expired'; reason: string; message: string };

export interface ApprovalGate {
  check(step: { task: AgentTask }, risk: Risk): Promise<GateResult>;
}

export interface ApprovalGateDeps {
  client: ClusterClient;
  approvals: Informer<Approval>;
  audit: TaskAudit;
  ttlSeconds: number;
  approvers: { users: string[]; groups: string[] };
  now: () => Date;
}

/** Deterministic per (task, digest), so a restart never requests twice. */
export const approvalName = (task: AgentTask, digest: string) =>
  `${task.metadata.name}-${digest.slice(7, 17)}`;

/** spec.approvers as the operator writes it: absent when nobody is configured. */
function approversSpec(approvers: ApprovalGateDeps['approvers']): ApprovalSpec['approvers'] {
  if (approvers.users.length === 0 && approvers.groups.length === 0) return undefined;
  return {
    ...(approvers.users.length > 0 ? { users: approvers.users } : {}),
    ...(approvers.groups.length > 0 ? { groups: approvers.groups } : {}),
  };
}

/**
 * Only an Approval the operator made for exactly this task, digest and
 * approver list counts: one created by anybody else is ignored.
 */
function isOwnApproval(
  approval: Approval,
  task: AgentTask,
  digest: string,
  approvers: ApprovalSpec['approvers'],
): boolean {
  return (
    controllerUid(approval) === task.metadata.uid &&
    approval.spec.taskRef.uid === task.metadata.uid &&
    approval.spec.taskDigest === digest &&
    JSON.stringify(approval.spec.approvers ?? null) === JSON.stringify(approvers ?? null)
  );
}

export function createApprovalGate(deps: ApprovalGateDeps): ApprovalGate {
  const requested = new Set<string>();
  const approvers = approversSpec(deps.approvers);

  function approvalsOf(task: AgentTask): Approval[] {
    return deps.approvals
      .list()
      .filter(
        (a) => a.metadata.namespace === task.metadata.namespace && a.spec.taskRef.uid === task.metadata.uid,
      );
  }

  async function supersedeOthers(task: AgentTask, digest: string): Promise<void> {
    for (const old of approvalsOf(task)) {
      if (old.spec.taskDigest === digest || old.status?.state === 'Superseded') continue;
      await deps.client.patchApprovalStatus(old, {
        ...old.status,
        state: 'Superseded',
        reason: `the task spec changed to ${digest}; this approval no longer applies`,
      });
    }
  }

  async function request(task: AgentTask, risk: Risk, digest: string, name: string): Promise<GateResult> {
    const expiresAt = new Date(deps.now().getTime() + deps.ttlSeconds * 1000).toISOString();
    const body: Approval = {
      apiVersion: API_VERSION,
      kind: APPROVAL.kind,
      metadata: {
        name,
        namespace: task.metadata.namespace!,
        labels: childLabels(task, 'approval'),
        ownerReferences: [controllerReference(task)],
      },
      spec: {
        taskRef: { name: task.metadata.name!, uid: task.metadata.uid! },
        taskDigest: digest,
        risk,
        expiresAt,
        ...(approvers ? { approvers } : {}),
      },
    };
    try {
      const created = await deps.client.createApproval(task.metadata.namespace!, body);
      await deps.client.patchApprovalStatus(created, { state: 'Pending' });
      deps.audit.approvalRequested(task, created);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    requested.add(`${task.metadata.namespace}/${name}`);
    return {
      verdict: 'pending',
      approvalName: name,
      message: `waiting for a human decision on Approval ${name} until ${expiresAt}`,
      requeueAfterMs: deps.ttlSeconds * 1000,
    };
  }

  async function settle(task: AgentTask, approval: Approval): Promise<Approval['status']> {
    const state = approval.status?.state;
    if (state && state !== 'Pending') return approval.status;
    const decision = approval.spec.decision;
    const now = deps.now();
    const expired = now.getTime() >= Date.parse(approval.spec.expiresAt);
    if (!decision && !expired) return approval.status;
    const status = expired
      ? { state: 'Expired' as const, reason: 'no decision before expiresAt: counts as a denial' }
      : {
          state: decision!.verdict,
          decidedBy: decision!.decidedBy,
          decidedAt: now.toISOString(),
          ...(decision!.reason ? { reason: decision!.reason } : {}),
        };
    await deps.client.patchApprovalStatus(approval, status);
    deps.audit.approvalDecided(task, { ...approval, status }, status.state);
    return status;
  }

  return {
    async check({ task }, risk) {
      const digest = specDigest(task.spec);
      const name = approvalName(task, digest);
      await supersedeOthers(task, digest);
      const approval = deps.approvals.get(`${task.metadata.namespace}/${name}`);
      if (!approval || !isOwnApproval(approval, task, digest, approvers)) {
        if (requested.has(`${task.metadata.namespace}/${name}`)) {
          return { verdict: 'pending', approvalName: name, message: `waiting for Approval ${name}` };
        }
        return await request(task, risk, digest, name);
      }
      const status = await settle(task, approval);
      switch (status?.state) {
        case 'Approved':
          return {
            verdict: 'approved',
            message: `approved by ${status.decidedBy} (${approval.metadata.name})`,
          };
        case 'Denied':
          return {
            verdict: 'denied',
            phase: 'Denied',
            reason: 'ApprovalDenied',
            message: `denied by ${status.decidedBy}${status.reason ? `: ${status.reason}` : ''}`,
          };
        case 'Expired':
          return {
            verdict: 'denied',
            phase: 'Expired',
            reason: 'ApprovalExpired',
            message: `Approval ${name} expired without a decision`,
          };
        default: {
          const left = Date.parse(approval.spec.expiresAt) - deps.now().getTime();
          return {
            verdict: 'pending',
            approvalName: name,
            message: `waiting for a human decision on Approval ${name} until ${approval.spec.expiresAt}`,
            requeueAfterMs: Math.max(0, left),
          };
        }
      }
    },
  };
}

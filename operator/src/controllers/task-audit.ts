/** The audit events the task controllers emit; implemented over the sealed audit store. */
import type { TaskPhase } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import type { AgentTask, Approval } from '../api/types.ts';

export interface TaskAudit {
  admitted(task: AgentTask): void;
  riskRated(task: AgentTask, risk: Risk): void;
  approvalRequested(task: AgentTask, approval: Approval): void;
  approvalDecided(task: AgentTask, approval: Approval, state: 'Approved' | 'Denied' | 'Expired'): void;
  podCreated(task: AgentTask, podName: string): void;
  finished(task: AgentTask, phase: TaskPhase, reason: string, resultSha256?: string): void;
  /** The task is gone and its sandbox torn down (the task object itself may no longer exist). */
  deleted(ref: { namespace: string; name: string; uid: string }): void;
}

export const NO_AUDIT: TaskAudit = {
  admitted() {},
  riskRated() {},
  approvalRequested() {},
  approvalDecided() {},
  podCreated() {},
  finished() {},
  deleted() {},
};

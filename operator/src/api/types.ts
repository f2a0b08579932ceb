import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { AgentTaskSpec, AgentTaskStatus } from './agenttask.ts';
import type { ApprovalSpec, ApprovalStatus } from './approval.ts';

export interface AgentTask {
  apiVersion: string;
  kind: 'AgentTask';
  metadata: V1ObjectMeta;
  spec: AgentTaskSpec;
  status?: AgentTaskStatus;
}

export interface Approval {
  apiVersion: string;
  kind: 'Approval';
  metadata: V1ObjectMeta;
  spec: ApprovalSpec;
  status?: ApprovalStatus;
}

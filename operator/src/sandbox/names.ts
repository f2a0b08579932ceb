/** Deterministic names and labels of a task's children, so a restart never duplicates them. */
import type { V1OwnerReference } from '@kubernetes/client-node';
import { AGENT_TASK, API_VERSION, GROUP } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';

export const LABEL_TASK = `${GROUP}/task`;
export const LABEL_TASK_UID = `${GROUP}/task-uid`;
export const LABEL_ROLE = `${GROUP}/role`;
export const ANNOTATION_TASK_SPEC = `${GROUP}/task-spec`;
/** On the NetworkPolicy: it may go only after the pod it guards is gone. */
export const FINALIZER = `${GROUP}/sandbox-teardown`;
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'closedpaw' } as const;

export const podName = (task: AgentTask) => `${task.metadata.name}-agent`;
export const networkPolicyName = (task: AgentTask) => `${task.metadata.name}-agent`;

/** Selects exactly this task's pod: name and uid, so a re-created task never matches the old pod. */
export const podSelectorLabels = (task: AgentTask) => ({
  [LABEL_TASK]: task.metadata.name!,
  [LABEL_TASK_UID]: task.metadata.uid!,
});

export const childLabels = (task: AgentTask) => ({
  ...MANAGED_BY,
  ...podSelectorLabels(task),
  [LABEL_ROLE]: 'agent',
});

export const controllerReference = (task: AgentTask): V1OwnerReference => ({
  apiVersion: API_VERSION,
  kind: AGENT_TASK.kind,
  name: task.metadata.name!,
  uid: task.metadata.uid!,
  controller: true,
  blockOwnerDeletion: true,
});

/** Deterministic names and labels of a task's children, so a restart never duplicates them. */
import type { V1OwnerReference } from '@kubernetes/client-node';
import { AGENT_TASK, API_VERSION, GROUP } from '../api/meta.ts';
import type { AgentTask } from '../api/types.ts';

export const LABEL_TASK = `${GROUP}/task`;
export const LABEL_TASK_UID = `${GROUP}/task-uid`;
export const LABEL_ROLE = `${GROUP}/role`;
export const ANNOTATION_TASK_SPEC = `${GROUP}/task-spec`;
/** The task's gateway token (not a secret: it grants only this task's model calls, until it ends). */
export const ANNOTATION_GATEWAY_TOKEN = `${GROUP}/gateway-token`;
/** On the NetworkPolicy: it may go only after the pod it guards is gone. */
export const FINALIZER = `${GROUP}/sandbox-teardown`;
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'closedpaw' } as const;

/** The name of a task's pod and of its NetworkPolicy (also when only the task's name is left). */
export const childName = (taskName: string) => `${taskName}-agent`;
export const podName = (task: AgentTask) => childName(task.metadata.name!);
export const networkPolicyName = (task: AgentTask) => childName(task.metadata.name!);

/** Selects exactly this task's pod: name and uid, so a re-created task never matches the old pod. */
export const podSelectorLabels = (task: AgentTask) => ({
  [LABEL_TASK]: task.metadata.name!,
  [LABEL_TASK_UID]: task.metadata.uid!,
});

export const childLabels = (task: AgentTask, role: 'agent' | 'approval' = 'agent') => ({
  ...MANAGED_BY,
  ...podSelectorLabels(task),
  [LABEL_ROLE]: role,
});

export const controllerReference = (task: AgentTask): V1OwnerReference => ({
  apiVersion: API_VERSION,
  kind: AGENT_TASK.kind,
  name: task.metadata.name!,
  uid: task.metadata.uid!,
  controller: true,
  blockOwnerDeletion: true,
});

/** The uid of an object's controller owner (for a child: its task). */
export const controllerUid = (obj: {
  metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> };
}) => obj.metadata?.ownerReferences?.find((ref) => ref.controller)?.uid;

/**
 * Whose a child is, from the task's point of view: its own, an earlier task's of the same name (deleted,
 * its children still being torn down), or somebody else's entirely.
 */
export type Ownership = 'ours' | 'previousTask' | 'foreign';

export function ownership(
  child: {
    metadata?: {
      ownerReferences?: Array<{ uid: string; kind?: string; name?: string; controller?: boolean }>;
    };
  },
  task: AgentTask,
): Ownership {
  const owner = child.metadata?.ownerReferences?.find((ref) => ref.controller);
  if (owner?.uid === task.metadata.uid) return 'ours';
  if (owner?.kind === AGENT_TASK.kind && owner.name === task.metadata.name) return 'previousTask';
  return 'foreign';
}

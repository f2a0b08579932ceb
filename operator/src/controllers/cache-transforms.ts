/**
 * What the AgentTask controller reads of its children, and nothing more: the
 * informer caches keep these trimmed copies. A pod carries the whole task spec
 * (prompt included) and the runner program; caching that a second time per
 * task would double the operator's memory for nothing.
 */
import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import type { KubeObject } from '../runtime/informer.ts';
import { ANNOTATION_GATEWAY_TOKEN, ANNOTATION_TASK_SPEC } from '../sandbox/names.ts';

/** Pod: metadata without the task-spec and token annotations, the container names, and the status. */
export function slimPod(obj: KubeObject): KubeObject {
  const pod = obj as V1Pod;
  const {
    [ANNOTATION_TASK_SPEC]: _spec,
    [ANNOTATION_GATEWAY_TOKEN]: _token,
    ...annotations
  } = pod.metadata?.annotations ?? {};
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: { ...pod.metadata, annotations },
    spec: {
      ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name })),
    },
    status: pod.status,
  } as KubeObject;
}

/** NetworkPolicy: who owns it, its finalizers, and its (small) spec, to put it back if someone edits it. */
export function slimNetworkPolicy(obj: KubeObject): KubeObject {
  const policy = obj as V1NetworkPolicy;
  return {
    apiVersion: policy.apiVersion,
    kind: policy.kind,
    metadata: policy.metadata,
    spec: policy.spec,
  } as KubeObject;
}

/**
 * The API calls the operator makes, in one place: typed, over the small REST
 * client (k8s/rest.ts) with keep-alive connections, and every write counted
 * (closedpaw_api_writes_total) so the benchmark can report writes per task.
 */
import type { V1NetworkPolicy, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import type { AgentTaskStatus } from '../api/agenttask.ts';
import type { ApprovalSpec, ApprovalStatus } from '../api/approval.ts';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { type KubeConnection, type Query, RestClient } from './rest.ts';

export const FIELD_MANAGER = 'closedpaw-operator';
const MERGE_PATCH = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const seg = encodeURIComponent;
const customPath = (namespace: string, plural: string, name?: string, sub?: string) =>
  `/apis/${GROUP}/${VERSION}/namespaces/${seg(namespace)}/${plural}${name ? `/${seg(name)}` : ''}${sub ? `/${sub}` : ''}`;
const corePath = (namespace: string, plural: string, name?: string, sub?: string) =>
  `/api/v1/namespaces/${seg(namespace)}/${plural}${name ? `/${seg(name)}` : ''}${sub ? `/${sub}` : ''}`;
const policyPath = (namespace: string, name?: string) =>
  `/apis/networking.k8s.io/v1/namespaces/${seg(namespace)}/networkpolicies${name ? `/${seg(name)}` : ''}`;

/** Request headers that make the API server treat a request as `who`'s (the operator may impersonate only them). */
export function impersonationHeaders(who: {
  user: string;
  groups?: readonly string[];
}): Record<string, string | string[]> {
  const groups = who.groups ?? [];
  return { 'Impersonate-User': who.user, ...(groups.length > 0 ? { 'Impersonate-Group': [...groups] } : {}) };
}

/** `namespace/name` of what a write is about: from the path, or the created object's metadata. */
function writeTarget(path: string, body: unknown): string {
  const match = /\/namespaces\/([^/]+)\/[^/]+(?:\/([^/]+))?/.exec(path);
  const name = match?.[2] ?? (body as { metadata?: { name?: string } } | undefined)?.metadata?.name ?? '';
  return `${decodeURIComponent(match?.[1] ?? '')}/${decodeURIComponent(name)}`;
}

export class ClusterClient {
  private readonly rest: RestClient;
  private readonly writes: Counter<'verb' | 'resource'> | undefined;
  private readonly reporter: string;

  private readonly onWrite: ((verb: string, resource: string, target: string) => void) | undefined;

  constructor(
    connection: KubeConnection,
    opts: {
      writes?: Counter<'verb' | 'resource'>;
      reporter?: string;
      /** Sees every write as it is sent (tests assert the order of writes). */
      onWrite?: (verb: string, resource: string, target: string) => void;
    } = {},
  ) {
    this.rest = new RestClient(connection);
    this.writes = opts.writes;
    this.onWrite = opts.onWrite;
    this.reporter = opts.reporter ?? FIELD_MANAGER;
  }

  private async write<T>(
    verb: 'create' | 'patch' | 'delete',
    resource: string,
    path: string,
    body: unknown,
    extra: {
      contentType?: string;
      query?: Query;
      headers?: Record<string, string | string[]>;
      signal?: AbortSignal | undefined;
    } = {},
  ): Promise<T> {
    this.writes?.inc({ verb, resource });
    this.onWrite?.(verb, resource, writeTarget(path, body));
    const method = verb === 'create' ? 'POST' : verb === 'patch' ? 'PATCH' : 'DELETE';
    const query = verb === 'delete' ? extra.query : { fieldManager: FIELD_MANAGER, ...extra.query };
    return await this.rest.request<T>(path, {
      method,
      body,
      ...(query ? { query } : {}),
      ...(extra.contentType ? { contentType: extra.contentType } : {}),
      ...(extra.headers ? { headers: extra.headers } : {}),
      ...(extra.signal ? { signal: extra.signal } : {}),
    });
  }

  async createNetworkPolicy(policy: V1NetworkPolicy, signal?: AbortSignal): Promise<V1NetworkPolicy> {
    const path = policyPath(policy.metadata!.namespace!);
    return await this.write('create', 'networkpolicies', path, policy, { signal });
  }

  /** Puts the policy's spec back to `spec`, only if nobody changed the object since it was read. */
  async restoreNetworkPolicySpec(
    policy: V1NetworkPolicy,
    spec: V1NetworkPolicy['spec'],
    signal?: AbortSignal,
  ): Promise<void> {
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: policy.metadata!.resourceVersion },
      { op: 'replace', path: '/spec', value: spec },
    ];
    const path = policyPath(policy.metadata!.namespace!, policy.metadata!.name!);
    await this.write('patch', 'networkpolicies', path, body, { contentType: JSON_PATCH, signal });
  }

  async readNetworkPolicy(namespace: string, name: string, signal?: AbortSignal): Promise<V1NetworkPolicy> {
    return await this.rest.request(policyPath(namespace, name), signal ? { signal } : {});
  }

  async readService(namespace: string, name: string, signal?: AbortSignal): Promise<V1Service> {
    return await this.rest.request(corePath(namespace, 'services', name), signal ? { signal } : {});
  }

  async createPod(pod: V1Pod, signal?: AbortSignal): Promise<V1Pod> {
    return await this.write('create', 'pods', corePath(pod.metadata!.namespace!, 'pods'), pod, { signal });
  }

  async readPod(namespace: string, name: string, signal?: AbortSignal): Promise<V1Pod> {
    return await this.rest.request(corePath(namespace, 'pods', name), signal ? { signal } : {});
  }

  async deletePod(namespace: string, name: string, uid: string, signal?: AbortSignal): Promise<void> {
    const body = { preconditions: { uid } };
    await this.write('delete', 'pods', corePath(namespace, 'pods', name), body, { signal });
  }

  async readPodLog(
    namespace: string,
    name: string,
    container: string,
    limitBytes: number,
    signal?: AbortSignal,
  ): Promise<string> {
    return await this.rest.requestText(corePath(namespace, 'pods', name, 'log'), {
      query: { container, limitBytes },
      ...(signal ? { signal } : {}),
    });
  }

  async patchTaskStatus(task: AgentTask, status: AgentTaskStatus, signal?: AbortSignal): Promise<AgentTask> {
    const path = customPath(task.metadata.namespace!, AGENT_TASK.plural, task.metadata.name!, 'status');
    const body = { status };
    return await this.write('patch', 'agenttasks/status', path, body, { contentType: MERGE_PATCH, signal });
  }

  /** Drops one finalizer, with a resourceVersion test so a concurrent change is a conflict, not a loss. */
  async removeNetworkPolicyFinalizer(
    policy: V1NetworkPolicy,
    finalizer: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const finalizers = (policy.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: policy.metadata!.resourceVersion },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ];
    const path = policyPath(policy.metadata!.namespace!, policy.metadata!.name!);
    await this.write('patch', 'networkpolicies', path, body, { contentType: JSON_PATCH, signal });
  }

  async deleteTask(task: AgentTask, signal?: AbortSignal): Promise<void> {
    const path = customPath(task.metadata.namespace!, AGENT_TASK.plural, task.metadata.name!);
    const body = { preconditions: { uid: task.metadata.uid! } };
    await this.write('delete', 'agenttasks', path, body, { signal });
  }

  async createApproval(
    namespace: string,
    body: Omit<Approval, 'status'> & { spec: ApprovalSpec },
    signal?: AbortSignal,
  ): Promise<Approval> {
    return await this.write('create', 'approvals', customPath(namespace, APPROVAL.plural), body, { signal });
  }

  async readApproval(namespace: string, name: string, signal?: AbortSignal): Promise<Approval> {
    return await this.rest.request(customPath(namespace, APPROVAL.plural, name), signal ? { signal } : {});
  }

  /**
   * Writes an Approval's status only if the object is still the one that was read (resourceVersion
   * precondition): a concurrent decision makes this a 409 Conflict instead of being overwritten.
   */
  async patchApprovalStatus(
    approval: Approval,
    status: ApprovalStatus,
    signal?: AbortSignal,
  ): Promise<Approval> {
    const path = customPath(approval.metadata.namespace!, APPROVAL.plural, approval.metadata.name!, 'status');
    const body = { metadata: { resourceVersion: approval.metadata.resourceVersion }, status };
    return await this.write('patch', 'approvals/status', path, body, { contentType: MERGE_PATCH, signal });
  }

  /**
   * Writes spec.decision *as* `user` (Impersonate-User), so the API server's
   * admission policy checks and records the human, not the operator.
   */
  async decideApproval(
    namespace: string,
    name: string,
    approver: { user: string; groups?: readonly string[] },
    decision: { verdict: 'Approved' | 'Denied'; reason?: string },
  ): Promise<Approval> {
    const body = { spec: { decision: { ...decision, decidedBy: approver.user } } };
    return await this.write('patch', 'approvals', customPath(namespace, APPROVAL.plural, name), body, {
      contentType: MERGE_PATCH,
      query: { fieldManager: 'closedpaw-ui' },
      headers: impersonationHeaders(approver),
    });
  }

  /** Asks the API server whether `who` may `verb` `resource` in `namespace` (SubjectAccessReview). */
  async canI(
    who: { user: string; groups?: readonly string[] },
    attributes: { verb: string; group: string; resource: string; namespace: string },
    signal?: AbortSignal,
  ): Promise<boolean> {
    const review = await this.rest.request<{ status?: { allowed?: boolean } }>(
      '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      {
        method: 'POST',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: who.user, groups: [...(who.groups ?? [])], resourceAttributes: attributes },
        },
        ...(signal ? { signal } : {}),
      },
    );
    return review?.status?.allowed === true;
  }

  /** A core/v1 Event about a task, so `kubectl describe agenttask` tells the story. */
  async recordEvent(task: AgentTask, event: EventInput): Promise<void> {
    const now = new Date().toISOString();
    const namespace = task.metadata.namespace!;
    await this.write('create', 'events', corePath(namespace, 'events'), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${task.metadata.name}.`, namespace },
      involvedObject: {
        apiVersion: task.apiVersion,
        kind: AGENT_TASK.kind,
        name: task.metadata.name!,
        namespace,
        uid: task.metadata.uid!,
        resourceVersion: task.metadata.resourceVersion!,
      },
      type: event.type,
      reason: event.reason,
      message: event.message.slice(0, 1024),
      source: { component: this.reporter },
      reportingComponent: this.reporter,
      reportingInstance: this.reporter,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }
}

/**
 * The API calls the operator makes, in one place: typed, over the small REST
 * client (runtime/rest.ts) with keep-alive connections, and every write counted
 * (closedpaw_api_writes_total) so the benchmark can report writes per task.
 */
import type { V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import type { AgentTaskStatus } from '../api/agenttask.ts';
import type { ApprovalSpec, ApprovalStatus } from '../api/approval.ts';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { type KubeConnection, type Query, RestClient } from '../runtime/rest.ts';

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

export class ClusterClient {
  private readonly rest: RestClient;
  private readonly writes: Counter<'verb' | 'resource'> | undefined;
  private readonly reporter: string;

  constructor(
    connection: KubeConnection,
    opts: { writes?: Counter<'verb' | 'resource'>; reporter?: string } = {},
  ) {
    this.rest = new RestClient(connection);
    this.writes = opts.writes;
    this.reporter = opts.reporter ?? FIELD_MANAGER;
  }

  private async write<T>(
    verb: 'create' | 'patch' | 'delete',
    resource: string,
    path: string,
    body: unknown,
    extra: { contentType?: string; query?: Query; headers?: Record<string, string> } = {},
  ): Promise<T> {
    this.writes?.inc({ verb, resource });
    const method = verb === 'create' ? 'POST' : verb === 'patch' ? 'PATCH' : 'DELETE';
    const query = verb === 'delete' ? extra.query : { fieldManager: FIELD_MANAGER, ...extra.query };
    return await this.rest.request<T>(path, {
      method,
      body,
      ...(query ? { query } : {}),
      ...(extra.contentType ? { contentType: extra.contentType } : {}),
      ...(extra.headers ? { headers: extra.headers } : {}),
    });
  }

  async createNetworkPolicy(policy: V1NetworkPolicy): Promise<V1NetworkPolicy> {
    return await this.write('create', 'networkpolicies', policyPath(policy.metadata!.namespace!), policy);
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    return await this.write('create', 'pods', corePath(pod.metadata!.namespace!, 'pods'), pod);
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    await this.write('delete', 'pods', corePath(namespace, 'pods', name), { preconditions: { uid } });
  }

  async readPodLog(namespace: string, name: string, container: string, limitBytes: number): Promise<string> {
    return await this.rest.requestText(corePath(namespace, 'pods', name, 'log'), {
      query: { container, limitBytes },
    });
  }

  async patchTaskStatus(task: AgentTask, status: AgentTaskStatus): Promise<AgentTask> {
    const path = customPath(task.metadata.namespace!, AGENT_TASK.plural, task.metadata.name!, 'status');
    return await this.write('patch', 'agenttasks/status', path, { status }, { contentType: MERGE_PATCH });
  }

  /** Drops one finalizer, with a resourceVersion test so a concurrent change is a conflict, not a loss. */
  async removeNetworkPolicyFinalizer(policy: V1NetworkPolicy, finalizer: string): Promise<void> {
    const finalizers = (policy.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: policy.metadata!.resourceVersion },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ];
    const path = policyPath(policy.metadata!.namespace!, policy.metadata!.name!);
    await this.write('patch', 'networkpolicies', path, body, { contentType: JSON_PATCH });
  }

  async deleteTask(task: AgentTask): Promise<void> {
    const path = customPath(task.metadata.namespace!, AGENT_TASK.plural, task.metadata.name!);
    await this.write('delete', 'agenttasks', path, { preconditions: { uid: task.metadata.uid! } });
  }

  async createApproval(
    namespace: string,
    body: Omit<Approval, 'status'> & { spec: ApprovalSpec },
  ): Promise<Approval> {
    return await this.write('create', 'approvals', customPath(namespace, APPROVAL.plural), body);
  }

  async patchApprovalStatus(approval: Approval, status: ApprovalStatus): Promise<Approval> {
    const path = customPath(approval.metadata.namespace!, APPROVAL.plural, approval.metadata.name!, 'status');
    return await this.write('patch', 'approvals/status', path, { status }, { contentType: MERGE_PATCH });
  }

  /**
   * Writes spec.decision *as* `user` (Impersonate-User), so the API server's
   * admission policy checks and records the human, not the operator.
   */
  async decideApproval(
    namespace: string,
    name: string,
    user: string,
    decision: { verdict: 'Approved' | 'Denied'; reason?: string },
  ): Promise<Approval> {
    const body = { spec: { decision: { ...decision, decidedBy: user } } };
    return await this.write('patch', 'approvals', customPath(namespace, APPROVAL.plural, name), body, {
      contentType: MERGE_PATCH,
      query: { fieldManager: 'closedpaw-ui' },
      headers: { 'Impersonate-User': user },
    });
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

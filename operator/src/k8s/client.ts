/**
 * The API calls the operator makes, in one place: typed, and every write
 * counted (closedpaw_api_writes_total) so the benchmark can report writes per task.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  NetworkingV1Api,
  NodeV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1NetworkPolicy,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Counter } from 'prom-client';
import type { AgentTaskStatus } from '../api/agenttask.ts';
import type { ApprovalSpec, ApprovalStatus } from '../api/approval.ts';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { withPooledConnections } from './pooled.ts';

export const FIELD_MANAGER = 'closedpaw-operator';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

export interface EventInput {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export class ClusterClient {
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly networking: NetworkingV1Api;
  readonly node: NodeV1Api;
  private readonly writes: Counter<'verb' | 'resource'> | undefined;
  private readonly reporter: string;

  constructor(
    kubeConfig: KubeConfig,
    opts: { writes?: Counter<'verb' | 'resource'>; reporter?: string } = {},
  ) {
    const pooled = withPooledConnections(kubeConfig);
    this.core = pooled.makeApiClient(CoreV1Api);
    this.custom = pooled.makeApiClient(CustomObjectsApi);
    this.networking = pooled.makeApiClient(NetworkingV1Api);
    this.node = pooled.makeApiClient(NodeV1Api);
    this.writes = opts.writes;
    this.reporter = opts.reporter ?? FIELD_MANAGER;
  }

  private count(verb: string, resource: string): void {
    this.writes?.inc({ verb, resource });
  }

  async createNetworkPolicy(policy: V1NetworkPolicy): Promise<V1NetworkPolicy> {
    this.count('create', 'networkpolicies');
    return await this.networking.createNamespacedNetworkPolicy({
      namespace: policy.metadata!.namespace!,
      body: policy,
      fieldManager: FIELD_MANAGER,
    });
  }

  async createPod(pod: V1Pod): Promise<V1Pod> {
    this.count('create', 'pods');
    return await this.core.createNamespacedPod({
      namespace: pod.metadata!.namespace!,
      body: pod,
      fieldManager: FIELD_MANAGER,
    });
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    this.count('delete', 'pods');
    await this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } });
  }

  async readPodLog(namespace: string, name: string, container: string, limitBytes: number): Promise<string> {
    return await this.core.readNamespacedPodLog({ namespace, name, container, limitBytes });
  }

  async runtimeClassExists(name: string): Promise<boolean> {
    try {
      await this.node.readRuntimeClass({ name });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      throw error;
    }
  }

  async patchTaskStatus(task: AgentTask, status: AgentTaskStatus): Promise<AgentTask> {
    this.count('patch', 'agenttasks/status');
    return (await this.custom.patchNamespacedCustomObjectStatus(
      { ...taskPath(task), body: { status }, fieldManager: FIELD_MANAGER },
      mergePatch,
    )) as AgentTask;
  }

  /** Drops one finalizer, with a resourceVersion test so a concurrent change is a conflict, not a loss. */
  async removeNetworkPolicyFinalizer(policy: V1NetworkPolicy, finalizer: string): Promise<void> {
    this.count('patch', 'networkpolicies');
    const finalizers = (policy.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
    const body = [
      { op: 'test', path: '/metadata/resourceVersion', value: policy.metadata!.resourceVersion },
      { op: 'replace', path: '/metadata/finalizers', value: finalizers },
    ];
    await this.networking.patchNamespacedNetworkPolicy(
      {
        namespace: policy.metadata!.namespace!,
        name: policy.metadata!.name!,
        body,
        fieldManager: FIELD_MANAGER,
      },
      jsonPatch,
    );
  }

  async deleteTask(task: AgentTask): Promise<void> {
    this.count('delete', 'agenttasks');
    await this.custom.deleteNamespacedCustomObject({
      ...taskPath(task),
      body: { preconditions: { uid: task.metadata.uid! } },
    });
  }

  async createApproval(
    namespace: string,
    body: Omit<Approval, 'status'> & { spec: ApprovalSpec },
  ): Promise<Approval> {
    this.count('create', 'approvals');
    return (await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: APPROVAL.plural,
      body,
      fieldManager: FIELD_MANAGER,
    })) as Approval;
  }

  async patchApprovalStatus(approval: Approval, status: ApprovalStatus): Promise<Approval> {
    this.count('patch', 'approvals/status');
    return (await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: approval.metadata.namespace!,
        plural: APPROVAL.plural,
        name: approval.metadata.name!,
        body: { status },
        fieldManager: FIELD_MANAGER,
      },
      mergePatch,
    )) as Approval;
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
    this.count('patch', 'approvals');
    const body = { spec: { decision: { ...decision, decidedBy: user } } };
    return (await this.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: APPROVAL.plural,
        name,
        body,
        fieldManager: 'closedpaw-ui',
      },
      setHeaderOptions('Impersonate-User', user, mergePatch),
    )) as Approval;
  }

  /** A core/v1 Event about a task, so `kubectl describe agenttask` tells the story. */
  async recordEvent(task: AgentTask, event: EventInput): Promise<void> {
    this.count('create', 'events');
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: task.metadata.namespace!,
      body: {
        metadata: { generateName: `${task.metadata.name}.`, namespace: task.metadata.namespace! },
        involvedObject: {
          apiVersion: task.apiVersion,
          kind: AGENT_TASK.kind,
          name: task.metadata.name!,
          namespace: task.metadata.namespace!,
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
      },
    });
  }
}

const taskPath = (task: AgentTask) => ({
  group: GROUP,
  version: VERSION,
  namespace: task.metadata.namespace!,
  plural: AGENT_TASK.plural,
  name: task.metadata.name!,
});

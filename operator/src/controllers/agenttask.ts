/**
 * The AgentTask reconciler: a level-based state machine that reads current
 * state from the informer caches and converges it.
 *
 *   Pending → AwaitingApproval (critical tasks; no pod) → Running → Succeeded | Failed | TimedOut
 *
 * Children are created NetworkPolicy first, then Pod, under deterministic
 * names with the task as controller owner, so a crash at any point never
 * duplicates them and no pod ever exists without its policy.
 */
import type { V1NetworkPolicy, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AgentTaskStatus, TaskPhase } from '../api/agenttask.ts';
import type { AgentTask } from '../api/types.ts';
import type { OperatorConfig } from '../config.ts';
import type { ClusterClient, EventInput } from '../k8s/client.ts';
import { errorMessage, isAlreadyExists, isNotFound } from '../k8s/errors.ts';
import { canonicalJson, specDigest } from '../policy/digest.ts';
import { needsApproval, rateRisk } from '../policy/risk.ts';
import type { ReconcileResult, Reconciler } from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import { childName, controllerUid, FINALIZER, networkPolicyName, podName } from '../sandbox/names.ts';
import { buildNetworkPolicy } from '../sandbox/network-policy.ts';
import { AGENT_CONTAINER, ANNOTATION_SPEC_DIGEST, buildPod } from '../sandbox/pod.ts';
import { podOutcome } from '../sandbox/pod-outcome.ts';
import type { ApprovalGate } from './approval-gate.ts';
import { type ConditionInput, findCondition, setCondition } from './conditions.ts';
import { readResult } from './result.ts';
import type { TaskAudit } from './task-audit.ts';

export const TERMINAL_PHASES: readonly TaskPhase[] = ['Succeeded', 'Failed', 'TimedOut', 'Denied', 'Expired'];
const RUNTIME_CLASS_RETRY_MS = 30_000;
/** How long past activeDeadlineSeconds the operator waits for the kubelet before it ends the pod itself. */
const DEADLINE_GRACE_MS = 30_000;

export interface AgentTaskControllerDeps {
  client: ClusterClient;
  tasks: Informer<AgentTask>;
  pods: Informer<V1Pod>;
  policies: Informer<V1NetworkPolicy>;
  runtimeClasses: Informer<V1RuntimeClass>;
  config: OperatorConfig;
  approvals: ApprovalGate;
  audit: TaskAudit;
  onPhase?: (phase: TaskPhase) => void;
  now?: () => Date;
}

interface Step {
  task: AgentTask;
  logger: Logger;
}

const done: ReconcileResult = {};

/** A status as canonical JSON, without condition timestamps (they differ between equal computations). */
const comparable = (status: AgentTaskStatus) =>
  canonicalJson({
    ...status,
    conditions: status.conditions?.map(({ lastTransitionTime: _ignored, ...condition }) => condition),
  });

/** When the sandbox started: the pod's creation time, so every reconcile computes the same value. */
const podStartTime = (pod: V1Pod, fallback: Date) =>
  new Date(pod.metadata?.creationTimestamp ?? fallback).toISOString();

const sandboxCreated = (task: AgentTask): ConditionInput => ({
  type: 'SandboxCreated',
  status: 'True',
  reason: 'PodCreated',
  message: `pod ${podName(task)} created behind NetworkPolicy ${networkPolicyName(task)}`,
});

export function agentTaskReconciler(deps: AgentTaskControllerDeps): Reconciler {
  const now = deps.now ?? (() => new Date());

  /**
   * Read-your-writes: the task as our last status patch returned it, until the
   * cache catches up. Without it, an event arriving before the cache shows our
   * write makes the next reconcile compute from stale status and write again.
   */
  const written = new Map<string, AgentTask>();
  const revision = (task: AgentTask) => Number(task.metadata.resourceVersion ?? 0);
  function freshest(key: string, cached: AgentTask): AgentTask {
    const mine = written.get(key);
    if (!mine || mine.metadata.uid !== cached.metadata.uid || revision(cached) >= revision(mine)) {
      written.delete(key);
      return cached;
    }
    return mine;
  }

  /** Children we created but the cache has not shown yet: never create them twice. */
  const expected = new Map<string, number>();
  const expectCreated = (key: string) => expected.set(key, Date.now());
  const isExpected = (key: string) => {
    const at = expected.get(key);
    if (at !== undefined && Date.now() - at < 60_000) return true;
    expected.delete(key);
    return false;
  };

  function owned<T extends V1Pod | V1NetworkPolicy>(cache: Informer<T>, task: AgentTask, name: string) {
    const key = `${task.metadata.namespace}/${name}`;
    const child = cache.get(key);
    if (!child) return { child: undefined, foreign: false };
    expected.delete(key);
    const ownerUid = controllerUid(child);
    return ownerUid === task.metadata.uid ? { child, foreign: false } : { child: undefined, foreign: true };
  }

  async function event(step: Step, input: EventInput): Promise<void> {
    await deps.client.recordEvent(step.task, input).catch((error: unknown) => {
      step.logger.warn({ err: errorMessage(error), reason: input.reason }, 'could not record event');
    });
  }

  async function writeStatus(
    step: Step,
    changes: Partial<AgentTaskStatus>,
    conditions: ConditionInput[] = [],
  ) {
    const { task } = step;
    const generation = task.metadata.generation;
    let merged = task.status?.conditions;
    for (const condition of conditions) merged = setCondition(merged, condition, generation, now());
    const next: AgentTaskStatus = {
      ...task.status,
      ...changes,
      ...(merged ? { conditions: merged } : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (comparable(next) === comparable(task.status ?? {})) return;
    step.task = await deps.client.patchTaskStatus(task, next);
    written.set(`${task.metadata.namespace}/${task.metadata.name}`, step.task);
    if (next.phase && next.phase !== task.status?.phase) deps.onPhase?.(next.phase);
  }

  async function finish(
    step: Step,
    phase: TaskPhase,
    reason: string,
    message: string,
    extra: Partial<AgentTaskStatus> = {},
  ) {
    const failed = phase !== 'Succeeded';
    await writeStatus(step, { phase, completionTime: now().toISOString(), ...extra }, [
      { type: failed ? 'Failed' : 'Complete', status: 'True', reason, message },
    ]);
    deps.audit.finished(step.task, phase, reason, extra.result?.sha256);
    await event(step, { type: failed ? 'Warning' : 'Normal', reason, message });
    return scheduleTtl(step.task);
  }

  function scheduleTtl(task: AgentTask): ReconcileResult {
    const ttl = task.spec.ttlSecondsAfterFinished;
    const completed = task.status?.completionTime;
    if (ttl === undefined || !completed) return done;
    return { requeueAfterMs: Math.max(0, Date.parse(completed) + ttl * 1000 - now().getTime()) };
  }

  async function afterFinished(step: Step): Promise<ReconcileResult> {
    const wait = scheduleTtl(step.task);
    if (wait.requeueAfterMs === undefined || wait.requeueAfterMs > 0) return wait;
    step.logger.info('ttlSecondsAfterFinished passed: deleting the task');
    await deps.client.deleteTask(step.task).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    return done;
  }

  /**
   * After the task is gone (or going), garbage collection removes its pod and
   * policy. The policy carries a finalizer so it outlives the pod: released
   * here only once the pod is gone, after the deletion is audited.
   */
  async function releasePolicy(key: string, logger: Logger): Promise<ReconcileResult> {
    const [namespace, name] = key.split('/') as [string, string];
    const child = childName(name);
    const policy = deps.policies.get(`${namespace}/${child}`);
    if (!policy?.metadata?.deletionTimestamp || !policy.metadata.finalizers?.includes(FINALIZER)) return done;
    const ownerUid = controllerUid(policy);
    const pod = deps.pods.get(`${namespace}/${child}`);
    if (pod && controllerUid(pod) === ownerUid) {
      return { requeueAfterMs: 1000 };
    }
    deps.audit.deleted({ namespace, name, uid: ownerUid ?? '' });
    await deps.client.removeNetworkPolicyFinalizer(policy, FINALIZER).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    logger.info({ policy: child }, 'sandbox torn down: pod gone, policy released');
    return done;
  }

  async function ensureNetworkPolicy(step: Step): Promise<boolean> {
    const { task } = step;
    const name = networkPolicyName(task);
    const key = `${task.metadata.namespace}/${name}`;
    const { child, foreign } = owned(deps.policies, task, name);
    if (child || isExpected(key)) return true;
    if (foreign) return false;
    const policy = buildNetworkPolicy(task, deps.config);
    try {
      await deps.client.createNetworkPolicy(policy);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    expectCreated(key);
    return true;
  }

  /** `pending` status changes and conditions ride along with this step's status write. */
  async function startSandbox(
    step: Step,
    pending: Partial<AgentTaskStatus>,
    conditions: ConditionInput[],
  ): Promise<ReconcileResult> {
    const { task } = step;
    const runtimeClass = task.spec.runtimeClassName;
    if (!deps.runtimeClasses.get(runtimeClass)) {
      const already = findCondition(task.status?.conditions, 'RuntimeClassAvailable')?.status === 'False';
      const message = `RuntimeClass ${runtimeClass} does not exist: no pod is created without a sandbox runtime`;
      await writeStatus(step, { ...pending, phase: 'Pending' }, [
        ...conditions,
        { type: 'RuntimeClassAvailable', status: 'False', reason: 'RuntimeClassNotFound', message },
      ]);
      if (!already) await event(step, { type: 'Warning', reason: 'RuntimeClassNotFound', message });
      return { requeueAfterMs: RUNTIME_CLASS_RETRY_MS };
    }
    if (!(await ensureNetworkPolicy(step))) return { requeueAfterMs: 1000 };
    const pod = buildPod(task, deps.config);
    const key = `${task.metadata.namespace}/${pod.metadata!.name}`;
    let created: V1Pod = pod;
    try {
      created = await deps.client.createPod(pod);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    expectCreated(key);
    deps.audit.podCreated(task, pod.metadata!.name!);
    await writeStatus(
      step,
      { ...pending, phase: 'Running', podName: pod.metadata!.name!, startTime: podStartTime(created, now()) },
      [
        ...conditions,
        {
          type: 'RuntimeClassAvailable',
          status: 'True',
          reason: 'RuntimeClassFound',
          message: `RuntimeClass ${runtimeClass} exists`,
        },
        sandboxCreated(task),
      ],
    );
    await event(step, {
      type: 'Normal',
      reason: 'SandboxCreated',
      message: `created NetworkPolicy ${networkPolicyName(task)} and pod ${pod.metadata!.name} (runtime ${runtimeClass})`,
    });
    return done;
  }

  async function trackPod(step: Step, pod: V1Pod): Promise<ReconcileResult> {
    const { task } = step;
    if (!(await ensureNetworkPolicy(step))) return { requeueAfterMs: 1000 };
    await noteSpecDrift(step, pod);
    const outcome = podOutcome(pod);
    switch (outcome.state) {
      case 'succeeded':
        return await collectResult(step, pod);
      case 'failed':
        return await finish(step, 'Failed', outcome.reason, outcome.message);
      case 'timedOut':
        return await finish(step, 'TimedOut', 'DeadlineExceeded', outcome.message);
      case 'running':
        break;
    }
    const startTime = task.status?.startTime ?? podStartTime(pod, now());
    await writeStatus(step, { phase: 'Running', podName: pod.metadata!.name!, startTime }, [
      sandboxCreated(task),
    ]);
    const deadline = Date.parse(startTime) + task.spec.timeoutSeconds * 1000 + DEADLINE_GRACE_MS;
    if (now().getTime() < deadline) return { requeueAfterMs: deadline - now().getTime() };
    await deps.client
      .deletePod(pod.metadata!.namespace!, pod.metadata!.name!, pod.metadata!.uid!)
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    return await finish(
      step,
      'TimedOut',
      'DeadlineExceeded',
      `the pod ran past timeoutSeconds=${task.spec.timeoutSeconds}; the operator deleted it`,
    );
  }

  async function noteSpecDrift(step: Step, pod: V1Pod): Promise<void> {
    const ranWith = pod.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST];
    if (!ranWith || ranWith === specDigest(step.task.spec)) return;
    if (findCondition(step.task.status?.conditions, 'SpecApplied')?.status === 'False') return;
    const message = `the spec changed after the pod started (pod runs ${ranWith}); the task is not re-run: create a new AgentTask`;
    await writeStatus(step, {}, [
      { type: 'SpecApplied', status: 'False', reason: 'SpecChangedAfterStart', message },
    ]);
    await event(step, { type: 'Warning', reason: 'SpecChangedAfterStart', message });
  }

  async function collectResult(step: Step, pod: V1Pod): Promise<ReconcileResult> {
    const read = await readResult(deps.client, pod, AGENT_CONTAINER, deps.config.resultMaxBytes);
    if (!read.ok) return await finish(step, 'Failed', read.reason, read.message);
    return await finish(
      step,
      'Succeeded',
      'Succeeded',
      `result of ${read.result.bytes} bytes, sha256 ${read.result.sha256}`,
      {
        result: read.result,
      },
    );
  }

  async function whenPodMissing(step: Step): Promise<ReconcileResult> {
    const { task } = step;
    const key = `${task.metadata.namespace}/${podName(task)}`;
    if (isExpected(key)) return { requeueAfterMs: 60_000 };
    if (task.status?.phase === 'Running' && task.status.podName) {
      return await finish(
        step,
        'Failed',
        'PodDeleted',
        `pod ${task.status.podName} disappeared before it finished`,
      );
    }
    if (!task.status?.phase) deps.audit.admitted(task);
    const risk = rateRisk(task.spec);
    if (JSON.stringify(risk) !== JSON.stringify(task.status?.risk)) deps.audit.riskRated(task, risk);
    if (!needsApproval(risk)) return await startSandbox(step, { risk }, []);
    const gate = await deps.approvals.check(step, risk);
    switch (gate.verdict) {
      case 'approved':
        return await startSandbox(step, { risk }, [
          { type: 'Approved', status: 'True', reason: 'Approved', message: gate.message },
        ]);
      case 'denied':
        return await finish(step, gate.phase, gate.reason, gate.message, { risk });
      case 'pending':
        await writeStatus(
          step,
          { risk, phase: 'AwaitingApproval', approvalRef: { name: gate.approvalName } },
          [{ type: 'Approved', status: 'Unknown', reason: 'AwaitingApproval', message: gate.message }],
        );
        return gate.requeueAfterMs !== undefined ? { requeueAfterMs: gate.requeueAfterMs } : done;
    }
  }

  return async (key, ctx) => {
    const cached = deps.tasks.get(key);
    if (!cached || cached.metadata.deletionTimestamp) {
      written.delete(key);
      return await releasePolicy(key, ctx.logger);
    }
    const step: Step = { task: freshest(key, cached), logger: ctx.logger };
    if (TERMINAL_PHASES.includes(step.task.status?.phase as TaskPhase)) return await afterFinished(step);
    const { child: pod, foreign } = owned(deps.pods, step.task, podName(step.task));
    if (foreign) return { requeueAfterMs: 1000 };
    if (pod) return await trackPod(step, pod);
    return await whenPodMissing(step);
  };
}

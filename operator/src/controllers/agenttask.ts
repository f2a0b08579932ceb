/**
 * The AgentTask reconciler: reads current state from the informer caches,
 * asks the pure state machine (task-decisions.ts) what to do, and does it.
 * Children are created NetworkPolicy first, then Pod, under deterministic
 * names with the task as controller owner, so a crash at any point never
 * duplicates them and no pod ever exists without its policy.
 */
import type { V1NetworkPolicy, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { AgentTaskStatus } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import { CONDITION } from '../api/reasons.ts';
import type { AgentTask } from '../api/types.ts';
import type { AuditHealth } from '../audit-guard.ts';
import type { OperatorConfig } from '../config.ts';
import type { ClusterClient, EventInput } from '../k8s/client.ts';
import {
  errorMessage,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isTransient,
  statusCode,
} from '../k8s/errors.ts';
import { canonicalJson, specDigest } from '../policy/digest.ts';
import { NO_SCREENING, rateRisk, type ScreeningFinding, type ScreeningResult } from '../policy/risk.ts';
import {
  type ReconcileContext,
  type ReconcileResult,
  type Reconciler,
  ReportedError,
} from '../runtime/controller.ts';
import type { Informer } from '../runtime/informer.ts';
import { Lane } from '../runtime/lane.ts';
import {
  childName,
  controllerUid,
  FINALIZER,
  networkPolicyName,
  ownership,
  podName,
} from '../sandbox/names.ts';
import { buildNetworkPolicy, samePolicySpec } from '../sandbox/network-policy.ts';
import { AGENT_CONTAINER, ANNOTATION_SPEC_DIGEST, buildPod, type PodConfig } from '../sandbox/pod.ts';
import { podOutcome } from '../sandbox/pod-outcome.ts';
import { runtimeClassVerdict } from '../sandbox/runtime-class.ts';
import type { ApprovalGate } from './approval-gate.ts';
import { type ConditionInput, setCondition } from './conditions.ts';
import { Expectations } from './expectations.ts';
import { readResult } from './result.ts';
import type { TaskAudit } from './task-audit.ts';
import {
  afterFinish,
  type Child,
  DEFAULT_TIMING,
  decideTask,
  type Finish,
  isTerminal,
  needsGate,
  type PodFacts,
  type PolicyFacts,
  resultRetryDelayMs,
  type SandboxWrite,
  type TaskDecision,
  type TaskObservation,
  type TaskTiming,
} from './task-decisions.ts';

export interface AgentTaskControllerDeps {
  client: ClusterClient;
  tasks: Pick<Informer<AgentTask>, 'get'>;
  pods: Pick<Informer<V1Pod>, 'get'>;
  policies: Pick<Informer<V1NetworkPolicy>, 'get'>;
  runtimeClasses: Pick<Informer<V1RuntimeClass>, 'get'>;
  config: OperatorConfig;
  /** What every sandbox pod is built with (runner image, uid, the gateway URL). */
  pod: PodConfig;
  approvals: ApprovalGate;
  audit: TaskAudit;
  /** Whether the sealed audit log takes appends; no pod is created while it does not. */
  auditHealth?: () => AuditHealth;
  /** Makes the audit records so far durable; called before a pod is created (rejects: no pod). */
  auditBarrier?: () => Promise<void>;
  /** Screens the task's prompt and inputs before the run (its flags make the task critical). */
  screen?: (spec: AgentTask['spec']) => ScreeningResult;
  /** Whether a namespace is being deleted (its tasks' sandboxes are torn down early). */
  namespaceTerminating?: (namespace: string) => boolean;
  /** Signs the task's gateway token, put into the pod (read-only) for the runner. */
  issueToken?: (task: AgentTask) => Promise<string>;
  onPhase?: (phase: NonNullable<AgentTaskStatus['phase']>) => void;
  /**
   * Reconcile `key` again after `afterMs`. With it, torn-down policies are released in the background,
   * many at once (a namespace deletion tears down every task together), instead of one per worker.
   */
  requeue?: (key: string, afterMs: number) => void;
  now?: () => Date;
  timing?: Partial<TaskTiming>;
}

interface Step {
  task: AgentTask;
  logger: Logger;
  signal: AbortSignal;
}

const done: ReconcileResult = {};
/** Keys of the children in the expectations: the pod and the policy share one name. */
const podKey = (task: AgentTask) => `pod:${task.metadata.namespace}/${podName(task)}`;
const policyKey = (task: AgentTask) => `policy:${task.metadata.namespace}/${networkPolicyName(task)}`;
const HEALTHY: AuditHealth = { ok: true };

/** A status as canonical JSON, without condition timestamps (they differ between equal computations). */
const comparable = (status: AgentTaskStatus) =>
  canonicalJson({
    ...status,
    conditions: status.conditions?.map(({ lastTransitionTime: _ignored, ...condition }) => condition),
  });

/** An API refusal a person must act on (quota, LimitRange, admission, validation), as opposed to a hiccup. */
const isRefusal = (error: unknown) => {
  const code = statusCode(error) ?? 0;
  return code >= 400 && code < 500 && code !== 409 && code !== 429 && code !== 408;
};

/** Finalizer releases in flight at once: a namespace deletion releases all its tasks' policies together. */
const RELEASES_IN_FLIGHT = 32;

const earliest = (...delays: Array<number | undefined>) => {
  const set = delays.filter((d): d is number => d !== undefined && d > 0);
  return set.length > 0 ? Math.min(...set) : undefined;
};

export function agentTaskReconciler(deps: AgentTaskControllerDeps): Reconciler & {
  isOwnWrite(task: AgentTask): boolean;
  giveUp(key: string, error: unknown, ctx: ReconcileContext): Promise<void>;
  reportError(key: string, error: unknown, attempt: number, ctx: ReconcileContext): Promise<void>;
  mayGiveUp(error: unknown): boolean;
} {
  const now = deps.now ?? (() => new Date());
  const timing: TaskTiming = { ...DEFAULT_TIMING, ...deps.timing };
  const namespaceTerminating = deps.namespaceTerminating ?? (() => false);
  const auditHealth = deps.auditHealth ?? (() => HEALTHY);

  /**
   * Read-your-writes: the task as our last status patch returned it, until the cache shows our write.
   * resourceVersions are opaque: while the cache still shows the version we patched from, ours is newer;
   * once it shows anything else, it is our write or a later one (the watch delivers in order).
   */
  const written = new Map<string, { from: string | undefined; task: AgentTask }>();
  function freshest(key: string, cached: AgentTask): AgentTask {
    const mine = written.get(key);
    if (
      mine &&
      mine.task.metadata.uid === cached.metadata.uid &&
      cached.metadata.resourceVersion === mine.from
    ) {
      return mine.task;
    }
    written.delete(key);
    return cached;
  }

  /**
   * The watch delivering our own status write (the resourceVersion our patch returned): the cache now
   * shows what the last reconcile already acted on, so there is nothing to reconcile, and the
   * read-your-writes entry can go. Anything else that changed has its own event.
   */
  function isOwnWrite(task: AgentTask): boolean {
    const key = `${task.metadata.namespace}/${task.metadata.name}`;
    const mine = written.get(key)?.task.metadata;
    if (!mine || mine.uid !== task.metadata.uid || mine.resourceVersion !== task.metadata.resourceVersion)
      return false;
    written.delete(key);
    return true;
  }

  const expected = new Expectations(60_000);
  /** Risk by spec digest: screening a long prompt costs milliseconds, so it happens once per spec. */
  const risks = new Map<string, { risk: Risk; findings: ScreeningFinding[] }>();
  function riskOf(task: AgentTask, digest: string): { risk: Risk; findings: ScreeningFinding[] } {
    const known = risks.get(digest);
    if (known) return known;
    const screening = deps.screen?.(task.spec) ?? NO_SCREENING;
    const rated = {
      risk: rateRisk(task.spec, screening, deps.config.cloud),
      findings: screening.findings ?? [],
    };
    risks.set(digest, rated);
    if (risks.size > 10_000) risks.delete(risks.keys().next().value as string);
    return rated;
  }
  const resultReads = new Map<string, number>();
  /** Policies whose finalizer release is in flight (by policy uid), and the lane they run in. */
  const releasing = new Set<string>();
  const releases = new Lane(RELEASES_IN_FLIGHT);

  /** A child as the task sees it; `created` names its entry in the expectations. */
  function child<T extends V1Pod | V1NetworkPolicy, F>(
    cache: Pick<Informer<T>, 'get'>,
    task: AgentTask,
    created: string,
    facts: (obj: T) => F,
  ): Child<F> {
    const name = podName(task);
    const obj = cache.get(`${task.metadata.namespace}/${name}`);
    if (!obj) return { kind: 'absent', expected: expected.has(created) };
    expected.observed(created);
    switch (ownership(obj, task)) {
      case 'ours':
        return { kind: 'ours', facts: facts(obj) };
      case 'previousTask':
        return { kind: 'previousTask', name: `${obj.kind ?? 'object'} ${name}` };
      case 'foreign': {
        const owner = obj.metadata?.ownerReferences?.find((r) => r.controller);
        return {
          kind: 'foreign',
          name: `${obj.kind ?? 'object'} ${name}`,
          owner: owner ? `${owner.kind} ${owner.name}` : 'none',
        };
      }
    }
  }

  const podFacts = (pod: V1Pod): PodFacts => ({
    name: pod.metadata!.name!,
    outcome: podOutcome(pod),
    createdAt: new Date(pod.metadata?.creationTimestamp ?? now()).toISOString(),
    ranDigest: pod.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST],
  });

  /**
   * Whether a cached policy drifted from what the operator would write, per cached object: an object
   * is replaced, never changed, when the watch brings a new version, and its owner (the task) is fixed.
   */
  const drift = new WeakMap<V1NetworkPolicy, boolean>();
  const policyFacts =
    (task: AgentTask) =>
    (policy: V1NetworkPolicy): PolicyFacts => {
      let drifted = drift.get(policy);
      if (drifted === undefined) {
        drifted = !samePolicySpec(policy.spec, buildNetworkPolicy(task, deps.config).spec);
        drift.set(policy, drifted);
      }
      return {
        name: policy.metadata!.name!,
        drifted,
        deleting: Boolean(policy.metadata?.deletionTimestamp),
      };
    };

  async function event(step: Step, input: EventInput): Promise<void> {
    await deps.client.recordEvent(step.task, input).catch((error: unknown) => {
      step.logger.warn({ err: errorMessage(error), reason: input.reason }, 'could not record event');
    });
  }

  /** Writes the status when it differs from what is there; returns whether it wrote. */
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
    if (comparable(next) === comparable(task.status ?? {})) return false;
    const from = task.metadata.resourceVersion;
    step.task = await deps.client.patchTaskStatus(task, next, step.signal);
    written.set(`${task.metadata.namespace}/${task.metadata.name}`, { from, task: step.task });
    if (next.phase && next.phase !== task.status?.phase) deps.onPhase?.(next.phase);
    return true;
  }

  async function finish(step: Step, f: Finish): Promise<ReconcileResult> {
    const failed = f.phase !== 'Succeeded';
    const conditions: ConditionInput[] = [
      {
        type: failed ? CONDITION.Failed : CONDITION.Complete,
        status: 'True',
        reason: f.reason,
        message: f.message,
      },
    ];
    if (f.flags?.length) conditions.push(outputFlagged(f.flags));
    await writeStatus(
      step,
      { phase: f.phase, completionTime: now().toISOString(), ...f.changes },
      conditions,
    );
    deps.audit.finished(step.task, f.phase, f.reason, f.changes?.result?.sha256);
    await event(step, { type: failed ? 'Warning' : 'Normal', reason: f.reason, message: f.message });
    resultReads.delete(step.task.metadata.uid ?? '');
    const ttl = afterFinish(step.task, now()).requeueAfterMs;
    return ttl !== undefined ? { requeueAfterMs: ttl } : done;
  }

  async function collectResult(step: Step): Promise<ReconcileResult> {
    const { task } = step;
    const uid = task.metadata.uid ?? '';
    const pod = deps.pods.get(`${task.metadata.namespace}/${podName(task)}`);
    if (!pod) return { requeueAfterMs: 1000 };
    const read = await readResult(deps.client, pod, AGENT_CONTAINER, deps.config.resultMaxBytes, step.signal);
    if (read.ok) {
      const message = `result of ${read.result.bytes} bytes, sha256 ${read.result.sha256}`;
      return await finish(step, {
        phase: 'Succeeded',
        reason: 'Succeeded',
        message,
        changes: { result: read.result },
        flags: read.flags,
      });
    }
    if (read.transient) {
      const attempt = resultReads.get(uid) ?? 0;
      const delay = resultRetryDelayMs(attempt);
      if (delay !== undefined) {
        resultReads.set(uid, attempt + 1);
        step.logger.warn({ attempt: attempt + 1, err: read.message }, 'reading the result failed; retrying');
        return { requeueAfterMs: delay };
      }
    }
    return await finish(step, { phase: 'Failed', reason: read.reason, message: read.message });
  }

  /** Reads back a child that already existed, to tell our own (a retried create) from somebody else's. */
  async function existingIsOurs(step: Step, write: SandboxWrite): Promise<boolean> {
    const { namespace, name } = { namespace: step.task.metadata.namespace!, name: podName(step.task) };
    const obj =
      write === 'createPod'
        ? await deps.client.readPod(namespace, name, step.signal)
        : await deps.client.readNetworkPolicy(namespace, name, step.signal);
    return ownership(obj, step.task) === 'ours';
  }

  /** A refused create is shown on the task (condition + Warning Event) and retried with backoff. */
  async function refused(step: Step, write: SandboxWrite, error: unknown): Promise<never> {
    const reason = write === 'createPod' ? 'PodRejected' : 'NetworkPolicyRejected';
    const what = write === 'createPod' ? 'pod' : 'NetworkPolicy';
    const message = `the API server refused the ${what}: ${errorMessage(error)}`;
    const changed = await writeStatus(step, { phase: 'Pending' }, [
      { type: CONDITION.SandboxCreated, status: 'False', reason, message },
    ]);
    if (changed) await event(step, { type: 'Warning', reason, message });
    throw new ReportedError(message);
  }

  async function performWrite(step: Step, write: SandboxWrite, token?: string): Promise<V1Pod | undefined> {
    const { task } = step;
    const key = podKey(task);
    try {
      switch (write) {
        case 'createPolicy':
          await deps.client.createNetworkPolicy(buildNetworkPolicy(task, deps.config), step.signal);
          expected.expect(policyKey(task), true);
          return undefined;
        case 'restorePolicy': {
          const policy = deps.policies.get(`${task.metadata.namespace}/${networkPolicyName(task)}`);
          if (policy) {
            await deps.client.restoreNetworkPolicySpec(
              policy,
              buildNetworkPolicy(task, deps.config).spec,
              step.signal,
            );
            await event(step, {
              type: 'Warning',
              reason: 'NetworkPolicyRestored',
              message: `NetworkPolicy ${policy.metadata?.name} was edited; the operator put its spec back`,
            });
          }
          return undefined;
        }
        case 'createPod': {
          const created = await deps.client.createPod(buildPod(task, deps.pod, token), step.signal);
          expected.expect(key, true);
          deps.audit.podCreated(task, podName(task));
          return created;
        }
        case 'deletePod': {
          const pod = deps.pods.get(`${task.metadata.namespace}/${podName(task)}`);
          if (pod)
            await deps.client.deletePod(
              task.metadata.namespace!,
              podName(task),
              pod.metadata!.uid!,
              step.signal,
            );
          return undefined;
        }
      }
    } catch (error) {
      if (write === 'deletePod' && isNotFound(error)) return undefined;
      if ((write === 'createPod' || write === 'createPolicy') && isAlreadyExists(error)) {
        if (await existingIsOurs(step, write)) {
          expected.expect(write === 'createPod' ? key : policyKey(task), true);
          return undefined;
        }
        throw new Error(
          `${write === 'createPod' ? 'pod' : 'NetworkPolicy'} ${podName(task)} exists and is not this task's`,
        );
      }
      if ((write === 'createPod' || write === 'createPolicy') && isRefusal(error))
        return await refused(step, write, error);
      throw error;
    }
  }

  /**
   * What a pod needs besides its policy: the audit records made durable (the barrier) and its gateway
   * token. Started together with the policy write, so neither adds to the critical path; the pod itself
   * is still created strictly after both and after the policy.
   */
  function preparePod(task: AgentTask): Promise<{ token?: string; auditError?: unknown }> {
    const barrier = (deps.auditBarrier?.() ?? Promise.resolve()).then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    const token = deps.issueToken?.(task);
    const prepared = Promise.all([barrier, token]).then(([failed, signed]) =>
      failed ? { auditError: failed.error } : signed !== undefined ? { token: signed } : {},
    );
    prepared.catch(() => undefined); // awaited below; a policy write failing first must not leave it unhandled
    return prepared;
  }

  async function perform(step: Step, decision: TaskDecision, obs: TaskObservation): Promise<ReconcileResult> {
    const pod = decision.writes.includes('createPod') ? preparePod(step.task) : undefined;
    let createdPod: V1Pod | undefined;
    for (const write of decision.writes) {
      let token: string | undefined;
      if (write === 'createPod' && pod) {
        const prepared = await pod;
        if ('auditError' in prepared) {
          const message = `audit log unavailable: ${errorMessage(prepared.auditError)}`;
          const audit = { ok: false as const, message };
          return await perform(step, decideTask({ ...obs, audit }), { ...obs, audit });
        }
        token = prepared.token;
      }
      const created = await performWrite(step, write, token);
      if (created) createdPod = created;
    }
    if (decision.collectResult) return await collectResult(step);
    if (decision.deleteTask) {
      step.logger.info('ttlSecondsAfterFinished passed: deleting the task');
      await deps.client.deleteTask(step.task, step.signal).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      return done;
    }
    if (decision.finish) return await finish(step, decision.finish);
    if (decision.status) {
      const changes = createdPod?.metadata?.creationTimestamp
        ? {
            ...decision.status.changes,
            startTime: new Date(createdPod.metadata.creationTimestamp).toISOString(),
          }
        : decision.status.changes;
      const changed = await writeStatus(step, changes, decision.status.conditions);
      if (changed && decision.warning) await event(step, { type: 'Warning', ...decision.warning });
    }
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : done;
  }

  /**
   * A NetworkPolicy being deleted (its task gone, re-created, or someone deleting it) carries our
   * finalizer: it is released once no pod of the same owner exists, so no pod ever runs without it.
   * Decided by owner uid, never by task name.
   */
  async function releaseTornDownPolicy(
    key: string,
    logger: Logger,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const [namespace, name] = key.split('/') as [string, string];
    const child = childName(name);
    const policy = deps.policies.get(`${namespace}/${child}`);
    // A policy is torn down when it is being deleted, or when its whole namespace is: nothing new can be
    // created in a terminating namespace, so once the pod is gone the policy guards nothing. Releasing it
    // before the namespace controller's first pass lets that pass finish the namespace at once.
    const goingAway = Boolean(policy?.metadata?.deletionTimestamp) || namespaceTerminating(namespace);
    if (!policy || !goingAway || !policy.metadata?.finalizers?.includes(FINALIZER)) return done;
    const ownerUid = controllerUid(policy) ?? '';
    const pod = deps.pods.get(`${namespace}/${child}`);
    if ((pod && controllerUid(pod) === ownerUid) || expected.has(`pod:${namespace}/${child}`)) {
      return { requeueAfterMs: timing.blockedRetryMs };
    }
    const policyUid = policy.metadata.uid ?? `${namespace}/${child}`;
    if (releasing.has(policyUid)) return done; // its release is in flight; the outcome requeues if needed
    deps.audit.deleted({ namespace, name, uid: ownerUid });
    const release = async (): Promise<ReconcileResult> => {
      try {
        await deps.client.removeNetworkPolicyFinalizer(policy, FINALIZER, signal);
      } catch (error) {
        if (isNotFound(error)) return done;
        if (isConflict(error)) return { requeueAfterMs: 200 };
        throw error;
      }
      logger.info({ policy: child, owner: ownerUid }, 'sandbox torn down: pod gone, policy released');
      return done;
    };
    const requeue = deps.requeue;
    if (!requeue) return await release();
    releasing.add(policyUid);
    void releases
      .run(release)
      .then(
        (result) => result.requeueAfterMs !== undefined && requeue(key, result.requeueAfterMs),
        (error: unknown) => {
          logger.warn(
            { err: errorMessage(error), policy: child },
            'releasing a torn-down policy failed; retrying',
          );
          requeue(key, 1000);
        },
      )
      .finally(() => releasing.delete(policyUid));
    return done;
  }

  async function observe(step: Step): Promise<TaskObservation> {
    const { task } = step;
    const digest = specDigest(task.spec);
    const { risk, findings } = riskOf(task, digest);
    if (!task.status?.phase) deps.audit.admitted(task);
    for (const finding of findings) deps.audit.screened(task, finding);
    if (canonicalJson(risk) !== canonicalJson(task.status?.risk ?? null)) deps.audit.riskRated(task, risk);
    const pod = child(deps.pods, task, podKey(task), podFacts);
    const policy = child(deps.policies, task, policyKey(task), policyFacts(task));
    const name = task.spec.runtimeClassName;
    const runtimeClass = runtimeClassVerdict(
      name,
      deps.runtimeClasses.get(name),
      deps.config.sandboxHandlers,
    );
    const audit = auditHealth();
    const gate =
      needsGate(task, risk, pod) && audit.ok && pod.kind === 'absent' && !task.status?.podName
        ? await deps.approvals.check(task, risk, digest, step.signal)
        : undefined;
    return { task, now: now(), digest, risk, pod, policy, runtimeClass, gate, audit, timing };
  }

  /** In a terminating namespace the pod goes first (it would anyway), so the policy can be released early. */
  async function leaveTerminatingNamespace(key: string, signal: AbortSignal): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const pod = deps.pods.get(`${namespace}/${childName(name)}`);
    if (!pod || pod.metadata?.deletionTimestamp) return;
    await deps.client
      .deletePod(namespace, childName(name), pod.metadata!.uid!, signal)
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
  }

  async function reconcile(key: string, ctx: ReconcileContext): Promise<ReconcileResult> {
    const cached = deps.tasks.get(key);
    const terminating = namespaceTerminating(key.slice(0, key.indexOf('/')));
    if (terminating) await leaveTerminatingNamespace(key, ctx.signal);
    const teardown = await releaseTornDownPolicy(key, ctx.logger, ctx.signal);
    if (!cached || cached.metadata.deletionTimestamp || terminating) {
      written.delete(key);
      return teardown;
    }
    const step: Step = { task: freshest(key, cached), logger: ctx.logger, signal: ctx.signal };
    const obs = await observe(step);
    const result = await perform(step, decideTask(obs), obs);
    const after = earliest(result.requeueAfterMs, teardown.requeueAfterMs);
    return after !== undefined ? { requeueAfterMs: after } : done;
  }

  /** After too many failed attempts the task ends Failed with the last error, instead of retrying for ever. */
  async function giveUp(key: string, error: unknown, ctx: ReconcileContext): Promise<void> {
    const cached = deps.tasks.get(key);
    if (!cached || isTerminal(cached)) return;
    const step: Step = { task: freshest(key, cached), logger: ctx.logger, signal: ctx.signal };
    await finish(step, {
      phase: 'Failed',
      reason: 'ReconcileGaveUp',
      message: `the operator could not make progress after repeated attempts; last error: ${errorMessage(error)}`,
    });
  }

  /** Reconcile errors show on the object as Warning Events (the first, then every power of two). */
  async function reportError(
    key: string,
    error: unknown,
    attempt: number,
    ctx: ReconcileContext,
  ): Promise<void> {
    if (isConflict(error) || (attempt & (attempt - 1)) !== 0) return;
    const cached = deps.tasks.get(key);
    if (!cached) return;
    await event(
      { task: cached, logger: ctx.logger, signal: ctx.signal },
      { type: 'Warning', reason: 'ReconcileError', message: `attempt ${attempt}: ${errorMessage(error)}` },
    );
  }

  /** Transient trouble (API server away, 5xx, timeouts) is retried for as long as it lasts. */
  const mayGiveUp = (error: unknown) => !isTransient(error);

  return Object.assign(reconcile, { isOwnWrite, giveUp, reportError, mayGiveUp });
}

export function outputFlagged(flags: readonly string[]): ConditionInput {
  const reasons = flags.map((f) => (f === 'canary-leak' ? 'CanaryLeak' : 'SecretRedacted'));
  return {
    type: CONDITION.OutputFlagged,
    status: 'True',
    reason: reasons[0] ?? 'SecretRedacted',
    message: `the result was flagged and redacted: ${flags.join(', ')}`,
  };
}

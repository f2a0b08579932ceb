/**
 * The AgentTask state machine as pure decisions: from what the caches show
 * (the task, its pod and NetworkPolicy, the RuntimeClass, the approval
 * verdict, the audit store's health) to what to do next. agenttask.ts reads
 * the state and performs the decision; task-decisions.test.ts covers every
 * state in a table.
 *
 *   Pending → AwaitingApproval (critical) → Pending (pod created, not running) → Running
 *           → Succeeded | Failed | TimedOut | Denied | Expired
 */
import { type AgentTaskStatus, isTerminalPhase, type TaskPhase } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import { CONDITION, type Reason } from '../api/reasons.ts';
import type { AgentTask } from '../api/types.ts';
import type { PodOutcome } from '../sandbox/pod-outcome.ts';
import type { RuntimeClassVerdict } from '../sandbox/runtime-class.ts';
import type { GateResult } from './approval-gate.ts';
import { type ConditionInput, findCondition } from './conditions.ts';

export type Child<F> =
  | { kind: 'absent'; expected: boolean }
  | { kind: 'ours'; facts: F }
  | { kind: 'previousTask'; name: string }
  | { kind: 'foreign'; name: string; owner: string };

export interface PodFacts {
  name: string;
  outcome: PodOutcome;
  /** The pod's creationTimestamp: the start of the task's deadline. */
  createdAt: string;
  /** The spec digest the pod runs with (its annotation). */
  ranDigest: string | undefined;
}

export interface PolicyFacts {
  name: string;
  /** Its spec differs from what the operator would write. */
  drifted: boolean;
  deleting: boolean;
}

export interface TaskTiming {
  /** A pod pending this long (or stuck for a reason that will not clear) is reported with its reason. */
  pendingReportAfterMs: number;
  /** How long past timeoutSeconds the operator waits for the kubelet before it ends the pod itself. */
  deadlineGraceMs: number;
  runtimeClassRetryMs: number;
  /** Backstop re-check of a blocked task (watch events usually wake it first). */
  blockedRetryMs: number;
}

export const DEFAULT_TIMING: TaskTiming = {
  pendingReportAfterMs: 3000,
  deadlineGraceMs: 30_000,
  runtimeClassRetryMs: 30_000,
  blockedRetryMs: 5000,
};

export interface TaskObservation {
  task: AgentTask;
  now: Date;
  digest: string;
  risk: Risk;
  pod: Child<PodFacts>;
  policy: Child<PolicyFacts>;
  runtimeClass: RuntimeClassVerdict;
  /** The approval verdict; present only when the task needs one and has no pod yet. */
  gate: GateResult | undefined;
  audit: { ok: true } | { ok: false; message: string };
  timing: TaskTiming;
}

export type SandboxWrite = 'createPolicy' | 'restorePolicy' | 'createPod' | 'deletePod';

export interface StatusChange {
  changes: Partial<AgentTaskStatus>;
  conditions: ConditionInput[];
}

export interface Finish {
  phase: TaskPhase;
  reason: Reason | string;
  message: string;
  changes?: Partial<AgentTaskStatus>;
  /** Result flags (RESULT_FLAGS), shown as the OutputFlagged condition. */
  flags?: readonly string[];
}

export interface TaskDecision {
  /** API writes, in this order, each only after the one before succeeded. */
  writes: SandboxWrite[];
  collectResult?: true;
  deleteTask?: true;
  status?: StatusChange;
  finish?: Finish;
  /** A Warning Event, posted only when the status write it belongs to changed something. */
  warning?: { reason: Reason | string; message: string };
  requeueAfterMs?: number;
}

export const isTerminal = (task: AgentTask) => isTerminalPhase(task.status?.phase);

/** What needs approval: critical risk, and no pod yet (an approved, running task never asks again). */
export const needsGate = (task: AgentTask, risk: Risk, pod: Child<PodFacts>) =>
  risk.level === 'critical' && pod.kind !== 'ours' && !isTerminal(task);

const condition = (
  type: keyof typeof CONDITION,
  status: 'True' | 'False' | 'Unknown',
  reason: Reason | string,
  message: string,
): ConditionInput => ({ type: CONDITION[type], status, reason, message });

/** Clears a Blocked condition that is set, riding along with the next status write. */
function unblocked(task: AgentTask): ConditionInput[] {
  return findCondition(task.status?.conditions, CONDITION.Blocked)?.status === 'True'
    ? [condition('Blocked', 'False', 'NotBlocked', 'nothing blocks the task any more')]
    : [];
}

function block(o: TaskObservation, reason: Reason, message: string): TaskDecision {
  return {
    writes: [],
    status: {
      changes: { phase: 'Pending', risk: o.risk },
      conditions: [condition('Blocked', 'True', reason, message)],
    },
    warning: { reason, message },
    requeueAfterMs: o.timing.blockedRetryMs,
  };
}

/** A finished task with ttlSecondsAfterFinished: delete it now, or look again when the TTL runs out. */
export function afterFinish(task: AgentTask, now: Date): TaskDecision {
  const ttl = task.spec.ttlSecondsAfterFinished;
  const completed = Date.parse(task.status?.completionTime ?? '');
  if (ttl === undefined || !Number.isFinite(completed)) return { writes: [] };
  const left = completed + ttl * 1000 - now.getTime();
  return left > 0 ? { writes: [], requeueAfterMs: left } : { writes: [], deleteTask: true };
}

function heldByOthers(o: TaskObservation): TaskDecision | undefined {
  for (const child of [o.pod, o.policy]) {
    if (child.kind === 'foreign') {
      return block(
        o,
        'NameConflict',
        `${child.name} exists and is not this task's (owner: ${child.owner}); delete it or rename the task`,
      );
    }
  }
  for (const child of [o.pod, o.policy]) {
    if (child.kind === 'previousTask') {
      return block(
        o,
        'PreviousSandboxTerminating',
        `${child.name} of an earlier task with this name is still being torn down; this task starts when it is gone`,
      );
    }
  }
  return undefined;
}

/** Keeps the NetworkPolicy in place under a pod: recreate it if it vanished, restore it if edited. */
function policyRepairs(o: TaskObservation): SandboxWrite[] {
  if (o.policy.kind === 'absent') return o.policy.expected ? [] : ['createPolicy'];
  if (o.policy.kind === 'ours' && o.policy.facts.drifted && !o.policy.facts.deleting)
    return ['restorePolicy'];
  return [];
}

function specDrift(
  o: TaskObservation,
  pod: PodFacts,
): Pick<TaskDecision, 'warning'> & { conditions: ConditionInput[] } {
  if (!pod.ranDigest || pod.ranDigest === o.digest) return { conditions: [] };
  if (findCondition(o.task.status?.conditions, CONDITION.SpecApplied)?.status === 'False')
    return { conditions: [] };
  const message = `the spec changed after the pod started (pod runs ${pod.ranDigest}); the task is not re-run: create a new AgentTask`;
  return {
    conditions: [condition('SpecApplied', 'False', 'SpecChangedAfterStart', message)],
    warning: { reason: 'SpecChangedAfterStart', message },
  };
}

function trackPod(o: TaskObservation, pod: PodFacts): TaskDecision {
  const writes = policyRepairs(o);
  const drift = specDrift(o, pod);
  const outcome = pod.outcome;
  switch (outcome.state) {
    case 'succeeded':
      return { writes, collectResult: true };
    case 'failed':
      return { writes, finish: { phase: 'Failed', reason: outcome.reason, message: outcome.message } };
    case 'timedOut':
      return { writes, finish: { phase: 'TimedOut', reason: 'DeadlineExceeded', message: outcome.message } };
    default:
      break;
  }
  const created = Date.parse(pod.createdAt);
  const deadline = created + o.task.spec.timeoutSeconds * 1000 + o.timing.deadlineGraceMs;
  const left = deadline - o.now.getTime();
  if (left <= 0) {
    const why = outcome.state === 'pending' ? ` (it never ran: ${outcome.reason}: ${outcome.message})` : '';
    return {
      writes: [...writes, 'deletePod'],
      finish: {
        phase: 'TimedOut',
        reason: 'DeadlineExceeded',
        message: `the pod ran past timeoutSeconds=${o.task.spec.timeoutSeconds}; the operator deleted it${why}`,
      },
    };
  }
  const base = {
    podName: pod.name,
    startTime: o.task.status?.startTime ?? new Date(created).toISOString(),
    risk: o.risk,
  };
  if (outcome.state === 'running') {
    return {
      writes,
      status: {
        changes: { ...base, phase: 'Running' },
        conditions: [
          ...drift.conditions,
          ...unblocked(o.task),
          condition(
            'SandboxCreated',
            'True',
            'PodCreated',
            `pod ${pod.name} created behind NetworkPolicy ${pod.name}`,
          ),
          condition('SandboxReady', 'True', 'PodRunning', `pod ${pod.name} runs`),
        ],
      },
      ...(drift.warning ? { warning: drift.warning } : {}),
      requeueAfterMs: left,
    };
  }
  const age = o.now.getTime() - created;
  const report = outcome.stuck || age >= o.timing.pendingReportAfterMs;
  const reportIn = o.timing.pendingReportAfterMs - age;
  if (!report) {
    return {
      writes,
      ...(drift.conditions.length ? { status: { changes: {}, conditions: drift.conditions } } : {}),
      ...(drift.warning ? { warning: drift.warning } : {}),
      requeueAfterMs: Math.min(left, Math.max(1, reportIn)),
    };
  }
  return {
    writes,
    status: {
      changes: { ...base, phase: 'Pending' },
      conditions: [...drift.conditions, condition('SandboxReady', 'False', outcome.reason, outcome.message)],
    },
    ...(outcome.stuck
      ? { warning: { reason: outcome.reason, message: `pod ${pod.name}: ${outcome.message}` } }
      : {}),
    ...(drift.warning && !outcome.stuck ? { warning: drift.warning } : {}),
    requeueAfterMs: left,
  };
}

function startSandbox(o: TaskObservation): TaskDecision {
  const { task } = o;
  if (o.pod.kind === 'absent' && o.pod.expected) return { writes: [], requeueAfterMs: 60_000 };
  if (task.status?.podName) {
    return {
      writes: [],
      finish: {
        phase: 'Failed',
        reason: 'PodDeleted',
        message: `pod ${task.status.podName} disappeared before it finished`,
      },
    };
  }
  if (o.risk.level === 'critical' && !o.gate) {
    // Fail closed: a critical task never gets a pod without a verdict (the gate is not asked while the
    // audit log is down).
    return o.audit.ok
      ? { writes: [], requeueAfterMs: o.timing.blockedRetryMs }
      : block(o, 'AuditUnavailable', o.audit.message);
  }
  const approved: ConditionInput[] = [];
  if (o.gate) {
    switch (o.gate.verdict) {
      case 'pending':
        return {
          writes: [],
          status: {
            changes: {
              phase: 'AwaitingApproval',
              risk: o.risk,
              approvalRef: { name: o.gate.approvalName, digest: o.digest, expiresAt: o.gate.expiresAt },
            },
            conditions: [condition('Approved', 'Unknown', 'AwaitingApproval', o.gate.message)],
          },
          requeueAfterMs: Math.max(1, Date.parse(o.gate.expiresAt) - o.now.getTime()),
        };
      case 'denied':
        return {
          writes: [],
          finish: {
            phase: o.gate.phase,
            reason: o.gate.reason,
            message: o.gate.message,
            changes: { risk: o.risk },
          },
        };
      case 'approved':
        approved.push(condition('Approved', 'True', 'Approved', o.gate.message));
    }
  }
  if (!o.runtimeClass.ok) {
    const already = findCondition(task.status?.conditions, CONDITION.RuntimeClassAvailable);
    const changed = already?.status !== 'False' || already.reason !== o.runtimeClass.reason;
    return {
      writes: [],
      status: {
        changes: { phase: 'Pending', risk: o.risk },
        conditions: [
          ...approved,
          condition('RuntimeClassAvailable', 'False', o.runtimeClass.reason, o.runtimeClass.message),
        ],
      },
      ...(changed ? { warning: { reason: o.runtimeClass.reason, message: o.runtimeClass.message } } : {}),
      requeueAfterMs: o.timing.runtimeClassRetryMs,
    };
  }
  if (!o.audit.ok) return block(o, 'AuditUnavailable', o.audit.message);
  if (o.policy.kind === 'ours' && o.policy.facts.deleting) {
    return { writes: [], requeueAfterMs: 1000 }; // being torn down; recreated once it is gone
  }
  const podName = `${task.metadata.name}-agent`;
  return {
    writes: [...policyRepairs(o), 'createPod'],
    status: {
      changes: { phase: 'Pending', risk: o.risk, podName, startTime: o.now.toISOString() },
      conditions: [
        ...approved,
        ...unblocked(task),
        condition(
          'RuntimeClassAvailable',
          'True',
          'RuntimeClassFound',
          `RuntimeClass ${task.spec.runtimeClassName} uses handler ${o.runtimeClass.handler}`,
        ),
        condition(
          'SandboxCreated',
          'True',
          'PodCreated',
          `pod ${podName} created behind NetworkPolicy ${podName}`,
        ),
        condition('SandboxReady', 'False', 'PodPending', `pod ${podName} was just created`),
      ],
    },
  };
}

export function decideTask(o: TaskObservation): TaskDecision {
  if (isTerminal(o.task)) return afterFinish(o.task, o.now);
  const blocked = heldByOthers(o);
  if (blocked) return blocked;
  if (o.pod.kind === 'ours') return trackPod(o, o.pod.facts);
  return startSandbox(o);
}

/** A transient failure to read the result (5xx, transport) is retried; 404 or exhausted retries fail. */
export const RESULT_READ_ATTEMPTS = 5;

export function resultRetryDelayMs(attempt: number): number | undefined {
  return attempt < RESULT_READ_ATTEMPTS ? Math.min(30_000, 500 * 2 ** attempt) : undefined;
}

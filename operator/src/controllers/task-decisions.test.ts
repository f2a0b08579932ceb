/** The AgentTask state machine, state by state: what the reconciler is told to do. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AgentTaskStatus, agentTaskSpecSchema } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import type { AgentTask } from '../api/types.ts';
import type { PodOutcome } from '../sandbox/pod-outcome.ts';
import {
  type Child,
  DEFAULT_TIMING,
  decideTask,
  type PodFacts,
  type PolicyFacts,
  RESULT_READ_ATTEMPTS,
  resultRetryDelayMs,
  type TaskDecision,
  type TaskObservation,
} from './task-decisions.ts';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const LOW: Risk = { level: 'low', reasons: ['read-only'] };
const CRITICAL: Risk = { level: 'critical', reasons: ['shell'] };

function task(status: AgentTaskStatus = {}, spec: Record<string, unknown> = {}): AgentTask {
  return {
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'AgentTask',
    metadata: { name: 't', namespace: 'ns', uid: 'uid-1', generation: 1 },
    spec: agentTaskSpecSchema.parse({ prompt: 'p', model: 'm', timeoutSeconds: 60, ...spec }),
    status,
  };
}

const pod = (outcome: PodOutcome, createdAt = ago(1000), ranDigest = 'sha256:d'): Child<PodFacts> => ({
  kind: 'ours',
  facts: { name: 't-agent', outcome, createdAt, ranDigest },
});
const policy = (facts: Partial<PolicyFacts> = {}): Child<PolicyFacts> => ({
  kind: 'ours',
  facts: { name: 't-agent', drifted: false, deleting: false, ...facts },
});
const absent = (expected = false) => ({ kind: 'absent' as const, expected });

function observe(over: Partial<TaskObservation> = {}): TaskObservation {
  return {
    task: task(),
    now: NOW,
    digest: 'sha256:d',
    risk: LOW,
    pod: absent(),
    policy: absent(),
    runtimeClass: { ok: true, handler: 'runsc' },
    gate: undefined,
    audit: { ok: true },
    timing: DEFAULT_TIMING,
    ...over,
  };
}

/** The parts of a decision a row asserts; conditions as "Type=Status/Reason". */
function summary(d: TaskDecision) {
  return {
    writes: d.writes.join(',') || '-',
    phase: d.finish?.phase ?? d.status?.changes.phase ?? '-',
    reason: d.finish?.reason ?? '-',
    conditions: (d.status?.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ') || '-',
    warning: d.warning?.reason ?? '-',
    requeue: d.requeueAfterMs === undefined ? '-' : d.requeueAfterMs > 0 ? 'yes' : 'now',
    collect: d.collectResult ? 'yes' : '-',
    deleteTask: d.deleteTask ? 'yes' : '-',
  };
}

type Row = [string, Partial<TaskObservation>, Partial<ReturnType<typeof summary>>];

const rows: Row[] = [
  // --- starting a sandbox
  [
    'new low-risk task: policy, then pod; Pending until the pod runs',
    {},
    {
      writes: 'createPolicy,createPod',
      phase: 'Pending',
      conditions:
        'RuntimeClassAvailable=True/RuntimeClassFound SandboxCreated=True/PodCreated SandboxReady=False/PodPending',
    },
  ],
  ['policy already there: only the pod', { policy: policy() }, { writes: 'createPod' }],
  ['policy created, cache lags: only the pod', { policy: absent(true) }, { writes: 'createPod' }],
  [
    'edited policy before the pod: restored first',
    { policy: policy({ drifted: true }) },
    { writes: 'restorePolicy,createPod' },
  ],
  [
    'our policy being deleted: wait, no pod',
    { policy: policy({ deleting: true }) },
    { writes: '-', requeue: 'yes' },
  ],
  [
    'pod created, cache lags: wait, never a second pod',
    { pod: absent(true) },
    { writes: '-', requeue: 'yes' },
  ],
  [
    'RuntimeClass missing: no pod, condition + Warning',
    { runtimeClass: { ok: false, reason: 'RuntimeClassNotFound', message: 'm' } },
    {
      writes: '-',
      phase: 'Pending',
      conditions: 'RuntimeClassAvailable=False/RuntimeClassNotFound',
      warning: 'RuntimeClassNotFound',
    },
  ],
  [
    'RuntimeClass gvisor → runc: no pod',
    { runtimeClass: { ok: false, reason: 'RuntimeClassNotSandboxed', message: 'm' } },
    {
      writes: '-',
      conditions: 'RuntimeClassAvailable=False/RuntimeClassNotSandboxed',
      warning: 'RuntimeClassNotSandboxed',
    },
  ],
  [
    'RuntimeClass still missing (condition already says so): no second Warning',
    {
      task: task({
        phase: 'Pending',
        conditions: [
          {
            type: 'RuntimeClassAvailable',
            status: 'False',
            reason: 'RuntimeClassNotFound',
            message: 'm',
            lastTransitionTime: ago(1),
          },
        ],
      }),
      runtimeClass: { ok: false, reason: 'RuntimeClassNotFound', message: 'm' },
    },
    { writes: '-', warning: '-' },
  ],
  [
    'audit log down: no pod, Blocked',
    { audit: { ok: false, message: 'disk full' } },
    {
      writes: '-',
      phase: 'Pending',
      conditions: 'Blocked=True/AuditUnavailable',
      warning: 'AuditUnavailable',
      requeue: 'yes',
    },
  ],
  [
    'a pod we made vanished before it ran: Failed PodDeleted',
    { task: task({ phase: 'Pending', podName: 't-agent' }) },
    { writes: '-', phase: 'Failed', reason: 'PodDeleted' },
  ],
  // --- names held by others
  [
    'delete + re-create while the old pod terminates: Blocked, no pod',
    { pod: { kind: 'previousTask', name: 'Pod t-agent' } },
    {
      writes: '-',
      phase: 'Pending',
      conditions: 'Blocked=True/PreviousSandboxTerminating',
      warning: 'PreviousSandboxTerminating',
      requeue: 'yes',
    },
  ],
  [
    "the old task's policy still terminating: Blocked",
    { policy: { kind: 'previousTask', name: 'NetworkPolicy t-agent' } },
    { writes: '-', conditions: 'Blocked=True/PreviousSandboxTerminating' },
  ],
  [
    'a foreign pod holds the name: Blocked NameConflict',
    { pod: { kind: 'foreign', name: 'Pod t-agent', owner: 'none' } },
    { writes: '-', conditions: 'Blocked=True/NameConflict', warning: 'NameConflict' },
  ],
  [
    'a foreign policy holds the name: Blocked NameConflict',
    { policy: { kind: 'foreign', name: 'NetworkPolicy t-agent', owner: 'Deployment x' } },
    { writes: '-', conditions: 'Blocked=True/NameConflict' },
  ],
  [
    'unblocked: the Blocked condition is cleared with the next write',
    {
      task: task({
        phase: 'Pending',
        conditions: [
          {
            type: 'Blocked',
            status: 'True',
            reason: 'PreviousSandboxTerminating',
            message: 'm',
            lastTransitionTime: ago(1),
          },
        ],
      }),
    },
    {
      writes: 'createPolicy,createPod',
      conditions:
        'Blocked=False/NotBlocked RuntimeClassAvailable=True/RuntimeClassFound SandboxCreated=True/PodCreated SandboxReady=False/PodPending',
    },
  ],
  // --- approvals
  [
    'critical, approval pending: no pod, AwaitingApproval until expiry',
    {
      risk: CRITICAL,
      gate: {
        verdict: 'pending',
        approvalName: 'a',
        expiresAt: new Date(NOW.getTime() + 60_000).toISOString(),
        message: 'm',
      },
    },
    {
      writes: '-',
      phase: 'AwaitingApproval',
      conditions: 'Approved=Unknown/AwaitingApproval',
      requeue: 'yes',
    },
  ],
  [
    'critical, approved: policy and pod',
    { risk: CRITICAL, gate: { verdict: 'approved', approvalName: 'a', message: 'm' } },
    { writes: 'createPolicy,createPod', phase: 'Pending' },
  ],
  [
    'critical, denied: Denied, no pod',
    {
      risk: CRITICAL,
      gate: { verdict: 'denied', approvalName: 'a', phase: 'Denied', reason: 'ApprovalDenied', message: 'm' },
    },
    { writes: '-', phase: 'Denied', reason: 'ApprovalDenied' },
  ],
  [
    'critical, expired: Expired, no pod',
    {
      risk: CRITICAL,
      gate: {
        verdict: 'denied',
        approvalName: 'a',
        phase: 'Expired',
        reason: 'ApprovalExpired',
        message: 'm',
      },
    },
    { writes: '-', phase: 'Expired', reason: 'ApprovalExpired' },
  ],
  [
    'critical without a verdict (audit down, gate not asked): no pod, ever',
    { risk: CRITICAL, gate: undefined, audit: { ok: false, message: 'x' } },
    { writes: '-', conditions: 'Blocked=True/AuditUnavailable' },
  ],
  [
    'critical without a verdict and a healthy audit is still no pod',
    { risk: CRITICAL, gate: undefined },
    { writes: '-' },
  ],
  // --- tracking the pod
  [
    'pod runs: Running',
    { pod: pod({ state: 'running' }), policy: policy() },
    {
      writes: '-',
      phase: 'Running',
      conditions: 'SandboxCreated=True/PodCreated SandboxReady=True/PodRunning',
      requeue: 'yes',
    },
  ],
  [
    'pod pending briefly: nothing written yet',
    {
      pod: pod({ state: 'pending', reason: 'PodPending', message: 'm', stuck: false }, ago(500)),
      policy: policy(),
    },
    { writes: '-', phase: '-', requeue: 'yes' },
  ],
  [
    'pod pending past the grace period: Pending with the pod reason',
    {
      pod: pod({ state: 'pending', reason: 'ContainerCreating', message: 'm', stuck: false }, ago(5000)),
      policy: policy(),
    },
    { phase: 'Pending', conditions: 'SandboxReady=False/ContainerCreating', warning: '-' },
  ],
  [
    'unschedulable pod: reported at once, with a Warning',
    {
      pod: pod({ state: 'pending', reason: 'Unschedulable', message: 'm', stuck: true }, ago(100)),
      policy: policy(),
    },
    { phase: 'Pending', conditions: 'SandboxReady=False/Unschedulable', warning: 'Unschedulable' },
  ],
  [
    'pending past the deadline: pod deleted, TimedOut',
    {
      pod: pod({ state: 'pending', reason: 'Unschedulable', message: 'm', stuck: true }, ago(95_000)),
      policy: policy(),
    },
    { writes: 'deletePod', phase: 'TimedOut', reason: 'DeadlineExceeded' },
  ],
  [
    'running past the deadline: pod deleted, TimedOut',
    { pod: pod({ state: 'running' }, ago(91_000)), policy: policy() },
    { writes: 'deletePod', phase: 'TimedOut' },
  ],
  [
    'pod succeeded: read the result',
    { pod: pod({ state: 'succeeded' }), policy: policy() },
    { collect: 'yes' },
  ],
  [
    'pod failed with a runner report: Failed with its reason',
    { pod: pod({ state: 'failed', reason: 'BudgetExceeded', message: 'm' }), policy: policy() },
    { phase: 'Failed', reason: 'BudgetExceeded' },
  ],
  [
    'kubelet deadline: TimedOut',
    { pod: pod({ state: 'timedOut', message: 'm' }), policy: policy() },
    { phase: 'TimedOut', reason: 'DeadlineExceeded' },
  ],
  [
    'policy vanished under a running pod: recreated',
    { pod: pod({ state: 'running' }), policy: absent() },
    { writes: 'createPolicy', phase: 'Running' },
  ],
  [
    'policy edited under a running pod: restored',
    { pod: pod({ state: 'running' }), policy: policy({ drifted: true }) },
    { writes: 'restorePolicy' },
  ],
  [
    'spec edited after start: SpecApplied=False once, pod keeps running',
    { pod: pod({ state: 'running' }, ago(1000), 'sha256:old'), policy: policy() },
    {
      writes: '-',
      conditions:
        'SpecApplied=False/SpecChangedAfterStart SandboxCreated=True/PodCreated SandboxReady=True/PodRunning',
      warning: 'SpecChangedAfterStart',
    },
  ],
  // --- finished
  [
    'finished without TTL: nothing',
    { task: task({ phase: 'Succeeded', completionTime: ago(1000) }) },
    { writes: '-', requeue: '-' },
  ],
  [
    'finished, TTL not yet passed: look again later',
    { task: task({ phase: 'Failed', completionTime: ago(1000) }, { ttlSecondsAfterFinished: 60 }) },
    { requeue: 'yes', deleteTask: '-' },
  ],
  [
    'finished, TTL passed: delete the task',
    { task: task({ phase: 'Denied', completionTime: ago(61_000) }, { ttlSecondsAfterFinished: 60 }) },
    { deleteTask: 'yes' },
  ],
  [
    'finished with a pod still around: never touched again',
    { task: task({ phase: 'Succeeded', completionTime: ago(1) }), pod: pod({ state: 'running' }) },
    { writes: '-' },
  ],
];

describe('decideTask', () => {
  for (const [name, over, expected] of rows) {
    test(name, () => {
      const got = summary(decideTask(observe(over)));
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(got[key as keyof typeof got], value, `${key} (got ${JSON.stringify(got)})`);
      }
    });
  }

  test('the approval deadline is recorded with the digest, so deleting the Approval buys no time', () => {
    const expiresAt = new Date(NOW.getTime() + 60_000).toISOString();
    const d = decideTask(
      observe({ risk: CRITICAL, gate: { verdict: 'pending', approvalName: 'a', expiresAt, message: 'm' } }),
    );
    assert.deepEqual(d.status?.changes.approvalRef, { name: 'a', digest: 'sha256:d', expiresAt });
    assert.equal(d.requeueAfterMs, 60_000);
  });

  test('an unscheduled pod that times out says why in the message', () => {
    const d = decideTask(
      observe({
        pod: pod(
          { state: 'pending', reason: 'Unschedulable', message: '0/1 nodes', stuck: true },
          ago(95_000),
        ),
        policy: policy(),
      }),
    );
    assert.match(d.finish?.message ?? '', /never ran: Unschedulable: 0\/1 nodes/);
  });
});

test('a transient error reading the result is retried with backoff, RESULT_READ_ATTEMPTS times, then the task fails', () => {
  const delays = Array.from({ length: RESULT_READ_ATTEMPTS + 2 }, (_, attempt) =>
    resultRetryDelayMs(attempt),
  );
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, undefined, undefined]);
  assert.equal(RESULT_READ_ATTEMPTS, 5);
});

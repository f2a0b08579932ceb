/**
 * Every condition type and reason a user can see on an AgentTask (in
 * `status.conditions[].reason` and in Events), with what it means. The one
 * place they are defined: code refers to these constants, docs/reasons.md is
 * generated from this table, and a test keeps both in step.
 */
import { RUNNER_FAILURE_REASONS, type RunnerFailureReason } from './agent-protocol.ts';

export const CONDITION = {
  /** The sandbox RuntimeClass exists and its handler is a sandbox. */
  RuntimeClassAvailable: 'RuntimeClassAvailable',
  /** A human decision (critical tasks only). */
  Approved: 'Approved',
  /** Something outside the task stops it from progressing; the message says what to do. */
  Blocked: 'Blocked',
  /** The NetworkPolicy and the pod were created. */
  SandboxCreated: 'SandboxCreated',
  /** The pod runs (True) or why it does not run yet (False). */
  SandboxReady: 'SandboxReady',
  /** False when the spec changed after the pod started (the task is not re-run). */
  SpecApplied: 'SpecApplied',
  /** Terminal: the task ended well. */
  Complete: 'Complete',
  /** Terminal: the task ended badly; the reason says how. */
  Failed: 'Failed',
  /** The result carried flags (e.g. a leaked canary was redacted). */
  OutputFlagged: 'OutputFlagged',
} as const;
export type ConditionType = keyof typeof CONDITION;

const OPERATOR_REASONS = {
  RuntimeClassFound: 'The RuntimeClass exists and its handler is a sandbox (runsc, kata*).',
  RuntimeClassNotFound: 'The RuntimeClass does not exist: no pod is created without a sandbox runtime.',
  RuntimeClassNotSandboxed:
    'The RuntimeClass exists but its handler is not a sandbox (e.g. gvisor → runc): no pod is created.',
  Approved: 'A human approved this exact spec.',
  AwaitingApproval: 'The task is critical and waits for a human decision on its Approval.',
  ApprovalDenied: 'A human denied the task.',
  ApprovalExpired: 'Nobody decided before the Approval expired: expiry is a denial.',
  PreviousSandboxTerminating:
    'The pod or NetworkPolicy of an earlier task with the same name is still being torn down; the task starts when it is gone.',
  NameConflict:
    'An object the operator did not create for this task holds the name of its pod or NetworkPolicy; delete it or rename the task.',
  AuditUnavailable:
    'The sealed audit log cannot record events: no pod is created and no approval decided until it can.',
  NotBlocked: 'Nothing blocks the task any more.',
  PodCreated: 'The NetworkPolicy and the pod were created.',
  PodRejected: 'The API server refused the pod (quota, LimitRange, admission); the message is its answer.',
  NetworkPolicyRejected: 'The API server refused the NetworkPolicy; the message is its answer.',
  PodRunning: 'The sandbox pod runs.',
  PodPending: 'The sandbox pod exists but does not run yet (scheduling, image, sandbox start).',
  SpecChangedAfterStart: 'The spec was edited after the pod started; the running pod keeps the old spec.',
  Succeeded: 'The agent finished and its result was recorded.',
  AgentFailed: 'The sandbox pod failed without a runner report (see the exit code).',
  IsolationNotProven:
    'The pod could still reach an address its NetworkPolicy denies (the policy was not enforced yet, or not at all): it was stopped before any agent code ran.',
  NetworkPolicyRestored: 'Someone edited the task’s NetworkPolicy; the operator put its spec back.',
  ReconcileError:
    'The operator hit an error on this task and retries with backoff; the message has the error.',
  DeadlineExceeded: 'The task ran past timeoutSeconds.',
  PodDeleted: 'The sandbox pod disappeared before it finished.',
  ResultMissing: 'The pod succeeded but printed no result frame.',
  ResultTruncated: 'The result frame in the pod log is cut short.',
  ResultCorrupt: 'The result does not match the size or digest in its frame.',
  ResultTooLarge: 'The result exceeds CLOSEDPAW_RESULT_MAX_BYTES.',
  ResultUnreadable: 'The pod log could not be read (after retries for transient errors).',
  ReconcileGaveUp:
    'The operator failed to make progress on this task many times in a row; the message has the last error.',
  CanaryLeak: 'The final answer contained the run’s canary (the system prompt leaked); it was redacted.',
  SecretRedacted: 'The final answer contained secret-shaped strings; they were redacted.',
} as const;

const RUNNER_REASON_TEXT: Record<RunnerFailureReason, string> = {
  TaskFileInvalid: 'The runner could not read or validate the task file.',
  ModelUnreachable: 'The runner could not reach the model gateway (after a retry).',
  ModelError: 'The model or the gateway answered with an error (after a retry).',
  GatewayRefused: 'The gateway refused the runner’s credentials or request.',
  BudgetExceeded: 'The task spent its budget (model calls, tokens or bytes).',
  ToolOutputFlagged: 'Screening flagged a tool output as a prompt injection; the run was stopped.',
  ToolCallInvalid: 'The model made malformed tool calls twice.',
  StepLimitReached: 'The agent reached its step limit without a final answer.',
  RepeatedToolCall: 'The agent repeated the same tool call three times.',
  WallClockExceeded: 'The agent ran out of its wall-clock budget.',
  RunnerCrashed: 'The runner stopped on an unexpected error.',
};

export const REASON_TEXT: Record<string, string> = { ...OPERATOR_REASONS, ...RUNNER_REASON_TEXT };
export type Reason = keyof typeof OPERATOR_REASONS | RunnerFailureReason;

/** A reason constant, checked at compile time: `reason('PodRejected')`. */
export const reason = <R extends Reason>(r: R): R => r;

export const isRunnerFailureReason = (value: string): value is RunnerFailureReason =>
  (RUNNER_FAILURE_REASONS as readonly string[]).includes(value);

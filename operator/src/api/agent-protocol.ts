/**
 * The contract between the three parties of a run — the operator, the agent
 * runner inside the sandbox pod, and the model gateway the pod may reach —
 * in one place, so none of them re-declares what the others rely on. Pure
 * data and zod schemas: no I/O.
 *
 *   operator ──pod (task file + gateway token, both read-only downward-API files)──► runner
 *   runner ──Ollama API + Bearer token──► gateway ──► Ollama
 *   runner ──result frame on stdout (api/result-frame.ts) / failure on the termination log──► operator
 */
import { z } from 'zod';

/** Environment variables the runner reads (in a pod and outside one, for tests and debugging). */
export const RUNNER_ENV = {
  /** The task spec as JSON (the pod's downward-API file). */
  taskFile: 'CLOSEDPAW_TASK_FILE',
  /** The only directory the tools may touch (default /workspace). */
  workspace: 'CLOSEDPAW_WORKSPACE',
  /** Base URL of the model gateway, e.g. http://10.96.0.20:11435 */
  gatewayUrl: 'CLOSEDPAW_GATEWAY_URL',
  /** File holding the per-task gateway token (a compact JWS). */
  tokenFile: 'CLOSEDPAW_TOKEN_FILE',
  /** Where a failure is written for the operator (default /dev/termination-log; skipped if unwritable). */
  terminationLog: 'CLOSEDPAW_TERMINATION_LOG',
} as const;

/** Paths inside the sandbox pod. The runner bundle lives on the image's read-only root, outside /workspace. */
export const POD_PATHS = {
  runnerBundle: '/opt/closedpaw/runner.js',
  workspace: '/workspace',
  taskDir: '/etc/closedpaw',
  taskFile: '/etc/closedpaw/task.json',
  tokenFile: '/etc/closedpaw/token',
  terminationLog: '/dev/termination-log',
} as const;

/** HTTP endpoints the gateway forwards; everything else is refused with `forbidden_endpoint`. */
export const GATEWAY_MODEL_ENDPOINTS = ['/api/chat', '/api/generate', '/api/embed'] as const;
/** Harmless read-only endpoints a client may call to start (answered by the gateway itself). */
export const GATEWAY_INFO_ENDPOINTS = ['/api/version'] as const;

/** Why the gateway refused a call: `{"error": "<human message>", "code": "<one of these>"}`. */
export const GATEWAY_ERROR_CODES = {
  forbidden_endpoint: 403,
  unauthenticated: 401,
  task_finished: 403,
  model_not_allowed: 403,
  budget_exceeded: 429,
  tool_output_flagged: 403,
  bad_request: 400,
  too_large: 413,
  upstream_unreachable: 502,
  upstream_error: 502,
  /** The sealed audit log cannot record: no call passes unaudited. */
  audit_unavailable: 503,
} as const;
export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

export const gatewayErrorSchema = z.object({
  error: z.string(),
  code: z.enum(Object.keys(GATEWAY_ERROR_CODES) as [GatewayErrorCode, ...GatewayErrorCode[]]),
});
export type GatewayError = z.infer<typeof gatewayErrorSchema>;

/** Claims of the per-task gateway token (JWS, EdDSA, signed by the operator). */
export const GATEWAY_TOKEN = {
  issuer: 'closedpaw-operator',
  audience: 'closedpaw-gateway',
  type: 'closedpaw-task+jwt',
} as const;

export const taskTokenClaimsSchema = z.object({
  iss: z.literal(GATEWAY_TOKEN.issuer),
  aud: z.literal(GATEWAY_TOKEN.audience),
  /** `<namespace>/<name>` */
  sub: z.string().min(3),
  jti: z.string().min(8),
  iat: z.int(),
  exp: z.int(),
  task: z.object({ namespace: z.string().min(1), name: z.string().min(1), uid: z.string().min(1) }),
  model: z.string().min(1),
  budget: z.object({ modelCalls: z.int().min(1), tokens: z.int().min(1), bytes: z.int().min(1) }),
});
export type TaskTokenClaims = z.infer<typeof taskTokenClaimsSchema>;

/**
 * Why a run failed, as the runner reports it on the termination log
 * (`{"reason", "message"}`, at most 4 KiB); the operator shows it as the
 * task's Failed condition reason.
 */
export const RUNNER_FAILURE_REASONS = [
  'TaskFileInvalid',
  'ModelUnreachable',
  'ModelError',
  'GatewayRefused',
  'BudgetExceeded',
  'ToolOutputFlagged',
  'ToolCallInvalid',
  'StepLimitReached',
  'RepeatedToolCall',
  'WallClockExceeded',
  'RunnerCrashed',
] as const;
export type RunnerFailureReason = (typeof RUNNER_FAILURE_REASONS)[number];

export const runnerFailureSchema = z.object({
  reason: z.enum(RUNNER_FAILURE_REASONS),
  message: z.string().max(3072),
});
export type RunnerFailure = z.infer<typeof runnerFailureSchema>;

/** Flags a successful result can carry in its frame (`flags=a,b`). */
export const RESULT_FLAGS = ['canary-leak', 'secret-redacted'] as const;
export type ResultFlag = (typeof RESULT_FLAGS)[number];

/** One JSON line on the runner's stderr per step: what happened, never raw content. */
export const runnerStepSchema = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('model'),
    step: z.int().min(1),
    ms: z.number().min(0),
    promptTokens: z.int().min(0).optional(),
    completionTokens: z.int().min(0).optional(),
    toolCalls: z.int().min(0),
  }),
  z.object({
    event: z.literal('tool'),
    step: z.int().min(1),
    tool: z.string(),
    argsSha256: z.string().regex(/^[a-f0-9]{64}$/),
    bytes: z.int().min(0),
    ms: z.number().min(0),
    ok: z.boolean(),
    error: z.string().max(512).optional(),
  }),
  z.object({ event: z.literal('finished'), steps: z.int().min(0), bytes: z.int().min(0) }),
  z.object({ event: z.literal('failed'), reason: z.enum(RUNNER_FAILURE_REASONS), message: z.string() }),
]);
export type RunnerStep = z.infer<typeof runnerStepSchema>;

/** A step line longer than this is not a step (the runner's are a few hundred bytes). */
export const STEP_LINE_MAX_BYTES = 2048;

/** A runner step from one pod-log line (a trailing `\r` allowed); undefined for any other line. */
export function parseStepLine(line: string): RunnerStep | undefined {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (!text.startsWith('{') || Buffer.byteLength(text) > STEP_LINE_MAX_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = runnerStepSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

// Typed catalogue of security-relevant audit events. Every event the operator or the UI server records
// must match one of these schemas; unknown fields are rejected so nothing is silently dropped.
import { z } from 'zod';

const k8sName = z.string().min(1).max(253);
const shortText = z.string().max(1024);
const sha256Digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex>');

export const actorSchema = z.strictObject({
  kind: z.enum(['user', 'serviceaccount', 'system']),
  name: z.string().min(1).max(256),
});
export const taskRefSchema = z.strictObject({
  namespace: k8sName,
  name: k8sName,
  uid: z.string().max(64).optional(),
});
const podRefSchema = taskRefSchema;
const change = z.enum(['created', 'updated', 'deleted']);

const common = { time: z.iso.datetime({ offset: true }).optional() };

const taskAdmitted = z.strictObject({
  ...common,
  type: z.literal('task.admitted'),
  actor: actorSchema,
  task: taskRefSchema,
  runtimeClass: z.string().max(253).optional(),
});
const taskRiskRated = z.strictObject({
  ...common,
  type: z.literal('task.risk_rated'),
  task: taskRefSchema,
  level: z.enum(['low', 'medium', 'high', 'critical']),
  score: z.number().min(0).max(100).optional(),
  reasons: z.array(shortText).max(32),
});
const approvalRequested = z.strictObject({
  ...common,
  type: z.literal('approval.requested'),
  task: taskRefSchema,
  approvalId: z.string().min(1).max(128),
  requestedBy: actorSchema,
  expiresAt: z.iso.datetime({ offset: true }),
});
const approvalDecided = z.strictObject({
  ...common,
  type: z.literal('approval.decided'),
  task: taskRefSchema,
  approvalId: z.string().min(1).max(128),
  decidedBy: actorSchema,
  decision: z.enum(['approved', 'denied']),
  comment: shortText.optional(),
});
const approvalExpired = z.strictObject({
  ...common,
  type: z.literal('approval.expired'),
  task: taskRefSchema,
  approvalId: z.string().min(1).max(128),
  requestedBy: actorSchema,
});
const podCreated = z.strictObject({
  ...common,
  type: z.literal('pod.created'),
  task: taskRefSchema,
  pod: podRefSchema,
  runtimeClass: z.string().max(253).optional(),
  image: z.string().max(1024).optional(),
});
const podFinished = z.strictObject({
  ...common,
  type: z.literal('pod.finished'),
  task: taskRefSchema,
  pod: podRefSchema,
  phase: z.enum(['Succeeded', 'Failed', 'Unknown']),
  exitCode: z.int().optional(),
  reason: shortText.optional(),
});
const resultRecorded = z.strictObject({
  ...common,
  type: z.literal('task.result_recorded'),
  task: taskRefSchema,
  digest: sha256Digest,
  sizeBytes: z.int().min(0),
});
const taskDeleted = z.strictObject({
  ...common,
  type: z.literal('task.deleted'),
  task: taskRefSchema,
});
const modelCall = z.strictObject({
  ...common,
  type: z.literal('model.call'),
  task: taskRefSchema,
  model: z.string().min(1).max(256),
  /** The cloud provider the call went to; absent for the local Ollama. */
  provider: z.string().min(1).max(64).optional(),
  endpoint: z.string().min(1).max(64),
  verdict: z.enum(['allowed', 'refused']),
  code: z.string().max(64).optional(),
  status: z.int().min(0).max(999).optional(),
  promptTokens: z.int().min(0).optional(),
  completionTokens: z.int().min(0).optional(),
  requestBytes: z.int().min(0).optional(),
  responseBytes: z.int().min(0).optional(),
  requestDigest: sha256Digest.optional(),
  responseDigest: sha256Digest.optional(),
  /** Estimated cost of a cloud call (provider usage × the configured price), in micro-USD. */
  costMicroUsd: z.int().min(0).optional(),
  ms: z.number().min(0).optional(),
});
const screeningFlagged = z.strictObject({
  ...common,
  type: z.literal('screening.flagged'),
  task: taskRefSchema,
  where: z.enum(['prompt', 'input', 'tool_output', 'model_output']),
  score: z.number().min(0),
  reasons: z.array(shortText).max(32),
  digest: sha256Digest.optional(),
  action: z.enum(['escalated', 'stopped', 'allowed', 'redacted']),
});
const policyChanged = z.strictObject({
  ...common,
  type: z.literal('policy.changed'),
  actor: actorSchema,
  policy: z.strictObject({ namespace: k8sName.optional(), name: k8sName }),
  change,
  digest: sha256Digest.optional(),
});
const configChanged = z.strictObject({
  ...common,
  type: z.literal('config.changed'),
  actor: actorSchema,
  key: z.string().min(1).max(256),
  change,
  digest: sha256Digest.optional(),
});
const uiLoginSucceeded = z.strictObject({
  ...common,
  type: z.literal('ui.login_succeeded'),
  actor: actorSchema,
  method: z.string().min(1).max(64),
  sourceIp: z.string().max(64).optional(),
});
const uiLoginFailed = z.strictObject({
  ...common,
  type: z.literal('ui.login_failed'),
  username: z.string().max(256),
  reason: z.enum(['bad_credentials', 'unknown_user', 'locked', 'expired', 'other']),
  sourceIp: z.string().max(64).optional(),
});
const verificationRun = z.strictObject({
  ...common,
  type: z.literal('verification.run'),
  actor: actorSchema,
  outcome: z.enum(['ok', 'failed']),
  records: z.int().min(0),
  code: z.string().max(64).optional(),
  message: shortText.optional(),
});
const auditRecovered = z.strictObject({
  ...common,
  type: z.literal('audit.recovered'),
  offset: z.int().min(0),
  truncatedBytes: z.int().min(0),
  reason: shortText,
});
const auditKeyRotated = z.strictObject({
  ...common,
  type: z.literal('audit.key_rotated'),
  fromKid: z.string().max(64),
  toKid: z.string().max(64),
});

const platform = z.enum(['telegram', 'discord', 'slack']);
/** `<platform>:<account id>` as the platform identifies the sender (verified by its signature). */
const chatAccount = z.string().min(1).max(300);
const channelNotified = z.strictObject({
  ...common,
  type: z.literal('channel.notified'),
  platform,
  task: taskRefSchema,
  approvalId: z.string().min(1).max(128),
  outcome: z.enum(['sent', 'failed']),
  message: shortText.optional(),
});
const channelPairing = z.strictObject({
  ...common,
  type: z.literal('channel.pairing'),
  platform: platform.optional(),
  account: chatAccount.optional(),
  user: z.string().min(1).max(253).optional(),
  outcome: z.enum(['code_issued', 'paired', 'rejected', 'unpaired']),
  reason: shortText.optional(),
});
const channelDecision = z.strictObject({
  ...common,
  type: z.literal('channel.decision'),
  platform,
  account: chatAccount,
  /** The paired Kubernetes user the decision was relayed as (impersonated). */
  decidedBy: actorSchema.optional(),
  task: taskRefSchema.optional(),
  approvalId: z.string().min(1).max(128).optional(),
  verdict: z.enum(['approved', 'denied']),
  outcome: z.enum(['relayed', 'refused', 'ignored']),
  reason: shortText.optional(),
});
const channelIntake = z.strictObject({
  ...common,
  type: z.literal('channel.intake'),
  platform,
  account: chatAccount,
  user: z.string().min(1).max(253).optional(),
  task: taskRefSchema.optional(),
  outcome: z.enum(['created', 'refused', 'ignored']),
  reason: shortText.optional(),
});
/** A webhook request that failed authentication or was a replay (nothing was done). */
const channelRejected = z.strictObject({
  ...common,
  type: z.literal('channel.rejected'),
  platform,
  problem: z.enum(['missing', 'malformed', 'stale', 'bad-signature', 'replayed']),
  sourceIp: z.string().max(64).optional(),
});

export const auditEventSchema = z.discriminatedUnion('type', [
  taskAdmitted,
  taskRiskRated,
  approvalRequested,
  approvalDecided,
  approvalExpired,
  podCreated,
  podFinished,
  resultRecorded,
  taskDeleted,
  modelCall,
  screeningFlagged,
  policyChanged,
  configChanged,
  uiLoginSucceeded,
  uiLoginFailed,
  verificationRun,
  auditRecovered,
  auditKeyRotated,
  channelNotified,
  channelPairing,
  channelDecision,
  channelIntake,
  channelRejected,
]);

/** An event as given to `AuditSink.append`; `time` defaults to the append time. */
export type AuditEventInput = z.input<typeof auditEventSchema>;
/** A validated event. */
export type AuditEvent = z.output<typeof auditEventSchema>;
export type AuditEventType = AuditEvent['type'];
export type Actor = z.output<typeof actorSchema>;
export type TaskRef = z.output<typeof taskRefSchema>;

export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = auditEventSchema.options.map(
  (o) => o.shape.type.value,
);

/** Validates an event; throws a zod error naming the offending field. */
export function parseAuditEvent(input: unknown): AuditEvent {
  return auditEventSchema.parse(input);
}

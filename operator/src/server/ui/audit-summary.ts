/**
 * One line of text per audit event, for a task's audit trail in the UI. Pure.
 * The event is validated against the audit catalogue first; one that does not
 * validate is shown by its type only.
 */
import { type AuditEvent, auditEventSchema } from '../../audit/index.ts';

const tokens = (prompt?: number, completion?: number) =>
  prompt === undefined && completion === undefined ? '' : `, ${prompt ?? 0}+${completion ?? 0} tokens`;

const list = (reasons: readonly string[]) => (reasons.length > 0 ? `: ${reasons.join('; ')}` : '');

function describe(e: AuditEvent): string {
  switch (e.type) {
    case 'task.admitted':
      return `admitted by ${e.actor.name}${e.runtimeClass ? ` (runtime ${e.runtimeClass})` : ''}`;
    case 'task.risk_rated':
      return `risk rated ${e.level}${list(e.reasons)}`;
    case 'screening.flagged':
      return `screening flagged the ${e.where.replace('_', ' ')} (score ${e.score}), ${e.action}${list(e.reasons)}`;
    case 'approval.requested':
      return `approval ${e.approvalId} requested by ${e.requestedBy.name}, expires ${e.expiresAt}`;
    case 'approval.decided':
      return `${e.decision} by ${e.decidedBy.name} (${e.approvalId})${e.comment ? `: ${e.comment}` : ''}`;
    case 'approval.expired':
      return `approval ${e.approvalId} expired without a decision (a denial)`;
    case 'pod.created':
      return `pod ${e.pod.name} created${e.runtimeClass ? ` (runtime ${e.runtimeClass})` : ''}`;
    case 'pod.finished':
      return `pod ${e.pod.name} finished: ${e.phase}${e.exitCode !== undefined ? `, exit ${e.exitCode}` : ''}${e.reason ? ` (${e.reason})` : ''}`;
    case 'task.result_recorded':
      return `result recorded: ${e.digest}, ${e.sizeBytes} bytes`;
    case 'task.deleted':
      return 'task deleted; its sandbox was torn down';
    case 'model.call': {
      const code = e.code ? ` (${e.code})` : '';
      const ms = e.ms !== undefined ? `, ${Math.round(e.ms)} ms` : '';
      return `model call ${e.verdict}${code}: ${e.endpoint} ${e.model}${tokens(e.promptTokens, e.completionTokens)}${ms}`;
    }
    default:
      return e.type;
  }
}

/** A one-line description of an event body as stored (`time` may be absent). */
export function describeAuditEvent(event: unknown): string {
  const parsed = auditEventSchema.safeParse(event);
  if (parsed.success) return describe(parsed.data);
  const type = (event as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? `${type} (fields not recognised)` : 'unrecognised event';
}

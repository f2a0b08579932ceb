/**
 * TaskAudit over the sealed audit store. Appends are non-blocking (the sink
 * group-commits in the background); a failing append is logged and counted,
 * never allowed to stall or fail a reconcile.
 */
import type { Counter } from 'prom-client';
import type { AgentTask, Approval } from '../api/types.ts';
import type { AuditEventInput, AuditSink } from '../audit/index.ts';
import type { Logger } from '../logger.ts';
import type { TaskAudit } from './task-audit.ts';

const OPERATOR = { kind: 'system', name: 'closedpaw-operator' } as const;

const ref = (task: AgentTask) => ({
  namespace: task.metadata.namespace!,
  name: task.metadata.name!,
  ...(task.metadata.uid ? { uid: task.metadata.uid } : {}),
});

export function sealedTaskAudit(sink: AuditSink, logger: Logger, failures?: Counter): TaskAudit {
  const append = (event: AuditEventInput) => {
    try {
      sink.append(event);
    } catch (error) {
      failures?.inc();
      logger.error({ err: (error as Error).message, event: event.type }, 'audit append failed');
    }
  };
  const approvalId = (approval: Approval) => `${approval.metadata.namespace}/${approval.metadata.name}`;
  return {
    admitted: (task) =>
      append({
        type: 'task.admitted',
        actor: OPERATOR,
        task: ref(task),
        runtimeClass: task.spec.runtimeClassName,
      }),
    screened: (task, finding) =>
      append({
        type: 'screening.flagged',
        task: ref(task),
        where: finding.where,
        score: finding.score,
        reasons: finding.reasons.map((r) => (finding.path ? `${finding.path}: ${r}` : r).slice(0, 1024)),
        action: 'escalated',
      }),
    riskRated: (task, risk) =>
      append({ type: 'task.risk_rated', task: ref(task), level: risk.level, reasons: risk.reasons }),
    approvalRequested: (task, approval) =>
      append({
        type: 'approval.requested',
        task: ref(task),
        approvalId: approvalId(approval),
        requestedBy: OPERATOR,
        expiresAt: approval.spec.expiresAt,
      }),
    approvalDecided: (task, approval, state) => {
      if (state === 'Expired') {
        append({
          type: 'approval.expired',
          task: ref(task),
          approvalId: approvalId(approval),
          requestedBy: OPERATOR,
        });
        return;
      }
      append({
        type: 'approval.decided',
        task: ref(task),
        approvalId: approvalId(approval),
        decidedBy: { kind: 'user', name: approval.status?.decidedBy ?? 'unknown' },
        decision: state === 'Approved' ? 'approved' : 'denied',
        ...(approval.status?.reason ? { comment: approval.status.reason.slice(0, 1024) } : {}),
      });
    },
    podCreated: (task, podName) =>
      append({
        type: 'pod.created',
        task: ref(task),
        pod: { namespace: task.metadata.namespace!, name: podName },
        runtimeClass: task.spec.runtimeClassName,
      }),
    finished: (task, phase, reason, resultSha256) => {
      if (task.status?.podName) {
        append({
          type: 'pod.finished',
          task: ref(task),
          pod: { namespace: task.metadata.namespace!, name: task.status.podName },
          phase: phase === 'Succeeded' ? 'Succeeded' : 'Failed',
          reason: `${phase}: ${reason}`.slice(0, 1024),
        });
      }
      if (resultSha256 && task.status?.result) {
        append({
          type: 'task.result_recorded',
          task: ref(task),
          digest: `sha256:${resultSha256}`,
          sizeBytes: task.status.result.bytes,
        });
      }
    },
    deleted: (task) =>
      append({
        type: 'task.deleted',
        task: { namespace: task.namespace, name: task.name, ...(task.uid ? { uid: task.uid } : {}) },
      }),
  };
}

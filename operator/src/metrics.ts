/** ClosedPaw's domain metrics, beside the controller-runtime ones from runtime/metrics.ts. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { TASK_PHASES } from './api/agenttask.ts';

export function createDomainMetrics(registry: Registry) {
  const taskPhaseTransitions = new Counter({
    name: 'closedpaw_task_phase_transitions_total',
    help: 'AgentTask phase transitions written by the operator, by new phase.',
    labelNames: ['phase'],
    registers: [registry],
  });
  for (const phase of TASK_PHASES) taskPhaseTransitions.inc({ phase }, 0);
  const apiWrites = new Counter({
    name: 'closedpaw_api_writes_total',
    help: 'Write requests the operator sent to the API server.',
    labelNames: ['verb', 'resource'],
    registers: [registry],
  });
  const auditCheckpointSize = new Gauge({
    name: 'closedpaw_audit_checkpoint_seq',
    help: 'Sequence number covered by the latest signed audit checkpoint (published outside the log).',
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'closedpaw_audit_append_failures_total',
    help: 'Audit events the sealed store refused (overflow, closed, invalid).',
    registers: [registry],
  });
  return { taskPhaseTransitions, apiWrites, auditCheckpointSize, auditFailures };
}

export type DomainMetrics = ReturnType<typeof createDomainMetrics>;

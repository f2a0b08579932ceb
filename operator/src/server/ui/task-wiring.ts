/**
 * The task view's two data sources, built from what the operator already has:
 * its API connection (pod logs, read as the operator) and its audit settings
 * (the sealed log, read-only, with its keyring). operator.ts spreads the result
 * into startUiServer's dependencies.
 */

import type { AgentTask } from '../../api/types.ts';
import { loadKeyring } from '../../audit/index.ts';
import { type KubeConnection, RestClient } from '../../k8s/rest.ts';
import { AuditTrailIndex, type AuditTrailOptions, type AuditTrailSource } from './audit-trail.ts';
import { podLogReader, type ReadPodLog } from './pod-log.ts';

export interface TaskSources {
  readPodLog: ReadPodLog;
  /** Absent when the operator records no audit log. */
  auditTrail?: AuditTrailSource;
}

export interface TaskSourcesOptions {
  kubeConfig: KubeConnection;
  /** The operator's `config.audit`; undefined with CLOSEDPAW_AUDIT=off. */
  audit?: { logPath: string; keysDir: string; checkpointDir?: string };
  /** The task cache: only tasks that exist are indexed in the audit trail. */
  tasks?: { list(): AgentTask[] };
  /** Index limits (tests, tuning). */
  trail?: Pick<AuditTrailOptions, 'perTask' | 'maxTasks' | 'minIntervalMs'>;
}

export function createTaskSources(opts: TaskSourcesOptions): TaskSources {
  const rest = new RestClient(opts.kubeConfig);
  const readPodLog = podLogReader((path, query, signal) => rest.open(path, { query, signal }));
  if (!opts.audit) return { readPodLog };
  const { logPath, keysDir, checkpointDir } = opts.audit;
  const tasks = opts.tasks;
  const index = new AuditTrailIndex({
    logPath,
    ...(checkpointDir ? { checkpointDir } : {}),
    keyring: () => loadKeyring(keysDir),
    ...(tasks
      ? { wantedUids: () => new Set(tasks.list().flatMap((t) => (t.metadata.uid ? [t.metadata.uid] : []))) }
      : {}),
    ...opts.trail,
  });
  return { readPodLog, auditTrail: index.source };
}

/** The audit events the task controllers emit; implemented over the sealed audit store. */
import type { TaskPhase } from '../api/agenttask.ts';
import type { Risk } from '../api/common.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { canonicalJson } from '../policy/digest.ts';
import type { ScreeningFinding } from '../policy/risk.ts';

export interface TaskAudit {
  admitted(task: AgentTask): void;
  /** Screening flagged the prompt or an input: the task was escalated to a human. */
  screened(task: AgentTask, finding: ScreeningFinding): void;
  riskRated(task: AgentTask, risk: Risk): void;
  approvalRequested(task: AgentTask, approval: Approval): void;
  approvalDecided(task: AgentTask, approval: Approval, state: 'Approved' | 'Denied' | 'Expired'): void;
  podCreated(task: AgentTask, podName: string): void;
  finished(task: AgentTask, phase: TaskPhase, reason: string, resultSha256?: string): void;
  /** The task is gone and its sandbox torn down (the task object itself may no longer exist). */
  deleted(ref: { namespace: string; name: string; uid: string }): void;
}

export const NO_AUDIT: TaskAudit = {
  admitted() {},
  screened() {},
  riskRated() {},
  approvalRequested() {},
  approvalDecided() {},
  podCreated() {},
  finished() {},
  deleted() {},
};

/**
 * Records each fact once per task, however often a reconcile that sees it is
 * retried: keyed by task uid + fact (+ the detail that makes it a new fact,
 * e.g. a changed risk). Bounded: the oldest facts are forgotten first, and a
 * deleted task's facts go with it.
 */
export function auditOnce(audit: TaskAudit, capacity = 50_000): TaskAudit & { size(): number } {
  /** Facts in the order they were first seen (`uid|fact`), and each task's facts, so a deletion forgets them at once. */
  const seen = new Map<string, string>();
  const byTask = new Map<string, Set<string>>();
  const drop = (key: string) => {
    const uid = seen.get(key);
    if (uid === undefined) return;
    seen.delete(key);
    const facts = byTask.get(uid);
    facts?.delete(key);
    if (facts?.size === 0) byTask.delete(uid);
  };
  const first = (task: { metadata: { uid?: string } } | { uid: string }, fact: string): boolean => {
    const uid = ('metadata' in task ? task.metadata.uid : task.uid) ?? '';
    const key = `${uid}|${fact}`;
    if (seen.has(key)) return false;
    seen.set(key, uid);
    const facts = byTask.get(uid) ?? new Set<string>();
    facts.add(key);
    byTask.set(uid, facts);
    if (seen.size > capacity) drop(seen.keys().next().value as string);
    return true;
  };
  const forget = (uid: string) => {
    for (const key of byTask.get(uid) ?? []) seen.delete(key);
    byTask.delete(uid);
  };
  return {
    admitted: (task) => first(task, 'admitted') && audit.admitted(task),
    screened: (task, finding) =>
      first(task, `screened:${task.metadata.generation}:${finding.where}:${finding.path ?? ''}`) &&
      audit.screened(task, finding),
    riskRated: (task, risk) => first(task, `risk:${canonicalJson(risk)}`) && audit.riskRated(task, risk),
    approvalRequested: (task, approval) =>
      first(task, `approval.requested:${approval.metadata.name}`) && audit.approvalRequested(task, approval),
    approvalDecided: (task, approval, state) =>
      first(task, `approval.decided:${approval.metadata.name}`) &&
      audit.approvalDecided(task, approval, state),
    podCreated: (task, podName) => first(task, `pod:${podName}`) && audit.podCreated(task, podName),
    finished: (task, phase, reason, sha) =>
      first(task, 'finished') && audit.finished(task, phase, reason, sha),
    deleted: (ref) => {
      if (seen.has(`${ref.uid}|deleted`)) return;
      forget(ref.uid);
      first(ref, 'deleted');
      audit.deleted(ref);
    },
    size: () => seen.size,
  };
}

/**
 * Whether a human may decide an Approval right now, judged from the Approval
 * *and the task as it is now*: the risk is recomputed from the task spec and the
 * digest is the current task's, never the Approval's own claims alone. Pure:
 * the UI server and the `closedpaw approve|deny` CLI both decide with it.
 */
import { agentTaskSpecSchema } from '../../api/agenttask.ts';
import type { ApprovalState } from '../../api/approval.ts';
import type { Risk } from '../../api/common.ts';
import type { AgentTask, Approval } from '../../api/types.ts';
import type { CloudSettings } from '../../gateway/providers/catalog.ts';
import { specDigest } from '../../policy/digest.ts';
import { rateRisk } from '../../policy/risk.ts';
import { screenTaskOnce } from '../../policy/task-screening.ts';

/** Why an Approval cannot be decided; `message` says what happened and what to do. */
export type BlockerCode =
  | 'decided'
  | 'not-pending'
  | 'bad-expiry'
  | 'expired'
  | 'task-unreadable'
  | 'task-mismatch'
  | 'task-invalid'
  | 'task-changed';

export interface Blocker {
  code: BlockerCode;
  message: string;
}

export interface Assessment {
  state: ApprovalState;
  /** min(spec.expiresAt, creationTimestamp + TTL): what is shown and enforced. */
  expiresAt: string;
  /** The task the Approval is for, as it is now (present only when it is that very task). */
  task?: { spec: AgentTask['spec']; digest: string; risk: Risk };
  decidable: boolean;
  /** Set exactly when `decidable` is false. */
  blocker?: Blocker;
}

export interface AssessOptions {
  now: Date;
  /** Longest an Approval may be open after its creation (the operator's TTL, or the CRD's maximum). */
  ttlSeconds: number;
  /** Why the task could not be read, when `task` is undefined (defaults to "not found"). */
  taskProblem?: string;
  /** The operator's cloud models (a task on one is critical); undefined: the CLI's view, local models only. */
  cloud?: CloudSettings;
}

/** The CRD allows an approval TTL of at most 7 days: the cap a client without the operator's config uses. */
export const MAX_APPROVAL_TTL_SECONDS = 7 * 86400;

const time = (value: unknown): number =>
  value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;

/** min(spec.expiresAt, metadata.creationTimestamp + ttl); undefined when either time is missing or invalid. */
export function effectiveExpiry(approval: Approval, ttlSeconds: number): Date | undefined {
  const requested = time(approval.spec.expiresAt);
  const created = time(approval.metadata.creationTimestamp);
  if (!Number.isFinite(requested) || !Number.isFinite(created)) return undefined;
  return new Date(Math.min(requested, created + ttlSeconds * 1000));
}

/** The uid of the Approval's controller owner (the operator sets it to its task). */
const ownerUid = (approval: Approval) =>
  approval.metadata.ownerReferences?.find((ref) => ref.controller)?.uid;

export function assessApproval(
  approval: Approval,
  task: AgentTask | undefined,
  opts: AssessOptions,
): Assessment {
  const { spec, metadata } = approval;
  const name = metadata.name ?? '';
  const taskName = spec.taskRef.name;
  const state: ApprovalState = approval.status?.state ?? 'Pending';
  const expiry = effectiveExpiry(approval, opts.ttlSeconds);
  const expiresAt = expiry?.toISOString() ?? spec.expiresAt;
  const current = currentTask(approval, task, opts.cloud);
  const base = { state, expiresAt, ...(current.task ? { task: current.task } : {}) };
  const blocked = (code: BlockerCode, message: string): Assessment => ({
    ...base,
    decidable: false,
    blocker: { code, message },
  });

  if (spec.decision) {
    return blocked(
      'decided',
      `approval ${name} was already decided: ${spec.decision.verdict} by ${spec.decision.decidedBy}; a decision is final`,
    );
  }
  if (state !== 'Pending')
    return blocked('not-pending', `approval ${name} is ${state}: a decision no longer counts`);
  if (!expiry) {
    return blocked(
      'bad-expiry',
      `approval ${name} has no valid creationTimestamp/expiresAt, so its expiry cannot be enforced: do not decide it`,
    );
  }
  if (opts.now.getTime() >= expiry.getTime()) {
    return blocked('expired', `approval ${name} expired at ${expiresAt}: it counts as a denial`);
  }
  if (!task) {
    const why = opts.taskProblem ?? 'it does not exist (deleted?)';
    return blocked(
      'task-unreadable',
      `task ${taskName} cannot be read: ${why}. What would be decided cannot be shown, so it cannot be ` +
        `decided; without a decision the approval expires at ${expiresAt} and counts as a denial`,
    );
  }
  if (current.problem === 'mismatch') {
    return blocked(
      'task-mismatch',
      `approval ${name} was not made for the current task ${taskName} (uid ${task.metadata.uid ?? '?'}; the ` +
        `approval names uid ${spec.taskRef.uid}, owner ${ownerUid(approval) ?? 'none'}): the task was ` +
        're-created or the approval was not created by the operator. Do not decide it; the operator requests ' +
        'its own approval for the current task',
    );
  }
  if (!current.task) {
    return blocked(
      'task-invalid',
      `task ${taskName} has a spec that does not pass validation: its digest and risk cannot be computed`,
    );
  }
  if (current.task.digest !== spec.taskDigest) {
    return blocked(
      'task-changed',
      `task ${taskName} changed after approval ${name} was requested (the approval is bound to ` +
        `${spec.taskDigest}, the task is now ${current.task.digest}): it cannot be decided; the operator ` +
        'supersedes it and requests a new approval for the current spec',
    );
  }
  return { ...base, decidable: true };
}

/** The task as the operator rates it: the same screening and cloud rules, recomputed here, never read from the Approval. */
function currentTask(
  approval: Approval,
  task: AgentTask | undefined,
  cloud: CloudSettings | undefined,
): { task?: Assessment['task']; problem?: 'mismatch' | 'invalid' } {
  if (!task) return {};
  const uid = task.metadata.uid;
  if (!uid || uid !== approval.spec.taskRef.uid || ownerUid(approval) !== uid) return { problem: 'mismatch' };
  const parsed = agentTaskSpecSchema.safeParse(task.spec);
  if (!parsed.success) return { problem: 'invalid' };
  const digest = specDigest(parsed.data);
  const risk = rateRisk(parsed.data, screenTaskOnce(parsed.data, digest), cloud);
  return { task: { spec: parsed.data, digest, risk } };
}

/** The Approval's recorded risk, when it says anything the recomputed risk does not (shown, labelled, never trusted). */
export function recordedRiskIfDifferent(approval: Approval, recomputed: Risk | undefined): Risk | undefined {
  const recorded = approval.spec.risk;
  if (
    recomputed &&
    recorded.level === recomputed.level &&
    recorded.reasons.every((r) => recomputed.reasons.includes(r))
  ) {
    return undefined;
  }
  return { level: recorded.level, reasons: [...recorded.reasons] };
}

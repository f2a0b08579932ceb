/**
 * The approval gate a critical task passes before any pod exists: performs
 * what approval-decisions.ts decides (create, supersede, settle), with
 * optimistic concurrency on every status write, and audits each fact once.
 */
import type { ApprovalStatus } from '../api/approval.ts';
import type { Risk } from '../api/common.ts';
import { API_VERSION, APPROVAL } from '../api/meta.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import type { ClusterClient } from '../k8s/client.ts';
import { isAlreadyExists, isNotFound } from '../k8s/errors.ts';
import type { Informer } from '../runtime/informer.ts';
import { childLabels, controllerReference } from '../sandbox/names.ts';
import {
  type ApprovalDecision,
  type Approvers,
  bindsTo,
  decideApproval,
  type RecordedRequest,
  type Verdict,
} from './approval-decisions.ts';
import { Expectations } from './expectations.ts';
import type { TaskAudit } from './task-audit.ts';

export type GateResult = Verdict;

/** The Approval a status write was for no longer exists. */
class ApprovalGone extends Error {
  override name = 'ApprovalGone';
}

export interface ApprovalGate {
  check(task: AgentTask, risk: Risk, digest: string, signal?: AbortSignal): Promise<GateResult>;
}

export interface ApprovalGateDeps {
  client: ClusterClient;
  approvals: Pick<Informer<Approval>, 'list' | 'get'>;
  audit: TaskAudit;
  ttlSeconds: number;
  approvers: { users: string[]; groups: string[] };
  now: () => Date;
  /** Makes the audit records so far durable; no approval is requested or settled unless it resolves. */
  barrier?: () => Promise<void>;
}

/** spec.approvers as the operator writes it: absent when nobody is configured. */
export function approversSpec(approvers: ApprovalGateDeps['approvers']): Approvers {
  if (approvers.users.length === 0 && approvers.groups.length === 0) return undefined;
  return {
    ...(approvers.users.length > 0 ? { users: approvers.users } : {}),
    ...(approvers.groups.length > 0 ? { groups: approvers.groups } : {}),
  };
}

const recordedRequest = (task: AgentTask): RecordedRequest | undefined => task.status?.approvalRef;

export function createApprovalGate(deps: ApprovalGateDeps): ApprovalGate {
  const approvers = approversSpec(deps.approvers);
  /** Approvals created but not yet in the cache (bounded: entries expire). */
  const created = new Expectations<Approval>(60_000);

  function approvalsOf(task: AgentTask): Approval[] {
    const fromCache = deps.approvals
      .list()
      .filter(
        (a) => a.metadata.namespace === task.metadata.namespace && a.spec.taskRef.uid === task.metadata.uid,
      );
    const seen = new Set(fromCache.map((a) => a.metadata.name));
    for (const approval of fromCache)
      created.observed(`${approval.metadata.namespace}/${approval.metadata.name}`);
    const pendingCreates = created
      .values()
      .filter(
        (a) => a.metadata.namespace === task.metadata.namespace && a.spec.taskRef.uid === task.metadata.uid,
      )
      .filter((a) => !seen.has(a.metadata.name));
    return [...fromCache, ...pendingCreates];
  }

  async function request(
    task: AgentTask,
    risk: Risk,
    digest: string,
    name: string,
    expiresAt: string,
    signal?: AbortSignal,
  ) {
    const body: Approval = {
      apiVersion: API_VERSION,
      kind: APPROVAL.kind,
      metadata: {
        name,
        namespace: task.metadata.namespace!,
        labels: childLabels(task, 'approval'),
        ownerReferences: [controllerReference(task)],
      },
      spec: {
        taskRef: { name: task.metadata.name!, uid: task.metadata.uid! },
        taskDigest: digest,
        risk,
        expiresAt,
        ...(approvers ? { approvers } : {}),
      },
    };
    let approval: Approval;
    try {
      approval = await deps.client.createApproval(task.metadata.namespace!, body, signal);
      deps.audit.approvalRequested(task, approval);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      approval = await deps.client.readApproval(task.metadata.namespace!, name, signal);
    }
    created.expect(`${approval.metadata.namespace}/${approval.metadata.name}`, approval);
    return approval;
  }

  /** A status write; an Approval deleted meanwhile is forgotten (also from the expectations) and reported as gone. */
  async function patchStatus(
    approval: Approval,
    status: ApprovalStatus,
    signal?: AbortSignal,
  ): Promise<Approval> {
    try {
      return await deps.client.patchApprovalStatus(approval, status, signal);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      created.observed(`${approval.metadata.namespace}/${approval.metadata.name}`);
      throw new ApprovalGone();
    }
  }

  async function perform(
    task: AgentTask,
    risk: Risk,
    digest: string,
    decision: ApprovalDecision,
    signal?: AbortSignal,
  ) {
    if (decision.next === 'request' || decision.next === 'settle') await deps.barrier?.();
    for (const { approval, status } of decision.supersede) {
      await patchStatus(approval, status, signal);
    }
    switch (decision.next) {
      case 'request': {
        const approval = await request(task, risk, digest, decision.name, decision.expiresAt, signal);
        if (!bindsTo(approval, task, digest, approvers)) {
          throw new Error(
            `Approval ${decision.name} exists but was not created by the operator for this task spec; delete it`,
          );
        }
        const next = decideApproval(observation(task, digest, [approval]));
        if (next.next === 'request') throw new Error(`Approval ${decision.name} could not be requested`);
        return await perform(task, risk, digest, { ...next, supersede: [] }, signal);
      }
      case 'settle': {
        const settled = await patchStatus(decision.settle.approval, decision.settle.status, signal);
        const state = decision.settle.status.state;
        if (state === 'Approved' || state === 'Denied' || state === 'Expired') {
          deps.audit.approvalDecided(task, settled, state);
        }
        return decision.verdict;
      }
      case 'markPending': {
        const marked = await patchStatus(decision.approval, { state: 'Pending' }, signal);
        created.expect(`${marked.metadata.namespace}/${marked.metadata.name}`, marked);
        return decision.verdict;
      }
      case 'none':
        return decision.verdict;
    }
  }

  function observation(task: AgentTask, digest: string, approvals: readonly Approval[]) {
    return {
      task,
      digest,
      approvers,
      approvals,
      recorded: recordedRequest(task),
      ttlSeconds: deps.ttlSeconds,
      now: deps.now(),
    };
  }

  return {
    async check(task, risk, digest, signal) {
      // An Approval deleted while we decide is decided again without it (its deadline stays recorded).
      for (let attempt = 1; ; attempt++) {
        const decision = decideApproval(observation(task, digest, approvalsOf(task)));
        try {
          return await perform(task, risk, digest, decision, signal);
        } catch (error) {
          if (!(error instanceof ApprovalGone) || attempt >= 3) throw error;
        }
      }
    },
  };
}

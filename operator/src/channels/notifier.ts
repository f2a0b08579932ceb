/**
 * Tells the channels about approvals that wait for a human: each pending, decidable Approval once per
 * channel (by uid), with the task summary, risk reasons and expiry. Sends are queued per channel
 * (http.ts Outbox), so a slow or dead platform delays only its own messages; each outcome is audited.
 */

import type { AgentTask, Approval } from '../api/types.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { CloudSettings } from '../gateway/providers/catalog.ts';
import { assessApproval } from '../server/ui/assess.ts';
import type { ChannelAdapter } from './adapter.ts';
import type { RefRegistry } from './core.ts';
import type { ApprovalNotice } from './types.ts';

export interface NotifierDeps {
  approvals: { list(): Approval[] };
  tasks: { get(key: string): AgentTask | undefined };
  adapters: readonly ChannelAdapter[];
  refs: RefRegistry;
  audit(event: AuditEventInput): void;
  now(): Date;
  ttlSeconds: number;
  cloud?: CloudSettings;
  onError?(err: unknown, platform: string): void;
}

/** The notice for an Approval that can be decided now, or undefined. Pure (but for the ref it mints). */
export function noticeFor(
  approval: Approval,
  task: AgentTask | undefined,
  refs: RefRegistry,
  now: Date,
  ttlSeconds: number,
  cloud?: CloudSettings,
): ApprovalNotice | undefined {
  const assessed = assessApproval(approval, task, { now, ttlSeconds, ...(cloud ? { cloud } : {}) });
  if (!assessed.decidable || !assessed.task) return undefined;
  const namespace = approval.metadata.namespace ?? '';
  const name = approval.metadata.name ?? '';
  const uid = approval.metadata.uid ?? '';
  if (!namespace || !name || !uid) return undefined;
  return {
    ref: refs.refFor({ namespace, name, uid }),
    namespace,
    approval: name,
    task: approval.spec.taskRef.name,
    prompt: assessed.task.spec.prompt,
    model: assessed.task.spec.model,
    tools: [...assessed.task.spec.tools],
    risk: assessed.task.risk,
    expiresAt: assessed.expiresAt,
  };
}

export class ApprovalNotifier {
  readonly #d: NotifierDeps;
  readonly #sent = new Set<string>();

  constructor(deps: NotifierDeps) {
    this.#d = deps;
  }

  /** Notifies what is new; returns the sends started (tests await them). */
  scan(): Promise<void>[] {
    const now = this.#d.now();
    const live = new Set<string>();
    const sends: Promise<void>[] = [];
    for (const approval of this.#d.approvals.list()) {
      const uid = approval.metadata.uid;
      if (!uid) continue;
      live.add(uid);
      if (this.#sent.has(uid)) continue;
      const task = this.#d.tasks.get(`${approval.metadata.namespace}/${approval.spec.taskRef.name}`);
      const notice = noticeFor(approval, task, this.#d.refs, now, this.#d.ttlSeconds, this.#d.cloud);
      if (!notice) continue;
      this.#sent.add(uid);
      for (const adapter of this.#d.adapters) sends.push(this.#send(adapter, notice, approval));
    }
    for (const uid of this.#sent) if (!live.has(uid)) this.#sent.delete(uid);
    return sends;
  }

  async #send(adapter: ChannelAdapter, notice: ApprovalNotice, approval: Approval): Promise<void> {
    const base = {
      type: 'channel.notified' as const,
      platform: adapter.platform,
      task: { namespace: notice.namespace, name: notice.task, uid: approval.spec.taskRef.uid },
      approvalId: notice.approval.slice(0, 128),
    };
    try {
      await adapter.notify(notice);
      this.#d.audit({ ...base, outcome: 'sent' });
    } catch (err) {
      this.#d.onError?.(err, adapter.platform);
      this.#d.audit({ ...base, outcome: 'failed', message: (err as Error).message.slice(0, 1024) });
    }
  }
}

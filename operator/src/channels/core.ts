/**
 * The channel logic every platform shares, behind each adapter's parsing: pairing codes, button refs,
 * relaying decisions as the paired user, optional task intake, and the audit record of each. Adapters
 * call `act` only for requests whose signature and freshness they verified.
 */

import { randomBytes } from 'node:crypto';
import type { AgentTask, Approval } from '../api/types.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { CloudSettings } from '../gateway/providers/catalog.ts';
import { errorMessage } from '../k8s/errors.ts';
import type { PairingCodes, PairingStore } from './pairing.ts';
import { decideRelay, type RefTarget } from './relay.ts';
import { accountKey, type ChannelAction, type ChannelReply, type ChatAccount } from './types.ts';

export interface IntakeSettings {
  namespace: string;
  /** Paired Kubernetes users who may create tasks from a chat. */
  users: readonly string[];
  model: string;
  /** Creates the task as `user` (impersonated: the API server checks RBAC); returns its name. */
  create(user: string, prompt: string): Promise<string>;
}

export interface CoreDeps {
  pairings: PairingStore;
  codes: PairingCodes;
  approvals: { get(key: string): Approval | undefined };
  tasks: { get(key: string): AgentTask | undefined };
  /** Writes spec.decision impersonating `user` only (ClusterClient.decideApproval). */
  decide(
    namespace: string,
    name: string,
    user: string,
    decision: { verdict: 'Approved' | 'Denied'; reason: string },
  ): Promise<unknown>;
  audit(event: AuditEventInput): void;
  now(): Date;
  ttlSeconds: number;
  cloud?: CloudSettings;
  intake?: IntakeSettings;
}

/** Button refs: short random handles for Approvals, kept in memory (a restart voids old buttons). */
export class RefRegistry {
  readonly #refs = new Map<string, RefTarget>();
  readonly #byUid = new Map<string, string>();
  readonly #max: number;

  constructor(max = 5000) {
    this.#max = max;
  }

  refFor(target: RefTarget): string {
    const existing = this.#byUid.get(target.uid);
    if (existing) return existing;
    const ref = randomBytes(9).toString('base64url');
    this.#refs.set(ref, { ...target });
    this.#byUid.set(target.uid, ref);
    while (this.#refs.size > this.#max) {
      const [oldest, t] = this.#refs.entries().next().value ?? [];
      if (oldest === undefined || !t) break;
      this.#refs.delete(oldest);
      this.#byUid.delete(t.uid);
    }
    return ref;
  }

  resolve(ref: string): RefTarget | undefined {
    return this.#refs.get(ref);
  }
}

const verdictWord = (v: 'Approved' | 'Denied'): 'approved' | 'denied' =>
  v === 'Approved' ? 'approved' : 'denied';

export class ChannelCore {
  readonly refs = new RefRegistry();
  readonly #d: CoreDeps;

  constructor(deps: CoreDeps) {
    this.#d = deps;
  }

  async act(sender: ChatAccount, action: ChannelAction): Promise<ChannelReply> {
    if (action.kind === 'pair') return this.#pair(sender);
    if (action.kind === 'intake') return await this.#intake(sender, action.prompt);
    return await this.#decide(sender, action.verdict, action.ref);
  }

  #pair(sender: ChatAccount): ChannelReply {
    const issued = this.#d.codes.issue(sender, this.#d.now().getTime());
    const account = accountKey(sender);
    if ('refused' in issued) {
      this.#audit({
        type: 'channel.pairing',
        platform: sender.platform,
        account,
        outcome: 'rejected',
        reason: issued.refused,
      });
      return { text: `No code: ${issued.refused}.` };
    }
    this.#audit({ type: 'channel.pairing', platform: sender.platform, account, outcome: 'code_issued' });
    const paired = this.#d.pairings.lookup(sender);
    return {
      text:
        `Pairing code: ${issued.code} (valid 10 minutes, once).\n` +
        'Confirm it as yourself, with your own Kubernetes credentials:\n' +
        `  closedpaw channel pair ${issued.code}\n` +
        (paired ? `This account is paired with ${paired.user} now; confirming re-pairs it.\n` : '') +
        'Never confirm a code someone else gave you: it would let their chat account decide as you.',
    };
  }

  async #decide(sender: ChatAccount, verdict: 'Approved' | 'Denied', ref: string): Promise<ChannelReply> {
    const pairing = this.#d.pairings.lookup(sender);
    const target = this.refs.resolve(ref);
    const key = target ? `${target.namespace}/${target.name}` : '';
    const approval = target ? this.#d.approvals.get(key) : undefined;
    const task =
      approval && target ? this.#d.tasks.get(`${target.namespace}/${approval.spec.taskRef.name}`) : undefined;
    const decision = decideRelay({
      sender,
      pairing,
      verdict,
      target,
      approval,
      task,
      now: this.#d.now(),
      ttlSeconds: this.#d.ttlSeconds,
      ...(this.#d.cloud ? { cloud: this.#d.cloud } : {}),
    });
    const base = {
      type: 'channel.decision' as const,
      platform: sender.platform,
      account: accountKey(sender),
      verdict: verdictWord(verdict),
      ...(target ? { approvalId: target.name.slice(0, 128) } : {}),
      ...(approval && target
        ? {
            task: {
              namespace: target.namespace,
              name: approval.spec.taskRef.name,
              uid: approval.spec.taskRef.uid,
            },
          }
        : {}),
    };
    if (decision.kind === 'ignore') {
      this.#audit({ ...base, outcome: 'ignored', reason: decision.why });
      return undefined;
    }
    const decidedBy = { kind: 'user' as const, name: pairing?.user ?? '-' };
    if (decision.kind === 'refuse') {
      this.#audit({ ...base, decidedBy, outcome: 'refused', reason: decision.message.slice(0, 1024) });
      return { text: `Not decided: ${decision.message}` };
    }
    try {
      await this.#d.decide(decision.namespace, decision.name, decision.user, {
        verdict,
        reason: decision.reason,
      });
    } catch (err) {
      const message = apiMessage(err);
      this.#audit({
        ...base,
        decidedBy,
        outcome: 'refused',
        reason: `API server: ${message}`.slice(0, 1024),
      });
      return { text: `Not decided: the API server refused it as ${decision.user}: ${message}` };
    }
    this.#audit({ ...base, decidedBy, outcome: 'relayed' });
    return { text: `${verdict} ${decision.namespace}/${decision.name} as ${decision.user}.` };
  }

  async #intake(sender: ChatAccount, prompt: string): Promise<ChannelReply> {
    const intake = this.#d.intake;
    const pairing = this.#d.pairings.lookup(sender);
    const base = { type: 'channel.intake' as const, platform: sender.platform, account: accountKey(sender) };
    if (!intake || !pairing || !intake.users.includes(pairing.user)) {
      this.#audit({
        ...base,
        outcome: 'ignored',
        reason: !intake
          ? 'intake is off'
          : !pairing
            ? 'sender is not paired'
            : `user ${pairing.user} is not allowed to create tasks from chat`,
      });
      return undefined;
    }
    if (prompt.trim() === '') return { text: 'Usage: /task <what the agent should do>' };
    try {
      const name = await intake.create(pairing.user, prompt);
      this.#audit({
        ...base,
        user: pairing.user,
        task: { namespace: intake.namespace, name },
        outcome: 'created',
      });
      return {
        text: `Created task ${intake.namespace}/${name} as ${pairing.user}; it waits for an approval.`,
      };
    } catch (err) {
      const message = apiMessage(err);
      this.#audit({ ...base, user: pairing.user, outcome: 'refused', reason: message.slice(0, 1024) });
      return { text: `Not created: ${message}` };
    }
  }

  #audit(event: AuditEventInput): void {
    this.#d.audit(event);
  }
}

/** The API server's message from a k8s/rest.ts or client-node error, without anything else (capped). */
export function apiMessage(err: unknown): string {
  return errorMessage(err).slice(0, 500);
}

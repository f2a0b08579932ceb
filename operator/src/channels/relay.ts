/**
 * What a button press means, as a pure function: relay the verdict as the sender's paired Kubernetes
 * user, tell a paired sender why it cannot be relayed, or do nothing at all for a sender nobody paired.
 * The API server still has the last word (its admission policy checks the impersonated user).
 */

import type { AgentTask, Approval } from '../api/types.ts';
import type { CloudSettings } from '../gateway/providers/catalog.ts';
import { assessApproval } from '../server/ui/assess.ts';
import type { Pairing } from './pairing.ts';
import type { ChatAccount, Verdict } from './types.ts';

/** What a button's ref points at: one Approval object (by uid, so a re-created one is not the same). */
export interface RefTarget {
  namespace: string;
  name: string;
  uid: string;
}

export type RelayDecision =
  | { kind: 'ignore'; why: string }
  | { kind: 'refuse'; message: string }
  | { kind: 'relay'; namespace: string; name: string; user: string; verdict: Verdict; reason: string };

export interface RelayFacts {
  sender: ChatAccount;
  pairing: Pairing | undefined;
  verdict: Verdict;
  target: RefTarget | undefined;
  approval: Approval | undefined;
  task: AgentTask | undefined;
  now: Date;
  ttlSeconds: number;
  cloud?: CloudSettings;
}

export function decideRelay(f: RelayFacts): RelayDecision {
  if (!f.pairing) return { kind: 'ignore', why: 'sender is not paired' };
  if (!f.target) {
    return {
      kind: 'refuse',
      message:
        'this button is no longer valid (the operator restarted or the request is old): decide in the UI or CLI',
    };
  }
  const what = `approval ${f.target.namespace}/${f.target.name}`;
  if (!f.approval || f.approval.metadata.uid !== f.target.uid) {
    return {
      kind: 'refuse',
      message: `${what} no longer exists (it was replaced or deleted): nothing was decided`,
    };
  }
  const assessed = assessApproval(f.approval, f.task, {
    now: f.now,
    ttlSeconds: f.ttlSeconds,
    ...(f.cloud ? { cloud: f.cloud } : {}),
  });
  if (!assessed.decidable)
    return { kind: 'refuse', message: assessed.blocker?.message ?? `${what} cannot be decided` };
  const via = `${f.sender.platform} account ${f.sender.name ?? f.sender.id}`;
  return {
    kind: 'relay',
    namespace: f.target.namespace,
    name: f.target.name,
    user: f.pairing.user,
    verdict: f.verdict,
    reason: `${f.verdict === 'Approved' ? 'approved' : 'denied'} via ${via}`.slice(0, 1024),
  };
}

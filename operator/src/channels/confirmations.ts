/**
 * The operator's side of `closedpaw channel pair CODE`: watches ChannelPairing objects, redeems each
 * one's code once, binds the chat account to the object's `spec.user` (which the API server's admission
 * policy proved is its creator), writes the outcome to the object's status and tells the chat account.
 */
import type { AuditEventInput } from '../audit/events.ts';
import type { RestClient } from '../k8s/rest.ts';
import type { ChannelAdapter } from './adapter.ts';
import type { PairingCodes, PairingStore } from './pairing.ts';
import {
  type ChannelPairing,
  channelPairingSchema,
  judgePairing,
  PAIRINGS_PATH,
} from './pairing-resource.ts';
import { accountKey } from './types.ts';

export interface ConfirmationDeps {
  rest: Pick<RestClient, 'request'>;
  codes: PairingCodes;
  pairings: PairingStore;
  adapters: readonly ChannelAdapter[];
  pairableUsers: readonly string[];
  audit(event: AuditEventInput): void;
  now(): Date;
  onError?(err: unknown): void;
}

export class PairingConfirmations {
  readonly #d: ConfirmationDeps;
  readonly #handled = new Set<string>();

  constructor(deps: ConfirmationDeps) {
    this.#d = deps;
  }

  /** Handles one object as the informer delivers it (add or update); idempotent. */
  async handle(raw: unknown): Promise<void> {
    const parsed = channelPairingSchema.safeParse(raw);
    if (!parsed.success || parsed.data.status) return;
    const pairing = parsed.data;
    const uid = pairing.metadata.uid ?? pairing.metadata.name;
    if (this.#handled.has(uid)) return;
    this.#handled.add(uid);
    try {
      await this.#confirm(pairing);
    } catch (err) {
      this.#d.onError?.(err);
    }
  }

  async #confirm(pairing: ChannelPairing): Promise<void> {
    const now = this.#d.now();
    const account = this.#d.codes.redeem(pairing.spec.codeDigest, now.getTime());
    const outcome = judgePairing(pairing, account !== undefined, this.#d.pairableUsers);
    if (outcome.phase === 'Rejected' || !account) {
      const message = outcome.phase === 'Rejected' ? outcome.message : 'rejected';
      this.#d.audit({
        type: 'channel.pairing',
        user: pairing.spec.user,
        outcome: 'rejected',
        reason: message,
        ...(account ? { platform: account.platform, account: accountKey(account) } : {}),
      });
      await this.#status(pairing, { phase: 'Rejected', message });
      return;
    }
    const stored = await this.#d.pairings.pair(account, outcome.user, now);
    const shown = `${account.platform} account ${account.name ?? account.id} (id ${account.id})`;
    this.#d.audit({
      type: 'channel.pairing',
      platform: account.platform,
      account: accountKey(account),
      user: outcome.user,
      outcome: 'paired',
    });
    await this.#status(pairing, {
      phase: 'Paired',
      platform: account.platform,
      account: shown,
      pairedAt: stored.pairedAt,
    });
    const adapter = this.#d.adapters.find((a) => a.platform === account.platform);
    await adapter
      ?.tell(
        account,
        `Paired with Kubernetes user ${outcome.user}. Your Approve/Deny buttons now decide as ${outcome.user}. If that was not you, tell your cluster admin now.`,
      )
      .catch((err: unknown) => this.#d.onError?.(err));
  }

  async #status(pairing: ChannelPairing, status: NonNullable<ChannelPairing['status']>): Promise<void> {
    await this.#d.rest.request(`${PAIRINGS_PATH}/${encodeURIComponent(pairing.metadata.name)}/status`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { status },
    });
  }
}

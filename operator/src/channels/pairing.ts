/**
 * Pairing a chat account with a Kubernetes user, once:
 *
 * 1. In the chat, the person asks to pair (`/pair`). `PairingCodes.issue` makes a one-time code bound to
 *    that chat account (40 random bits, 10 minutes, one live code per account, a few per hour) and keeps
 *    only its sha256.
 * 2. The Kubernetes user confirms with `closedpaw channel pair CODE`, which creates a ChannelPairing
 *    object *as themselves*; an admission policy makes the API server check `spec.user` is the
 *    requester (see pairing-resource.ts). The operator redeems the code's digest from that object.
 * 3. `PairingStore` binds the account to that user. Only then do the account's buttons count.
 *
 * A chat user cannot bind themselves to someone else's Kubernetes identity: the code is bound to the
 * chat account that asked for it, and only the Kubernetes user who runs the CLI is ever bound (the API
 * server, not the chat, says who that is). Tricking a user into confirming a stranger's code is met by
 * showing the chat account in the CLI's answer and telling both sides.
 */
import { createHash, randomInt } from 'node:crypto';
import { accountKey, type ChatAccount } from './types.ts';

const ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ'; // 32 symbols, no 0/O/1/I
export const CODE_TTL_MS = 10 * 60_000;
const ISSUES_PER_HOUR = 5;
const MAX_OUTSTANDING = 1000;

export function codeDigest(code: string): string {
  const normalized = code.toUpperCase().replace(/[\s-]/g, '');
  return `sha256:${createHash('sha256').update(`closedpaw-pair/v1:${normalized}`).digest('hex')}`;
}

export function isCodeShaped(code: string): boolean {
  return /^[2-9A-HJ-NP-Z]{4}-?[2-9A-HJ-NP-Z]{4}$/i.test(code.trim());
}

interface Outstanding {
  account: ChatAccount;
  expiresAt: number;
}

export type IssueResult = { code: string; expiresAt: number } | { refused: string };

export class PairingCodes {
  readonly #byDigest = new Map<string, Outstanding>();
  readonly #issued = new Map<string, number[]>();

  issue(account: ChatAccount, now: number): IssueResult {
    this.#expire(now);
    const key = accountKey(account);
    const recent = (this.#issued.get(key) ?? []).filter((t) => now - t < 3_600_000);
    if (recent.length >= ISSUES_PER_HOUR) {
      return {
        refused: `too many pairing codes for this account in the last hour (at most ${ISSUES_PER_HOUR})`,
      };
    }
    if (this.#byDigest.size >= MAX_OUTSTANDING)
      return { refused: 'too many pairings in progress; try again later' };
    for (const [digest, o] of this.#byDigest)
      if (accountKey(o.account) === key) this.#byDigest.delete(digest);
    let raw = '';
    for (let i = 0; i < 8; i++) raw += ALPHABET[randomInt(ALPHABET.length)];
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    const expiresAt = now + CODE_TTL_MS;
    this.#byDigest.set(codeDigest(code), { account: { ...account }, expiresAt });
    this.#issued.set(key, [...recent, now]);
    return { code, expiresAt };
  }

  /** The account a code digest was issued to, once: a redeemed or expired code is gone. */
  redeem(digest: string, now: number): ChatAccount | undefined {
    this.#expire(now);
    const found = this.#byDigest.get(digest);
    if (!found) return undefined;
    this.#byDigest.delete(digest);
    return found.account;
  }

  #expire(now: number): void {
    for (const [digest, o] of this.#byDigest) if (o.expiresAt <= now) this.#byDigest.delete(digest);
  }
}

export interface Pairing {
  platform: ChatAccount['platform'];
  accountId: string;
  accountName?: string;
  user: string;
  pairedAt: string;
}

/** Where pairings are kept between restarts (the operator seals them in its vault). */
export interface PairingPersistence {
  load(): Promise<Pairing[]>;
  save(pairings: Pairing[]): Promise<void>;
}

export class PairingStore {
  readonly #persist: PairingPersistence;
  #pairings = new Map<string, Pairing>();

  constructor(persist: PairingPersistence) {
    this.#persist = persist;
  }

  async load(): Promise<void> {
    this.#pairings = new Map((await this.#persist.load()).map((p) => [`${p.platform}:${p.accountId}`, p]));
  }

  lookup(account: Pick<ChatAccount, 'platform' | 'id'>): Pairing | undefined {
    return this.#pairings.get(accountKey(account));
  }

  list(): Pairing[] {
    return [...this.#pairings.values()];
  }

  /** Binds (or re-binds) an account; saved before it counts. */
  async pair(account: ChatAccount, user: string, now: Date): Promise<Pairing> {
    const pairing: Pairing = {
      platform: account.platform,
      accountId: account.id,
      ...(account.name ? { accountName: account.name } : {}),
      user,
      pairedAt: now.toISOString(),
    };
    const next = new Map(this.#pairings);
    next.set(accountKey(account), pairing);
    await this.#persist.save([...next.values()]);
    this.#pairings = next;
    return pairing;
  }

  async unpair(account: Pick<ChatAccount, 'platform' | 'id'>): Promise<boolean> {
    const key = accountKey(account);
    if (!this.#pairings.has(key)) return false;
    const next = new Map(this.#pairings);
    next.delete(key);
    await this.#persist.save([...next.values()]);
    this.#pairings = next;
    return true;
  }
}

/** Pairings sealed as one vault entry (XChaCha20-Poly1305 with the audit keyring: tampering fails closed). */
export function vaultPairings(
  vault: {
    get(name: string): Promise<{ reveal(): string }>;
    put(name: string, value: string): Promise<void>;
  },
  entry = 'channel-pairings',
): PairingPersistence {
  return {
    async load() {
      try {
        return JSON.parse((await vault.get(entry)).reveal()) as Pairing[];
      } catch (err) {
        if ((err as { code?: unknown }).code === 'not-found') return [];
        throw err;
      }
    },
    async save(pairings) {
      await vault.put(entry, JSON.stringify(pairings));
    },
  };
}

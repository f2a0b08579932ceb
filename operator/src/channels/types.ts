/** What the channel modules share. No I/O. */

export const PLATFORMS = ['telegram', 'discord', 'slack'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** A person's account on a chat platform, as the platform identifies them (verified by its signature). */
export interface ChatAccount {
  platform: Platform;
  /** Telegram user id, Discord user id, Slack `<team>:<user>`. */
  id: string;
  /** A display name for messages and audit records (never used to decide anything). */
  name?: string;
}

export const accountKey = (a: Pick<ChatAccount, 'platform' | 'id'>) => `${a.platform}:${a.id}`;

/** What a pending approval looks like in a chat message. */
export interface ApprovalNotice {
  /** Short random handle carried by the buttons (platforms cap callback data, e.g. Telegram at 64 bytes). */
  ref: string;
  namespace: string;
  approval: string;
  task: string;
  prompt: string;
  model: string;
  tools: string[];
  risk: { level: string; reasons: string[] };
  expiresAt: string;
}

export type Verdict = 'Approved' | 'Denied';

/** What a chat user asked for, once the request is verified and parsed. */
export type ChannelAction =
  | { kind: 'decide'; verdict: Verdict; ref: string }
  | { kind: 'pair' }
  | { kind: 'intake'; prompt: string };

/** The answer to show the sender, or nothing at all (unpaired and unknown senders get nothing). */
export type ChannelReply = { text: string } | undefined;

/** The actions a button carries: `cp1:a:<ref>` approve, `cp1:d:<ref>` deny. */
export function buttonData(verdict: Verdict, ref: string): string {
  return `cp1:${verdict === 'Approved' ? 'a' : 'd'}:${ref}`;
}

export function parseButtonData(data: unknown): { verdict: Verdict; ref: string } | undefined {
  const m = typeof data === 'string' ? /^cp1:([ad]):([A-Za-z0-9_-]{8,32})$/.exec(data) : null;
  if (!m) return undefined;
  return { verdict: m[1] === 'a' ? 'Approved' : 'Denied', ref: m[2] as string };
}

/** What each platform module implements, and what it is given. */
import type { IncomingHttpHeaders } from 'node:http';
import type { SignatureProblem } from './signatures.ts';
import type { ApprovalNotice, ChannelAction, ChannelReply, ChatAccount, Platform } from './types.ts';

export interface WebhookRequest {
  headers: IncomingHttpHeaders;
  /** The raw body bytes (signatures are over these, never a re-serialization). */
  body: Buffer;
  sourceIp?: string;
}

export interface WebhookReply {
  status: number;
  /** JSON (an object) or nothing. */
  json?: unknown;
}

export interface ChannelAdapter {
  readonly platform: Platform;
  /** Verifies, parses and answers one webhook request. */
  handle(req: WebhookRequest): Promise<WebhookReply>;
  /** Posts a pending approval with Approve/Deny buttons to the configured chat. */
  notify(notice: ApprovalNotice): Promise<void>;
  /** A direct message to a chat account (pairing confirmations). */
  tell(account: ChatAccount, text: string): Promise<void>;
  /** Registers the webhook with the platform where it needs that (Telegram's setWebhook). */
  start?(): Promise<void>;
}

export interface AdapterContext {
  act(sender: ChatAccount, action: ChannelAction): Promise<ChannelReply>;
  /** A request failed authentication or was a replay: audited, nothing done. */
  rejected(problem: SignatureProblem | 'replayed', sourceIp: string | undefined): void;
  now(): Date;
}

export const ok = (json?: unknown): WebhookReply => ({
  status: 200,
  ...(json !== undefined ? { json } : {}),
});
export const unauthorized: WebhookReply = { status: 401, json: { error: 'invalid request signature' } };

/** A request that failed authentication or was a replay: reported to the context (audited), answered 401. */
export function refuse(
  ctx: AdapterContext,
  problem: SignatureProblem | 'replayed',
  req: WebhookRequest,
): WebhookReply {
  ctx.rejected(problem, req.sourceIp);
  return unauthorized;
}

export function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `/pair` and `/task <prompt>` (with an optional @botname), as typed in a chat. */
export function parseCommand(
  text: unknown,
): { kind: 'pair' } | { kind: 'intake'; prompt: string } | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^\/(pair|task)(?:@[A-Za-z0-9_]+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return undefined;
  return m[1] === 'pair' ? { kind: 'pair' } : { kind: 'intake', prompt: (m[2] ?? '').trim() };
}

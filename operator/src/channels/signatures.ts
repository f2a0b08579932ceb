/**
 * Is a webhook request from the platform, and fresh? Pure checks over the raw body bytes (never a
 * re-serialized body), constant-time comparisons, and a clock passed in:
 *
 * - Slack: `X-Slack-Signature: v0=hex(HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + body))`,
 *   timestamp within 5 minutes of now (either side).
 * - Discord: `X-Signature-Ed25519` = Ed25519 signature by the application's public key over
 *   `X-Signature-Timestamp + body`; we also hold the timestamp to 5 minutes (Discord does not, but a
 *   replay window must end somewhere).
 * - Telegram: `X-Telegram-Bot-Api-Secret-Token` equals the secret_token given to setWebhook. Telegram
 *   signs nothing and sends no timestamp: freshness comes from update_id (replay.ts).
 */
import { createHmac, createPublicKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';

export type SignatureProblem = 'missing' | 'malformed' | 'stale' | 'bad-signature';
export type SignatureCheck = { ok: true } | { ok: false; problem: SignatureProblem };

export const REPLAY_WINDOW_SECONDS = 300;

type Failed = { ok: false; problem: SignatureProblem };
const ok: SignatureCheck = { ok: true };
const no = (problem: SignatureProblem): Failed => ({ ok: false, problem });

type Header = string | string[] | undefined;
const single = (h: Header): string | undefined => (Array.isArray(h) ? undefined : h);

/**
 * The timestamp and signature headers of a signed request (Slack, Discord): each present once, the
 * signature in `shape`, the timestamp whole seconds within the replay window of now.
 */
function signedHeaders(
  input: { timestamp: Header; signature: Header; nowSeconds: number },
  shape: RegExp,
): { ok: true; timestamp: string; signature: string } | Failed {
  const timestamp = single(input.timestamp);
  const signature = single(input.signature);
  if (!timestamp || !signature) return no('missing');
  if (!shape.test(signature) || !/^\d{1,12}$/.test(timestamp)) return no('malformed');
  if (Math.abs(input.nowSeconds - Number(timestamp)) > REPLAY_WINDOW_SECONDS) return no('stale');
  return { ok: true, timestamp, signature };
}

export function verifySlack(input: {
  signingSecret: string;
  timestamp: Header;
  signature: Header;
  body: Buffer;
  nowSeconds: number;
}): SignatureCheck {
  const signed = signedHeaders(input, /^v0=[0-9a-f]{64}$/);
  if (!signed.ok) return signed;
  const mac = createHmac('sha256', input.signingSecret);
  mac.update(`v0:${signed.timestamp}:`);
  mac.update(input.body);
  const expected = Buffer.from(`v0=${mac.digest('hex')}`);
  return timingSafeEqual(expected, Buffer.from(signed.signature)) ? ok : no('bad-signature');
}

/** A Discord application public key (64 hex chars, as the developer portal shows it). */
export function discordPublicKey(hex: string): KeyObject {
  if (!/^[0-9a-f]{64}$/i.test(hex)) {
    throw new Error('the Discord public key must be 64 hex characters (General Information → Public Key)');
  }
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hex, 'hex').toString('base64url') },
    format: 'jwk',
  });
}

export function verifyDiscord(input: {
  publicKey: KeyObject;
  timestamp: Header;
  signature: Header;
  body: Buffer;
  nowSeconds: number;
}): SignatureCheck {
  const signed = signedHeaders(input, /^[0-9a-f]{128}$/i);
  if (!signed.ok) return signed;
  const message = Buffer.concat([Buffer.from(signed.timestamp, 'utf8'), input.body]);
  return verify(null, message, input.publicKey, Buffer.from(signed.signature, 'hex'))
    ? ok
    : no('bad-signature');
}

export function verifyTelegram(input: { secretToken: string; header: Header }): SignatureCheck {
  const header = single(input.header);
  if (!header) return no('missing');
  const a = Buffer.from(header);
  const b = Buffer.from(input.secretToken);
  if (a.length !== b.length) return no('bad-signature');
  return timingSafeEqual(a, b) ? ok : no('bad-signature');
}

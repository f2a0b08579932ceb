/**
 * The approval UI's guards, as small pure pieces: the Host/Origin allowlists
 * (loopback binding alone does not stop DNS rebinding), timing-safe token
 * comparison, failed-auth throttling (that never refuses the right token), and
 * the response headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A Host a browser on this machine may legitimately send: a loopback name with any port (the UI's own, or a
 * local port forwarded to it, e.g. by `closedpaw ui`). DNS rebinding is stopped by the name: a rebound
 * domain arrives with its own name as Host.
 */
const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/i;

export function hostAllowed(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host);
}

/** A write may come only from the UI's own page: the origin of the very Host the request was sent to. */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  return (
    origin !== undefined && hostAllowed(host) && origin.toLowerCase() === `http://${host!.toLowerCase()}`
  );
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison over equal-length digests, so neither content nor length leaks. */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer …` header; null when absent, '' when malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match ? match[1]! : '';
}

/**
 * Query parameters that look like credentials (`token`, `access_token`, `auth`, `key`…).
 * A request carrying one is refused outright: credentials never travel in URLs.
 */
export function queryCarriesCredential(url: string): boolean {
  const q = url.indexOf('?');
  if (q < 0) return false;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of params.keys()) {
    if (/token|auth|key|secret|bearer|session|password/i.test(name)) return true;
  }
  return false;
}

/** The path of a request URL without its query string (what is safe to log). */
export const pathOnly = (url: string): string => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

export interface BucketOptions {
  /** Failures allowed in a burst. */
  burst: number;
  /** Failures forgiven per second. */
  refillPerSecond: number;
}

export interface AuthLimits {
  /** Per client: the remote address without its port (every local process shares 127.0.0.1). */
  perClient: BucketOptions;
  /** Per TCP connection. */
  perConnection: BucketOptions;
  /** Across all clients. */
  global: BucketOptions;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  perClient: { burst: 10, refillPerSecond: 0.5 },
  perConnection: { burst: 5, refillPerSecond: 0.2 },
  global: { burst: 30, refillPerSecond: 1 },
};

interface Bucket {
  tokens: number;
  at: number;
}

/** The throttling key of a remote address: `::ffff:127.0.0.1` and `127.0.0.1` are one client. */
export const clientKey = (remoteAddress: string | undefined): string =>
  (remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').toLowerCase();

/**
 * Throttles failed authentications, per client, per connection and globally,
 * with token buckets. It is consulted only after a token failed to match: a
 * correct token always authenticates, so nobody can lock the human out by
 * sending wrong tokens. Throttling bounds the work and the audit noise of
 * guessing (a 256-bit token cannot be guessed anyway).
 */
export class AuthThrottle {
  private readonly limits: AuthLimits;
  private readonly now: () => number;
  private readonly perClient = new Map<string, Bucket>();
  private readonly perConnection = new WeakMap<object, Bucket>();
  private readonly global: Bucket;

  constructor(limits: AuthLimits = DEFAULT_AUTH_LIMITS, now: () => number = () => performance.now()) {
    this.limits = limits;
    this.now = now;
    this.global = { tokens: limits.global.burst, at: now() };
  }

  private refill(bucket: Bucket, opts: BucketOptions): Bucket {
    const t = this.now();
    bucket.tokens = Math.min(opts.burst, bucket.tokens + ((t - bucket.at) / 1000) * opts.refillPerSecond);
    bucket.at = t;
    return bucket;
  }

  private clientBucket(client: string): Bucket {
    let b = this.perClient.get(client);
    if (!b) {
      // Bound the map: forget clients whose bucket is full again.
      if (this.perClient.size >= 1024) {
        for (const [k, v] of this.perClient) {
          if (this.refill(v, this.limits.perClient).tokens >= this.limits.perClient.burst) {
            this.perClient.delete(k);
          }
        }
      }
      b = { tokens: this.limits.perClient.burst, at: this.now() };
      this.perClient.set(client, b);
    }
    return this.refill(b, this.limits.perClient);
  }

  private connectionBucket(connection: object): Bucket {
    let b = this.perConnection.get(connection);
    if (!b) {
      b = { tokens: this.limits.perConnection.burst, at: this.now() };
      this.perConnection.set(connection, b);
    }
    return this.refill(b, this.limits.perConnection);
  }

  private buckets(client: string, connection: object): Array<[Bucket, BucketOptions]> {
    return [
      [this.clientBucket(client), this.limits.perClient],
      [this.connectionBucket(connection), this.limits.perConnection],
      [this.refill(this.global, this.limits.global), this.limits.global],
    ];
  }

  /**
   * For a request whose token did NOT match: undefined when the failure may be reported normally
   * (it is counted), else the seconds until this client may fail again (answer 429).
   */
  failure(client: string, connection: object): number | undefined {
    const buckets = this.buckets(client, connection);
    const empty = buckets.filter(([b]) => b.tokens < 1);
    if (empty.length > 0) {
      const wait = Math.max(...empty.map(([b, o]) => (1 - b.tokens) / o.refillPerSecond));
      return Math.max(1, Math.ceil(wait));
    }
    for (const [b] of buckets) b.tokens = Math.max(0, b.tokens - 1);
    return undefined;
  }
}

/** A strict CSP: only this origin, no inline script or style, no framing, no <base>, forms only to self. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), usb=(), payment=()',
  'cache-control': 'no-store',
};

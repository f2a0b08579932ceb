/**
 * The approval UI's guards, as small pure pieces: the Host/Origin allowlists
 * (loopback binding alone does not stop DNS rebinding), timing-safe token
 * comparison, failed-auth throttling, and the response headers.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Tokens shorter than this are refused: the token is the only credential. */
export const MIN_TOKEN_CHARS = 32;

/** A fresh session token: 256 random bits, URL-safe. */
export const generateUiToken = (): string => randomBytes(32).toString('base64url');

/** Every `host:port` a browser on this machine may legitimately send as Host. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

/** The origins a write may come from: the UI's own page, under any of its loopback names. */
export function allowedOrigins(port: number): Set<string> {
  return new Set([...allowedHosts(port)].map((h) => `http://${h}`));
}

export function hostAllowed(host: string | undefined, port: number): boolean {
  return host !== undefined && allowedHosts(port).has(host.toLowerCase());
}

export function originAllowed(origin: string | undefined, port: number): boolean {
  return origin !== undefined && allowedOrigins(port).has(origin.toLowerCase());
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
  /** Per remote address (loopback included: every local process shares 127.0.0.1). */
  perAddress: BucketOptions;
  /** Across all addresses. */
  global: BucketOptions;
}

export const DEFAULT_AUTH_LIMITS: AuthLimits = {
  perAddress: { burst: 10, refillPerSecond: 0.5 },
  global: { burst: 30, refillPerSecond: 1 },
};

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Failed-authentication throttle: token buckets per remote address and one
 * global. Each failure takes a token; an empty bucket means 429 for every
 * authentication attempt from there (a correct token included) until it refills.
 */
export class AuthThrottle {
  private readonly limits: AuthLimits;
  private readonly now: () => number;
  private readonly perAddress = new Map<string, Bucket>();
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

  private bucket(address: string): Bucket {
    let b = this.perAddress.get(address);
    if (!b) {
      // Bound the map: forget addresses whose bucket is full again.
      if (this.perAddress.size >= 1024) {
        for (const [k, v] of this.perAddress) {
          if (this.refill(v, this.limits.perAddress).tokens >= this.limits.perAddress.burst) {
            this.perAddress.delete(k);
          }
        }
      }
      b = { tokens: this.limits.perAddress.burst, at: this.now() };
      this.perAddress.set(address, b);
    }
    return this.refill(b, this.limits.perAddress);
  }

  /** True when an attempt from `address` must be refused without even looking at the token. */
  blocked(address: string): boolean {
    return this.bucket(address).tokens < 1 || this.refill(this.global, this.limits.global).tokens < 1;
  }

  /** Seconds until `address` may try again (for Retry-After). */
  retryAfterSeconds(address: string): number {
    const local = this.bucket(address);
    const global = this.refill(this.global, this.limits.global);
    const wait = (b: Bucket, o: BucketOptions) => Math.max(0, (1 - b.tokens) / o.refillPerSecond);
    return Math.max(
      1,
      Math.ceil(Math.max(wait(local, this.limits.perAddress), wait(global, this.limits.global))),
    );
  }

  fail(address: string): void {
    const local = this.bucket(address);
    local.tokens = Math.max(0, local.tokens - 1);
    const global = this.refill(this.global, this.limits.global);
    global.tokens = Math.max(0, global.tokens - 1);
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

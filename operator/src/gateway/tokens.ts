/**
 * Per-task gateway tokens: compact JWS (EdDSA / Ed25519) signed by the operator, verified by the
 * gateway. A token grants one task's model calls, within its budget, until it expires or the task
 * ends; the gateway checks the task state separately, so expiry is only the outer bound.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  errors,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { z } from 'zod';
import { GATEWAY_TOKEN, type TaskTokenClaims, taskTokenClaimsSchema } from '../api/agent-protocol.ts';
import { fsyncDir } from '../audit/fsutil.ts';

export const TOKEN_ALG = 'EdDSA';
/** Extra lifetime beyond the task's timeout: the pod may wait to be scheduled. */
export const TOKEN_GRACE_SECONDS = 300;
/** Clock skew accepted on exp/nbf/iat between the operator and the gateway (same process today). */
export const CLOCK_TOLERANCE_SECONDS = 30;

export interface GatewayKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** RFC 7638 thumbprint of the public key; carried in the token header. */
  kid: string;
}

export interface TaskIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export interface TokenSpec {
  model: string;
  budget: TaskTokenClaims['budget'];
  timeoutSeconds: number;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

export async function generateGatewayKey(): Promise<GatewayKey> {
  const { privateKey, publicKey } = await generateKeyPair(TOKEN_ALG, { crv: 'Ed25519', extractable: true });
  return { privateKey, publicKey, kid: await calculateJwkThumbprint(await exportJWK(publicKey)) };
}

/** The private key as a JWK (with `kid` and `alg`), for storage. */
export async function exportGatewayKey(key: GatewayKey): Promise<JWK> {
  return { ...(await exportJWK(key.privateKey)), kid: key.kid, alg: TOKEN_ALG };
}

const privateJwkSchema = z.object({
  kty: z.literal('OKP', 'gateway key must be an OKP JWK'),
  crv: z.literal('Ed25519', 'gateway key must use crv Ed25519'),
  x: z.string().min(1),
  d: z.string({ error: 'gateway key file holds no private part (d)' }).min(1),
});

export async function importGatewayKey(jwk: unknown): Promise<GatewayKey> {
  const parsed = privateJwkSchema.safeParse(jwk);
  if (!parsed.success) throw new TokenError(`invalid gateway key: ${parsed.error.issues[0]?.message}`);
  const { kty, crv, x, d } = parsed.data;
  const privateKey = (await importJWK({ kty, crv, x, d }, TOKEN_ALG, { extractable: true })) as CryptoKey;
  const publicKey = (await importJWK({ kty, crv, x }, TOKEN_ALG)) as CryptoKey;
  return { privateKey, publicKey, kid: await calculateJwkThumbprint({ kty, crv, x }) };
}

/**
 * Loads the gateway's signing key from `file`, creating it (mode 0600, atomically, durably) if it does
 * not exist, so tokens issued before an operator restart stay valid. A file readable by group or
 * others is refused.
 */
export async function loadOrCreateGatewayKey(file: string): Promise<GatewayKey> {
  const existing = await readKeyFile(file);
  if (existing !== undefined) return importGatewayKey(existing);
  const key = await generateGatewayKey();
  const created = await createExclusively(file, `${JSON.stringify(await exportGatewayKey(key))}\n`);
  // Another process created it first: use theirs, so both sign with the same key.
  return created ? key : importGatewayKey(await readKeyFile(file));
}

async function readKeyFile(file: string): Promise<unknown> {
  let text: string;
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8);
      throw new TokenError(
        `gateway key ${file} has mode ${mode}; it must not be readable by others: chmod 600`,
      );
    }
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TokenError(`gateway key ${file} is not JSON; delete it to generate a new key`);
  }
}

/** Writes a temp file, fsyncs it, then hard-links it into place (fails if `file` exists). */
async function createExclusively(file: string, data: string): Promise<boolean> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(tmp, { force: true });
    await fsyncDir(dir);
  }
}

/** Signs a token for one task. `exp = iat + timeoutSeconds + TOKEN_GRACE_SECONDS`. */
export async function issueTaskToken(
  key: GatewayKey,
  task: TaskIdentity,
  spec: TokenSpec,
  now: Date = new Date(),
): Promise<string> {
  if (!Number.isInteger(spec.timeoutSeconds) || spec.timeoutSeconds < 1) {
    throw new TokenError(`timeoutSeconds must be a positive integer, got ${spec.timeoutSeconds}`);
  }
  const iat = Math.floor(now.getTime() / 1000);
  const claims = taskTokenClaimsSchema.safeParse({
    iss: GATEWAY_TOKEN.issuer,
    aud: GATEWAY_TOKEN.audience,
    sub: `${task.namespace}/${task.name}`,
    jti: randomBytes(16).toString('base64url'),
    iat,
    exp: iat + spec.timeoutSeconds + TOKEN_GRACE_SECONDS,
    task: { namespace: task.namespace, name: task.name, uid: task.uid },
    model: spec.model,
    budget: spec.budget,
  });
  if (!claims.success) {
    const issue = claims.error.issues[0];
    throw new TokenError(`cannot issue gateway token: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return new SignJWT(claims.data)
    .setProtectedHeader({ alg: TOKEN_ALG, typ: GATEWAY_TOKEN.type, kid: key.kid })
    .sign(key.privateKey);
}

export interface TokenVerifier {
  /** The token's claims, or a TokenError saying why it is refused. */
  verify(token: string): Promise<TaskTokenClaims>;
}

export interface VerifierOptions {
  clockToleranceSeconds?: number;
  now?: () => Date;
  /** Verified tokens remembered (default 1024). */
  cacheSize?: number;
}

export async function createTokenVerifier(
  publicKey: CryptoKey | JWK,
  opts: VerifierOptions = {},
): Promise<TokenVerifier> {
  const key = isJwk(publicKey) ? await importPublicJwk(publicKey) : publicKey;
  if (key.type !== 'public' || key.algorithm.name !== 'Ed25519') {
    throw new TokenError('the token verifier needs an Ed25519 public key');
  }
  const tolerance = opts.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS;
  const nowSeconds = () => Math.floor((opts.now?.() ?? new Date()).getTime() / 1000);
  // A runner sends the same token on every call: remember verified tokens (exact bytes) and re-check
  // only the expiry, which is all that can change. Bounded; the oldest entry goes first.
  const verified = new Map<string, TaskTokenClaims>();
  const cacheSize = opts.cacheSize ?? 1024;

  async function verifyUncached(token: string): Promise<TaskTokenClaims> {
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [TOKEN_ALG],
        typ: GATEWAY_TOKEN.type,
        issuer: GATEWAY_TOKEN.issuer,
        audience: GATEWAY_TOKEN.audience,
        clockTolerance: tolerance,
        requiredClaims: ['exp', 'iat', 'jti', 'sub'],
        ...(opts.now ? { currentDate: opts.now() } : {}),
      }));
    } catch (err) {
      throw new TokenError(describeJoseError(err), { cause: err });
    }
    const claims = taskTokenClaimsSchema.safeParse(payload);
    if (!claims.success) {
      const issue = claims.error.issues[0];
      throw new TokenError(`token claims invalid: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    const { task, sub, iat } = claims.data;
    if (sub !== `${task.namespace}/${task.name}`) {
      throw new TokenError('token subject does not match its task');
    }
    // jose checks iat only against maxTokenAge; a token from the future means a clock or key problem.
    if (iat > nowSeconds() + tolerance) throw new TokenError('token issued in the future (check the clocks)');
    return deepFreeze(claims.data);
  }

  return {
    async verify(token) {
      const cached = verified.get(token);
      if (cached) {
        if (nowSeconds() <= cached.exp + tolerance) return cached;
        verified.delete(token);
        throw new TokenError('token expired');
      }
      const claims = await verifyUncached(token);
      verified.set(token, claims);
      if (verified.size > cacheSize) verified.delete(verified.keys().next().value as string);
      return claims;
    },
  };
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(value);
}

function isJwk(k: CryptoKey | JWK): k is JWK {
  return typeof (k as JWK).kty === 'string';
}

async function importPublicJwk(jwk: JWK): Promise<CryptoKey> {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TokenError('the token verifier needs an Ed25519 public JWK (kty OKP, crv Ed25519)');
  }
  return (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, TOKEN_ALG)) as CryptoKey;
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed (EdDSA only)';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof errors.JWTClaimValidationFailed)
    return `token claim "${err.claim}" invalid: ${err.reason}`;
  if (err instanceof errors.JOSEError) return `token malformed (${err.code})`;
  return 'token could not be verified';
}

// Key files for the audit store and the vault.
//
// A key directory (a Kubernetes Secret mounted into the operator only) holds one JSON file per key id,
// `<kid>.json`, plus a text file `active` naming the key used for new records and checkpoints. Old key
// files stay in the directory so older records and checkpoints keep verifying. See docs/audit.md.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import type { CheckpointKeys } from './checkpoint.ts';
import { writeFileAtomic, writeFileNew } from './fsutil.ts';
import { KID_PATTERN } from './record.ts';

export { KID_PATTERN };
export const ACTIVE_FILE = 'active';
const RECORD_KEY_INFO = 'closedpaw/audit/record/v1';
const VAULT_KEY_INFO = 'closedpaw/vault/v1';

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);
export const keyFileSchema = z.strictObject({
  v: z.literal(1),
  kid: z.string().regex(KID_PATTERN),
  created: z.iso.datetime({ offset: true }),
  /** 32 bytes from a CSPRNG, standard base64. Record and vault keys are derived from it with HKDF. */
  secret: z.string(),
  /** Ed25519 private key (RFC 8037 JWK) used to sign checkpoints. */
  signingKey: z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64url, d: b64url }),
});
export type KeyFile = z.infer<typeof keyFileSchema>;

export class KeyError extends Error {
  override name = 'KeyError';
}

/** One key id's material. Never serialises its secrets. */
export class AuditKey {
  readonly kid: string;
  readonly created: string;
  /** XChaCha20-Poly1305 key for audit records. */
  readonly recordKey: Uint8Array;
  /** XChaCha20-Poly1305 key for vault entries. */
  readonly vaultKey: Uint8Array;
  readonly signingKey: KeyObject;
  readonly verifyKey: KeyObject;

  constructor(file: KeyFile) {
    const secret = decodeSecret(file);
    this.kid = file.kid;
    this.created = file.created;
    this.recordKey = derive(secret, RECORD_KEY_INFO);
    this.vaultKey = derive(secret, VAULT_KEY_INFO);
    secret.fill(0);
    this.signingKey = createPrivateKey({ key: file.signingKey, format: 'jwk' });
    this.verifyKey = createPublicKey(this.signingKey);
    if (this.verifyKey.export({ format: 'jwk' }).x !== file.signingKey.x) {
      throw new KeyError(`key ${file.kid}: signingKey.x does not match signingKey.d`);
    }
  }

  toJSON(): object {
    return { kid: this.kid, created: this.created };
  }

  [inspect.custom](): string {
    return `AuditKey(${this.kid})`;
  }
}

function decodeSecret(file: KeyFile): Buffer {
  const secret = Buffer.from(file.secret, 'base64');
  if (secret.length !== 32 || secret.toString('base64') !== file.secret) {
    throw new KeyError(`key ${file.kid}: secret must be 32 bytes, canonical base64`);
  }
  return secret;
}

function derive(secret: Uint8Array, info: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), info, 32));
}

/** All known keys, by id, plus the active one. */
export class Keyring implements CheckpointKeys {
  readonly active: AuditKey;
  readonly #keys: ReadonlyMap<string, AuditKey>;

  constructor(keys: readonly AuditKey[], activeKid: string) {
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
    const active = this.#keys.get(activeKid);
    if (!active) throw new KeyError(`active key id "${activeKid}" has no key file`);
    this.active = active;
  }

  get(kid: string): AuditKey | undefined {
    return this.#keys.get(kid);
  }

  get kids(): string[] {
    return [...this.#keys.keys()].sort();
  }

  toJSON(): object {
    return { active: this.active.kid, kids: this.kids };
  }

  [inspect.custom](): string {
    return `Keyring(active=${this.active.kid}, kids=${this.kids.join(',')})`;
  }
}

/** Parses and checks one key file's JSON text. */
export function parseKeyFile(text: string, source: string): AuditKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeyError(`${source}: not valid JSON`);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) throw new KeyError(`${source}: ${z.prettifyError(parsed.error)}`);
  return new AuditKey(parsed.data);
}

/**
 * Loads every `<kid>.json` in `dir` (dot-files, such as the `..data` links of a Secret mount, are
 * skipped). The active key is the one named in `active`, or the newest by `created` if that file is absent.
 */
export async function loadKeyring(dir: string): Promise<Keyring> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  const keys: AuditKey[] = [];
  for (const name of names.sort()) {
    const key = parseKeyFile(await readFile(join(dir, name), 'utf8'), join(dir, name));
    if (`${key.kid}.json` !== name) throw new KeyError(`${join(dir, name)} declares kid "${key.kid}"`);
    keys.push(key);
  }
  if (keys.length === 0) throw new KeyError(`no key files (<kid>.json) in ${dir}`);
  return new Keyring(keys, (await readActive(dir)) ?? newest(keys).kid);
}

async function readActive(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, ACTIVE_FILE), 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function newest(keys: readonly AuditKey[]): AuditKey {
  return keys.reduce((a, b) => (Date.parse(b.created) > Date.parse(a.created) ? b : a));
}

/** Builds a fresh key file: a 32-byte CSPRNG secret and an Ed25519 signing key pair. */
export function newKeyFile(kid = defaultKid(), now = new Date()): KeyFile {
  if (!KID_PATTERN.test(kid)) throw new KeyError(`invalid key id "${kid}" (want ${KID_PATTERN.source})`);
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return {
    v: 1,
    kid,
    created: now.toISOString(),
    secret: randomBytes(32).toString('base64'),
    signingKey: { kty: 'OKP', crv: 'Ed25519', x: jwk.x ?? '', d: jwk.d ?? '' },
  };
}

function defaultKid(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  return `k-${day}-${randomBytes(3).toString('hex')}`;
}

export interface GeneratedKey {
  kid: string;
  path: string;
  active: boolean;
  /** Public half of the checkpoint signing key, for publishing to external verifiers. */
  publicJwk: PublicJwk;
}

/** Writes a new `<kid>.json` (mode 0600, never overwriting) and, unless told not to, makes it active. */
export async function generateKey(
  dir: string,
  opts: { kid?: string; activate?: boolean } = {},
): Promise<GeneratedKey> {
  const file = newKeyFile(opts.kid);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${file.kid}.json`);
  await writeFileNew(path, `${JSON.stringify(file, null, 2)}\n`);
  const activate = opts.activate ?? true;
  if (activate) await writeFileAtomic(join(dir, ACTIVE_FILE), `${file.kid}\n`);
  return {
    kid: file.kid,
    path,
    active: activate,
    publicJwk: publicJwk(file.kid, file.signingKey.x),
  };
}

/** A published checkpoint verification key (RFC 8037 public JWK with its key id). */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'Ed25519';
  use: 'sig';
}

export interface Jwks {
  keys: PublicJwk[];
}

function publicJwk(kid: string, x: string): PublicJwk {
  return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'Ed25519', use: 'sig' };
}

/** The public keys of every key in the ring, as a JWKS an external auditor can verify checkpoints with. */
export function publicJwks(keyring: Keyring): Jwks {
  return {
    keys: keyring.kids.map((kid) => {
      const x = keyring.get(kid)?.verifyKey.export({ format: 'jwk' }).x ?? '';
      return publicJwk(kid, x);
    }),
  };
}

/** A checkpoint verification key: no secrets, so it can verify checkpoints but open no record. */
export interface PublicKey {
  readonly kid: string;
  readonly verifyKey: KeyObject;
}

/** Public keys by id, loaded from a JWKS: enough to verify the chain and checkpoints, not the contents. */
export class PublicKeyring implements CheckpointKeys {
  readonly #keys: ReadonlyMap<string, PublicKey>;

  constructor(keys: readonly PublicKey[]) {
    if (keys.length === 0) throw new KeyError('no public keys');
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
  }

  get(kid: string): PublicKey | undefined {
    return this.#keys.get(kid);
  }

  get kids(): string[] {
    return [...this.#keys.keys()].sort();
  }

  /** Parses a JWKS (`{"keys":[…]}`) of Ed25519 public JWKs; private members are refused. */
  static fromJwks(json: unknown, source = 'JWKS'): PublicKeyring {
    const parsed = jwksSchema.safeParse(json);
    if (!parsed.success) throw new KeyError(`${source}: ${z.prettifyError(parsed.error)}`);
    const keys = parsed.data.keys.map((jwk, i) => {
      if ('d' in jwk) {
        throw new KeyError(
          `${source}: key ${jwk.kid} holds private key material ("d"); publish only public keys`,
        );
      }
      try {
        const verifyKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
        return { kid: jwk.kid, verifyKey };
      } catch (err) {
        throw new KeyError(
          `${source}: keys[${i}] (${jwk.kid}) is not an Ed25519 public key: ${(err as Error).message}`,
        );
      }
    });
    return new PublicKeyring(keys);
  }

  toJSON(): object {
    return { kids: this.kids };
  }
}

const jwksSchema = z.object({
  keys: z
    .array(
      z.looseObject({
        kty: z.literal('OKP'),
        crv: z.literal('Ed25519'),
        x: b64url,
        kid: z.string().regex(KID_PATTERN),
        alg: z.enum(['Ed25519', 'EdDSA']).optional(),
        use: z.literal('sig').optional(),
      }),
    )
    .min(1),
});

/** Loads a JWKS file written by `closedpaw audit pubkey`. */
export async function loadPublicKeyring(path: string): Promise<PublicKeyring> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if (err instanceof SyntaxError) throw new KeyError(`${path}: not valid JSON`);
    throw err;
  }
  return PublicKeyring.fromJwks(json, path);
}

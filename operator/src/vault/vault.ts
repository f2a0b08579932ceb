// Provider API keys, encrypted at rest. One file per provider, `<dir>/<provider>.json`:
//   { "v": 1, "provider": "openai", "kid": "<key id>", "nonce": "<24 bytes b64>", "ciphertext": "<b64>" }
// ciphertext = XChaCha20-Poly1305(vault key of kid, nonce, AAD = "closedpaw-vault/v1" 0 provider 0 kid, secret).
// The vault key is derived from the same key files as the audit store (see audit/keys.ts). Secrets are
// decrypted only in the operator process and handed out as SecretValue, which never prints.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { z } from 'zod';
import { readIfExists, writeFileAtomic } from '../audit/fsutil.ts';
import { type AuditKey, type Keyring, KID_PATTERN } from '../audit/keys.ts';
import { SecretValue } from './secret.ts';

export const PROVIDER_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NONCE_LEN = 24;

const entrySchema = z.strictObject({
  v: z.literal(1),
  provider: z.string().regex(PROVIDER_PATTERN),
  kid: z.string().regex(KID_PATTERN),
  nonce: z.base64(),
  ciphertext: z.base64(),
});
type Entry = z.infer<typeof entrySchema>;

export type VaultErrorCode = 'bad-name' | 'not-found' | 'corrupt' | 'unknown-key' | 'bad-mac';

export class VaultError extends Error {
  override name = 'VaultError';
  readonly code: VaultErrorCode;
  constructor(code: VaultErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function aad(provider: string, kid: string): Uint8Array {
  return Buffer.from(`closedpaw-vault/v1\0${provider}\0${kid}`, 'utf8');
}

export class Vault {
  readonly #dir: string;
  readonly #keyring: Keyring;

  private constructor(dir: string, keyring: Keyring) {
    this.#dir = dir;
    this.#keyring = keyring;
  }

  static async open(dir: string, keyring: Keyring): Promise<Vault> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new Vault(dir, keyring);
  }

  /** Encrypts and stores (or replaces) a provider's key under the active key id. */
  async put(provider: string, secret: string | SecretValue): Promise<void> {
    const { file } = this.#path(provider);
    const key = this.#keyring.active;
    const plaintext = Buffer.from(typeof secret === 'string' ? secret : secret.reveal(), 'utf8');
    const nonce = randomBytes(NONCE_LEN);
    const ciphertext = xchacha20poly1305(key.vaultKey, nonce, aad(provider, key.kid)).encrypt(plaintext);
    plaintext.fill(0);
    const entry: Entry = {
      v: 1,
      provider,
      kid: key.kid,
      nonce: nonce.toString('base64'),
      ciphertext: Buffer.from(ciphertext).toString('base64'),
    };
    await writeFileAtomic(file, `${JSON.stringify(entry)}\n`);
  }

  /** Decrypts a provider's key. Throws VaultError('not-found' | 'corrupt' | 'unknown-key' | 'bad-mac'). */
  async get(provider: string): Promise<SecretValue> {
    const entry = await this.#read(provider);
    const key = this.#keyring.get(entry.kid);
    if (!key)
      throw new VaultError('unknown-key', `vault entry "${provider}" uses unknown key id "${entry.kid}"`);
    return new SecretValue(decrypt(entry, key));
  }

  async has(provider: string): Promise<boolean> {
    return (await readIfExists(this.#path(provider).file)) !== undefined;
  }

  async delete(provider: string): Promise<boolean> {
    const { file } = this.#path(provider);
    const existed = await this.has(provider);
    await rm(file, { force: true });
    return existed;
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.#dir);
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -'.json'.length))
      .filter((n) => PROVIDER_PATTERN.test(n))
      .sort();
  }

  /** Re-encrypts every entry under the active key (after a key rotation). Returns how many changed. */
  async rewrap(): Promise<number> {
    let changed = 0;
    for (const provider of await this.list()) {
      if ((await this.#read(provider)).kid === this.#keyring.active.kid) continue;
      await this.put(provider, await this.get(provider));
      changed++;
    }
    return changed;
  }

  #path(provider: string): { file: string } {
    if (!PROVIDER_PATTERN.test(provider))
      throw new VaultError('bad-name', `invalid provider name "${provider}"`);
    return { file: join(this.#dir, `${provider}.json`) };
  }

  async #read(provider: string): Promise<Entry> {
    const raw = await readIfExists(this.#path(provider).file);
    if (!raw) throw new VaultError('not-found', `no vault entry for "${provider}"`);
    let parsed: Entry;
    try {
      parsed = entrySchema.parse(JSON.parse(raw.toString('utf8')));
    } catch {
      throw new VaultError('corrupt', `vault entry "${provider}" is malformed`);
    }
    if (parsed.provider !== provider)
      throw new VaultError('corrupt', `vault entry "${provider}" names "${parsed.provider}"`);
    return parsed;
  }
}

function decrypt(entry: Entry, key: AuditKey): string {
  const nonce = Buffer.from(entry.nonce, 'base64');
  if (nonce.length !== NONCE_LEN)
    throw new VaultError('corrupt', `vault entry "${entry.provider}" has a bad nonce`);
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(key.vaultKey, nonce, aad(entry.provider, entry.kid)).decrypt(
      Buffer.from(entry.ciphertext, 'base64'),
    );
  } catch {
    throw new VaultError('bad-mac', `vault entry "${entry.provider}" failed authentication`);
  }
  const text = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length).toString('utf8');
  plaintext.fill(0);
  return text;
}

/**
 * Provider API keys for the gateway: read from the vault when first needed and kept in memory (as a
 * SecretValue, which never prints) for `ttlMs`, so `closedpaw vault set` takes effect without a restart.
 * Only the gateway holds them; nothing here logs, returns or records a key's text.
 */
import type { SecretValue } from '../../vault/secret.ts';

export interface KeySource {
  /** The key of a vault entry; rejects with a message naming the entry (never the value) if missing. */
  get(keyName: string): Promise<SecretValue>;
}

export interface VaultReader {
  get(name: string): Promise<SecretValue>;
}

export function cachedVaultKeys(
  vault: VaultReader,
  opts: { ttlMs?: number; now?: () => number } = {},
): KeySource {
  const ttl = opts.ttlMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: SecretValue; at: number }>();
  return {
    async get(keyName) {
      const hit = cache.get(keyName);
      if (hit && now() - hit.at < ttl) return hit.value;
      try {
        const value = await vault.get(keyName);
        cache.set(keyName, { value, at: now() });
        return value;
      } catch (err) {
        cache.delete(keyName);
        const code = (err as { code?: unknown }).code;
        throw new Error(
          code === 'not-found'
            ? `no API key in the vault entry "${keyName}": run closedpaw vault set ${keyName} (value on stdin)`
            : `the vault entry "${keyName}" cannot be read (${String(code ?? 'error')})`,
        );
      }
    },
  };
}

/** Replaces a key (and secret-shaped provider tokens) in text that may be relayed or logged. */
export function scrubSecrets(text: string, secret?: string): string {
  let out = text;
  if (secret && secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  return out.replace(/\b(sk-[A-Za-z0-9_*.-]{4,}|xox[abpr]-[A-Za-z0-9-]{4,})/g, '[REDACTED]');
}

// Public API of the encrypted vault for provider API keys. See docs/audit.md ("Vault").
export { secretSerializer, vaultLoggerOptions, vaultRedactPaths } from './redact.ts';
export { REDACTED, SecretValue } from './secret.ts';
export { PROVIDER_PATTERN, Vault, VaultError, type VaultErrorCode } from './vault.ts';

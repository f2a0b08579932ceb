// Public API of the encrypted vault for provider API keys and bot tokens. See docs/audit.md ("Vault").
export { type VaultLocations, vaultLocations } from './locations.ts';
export { secretSerializer, vaultLoggerOptions, vaultRedactPaths } from './redact.ts';
export { REDACTED, SecretValue } from './secret.ts';
export { PROVIDER_PATTERN, Vault, VaultError, type VaultErrorCode } from './vault.ts';

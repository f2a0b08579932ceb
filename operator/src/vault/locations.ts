/**
 * Where the vault lives, shared by the operator and `closedpaw vault`: CLOSEDPAW_VAULT_DIR, else
 * `<state dir>/vault`; its encryption key is the audit keyring (CLOSEDPAW_AUDIT_KEYS_DIR, else
 * `<state dir>/audit-keys`). The state dir is the operator's: CLOSEDPAW_STATE_DIR, else
 * `$XDG_STATE_HOME/closedpaw`, else `~/.local/state/closedpaw`.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface VaultLocations {
  vaultDir: string;
  keysDir: string;
  /** The keys dir is the default one, where the operator generates a key on first start (and so may we). */
  defaultKeys: boolean;
}

/** The operator's state directory for this environment. */
export function stateDirOf(env: Record<string, string | undefined>): string {
  return env.CLOSEDPAW_STATE_DIR
    ? resolve(env.CLOSEDPAW_STATE_DIR)
    : join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'closedpaw');
}

export function vaultLocations(env: Record<string, string | undefined>): VaultLocations {
  const state = stateDirOf(env);
  return {
    vaultDir: env.CLOSEDPAW_VAULT_DIR ? resolve(env.CLOSEDPAW_VAULT_DIR) : join(state, 'vault'),
    keysDir: env.CLOSEDPAW_AUDIT_KEYS_DIR ? resolve(env.CLOSEDPAW_AUDIT_KEYS_DIR) : join(state, 'audit-keys'),
    defaultKeys: !env.CLOSEDPAW_AUDIT_KEYS_DIR,
  };
}

/**
 * `closedpaw vault set NAME | list | delete NAME`: the encrypted store of provider API keys and bot
 * tokens. A value is read from stdin only (never an argument, which shells keep in history and `ps`
 * shows) and never printed; `list` shows names only. Where: see vault/locations.ts.
 */
import { readdir } from 'node:fs/promises';
import { generateKey, loadKeyring } from '../audit/index.ts';
import { PROVIDER_PATTERN, Vault, type VaultLocations, vaultLocations } from '../vault/index.ts';

export interface VaultCliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** The value for `set`: stdin as bytes. */
  stdin: AsyncIterable<Buffer | string> & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

const USAGE = `usage: closedpaw vault <command>
  set NAME      store the value read from stdin (e.g. closedpaw vault set openai < key.txt)
  list          the names stored (never the values)
  delete NAME   remove an entry
The vault is CLOSEDPAW_VAULT_DIR (default <state dir>/vault), encrypted with the audit keys
(CLOSEDPAW_AUDIT_KEYS_DIR, default <state dir>/audit-keys). Names: ${PROVIDER_PATTERN.source}`;

const MAX_VALUE_BYTES = 16 * 1024;

/** The commands `closedpaw vault` dispatches (shell completion offers them). */
export const VAULT_SUBCOMMANDS = ['set', 'list', 'delete'] as const;

class UsageError extends Error {}

export async function runVaultCli(argv: string[], io: VaultCliIo): Promise<number> {
  const [verb, name, ...extra] = argv;
  try {
    if (verb === undefined || verb === 'help' || verb === '--help' || verb === '-h') {
      io.stdout(USAGE);
      return verb === undefined ? 2 : 0;
    }
    // Not echoed: a value pasted as an argument must not be printed back.
    if (extra.length > 0)
      throw new UsageError('unexpected argument: values are read from stdin, never from the command line');
    const where = vaultLocations(io.env);
    switch (verb) {
      case 'set':
        return await set(requireName(name), where, io);
      case 'list':
        if (name !== undefined) throw new UsageError('list takes no argument');
        for (const entry of await (await open(where, false, io)).list()) io.stdout(entry);
        return 0;
      case 'delete': {
        const entry = requireName(name);
        const removed = await (await open(where, false, io)).delete(entry);
        io.stdout(removed ? `deleted ${entry}` : `no entry ${entry} (nothing deleted)`);
        return removed ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown command "${verb}"`);
    }
  } catch (err) {
    io.stderr(`closedpaw vault: ${(err as Error).message}${err instanceof UsageError ? `\n\n${USAGE}` : ''}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function requireName(name: string | undefined): string {
  if (!name) throw new UsageError('missing NAME');
  if (!PROVIDER_PATTERN.test(name)) {
    throw new UsageError(
      `invalid name ${JSON.stringify(name)}: lowercase letters, digits, ".", "_" and "-", at most 63`,
    );
  }
  return name;
}

async function set(name: string, where: VaultLocations, io: VaultCliIo): Promise<number> {
  if (io.stdin.isTTY)
    io.stderr('paste the value, then press Ctrl-D (it is not echoed anywhere but your terminal)');
  const value = await readValue(io.stdin);
  const vault = await open(where, true, io);
  await vault.put(name, value);
  io.stdout(`stored ${name} (${Buffer.byteLength(value)} bytes, encrypted) in ${where.vaultDir}`);
  return 0;
}

/** stdin, without one trailing newline (what `echo` and editors add); refuses empty or huge values. */
async function readValue(stdin: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_VALUE_BYTES) throw new Error(`the value on stdin is larger than ${MAX_VALUE_BYTES} bytes`);
    chunks.push(buf);
  }
  const value = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value.length === 0) throw new Error('no value on stdin (e.g. closedpaw vault set openai < key.txt)');
  if (/[\r\n]/.test(value))
    throw new Error('the value on stdin spans several lines: a key or token is one line');
  return value;
}

async function open(where: VaultLocations, forWriting: boolean, io: VaultCliIo): Promise<Vault> {
  const hasKey = (await readdir(where.keysDir).catch(() => [] as string[])).some((f) => f.endsWith('.json'));
  if (!hasKey) {
    if (!forWriting || !where.defaultKeys) {
      throw new Error(
        `no vault key in ${where.keysDir}: start the operator once (it creates one there) or run closedpaw audit keygen --dir ${where.keysDir}`,
      );
    }
    const key = await generateKey(where.keysDir);
    io.stderr(
      `generated key ${key.kid} in ${where.keysDir}: back it up; without it the vault and audit log cannot be read`,
    );
  }
  return await Vault.open(where.vaultDir, await loadKeyring(where.keysDir));
}

// Signed checkpoints: a JWS (Ed25519, compact form) over the log's id, event count, size and head hash.
// One copy lives beside the log, one in an external directory; a log shorter than either is detected.
// Verifying one needs only the public key: this signature is what binds the log for external auditors.
import type { KeyObject } from 'node:crypto';
import { basename, join } from 'node:path';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import { readIfExists, writeFileAtomic } from './fsutil.ts';
import { type AuditKey, KID_PATTERN } from './keys.ts';
import { FILE_HEADER_LEN } from './record.ts';

export const CHECKPOINT_TYP = 'closedpaw-audit-checkpoint+jws';

export const checkpointSchema = z.strictObject({
  /** 2: the log is format v2 (one frame per batch). */
  v: z.literal(2),
  /** Hex id from the log's file header. */
  logId: z.string().regex(/^[0-9a-f]{32}$/),
  /** Number of events covered (= sequence number of the last event of the last covered frame). */
  seq: z.int().min(0),
  /** Log size in bytes at that point (a frame boundary). */
  size: z.int().min(FILE_HEADER_LEN),
  /** Hex SHA-256 of the last covered frame, all its bytes (of the file header when seq is 0). */
  head: z.string().regex(/^[0-9a-f]{64}$/),
  /** Key id whose Ed25519 key signed this checkpoint. */
  kid: z.string().regex(KID_PATTERN),
  time: z.iso.datetime(),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

/** Whatever can name the Ed25519 verification key of a key id: a Keyring or a PublicKeyring. */
export interface CheckpointKeys {
  get(kid: string): { readonly verifyKey: KeyObject } | undefined;
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  jws: string;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  readonly code: 'unknown-key' | 'bad-checkpoint';
  constructor(code: 'unknown-key' | 'bad-checkpoint', message: string) {
    super(message);
    this.code = code;
  }
}

export async function signCheckpoint(checkpoint: Checkpoint, key: AuditKey): Promise<SignedCheckpoint> {
  const payload = new TextEncoder().encode(JSON.stringify(checkpoint));
  const jws = await new CompactSign(payload)
    .setProtectedHeader({ alg: 'Ed25519', kid: key.kid, typ: CHECKPOINT_TYP })
    .sign(key.signingKey);
  return { checkpoint, jws };
}

/** Verifies signature and shape; throws CheckpointError saying why not. */
export async function verifyCheckpoint(jws: string, keyring: CheckpointKeys): Promise<Checkpoint> {
  const header = protectedHeader(jws);
  if (header.alg !== 'Ed25519' || header.typ !== CHECKPOINT_TYP) {
    throw new CheckpointError(
      'bad-checkpoint',
      `unexpected checkpoint header alg=${header.alg} typ=${header.typ}`,
    );
  }
  const kid = header.kid ?? '';
  const key = keyring.get(kid);
  if (!key) throw new CheckpointError('unknown-key', `checkpoint signed with unknown key id "${kid}"`);
  let payload: Uint8Array;
  try {
    payload = (await compactVerify(jws, key.verifyKey, { algorithms: ['Ed25519'] })).payload;
  } catch {
    throw new CheckpointError('bad-checkpoint', 'checkpoint signature is invalid');
  }
  const checkpoint = parsePayload(payload);
  if (checkpoint?.kid !== kid) throw new CheckpointError('bad-checkpoint', 'checkpoint payload is malformed');
  return checkpoint;
}

function parsePayload(payload: Uint8Array): Checkpoint | undefined {
  try {
    return checkpointSchema.parse(JSON.parse(new TextDecoder().decode(payload)));
  } catch {
    return undefined;
  }
}

function protectedHeader(jws: string): ReturnType<typeof decodeProtectedHeader> {
  try {
    return decodeProtectedHeader(jws);
  } catch {
    throw new CheckpointError('bad-checkpoint', 'checkpoint is not a compact JWS');
  }
}

/** `<log>.checkpoint`, beside the log. */
export function localCheckpointPath(logPath: string): string {
  return `${logPath}.checkpoint`;
}

/** `<dir>/<log file name>.checkpoint`, in the external publication directory. */
export function externalCheckpointPath(dir: string, logPath: string): string {
  return join(dir, `${basename(logPath)}.checkpoint`);
}

export async function writeCheckpoint(path: string, signed: SignedCheckpoint): Promise<void> {
  await writeFileAtomic(path, `${signed.jws}\n`, 0o644);
}

/** Reads and verifies a checkpoint file; undefined if there is none. */
export async function readCheckpoint(
  path: string,
  keyring: CheckpointKeys,
): Promise<SignedCheckpoint | undefined> {
  const raw = await readIfExists(path);
  if (!raw) return undefined;
  const jws = raw.toString('utf8').trim();
  return { checkpoint: await verifyCheckpoint(jws, keyring), jws };
}

export interface CheckpointLocations {
  logPath: string;
  /** The secret Keyring, or a PublicKeyring (checkpoints need only public keys). */
  keyring: CheckpointKeys;
  checkpointDir?: string;
}

/** Both checkpoints of a log (local beside it, external if a directory is configured), verified. */
export async function readCheckpoints(
  loc: CheckpointLocations,
): Promise<{ local?: SignedCheckpoint; external?: SignedCheckpoint }> {
  const local = await readCheckpoint(localCheckpointPath(loc.logPath), loc.keyring);
  const external = loc.checkpointDir
    ? await readCheckpoint(externalCheckpointPath(loc.checkpointDir, loc.logPath), loc.keyring)
    : undefined;
  return { local, external };
}

/** The newest verified checkpoint of a log (for metrics/status), or undefined if none exists yet. */
export async function readLatestCheckpoint(loc: CheckpointLocations): Promise<SignedCheckpoint | undefined> {
  const { local, external } = await readCheckpoints(loc);
  if (!local || !external) return local ?? external;
  return external.checkpoint.seq > local.checkpoint.seq ? external : local;
}

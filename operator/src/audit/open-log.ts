// Opening the log for writing: take the writer lock, create the log or find where its verified chain
// ends, and repair a torn tail (see tail-repair.ts for what counts as one; anything else is refused).
//
// Scanning starts at the newest checkpoint (local or external), with the secret keys: frames after it
// are authenticated. A log shorter than a checkpoint, a missing log with a checkpoint, or a tail that is
// not a torn write is not a crash: opening fails and a human must look.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CheckpointError,
  type CheckpointLocations,
  externalCheckpointPath,
  localCheckpointPath,
  readCheckpoints,
  type SignedCheckpoint,
} from './checkpoint.ts';
import { writeFileAtomic, writeFileNew } from './fsutil.ts';
import type { Keyring } from './keys.ts';
import { acquireLogLock, LockedError, type LogLock } from './lock.ts';
import { encodeFileHeader, FILE_HEADER_LEN, genesisHash, LOG_ID_LEN, MAX_FRAME } from './record.ts';
import { type ChainState, type Problem, type ProblemCode, readLogId, scanFrames } from './scan.ts';
import { classifyTail } from './tail-repair.ts';

/** Upper bound on bytes written by one group commit (one frame), hence on what a crash can tear. */
export const MAX_BATCH_BYTES = MAX_FRAME;

export type AuditOpenErrorCode = ProblemCode | 'locked';

export class AuditOpenError extends Error {
  override name = 'AuditOpenError';
  readonly code: AuditOpenErrorCode;
  constructor(code: AuditOpenErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export interface Recovery {
  offset: number;
  truncatedBytes: number;
  reason: string;
  /** File holding the cut-off bytes, kept for forensics. */
  savedTo: string;
}

/** Where the log is, plus the secret keys a writer needs. */
export interface StoreLocations extends CheckpointLocations {
  keyring: Keyring;
}

export interface OpenedLog {
  fh: FileHandle;
  lock: LogLock;
  logId: Buffer;
  state: ChainState;
  /** Key id of the last frame (or of the newest checkpoint's signer). */
  lastKid?: string;
  latest?: SignedCheckpoint;
  recovery?: Recovery;
}

export async function openLog(loc: StoreLocations): Promise<OpenedLog> {
  await mkdir(dirname(loc.logPath), { recursive: true, mode: 0o700 });
  const lock = await acquireLogLock(loc.logPath).catch((err: unknown) => {
    if (err instanceof LockedError) throw new AuditOpenError('locked', err.message, { cause: err });
    throw err;
  });
  let fh: FileHandle | undefined;
  try {
    const { local, external } = await readCheckpoints(loc).catch((err: unknown) => {
      if (err instanceof CheckpointError)
        throw new AuditOpenError(err.code, `cannot open audit log: ${err.message}`);
      throw err;
    });
    fh = await openOrCreate(loc.logPath, Boolean(local ?? external));
    const logId = await readLogId(fh);
    if (!Buffer.isBuffer(logId)) throw new AuditOpenError(logId.code, `${loc.logPath}: ${logId.message}`);
    const latest = newest(local, external);
    for (const cp of [local, external]) {
      if (cp && cp.checkpoint.logId !== logId.toString('hex')) {
        throw new AuditOpenError('checkpoint-mismatch', `checkpoint belongs to log ${cp.checkpoint.logId}`);
      }
    }
    const size = (await fh.stat()).size;
    const start = startState(logId, latest, size, Boolean(local && local.checkpoint.size > size));
    const scan = await scanFrames(fh, loc.keyring, start);
    const recovery = scan.problem ? await repair(fh, loc, size, scan.end, scan.problem) : undefined;
    const lastKid = scan.lastKid ?? latest?.checkpoint.kid;
    return { fh, lock, logId, state: scan.end, lastKid, latest, recovery };
  } catch (err) {
    await fh?.close();
    await lock.release();
    throw err;
  }
}

async function openOrCreate(logPath: string, hasCheckpoint: boolean): Promise<FileHandle> {
  if (!(await exists(logPath))) {
    if (hasCheckpoint)
      throw new AuditOpenError('rollback', `log ${logPath} is missing but a checkpoint for it exists`);
    await writeFileAtomic(logPath, encodeFileHeader(randomBytes(LOG_ID_LEN)));
  }
  return open(logPath, 'r+');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

function newest(a?: SignedCheckpoint, b?: SignedCheckpoint): SignedCheckpoint | undefined {
  if (!a || !b) return a ?? b;
  return b.checkpoint.seq > a.checkpoint.seq ? b : a;
}

/** Where scanning starts: the newest checkpoint, which the log must reach. */
function startState(
  logId: Buffer,
  latest: SignedCheckpoint | undefined,
  size: number,
  localAhead: boolean,
): ChainState {
  if (!latest) return { seq: 0, head: genesisHash(logId), offset: FILE_HEADER_LEN };
  const cp = latest.checkpoint;
  if (cp.size > size) {
    // Only the external copy ahead means the log and its local checkpoint were replaced by older ones.
    const [code, what] = localAhead
      ? (['truncated', 'truncated'] as const)
      : (['rollback', 'rolled back'] as const);
    throw new AuditOpenError(
      code,
      `log ${what}: ${size} bytes, but a checkpoint covers ${cp.size} (seq ${cp.seq})`,
    );
  }
  return { seq: cp.seq, head: Buffer.from(cp.head, 'hex'), offset: cp.size };
}

async function repair(
  fh: FileHandle,
  loc: StoreLocations,
  size: number,
  end: ChainState,
  problem: Problem,
): Promise<Recovery> {
  const offset = end.offset;
  const truncatedBytes = size - offset;
  const bytes = Buffer.alloc(Math.min(truncatedBytes, MAX_FRAME + 1));
  await fh.read(bytes, 0, bytes.length, offset);
  const verdict = classifyTail({
    bytes,
    length: truncatedBytes,
    problem,
    nextSeq: end.seq + 1,
    head: end.head,
    knownKid: (kid) => loc.keyring.get(kid) !== undefined,
  });
  const where = `frame for seq ${end.seq + 1} at offset ${offset}`;
  if (!verdict.repair) throw new AuditOpenError(problem.code, refusal(loc, where, verdict.reason));
  const savedTo = `${loc.logPath}.torn-${Date.now()}`;
  await writeFileNew(savedTo, bytes.subarray(0, truncatedBytes));
  await fh.truncate(offset);
  await fh.sync();
  return { offset, truncatedBytes, reason: `${verdict.reason} (${where})`, savedTo };
}

function refusal(loc: StoreLocations, where: string, reason: string): string {
  const checkpoints = [localCheckpointPath(loc.logPath)];
  if (loc.checkpointDir) checkpoints.push(externalCheckpointPath(loc.checkpointDir, loc.logPath));
  return (
    `refusing to open audit log ${loc.logPath}: ${where}: ${reason}. ` +
    'This is not a torn write from a crash (only a cut-short or zero-filled last frame is repaired ' +
    'automatically), so nothing was changed. Keep the file as evidence and run ' +
    `"closedpaw audit verify --log ${loc.logPath} --keys <key dir>" to see the damage; ` +
    `to start a new log, move ${loc.logPath} and its checkpoints (${checkpoints.join(', ')}) aside.`
  );
}

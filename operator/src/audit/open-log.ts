// Opening the log for writing: create it, or find where the verified chain ends and repair a torn tail.
//
// Recovery rule: scanning starts at the newest checkpoint (local or external). The first bad frame after
// it marks the torn tail of the last, unacknowledged batch, so it and everything after it are cut off,
// provided that tail is no longer than one batch (MAX_BATCH_BYTES). Larger damage, an unknown key id,
// or a log shorter than a checkpoint is not a crash: opening fails and the operator must investigate.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  CheckpointError,
  type CheckpointLocations,
  readCheckpoints,
  type SignedCheckpoint,
} from './checkpoint.ts';
import { writeFileAtomic, writeFileNew } from './fsutil.ts';
import { encodeFileHeader, FILE_HEADER_LEN, genesisHash, LOG_ID_LEN } from './record.ts';
import { type ChainState, type Problem, type ProblemCode, readLogId, scanFrames } from './scan.ts';

/** Upper bound on bytes written by one group commit, hence on what a crash can tear. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;

export class AuditOpenError extends Error {
  override name = 'AuditOpenError';
  readonly code: ProblemCode;
  constructor(code: ProblemCode, message: string) {
    super(message);
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

export interface OpenedLog {
  fh: FileHandle;
  logId: Buffer;
  state: ChainState;
  /** Key id of the last record (or of the newest checkpoint's signer). */
  lastKid?: string;
  latest?: SignedCheckpoint;
  recovery?: Recovery;
}

export async function openLog(loc: CheckpointLocations): Promise<OpenedLog> {
  const { local, external } = await readCheckpoints(loc).catch((err: unknown) => {
    if (err instanceof CheckpointError)
      throw new AuditOpenError(err.code, `cannot open audit log: ${err.message}`);
    throw err;
  });
  const fh = await openOrCreate(loc.logPath, Boolean(local ?? external));
  try {
    const logId = await readLogId(fh);
    if (!Buffer.isBuffer(logId)) throw new AuditOpenError(logId.code, logId.message);
    const latest = newest(local, external);
    for (const cp of [local, external]) {
      if (cp && cp.checkpoint.logId !== logId.toString('hex')) {
        throw new AuditOpenError('checkpoint-mismatch', `checkpoint belongs to log ${cp.checkpoint.logId}`);
      }
    }
    const size = (await fh.stat()).size;
    const start = startState(logId, latest, size, Boolean(local && local.checkpoint.size > size));
    const scan = await scanFrames(fh, loc.keyring, start);
    const recovery = scan.problem ? await repair(fh, loc.logPath, size, scan.problem) : undefined;
    return { fh, logId, state: scan.end, lastKid: scan.lastKid ?? latest?.checkpoint.kid, latest, recovery };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

async function openOrCreate(logPath: string, hasCheckpoint: boolean): Promise<FileHandle> {
  if (!(await exists(logPath))) {
    if (hasCheckpoint)
      throw new AuditOpenError('rollback', `log ${logPath} is missing but a checkpoint for it exists`);
    await mkdir(dirname(logPath), { recursive: true, mode: 0o700 });
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

async function repair(fh: FileHandle, logPath: string, size: number, problem: Problem): Promise<Recovery> {
  const offset = problem.offset ?? size;
  const truncatedBytes = size - offset;
  const where = `seq ${problem.seq} at offset ${offset}`;
  if (problem.code === 'unknown-key' || truncatedBytes > MAX_BATCH_BYTES) {
    throw new AuditOpenError(
      problem.code,
      `refusing to open audit log: ${problem.message} (${where}, not a torn tail)`,
    );
  }
  const torn = Buffer.alloc(truncatedBytes);
  await fh.read(torn, 0, truncatedBytes, offset);
  const savedTo = `${logPath}.torn-${Date.now()}`;
  await writeFileNew(savedTo, torn);
  await fh.truncate(offset);
  await fh.sync();
  return { offset, truncatedBytes, reason: `${problem.code}: ${problem.message} (${where})`, savedTo };
}

// Verification of a whole log: every frame (see scan.ts), then the log's end against both checkpoints.
// With the secret Keyring every frame is opened and its events checked ("full"); with a PublicKeyring
// the chain, framing, sequence numbers and signed checkpoints are checked without decrypting ("public").
import { type FileHandle, open } from 'node:fs/promises';
import {
  type Checkpoint,
  CheckpointError,
  type CheckpointLocations,
  externalCheckpointPath,
  localCheckpointPath,
  readCheckpoint,
  type SignedCheckpoint,
} from './checkpoint.ts';
import { Keyring } from './keys.ts';
import { FILE_HEADER_LEN, genesisHash } from './record.ts';
import {
  type ChainState,
  type Problem,
  readLogId,
  type ScanKeys,
  type ScannedFrame,
  type ScannedRecord,
  type ScanResult,
  scanFrames,
} from './scan.ts';

export interface VerifyOptions extends CheckpointLocations {
  /** The secret Keyring (full verification) or a PublicKeyring (public verification). */
  keyring: ScanKeys;
  /** Called for every event of every verified frame, in order (needs the secret Keyring). */
  onRecord?: (r: ScannedRecord) => void;
}

export type VerifyLevel = 'full' | 'public';

export interface VerifySummary {
  level: VerifyLevel;
  logId: string;
  /** Events in the log (= last sequence number). */
  records: number;
  frames: number;
  /** First and last event time (full verification only: event times are sealed). */
  firstTime?: number;
  lastTime?: number;
  /** First and last frame seal time. */
  firstSealed?: number;
  lastSealed?: number;
  end: ChainState;
  local?: Checkpoint;
  external?: Checkpoint;
  /**
   * Newest checkpoint seq the log matched (0: none). Frames up to it are bound by a signature; frames
   * after it are checked for structure and chain only, plus their MACs under full verification.
   */
  signedSeq: number;
}

export type VerifyReport = ({ ok: true } & VerifySummary) | { ok: false; problem: Problem; records: number };

type Named = { name: 'local' | 'external'; cp: Checkpoint };

export async function verifyLog(opts: VerifyOptions): Promise<VerifyReport> {
  const fh = await open(opts.logPath, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!fh) return failed({ code: 'truncated', message: `log file ${opts.logPath} does not exist` });
  try {
    const logId = await readLogId(fh);
    if (!Buffer.isBuffer(logId)) return failed(logId);
    const named = await loadCheckpoints(opts, logId.toString('hex'));
    if (!Array.isArray(named)) return failed(named);
    const { scan, marks } = await scanWithMarks(fh, opts, logId, named);
    if (scan.problem) return failed(scan.problem, scan.records);
    const mismatch = named.map((n) => compare(n, scan.end, marks.get(n.cp.seq))).find(Boolean);
    if (mismatch) return failed(mismatch, scan.records);
    const cp = (name: Named['name']) => named.find((n) => n.name === name)?.cp;
    const { frames, firstTime, lastTime, firstSealed, lastSealed, end } = scan;
    return {
      ok: true,
      level: opts.keyring instanceof Keyring ? 'full' : 'public',
      logId: logId.toString('hex'),
      records: end.seq,
      frames,
      firstTime,
      lastTime,
      firstSealed,
      lastSealed,
      end,
      local: cp('local'),
      external: cp('external'),
      signedSeq: Math.max(0, ...named.map((n) => n.cp.seq)),
    };
  } finally {
    await fh.close();
  }
}

type Mark = { head: string; end: number };

/** Scans the whole log, noting the hash and end offset at each checkpointed sequence number. */
async function scanWithMarks(
  fh: FileHandle,
  opts: VerifyOptions,
  logId: Buffer,
  named: Named[],
): Promise<{ scan: ScanResult; marks: Map<number, Mark> }> {
  const genesis = genesisHash(logId);
  const marks = new Map<number, Mark>([[0, { head: genesis.toString('hex'), end: FILE_HEADER_LEN }]]);
  const wanted = new Set(named.map((n) => n.cp.seq));
  const onFrame = (f: ScannedFrame) => {
    const last = f.seq + f.count - 1;
    if (wanted.has(last)) marks.set(last, { head: f.hash.toString('hex'), end: f.end });
  };
  const start: ChainState = { seq: 0, head: genesis, offset: FILE_HEADER_LEN };
  const scan = await scanFrames(fh, opts.keyring, start, { onFrame, onRecord: opts.onRecord });
  return { scan, marks };
}

function failed(problem: Problem, records = 0): VerifyReport {
  return { ok: false, problem, records };
}

async function loadCheckpoints(loc: CheckpointLocations, logId: string): Promise<Named[] | Problem> {
  const paths: Array<[Named['name'], string]> = [['local', localCheckpointPath(loc.logPath)]];
  if (loc.checkpointDir) paths.push(['external', externalCheckpointPath(loc.checkpointDir, loc.logPath)]);
  const named: Named[] = [];
  for (const [name, path] of paths) {
    let signed: SignedCheckpoint | undefined;
    try {
      signed = await readCheckpoint(path, loc.keyring);
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      return { code: err.code, message: `${name} checkpoint ${path}: ${err.message}` };
    }
    if (!signed) continue;
    if (signed.checkpoint.logId !== logId) {
      const message = `${name} checkpoint belongs to log ${signed.checkpoint.logId}, not ${logId} (log replaced?)`;
      return { code: 'checkpoint-mismatch', message };
    }
    named.push({ name, cp: signed.checkpoint });
  }
  return named;
}

/** The log must reach each checkpoint, and its hash and size there must match. */
function compare(n: Named, end: ChainState, mark: Mark | undefined): Problem | undefined {
  const { cp, name } = n;
  if (cp.seq > end.seq) {
    const at = { seq: end.seq + 1, offset: end.offset };
    const covers = `the ${name} checkpoint of ${cp.time} covers seq ${cp.seq} (${cp.size} bytes)`;
    return name === 'local'
      ? {
          ...at,
          code: 'truncated',
          message: `log truncated: it ends at seq ${end.seq} (${end.offset} bytes) but ${covers}`,
        }
      : { ...at, code: 'rollback', message: `log rolled back: it ends at seq ${end.seq} but ${covers}` };
  }
  if (mark?.head !== cp.head || mark.end !== cp.size) {
    const found = mark ? `head ${mark.head.slice(0, 16)}… size ${mark.end}` : 'no frame ending at that seq';
    return {
      code: 'checkpoint-mismatch',
      seq: cp.seq,
      offset: mark?.end,
      message: `${name} checkpoint mismatch at seq ${cp.seq}: expected head ${cp.head.slice(0, 16)}… size ${cp.size}, log has ${found}`,
    };
  }
  return undefined;
}

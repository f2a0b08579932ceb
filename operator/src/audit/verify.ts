// Full verification of a log: every record (see scan.ts), then the log's end against both checkpoints.
import { type FileHandle, open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import {
  type Checkpoint,
  CheckpointError,
  type CheckpointLocations,
  externalCheckpointPath,
  localCheckpointPath,
  readCheckpoint,
  type SignedCheckpoint,
} from './checkpoint.ts';
import { MacPool } from './mac-pool.ts';
import { FILE_HEADER_LEN, genesisHash } from './record.ts';
import {
  type ChainState,
  type Problem,
  readLogId,
  type ScannedRecord,
  type ScanResult,
  scanFrames,
} from './scan.ts';

export interface VerifyOptions extends CheckpointLocations {
  /** Called for every verified record, in order, before the log's end is compared to the checkpoints. */
  onRecord?: (r: ScannedRecord) => void;
  /**
   * Worker threads for authenticating records. Default: one per CPU (at most 4) for logs over
   * PARALLEL_MIN_BYTES when there is no onRecord (which needs plaintext); 0 checks inline.
   */
  workers?: number;
}

export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

export interface VerifySummary {
  logId: string;
  records: number;
  firstTime?: number;
  lastTime?: number;
  end: ChainState;
  local?: Checkpoint;
  external?: Checkpoint;
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
    const { records, firstTime, lastTime, end } = scan;
    const cp = (name: Named['name']) => named.find((n) => n.name === name)?.cp;
    return {
      ok: true,
      logId: logId.toString('hex'),
      records,
      firstTime,
      lastTime,
      end,
      local: cp('local'),
      external: cp('external'),
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
  const onRecord = (r: ScannedRecord) => {
    if (wanted.has(r.seq)) marks.set(r.seq, { head: r.hash.toString('hex'), end: r.end });
    opts.onRecord?.(r);
  };
  const big = (await fh.stat()).size >= PARALLEL_MIN_BYTES;
  const workers = opts.workers ?? (opts.onRecord || !big ? 0 : Math.min(availableParallelism(), 4));
  const pool = workers > 0 ? new MacPool(opts.keyring, workers) : undefined;
  const start: ChainState = { seq: 0, head: genesis, offset: FILE_HEADER_LEN };
  const scan = await scanFrames(fh, opts.keyring, start, { onRecord, pool }).finally(() => pool?.close());
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
    const found = mark ? `head ${mark.head.slice(0, 16)}… size ${mark.end}` : 'nothing';
    return {
      code: 'checkpoint-mismatch',
      seq: cp.seq,
      offset: mark?.end,
      message: `${name} checkpoint mismatch at seq ${cp.seq}: expected head ${cp.head.slice(0, 16)}… size ${cp.size}, log has ${found}`,
    };
  }
  return undefined;
}

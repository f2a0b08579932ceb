// Reading events back: export (full verification while decrypting) and tail (last N events only).
import { type FileHandle, open } from 'node:fs/promises';
import type { Keyring } from './keys.ts';
import {
  FILE_HEADER_LEN,
  FOOTER_LEN,
  type FrameHeader,
  forEachEntry,
  genesisHash,
  hashFrame,
  isFault,
  lastSeq,
  MAX_FRAME,
  MIN_FRAME,
  openFrame,
  readFrameHeader,
} from './record.ts';
import {
  badMac,
  type ChainState,
  checkLinks,
  type Problem,
  readLogId,
  type ScannedRecord,
  unknownKey,
} from './scan.ts';
import { type VerifyOptions, type VerifyReport, verifyLog } from './verify.ts';

/** A decrypted event. `event` is the JSON body as written (type and fields); its time is `time`. */
export interface AuditRecord {
  seq: number;
  time: string;
  kid: string;
  event: Record<string, unknown>;
}

export function decodeRecord(r: Pick<ScannedRecord, 'seq' | 'time' | 'kid' | 'body'>): AuditRecord {
  return {
    seq: r.seq,
    time: new Date(r.time).toISOString(),
    kid: r.kid,
    event: JSON.parse(r.body.toString('utf8')),
  };
}

/** One flat JSON line: seq, time, kid, then the event's fields. */
export function recordToJsonLine(r: AuditRecord): string {
  return JSON.stringify({ seq: r.seq, time: r.time, kid: r.kid, ...r.event });
}

/**
 * Verifies the whole log (as verifyLog, with the secret keys) and hands every event at or after `since`
 * (ms) to `onRecord`. Events before a bad frame are still delivered; the report says where and why it stopped.
 */
export async function exportRecords(
  opts: Omit<VerifyOptions, 'onRecord' | 'keyring'> & {
    keyring: Keyring;
    since?: number;
    onRecord: (r: AuditRecord) => void;
  },
): Promise<VerifyReport> {
  const since = opts.since ?? Number.NEGATIVE_INFINITY;
  return verifyLog({ ...opts, onRecord: (r) => r.time >= since && opts.onRecord(decodeRecord(r)) });
}

export interface TailResult {
  records: AuditRecord[];
  problem?: Problem;
}

interface RawFrame {
  offset: number;
  buf: Buffer;
  h: FrameHeader;
}

/**
 * The last `n` events, read backwards via the frames' length footers. Checks the MACs and contents of
 * the frames they are in, their sequence numbers and the chain links between them (and to the log
 * header if the first is the log's first frame), not the whole log: use verify for that.
 */
export async function tailRecords(opts: {
  logPath: string;
  keyring: Keyring;
  n: number;
}): Promise<TailResult> {
  const fh = await open(opts.logPath, 'r');
  try {
    const logId = await readLogId(fh);
    if (!Buffer.isBuffer(logId)) return { records: [], problem: logId };
    const frames = await readLastFrames(fh, opts.n);
    if (!Array.isArray(frames)) return { records: [], problem: frames };
    const { records, problem } = checkFrames(frames, opts.keyring, genesisHash(logId));
    return { records: records.slice(-opts.n), ...(problem ? { problem } : {}) };
  } finally {
    await fh.close();
  }
}

/** Frames from the end of the log back until they hold at least `n` events. */
async function readLastFrames(fh: FileHandle, n: number): Promise<RawFrame[] | Problem> {
  const frames: RawFrame[] = [];
  let end = (await fh.stat()).size;
  let events = 0;
  const tornTail = (message: string): Problem => ({
    code: 'truncated',
    message: `${message} (run verify)`,
    offset: end,
  });
  while (events < n && end > FILE_HEADER_LEN) {
    if (end - FILE_HEADER_LEN < MIN_FRAME) return tornTail('log does not end on a frame boundary');
    const footer = Buffer.alloc(FOOTER_LEN);
    await fh.read(footer, 0, FOOTER_LEN, end - FOOTER_LEN);
    const len = footer.readUInt32LE(0);
    if (len < MIN_FRAME || len > MAX_FRAME || end - len < FILE_HEADER_LEN) {
      return tornTail('log does not end on a frame boundary');
    }
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, end - len);
    const h = readFrameHeader(buf, 0, len);
    if (isFault(h)) return { code: h.fault, message: h.message, offset: end - len };
    frames.unshift({ offset: end - len, buf, h });
    events += h.count;
    end -= len;
  }
  return frames;
}

function checkFrames(frames: RawFrame[], keyring: Keyring, genesis: Buffer): TailResult {
  const records: AuditRecord[] = [];
  let prev: ChainState | undefined;
  for (const f of frames) {
    const at = { seq: prev ? prev.seq + 1 : f.h.seq, offset: f.offset };
    const state = prev ?? (f.h.seq === 1 ? { seq: 0, head: genesis, offset: f.offset } : undefined);
    const linkProblem = state ? checkLinks(f.buf, 0, f.h, state) : undefined;
    if (linkProblem) return { records, problem: { ...linkProblem, ...at } };
    const key = keyring.get(f.h.kid);
    if (!key) return { records, problem: { ...unknownKey(f.h), ...at } };
    const plaintext = openFrame(f.buf, 0, f.h, key.recordKey);
    if (!plaintext) return { records, problem: { ...badMac, ...at } };
    const shown: AuditRecord[] = [];
    const bad = forEachEntry(plaintext, f.h.count, (i, time, body) =>
      shown.push(decodeRecord({ seq: f.h.seq + i, time, kid: f.h.kid, body })),
    );
    if (bad)
      return {
        records,
        problem: { code: 'bad-frame', message: `frame authenticated but malformed: ${bad}`, ...at },
      };
    records.push(...shown);
    prev = { seq: lastSeq(f.h), head: hashFrame(f.buf, 0, f.h.len), offset: f.offset + f.h.len };
  }
  return { records };
}

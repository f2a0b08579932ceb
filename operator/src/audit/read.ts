// Reading records back: export (full verification while decrypting) and tail (last N records only).
import { type FileHandle, open } from 'node:fs/promises';
import type { Keyring } from './keys.ts';
import {
  FILE_HEADER_LEN,
  FOOTER_LEN,
  type FrameHeader,
  genesisHash,
  hashFrame,
  isFault,
  MAX_FRAME,
  MIN_FRAME,
  openFrame,
  prevHashMatches,
  readFrameHeader,
} from './record.ts';
import { badMac, type Problem, readLogId, type ScannedRecord, unknownKey } from './scan.ts';
import { type VerifyOptions, type VerifyReport, verifyLog } from './verify.ts';

/** A decrypted record. `event` is the JSON body as written (type and fields); its time is `time`. */
export interface AuditRecord {
  seq: number;
  time: string;
  kid: string;
  event: Record<string, unknown>;
}

export function decodeRecord(r: Pick<ScannedRecord, 'seq' | 'time' | 'kid' | 'plaintext'>): AuditRecord {
  if (!r.plaintext) throw new Error('record was verified without decrypting it');
  const text = Buffer.from(r.plaintext.buffer, r.plaintext.byteOffset, r.plaintext.length).toString('utf8');
  return { seq: r.seq, time: new Date(r.time).toISOString(), kid: r.kid, event: JSON.parse(text) };
}

/** One flat JSON line: seq, time, kid, then the event's fields. */
export function recordToJsonLine(r: AuditRecord): string {
  return JSON.stringify({ seq: r.seq, time: r.time, kid: r.kid, ...r.event });
}

/**
 * Verifies the whole log (as verifyLog) and hands every record at or after `since` (ms) to `onRecord`.
 * Records before a bad one are still delivered; the report says where and why it stopped.
 */
export async function exportRecords(
  opts: Omit<VerifyOptions, 'onRecord'> & { since?: number; onRecord: (r: AuditRecord) => void },
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
 * The last `n` records, read backwards via the length footers. Checks their MACs, sequence numbers and
 * the chain links between them (and to the log header if the first is seq 1), not the whole log:
 * use verify for that.
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
    return checkFrames(frames, opts.keyring, genesisHash(logId));
  } finally {
    await fh.close();
  }
}

async function readLastFrames(fh: FileHandle, n: number): Promise<RawFrame[] | Problem> {
  const frames: RawFrame[] = [];
  let end = (await fh.stat()).size;
  const tornTail = (message: string): Problem => ({
    code: 'truncated',
    message: `${message} (run verify)`,
    offset: end,
  });
  while (frames.length < n && end > FILE_HEADER_LEN) {
    if (end - FILE_HEADER_LEN < MIN_FRAME) return tornTail('log does not end on a record boundary');
    const footer = Buffer.alloc(FOOTER_LEN);
    await fh.read(footer, 0, FOOTER_LEN, end - FOOTER_LEN);
    const len = footer.readUInt32LE(0);
    if (len < MIN_FRAME || len > MAX_FRAME || end - len < FILE_HEADER_LEN) {
      return tornTail('log does not end on a record boundary');
    }
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, end - len);
    const h = readFrameHeader(buf, 0, len);
    if (isFault(h)) return { code: h.fault, message: h.message, offset: end - len };
    frames.unshift({ offset: end - len, buf, h });
    end -= len;
  }
  return frames;
}

function checkFrames(frames: RawFrame[], keyring: Keyring, genesis: Buffer): TailResult {
  const scratch = Buffer.allocUnsafe(MAX_FRAME);
  const records: AuditRecord[] = [];
  for (const [i, f] of frames.entries()) {
    const opened = openChecked(f, frames[i - 1], keyring, genesis, scratch);
    if (!(opened instanceof Uint8Array))
      return { records, problem: { ...opened, seq: f.h.seq, offset: f.offset } };
    records.push(decodeRecord({ ...f.h, plaintext: opened }));
  }
  return { records };
}

/** Checks the link to the previous shown frame (or to the log header for seq 1), the key id and the MAC. */
function openChecked(
  f: RawFrame,
  prev: RawFrame | undefined,
  keyring: Keyring,
  genesis: Buffer,
  scratch: Buffer,
): Uint8Array | Problem {
  if (prev && f.h.seq !== prev.h.seq + 1) {
    return { code: 'sequence-gap', message: `sequence gap: seq ${f.h.seq} follows seq ${prev.h.seq}` };
  }
  const expectedPrev = prev ? hashFrame(prev.buf, 0, prev.h.len) : f.h.seq === 1 ? genesis : undefined;
  if (expectedPrev && !prevHashMatches(f.buf, 0, expectedPrev)) {
    return {
      code: 'broken-chain',
      message: 'broken chain: previous-hash field does not match the record before it',
    };
  }
  const key = keyring.get(f.h.kid);
  if (!key) return unknownKey(f.h);
  return openFrame(f.buf, 0, f.h, key.recordKey, scratch) ?? badMac;
}

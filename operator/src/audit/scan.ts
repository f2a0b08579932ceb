// Streaming check of a log's frames: framing, sequence continuity, hash chain and key ids, and with the
// secret Keyring also each frame's MAC and the events inside it. Stops at the first bad frame and says why.
import type { FileHandle } from 'node:fs/promises';
import { ChunkReader } from './chunk-reader.ts';
import { Keyring, type PublicKeyring } from './keys.ts';
import {
  decodeFileHeader,
  FILE_HEADER_LEN,
  type FrameFault,
  type FrameHeader,
  hashFrame,
  isFault,
  lastSeq,
  MAX_FRAME,
  openFrame,
  prevHashMatches,
  readFrameHeader,
  readU64,
  walkEntries,
} from './record.ts';

export type ProblemCode =
  | 'bad-header'
  | 'bad-frame'
  | 'truncated'
  | 'sequence-gap'
  | 'duplicate'
  | 'out-of-order'
  | 'broken-chain'
  | 'unknown-key'
  | 'bad-mac'
  | 'bad-checkpoint'
  | 'checkpoint-mismatch'
  | 'rollback';

export interface Problem {
  code: ProblemCode;
  message: string;
  /** Sequence number the bad frame's first event should have had. */
  seq?: number;
  /** Byte offset of the bad frame in the log file. */
  offset?: number;
}

/** Where the verified chain stands: last event's sequence number, last frame's hash, and the end offset. */
export interface ChainState {
  seq: number;
  head: Buffer;
  offset: number;
}

/** The secret Keyring checks everything; a PublicKeyring checks all but MACs and frame contents. */
export type ScanKeys = Keyring | PublicKeyring;

/** A verified frame. */
export interface ScannedFrame {
  seq: number;
  count: number;
  /** Seal time (ms). */
  time: number;
  kid: string;
  offset: number;
  /** Offset just past this frame. */
  end: number;
  hash: Buffer;
}

/** An event of a verified frame (full verification only). `body` is a view: copy it to keep it. */
export interface ScannedRecord {
  seq: number;
  time: number;
  kid: string;
  body: Buffer;
}

export interface ScanResult {
  end: ChainState;
  /** Events covered by the verified frames. */
  records: number;
  frames: number;
  /** Event times (full verification only). */
  firstTime?: number;
  lastTime?: number;
  /** Frame seal times. */
  firstSealed?: number;
  lastSealed?: number;
  lastKid?: string;
  problem?: Problem;
}

/** Reads the file header; returns the log id or a problem. */
export async function readLogId(fh: FileHandle): Promise<Buffer | Problem> {
  const buf = Buffer.alloc(FILE_HEADER_LEN);
  const { bytesRead } = await fh.read(buf, 0, FILE_HEADER_LEN, 0);
  const header = decodeFileHeader(buf.subarray(0, bytesRead));
  return 'logId' in header ? header.logId : { code: 'bad-header', message: header.error, offset: 0 };
}

export interface ScanOptions {
  onFrame?: (f: ScannedFrame) => void;
  /** Called for each event of each good frame, in order (full verification only). */
  onRecord?: (r: ScannedRecord) => void;
}

/**
 * Checks frames from `start` to the end of the file (as it was when the scan began). Per frame the
 * order of checks is: framing, sequence, chain link, key id, then (secret keys) MAC and contents.
 */
export async function scanFrames(
  fh: FileHandle,
  keys: ScanKeys,
  start: ChainState,
  opts: ScanOptions = {},
): Promise<ScanResult> {
  const reader = new ChunkReader(fh, start.offset, (await fh.stat()).size);
  const secret = keys instanceof Keyring ? keys : undefined;
  if (opts.onRecord && !secret) throw new Error('reading events needs the secret keyring');
  const result: ScanResult = { end: start, records: 0, frames: 0 };
  let state = start;
  for (;;) {
    if (reader.needsFill) await reader.fill();
    if (reader.available === 0) return result;
    const { buf, pos } = reader;
    const h = frameAt(reader);
    if (!h) continue;
    if (isFault(h)) return fail(result, { code: h.fault, message: h.message }, state);
    const problem = checkLinks(buf, pos, h, state) ?? (keys.get(h.kid) ? undefined : unknownKey(h));
    if (problem) return fail(result, problem, state);
    if (secret) {
      const contents = openContents(buf, pos, h, secret, result, opts.onRecord);
      if (contents) return fail(result, contents, state);
    }
    const hash = hashFrame(buf, pos, h.len);
    const end = state.offset + h.len;
    opts.onFrame?.({ seq: h.seq, count: h.count, time: h.time, kid: h.kid, offset: state.offset, end, hash });
    state = { seq: lastSeq(h), head: hash, offset: end };
    note(result, h, state);
    reader.advance(h.len);
  }
}

/** The frame at the reader's position; undefined when more bytes must be buffered first. */
function frameAt(reader: ChunkReader): FrameHeader | FrameFault | undefined {
  const avail = reader.available;
  const h = readFrameHeader(reader.buf, reader.pos, avail);
  if (!isFault(h) || reader.eof || avail >= MAX_FRAME) return h;
  return undefined; // needsFill is true now: the next round reads more
}

/** Checks the MAC and the event structure of a frame; hands its events to `onRecord`. */
function openContents(
  buf: Buffer,
  pos: number,
  h: FrameHeader,
  keyring: Keyring,
  result: ScanResult,
  onRecord?: (r: ScannedRecord) => void,
): Problem | undefined {
  const key = keyring.get(h.kid);
  if (!key) return unknownKey(h);
  const plaintext = openFrame(buf, pos, h, key.recordKey);
  if (!plaintext) return badMac;
  let lastTime = 0;
  const bad = walkEntries(plaintext, h.count, (i, time, start, end) => {
    lastTime = time;
    onRecord?.({ seq: h.seq + i, time, kid: h.kid, body: plaintext.subarray(start, end) });
  });
  if (!bad) {
    result.firstTime ??= readU64(plaintext, 0);
    result.lastTime = lastTime;
  }
  return bad ? { code: 'bad-frame', message: `frame authenticated but malformed: ${bad}` } : undefined;
}

export const unknownKey = (h: Pick<FrameHeader, 'kid'>): Problem => ({
  code: 'unknown-key',
  message: `unknown key id "${h.kid}"`,
});
export const badMac: Problem = {
  code: 'bad-mac',
  message: 'bad MAC: frame failed authentication (altered, or sealed under a different key)',
};

export function checkLinks(buf: Buffer, pos: number, h: FrameHeader, state: ChainState): Problem | undefined {
  const expected = state.seq + 1;
  const range = h.count === 1 ? `seq ${h.seq}` : `seq ${h.seq}..${lastSeq(h)}`;
  if (h.seq > expected) {
    return {
      code: 'sequence-gap',
      message: `sequence gap: expected seq ${expected}, found ${range} (frames missing or reordered)`,
    };
  }
  if (h.seq < expected && lastSeq(h) === state.seq) {
    return { code: 'duplicate', message: `duplicate frame: ${range} appears twice` };
  }
  if (h.seq < expected) {
    return { code: 'out-of-order', message: `out-of-order frame: expected seq ${expected}, found ${range}` };
  }
  if (!prevHashMatches(buf, pos, state.head)) {
    const what = state.seq === 0 ? 'the log header' : `the frame ending at seq ${state.seq}`;
    return { code: 'broken-chain', message: `broken chain: previous-hash field does not match ${what}` };
  }
  return undefined;
}

function fail(result: ScanResult, problem: Problem, state: ChainState): ScanResult {
  result.problem = { ...problem, seq: state.seq + 1, offset: state.offset };
  return result;
}

function note(result: ScanResult, h: FrameHeader, state: ChainState): void {
  result.records += h.count;
  result.frames++;
  result.firstSealed ??= h.time;
  result.lastSealed = h.time;
  result.lastKid = h.kid;
  result.end = state;
}

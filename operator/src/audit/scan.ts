// Streaming reader that checks every frame of a log: framing, sequence, hash chain, key id and MAC.
// It stops at the first bad record and says exactly why.
import type { FileHandle } from 'node:fs/promises';
import { ChunkReader } from './chunk-reader.ts';
import type { Keyring } from './keys.ts';
import { FRAME_OK, FRAME_UNKNOWN_KEY, type FrameSpan, type MacPool, type MacResults } from './mac-pool.ts';
import {
  decodeFileHeader,
  FILE_HEADER_LEN,
  type FrameFault,
  type FrameHeader,
  HASH_LEN,
  hashFrame,
  isFault,
  MAX_FRAME,
  openFrame,
  prevHashMatches,
  readFrameHeader,
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
  /** Sequence number the bad record should have had. */
  seq?: number;
  /** Byte offset of the bad record in the log file. */
  offset?: number;
}

/** Where the verified chain stands: last sequence number, its frame hash, and the end offset. */
export interface ChainState {
  seq: number;
  head: Buffer;
  offset: number;
}

/**
 * A verified record. `plaintext` is a view into a reused buffer (copy it to keep it); it is absent
 * when the scan authenticated records in worker threads.
 */
export interface ScannedRecord {
  seq: number;
  time: number;
  kid: string;
  offset: number;
  /** Offset just past this record. */
  end: number;
  hash: Buffer;
  plaintext?: Uint8Array;
}

export interface ScanResult {
  end: ChainState;
  records: number;
  firstTime?: number;
  lastTime?: number;
  lastKid?: string;
  problem?: Problem;
}

/** Reads the file header; returns the log id or a problem. */
export async function readLogId(fh: FileHandle): Promise<Buffer | Problem> {
  const buf = Buffer.alloc(FILE_HEADER_LEN);
  const { bytesRead } = await fh.read(buf, 0, FILE_HEADER_LEN, 0);
  const logId = bytesRead === FILE_HEADER_LEN ? decodeFileHeader(buf) : undefined;
  return (
    logId ?? {
      code: 'bad-header',
      message: 'not a ClosedPaw audit log (bad or missing file header)',
      offset: 0,
    }
  );
}

export interface ScanOptions {
  /** Called for each good record, in order. */
  onRecord?: (r: ScannedRecord) => void;
  /** Authenticate and hash in worker threads; records then carry no plaintext. */
  pool?: MacPool;
}

interface WalkedFrame extends FrameSpan {
  h: FrameHeader;
}

/**
 * Checks frames from `start` to the end of the file (as it was when the scan began). Frames are walked
 * a buffer at a time; per frame the order of checks is: framing, sequence, chain link, key id, MAC.
 */
export async function scanFrames(
  fh: FileHandle,
  keyring: Keyring,
  start: ChainState,
  opts: ScanOptions = {},
): Promise<ScanResult> {
  const reader = new ChunkReader(fh, start.offset, (await fh.stat()).size);
  const inline = new InlineOpener(keyring);
  const result: ScanResult = { end: start, records: 0 };
  let state = start;
  for (;;) {
    if (reader.needsFill) await reader.fill();
    if (reader.available === 0) return result;
    const { buf } = reader;
    const { frames, fault } = walk(reader);
    const macs = opts.pool && frames.length > 0 ? await opts.pool.run(buf, frames) : undefined;
    for (const [i, { pos, h }] of frames.entries()) {
      const problem = checkLinks(buf, pos, h, state);
      if (problem) return fail(result, problem, state);
      const opened = macs ? fromPool(macs, i) : inline.open(buf, pos, h);
      if (typeof opened === 'string')
        return fail(result, opened === 'unknown-key' ? unknownKey(h) : badMac, state);
      const end = state.offset + h.len;
      opts.onRecord?.({ seq: h.seq, time: h.time, kid: h.kid, offset: state.offset, end, ...opened });
      state = { seq: h.seq, head: opened.hash, offset: end };
      note(result, h, state);
      reader.advance(h.len);
    }
    if (fault) return fail(result, { code: fault.fault, message: fault.message }, state);
  }
}

/** Structurally valid frames buffered from the reader's position, up to the first fault. */
function walk(reader: ChunkReader): { frames: WalkedFrame[]; fault?: FrameFault } {
  const frames: WalkedFrame[] = [];
  for (let pos = reader.pos; ; ) {
    const avail = reader.end - pos;
    if (avail === 0 || (avail < MAX_FRAME && !reader.eof)) return { frames };
    const h = readFrameHeader(reader.buf, pos, avail);
    if (isFault(h)) return { frames, fault: h };
    frames.push({ pos, len: h.len, h });
    pos += h.len;
  }
}

type Opened = { hash: Buffer; plaintext?: Uint8Array } | 'unknown-key' | 'bad-mac';

class InlineOpener {
  readonly #keyring: Keyring;
  readonly #scratch = Buffer.allocUnsafe(MAX_FRAME);
  constructor(keyring: Keyring) {
    this.#keyring = keyring;
  }

  open(buf: Buffer, pos: number, h: FrameHeader): Opened {
    const key = this.#keyring.get(h.kid);
    if (!key) return 'unknown-key';
    const plaintext = openFrame(buf, pos, h, key.recordKey, this.#scratch);
    return plaintext ? { hash: hashFrame(buf, pos, h.len), plaintext } : 'bad-mac';
  }
}

function fromPool(macs: MacResults, i: number): Opened {
  const status = macs.status[i];
  if (status === FRAME_UNKNOWN_KEY) return 'unknown-key';
  if (status !== FRAME_OK) return 'bad-mac';
  return { hash: Buffer.from(macs.hashes.buffer, macs.hashes.byteOffset + i * HASH_LEN, HASH_LEN) };
}

export const unknownKey = (h: Pick<FrameHeader, 'kid'>): Problem => ({
  code: 'unknown-key',
  message: `unknown key id "${h.kid}"`,
});
export const badMac: Problem = {
  code: 'bad-mac',
  message: 'bad MAC: record failed authentication (altered, or sealed under a different key)',
};

function checkLinks(buf: Buffer, pos: number, h: FrameHeader, state: ChainState): Problem | undefined {
  const expected = state.seq + 1;
  if (h.seq > expected) {
    return {
      code: 'sequence-gap',
      message: `sequence gap: expected seq ${expected}, found seq ${h.seq} (records missing or reordered)`,
    };
  }
  if (h.seq === state.seq && h.seq > 0) {
    return { code: 'duplicate', message: `duplicate record: seq ${h.seq} appears twice` };
  }
  if (h.seq < expected) {
    return {
      code: 'out-of-order',
      message: `out-of-order record: expected seq ${expected}, found seq ${h.seq}`,
    };
  }
  if (!prevHashMatches(buf, pos, state.head)) {
    const what = state.seq === 0 ? 'the log header' : `record seq ${state.seq}`;
    return { code: 'broken-chain', message: `broken chain: previous-hash field does not match ${what}` };
  }
  return undefined;
}

function fail(result: ScanResult, problem: Problem, state: ChainState): ScanResult {
  result.problem = { ...problem, seq: state.seq + 1, offset: state.offset };
  return result;
}

function note(result: ScanResult, h: FrameHeader, state: ChainState): void {
  result.records++;
  result.firstTime ??= h.time;
  result.lastTime = h.time;
  result.lastKid = h.kid;
  result.end = state;
}

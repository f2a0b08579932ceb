// Binary format v2 of the audit log: one sealed frame per group commit, holding that batch's events.
//
// file   = header(24) frame*
// header = "CPAUDIT2" | logId(16 random bytes)
// frame (little-endian):
//   0  u32  len      whole frame length, footer included
//   4  u8   version  = 2
//   5  u8   kidLen   1..64
//   6  u16  flags    = 0 (reserved)
//   8  u64  seq      sequence number of the frame's first event (1, 2, 3, ... over all events, no gaps)
//   16 u64  time     milliseconds since the Unix epoch when the frame was sealed
//   24 u32  count    events in the frame (>= 1); they are seq .. seq + count - 1
//   28 [32] prev     SHA-256 of the previous frame (of the file header for the first frame)
//   60 [24] nonce    random per frame
//   84 [kidLen]      key id, ASCII
//   .. ciphertext || tag(16)   XChaCha20-Poly1305, AAD = bytes [0, 84 + kidLen), i.e. the header above
//   .. u32  len      footer, equal to the header length (lets readers walk backwards)
// plaintext = entry * count, entry = u64 time (ms) | u32 bodyLen | body (the event JSON without time)
// The chain hash of a frame is SHA-256 over all of its bytes: computable without any key.
import { hash, timingSafeEqual } from 'node:crypto';
import { NONCE_LEN, TAG_LEN, xchachaOpen, xchachaSeal } from './xchacha.ts';

export { NONCE_LEN, TAG_LEN };
/** Key ids: short ASCII names, safe as file names and as a one-byte-length header field. */
export const KID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const FILE_MAGIC = 'CPAUDIT2';
/** Magic of format v1 (one frame per event), which this version no longer reads. */
export const V1_MAGIC = 'CPAUDIT1';
export const LOG_ID_LEN = 16;
export const FILE_HEADER_LEN = FILE_MAGIC.length + LOG_ID_LEN;
export const FRAME_VERSION = 2;
export const HASH_LEN = 32;
export const OFF_VERSION = 4;
export const OFF_KIDLEN = 5;
export const OFF_FLAGS = 6;
export const OFF_SEQ = 8;
export const OFF_TIME = 16;
export const OFF_COUNT = 24;
export const OFF_PREV = 28;
export const OFF_NONCE = 60;
export const OFF_KID = 84;
export const FOOTER_LEN = 4;
export const ENTRY_HEADER_LEN = 12;
/** Largest frame, hence largest group-commit write. */
export const MAX_FRAME = 4 * 1024 * 1024;
export const MIN_FRAME = OFF_KID + 1 + ENTRY_HEADER_LEN + TAG_LEN + FOOTER_LEN;
const U32 = 0x1_0000_0000;

/** One event ready to seal: its time (ms) and JSON body. */
export interface Entry {
  time: number;
  body: Uint8Array;
}

export function payloadLength(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += ENTRY_HEADER_LEN + e.body.length;
  return n;
}

export function frameLength(kidLen: number, payloadLen: number): number {
  return OFF_KID + kidLen + payloadLen + TAG_LEN + FOOTER_LEN;
}

export function encodeFileHeader(logId: Uint8Array): Buffer {
  if (logId.length !== LOG_ID_LEN) throw new Error('logId must be 16 bytes');
  return Buffer.concat([Buffer.from(FILE_MAGIC, 'latin1'), logId]);
}

export type HeaderResult = { logId: Buffer } | { error: string };

/** The log id of a v2 file header, or why `buf` is not one. */
export function decodeFileHeader(buf: Buffer): HeaderResult {
  const magic = buf.toString('latin1', 0, Math.min(buf.length, FILE_MAGIC.length));
  if (magic === V1_MAGIC) {
    return {
      error:
        'audit log format v1 (one frame per event) is not supported by this version: verify or export it with the closedpaw release that wrote it, then move it aside',
    };
  }
  if (buf.length < FILE_HEADER_LEN || magic !== FILE_MAGIC)
    return { error: 'not a ClosedPaw audit log (bad or missing file header)' };
  return { logId: Buffer.from(buf.subarray(FILE_MAGIC.length, FILE_HEADER_LEN)) };
}

export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/** The chain starts from the hash of the file header, binding every frame to this log's id. */
export function genesisHash(logId: Uint8Array): Buffer {
  return sha256(encodeFileHeader(logId));
}

export interface SealParams {
  /** Sequence number of the first entry. */
  seq: number;
  /** Seal time (ms). */
  time: number;
  prevHash: Uint8Array;
  kid: string;
  key: Uint8Array;
  nonce: Uint8Array;
  entries: readonly Entry[];
}

/** Builds one sealed frame holding `p.entries`. */
export function sealFrame(p: SealParams): Buffer {
  if (p.entries.length === 0) throw new RangeError('a frame holds at least one event');
  const payloadLen = payloadLength(p.entries);
  const len = frameLength(p.kid.length, payloadLen);
  if (len > MAX_FRAME) throw new RangeError(`frame of ${len} bytes exceeds MAX_FRAME`);
  const aadEnd = OFF_KID + p.kid.length;
  const out = Buffer.allocUnsafe(len);
  out.writeUInt32LE(len, 0);
  out[OFF_VERSION] = FRAME_VERSION;
  out[OFF_KIDLEN] = p.kid.length;
  out.writeUInt16LE(0, OFF_FLAGS);
  writeU64(out, OFF_SEQ, p.seq);
  writeU64(out, OFF_TIME, p.time);
  out.writeUInt32LE(p.entries.length, OFF_COUNT);
  out.set(p.prevHash, OFF_PREV);
  out.set(p.nonce, OFF_NONCE);
  out.write(p.kid, OFF_KID, 'latin1');
  const written = xchachaSeal(
    p.key,
    p.nonce,
    out.subarray(0, aadEnd),
    encodeEntries(p.entries, payloadLen),
    out.subarray(aadEnd),
  );
  out.writeUInt32LE(len, aadEnd + written);
  return out;
}

function encodeEntries(entries: readonly Entry[], payloadLen: number): Buffer {
  const buf = Buffer.allocUnsafe(payloadLen);
  let off = 0;
  for (const e of entries) {
    writeU64(buf, off, e.time);
    buf.writeUInt32LE(e.body.length, off + 8);
    buf.set(e.body, off + ENTRY_HEADER_LEN);
    off += ENTRY_HEADER_LEN + e.body.length;
  }
  return buf;
}

export function writeU64(buf: Buffer, off: number, n: number): void {
  buf.writeUInt32LE(n % U32, off);
  buf.writeUInt32LE(Math.floor(n / U32), off + 4);
}

export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * U32;
}

export interface FrameHeader {
  len: number;
  /** Sequence number of the first event. */
  seq: number;
  count: number;
  /** Seal time (ms). */
  time: number;
  kid: string;
}

export type FrameFaultCode = 'truncated' | 'bad-frame';
export interface FrameFault {
  fault: FrameFaultCode;
  message: string;
}

/** Parses and structurally checks the frame at `off`, given `avail` readable bytes from there. */
export function readFrameHeader(buf: Buffer, off: number, avail: number): FrameHeader | FrameFault {
  if (avail < 4) return { fault: 'truncated', message: `incomplete frame: ${avail} bytes at end of log` };
  const len = buf.readUInt32LE(off);
  if (len < MIN_FRAME || len > MAX_FRAME)
    return { fault: 'bad-frame', message: `invalid frame length ${len}` };
  if (avail < len)
    return { fault: 'truncated', message: `incomplete frame: ${avail} of ${len} bytes present` };
  const footer = buf.readUInt32LE(off + len - FOOTER_LEN);
  if (footer !== len)
    return { fault: 'bad-frame', message: `length footer ${footer} != header length ${len}` };
  const version = buf[off + OFF_VERSION];
  if (version !== FRAME_VERSION)
    return { fault: 'bad-frame', message: `unsupported frame version ${version}` };
  if (buf.readUInt16LE(off + OFF_FLAGS) !== 0)
    return { fault: 'bad-frame', message: 'reserved header bits set' };
  const kidLen = buf[off + OFF_KIDLEN] ?? 0;
  const payloadLen = len - frameLength(kidLen, 0);
  if (kidLen === 0 || payloadLen < ENTRY_HEADER_LEN) {
    return { fault: 'bad-frame', message: `invalid key id length ${kidLen}` };
  }
  const count = buf.readUInt32LE(off + OFF_COUNT);
  if (count === 0 || count * ENTRY_HEADER_LEN > payloadLen) {
    return { fault: 'bad-frame', message: `event count ${count} does not fit a ${payloadLen}-byte payload` };
  }
  const kid = buf.toString('latin1', off + OFF_KID, off + OFF_KID + kidLen);
  if (!KID_PATTERN.test(kid)) return { fault: 'bad-frame', message: 'key id has invalid characters' };
  return { len, seq: readU64(buf, off + OFF_SEQ), count, time: readU64(buf, off + OFF_TIME), kid };
}

export function isFault(h: FrameHeader | FrameFault): h is FrameFault {
  return 'fault' in h;
}

export function lastSeq(h: Pick<FrameHeader, 'seq' | 'count'>): number {
  return h.seq + h.count - 1;
}

/** Constant-time check that the frame at `off` names `expected` as its predecessor's hash. */
export function prevHashMatches(buf: Buffer, off: number, expected: Uint8Array): boolean {
  return timingSafeEqual(buf.subarray(off + OFF_PREV, off + OFF_PREV + HASH_LEN), expected);
}

export function hashFrame(buf: Buffer, off: number, len: number): Buffer {
  return sha256(buf.subarray(off, off + len));
}

/** Authenticates and decrypts the frame at `off`; undefined if the tag does not verify. */
export function openFrame(buf: Buffer, off: number, h: FrameHeader, key: Uint8Array): Buffer | undefined {
  const aadEnd = off + OFF_KID + h.kid.length;
  const nonce = buf.subarray(off + OFF_NONCE, off + OFF_KID);
  return xchachaOpen(key, nonce, buf.subarray(off, aadEnd), buf.subarray(aadEnd, off + h.len - FOOTER_LEN));
}

/**
 * Walks the `count` entries of a decrypted payload, calling `fn` with each one's time and body bounds.
 * Returns why the payload is malformed (wrong count, lengths that overrun or leave bytes over), or
 * undefined if it is well formed.
 */
export function walkEntries(
  plaintext: Buffer,
  count: number,
  fn?: (i: number, time: number, start: number, end: number) => void,
): string | undefined {
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (plaintext.length - off < ENTRY_HEADER_LEN) return `sealed payload holds ${i} of ${count} events`;
    const bodyLen = plaintext.readUInt32LE(off + 8);
    const start = off + ENTRY_HEADER_LEN;
    if (bodyLen > plaintext.length - start) return `event ${i + 1} of ${count} overruns the sealed payload`;
    fn?.(i, readU64(plaintext, off), start, start + bodyLen);
    off = start + bodyLen;
  }
  if (off !== plaintext.length)
    return `sealed payload has ${plaintext.length - off} bytes after its ${count} events`;
  return undefined;
}

/** walkEntries, handing each event's body as a view of `plaintext`. */
export function forEachEntry(
  plaintext: Buffer,
  count: number,
  fn?: (i: number, time: number, body: Buffer) => void,
): string | undefined {
  return walkEntries(
    plaintext,
    count,
    fn && ((i, time, start, end) => fn(i, time, plaintext.subarray(start, end))),
  );
}

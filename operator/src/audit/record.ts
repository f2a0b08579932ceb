// Binary framing of the audit log and per-record sealing (XChaCha20-Poly1305 from @noble/ciphers).
//
// File  = header(24) frame*
// header = "CPAUDIT1" | logId(16 random bytes)
// frame (little-endian):
//   0  u32 len      whole frame length, footer included
//   4  u8  version  = 1
//   5  u8  kidLen   1..64
//   6  u16 flags    = 0 (reserved)
//   8  u64 seq      1, 2, 3, ... (no gaps)
//   16 u64 time     milliseconds since the Unix epoch
//   24 [32] prev    SHA-256 of the previous frame (of the file header for seq 1)
//   56 [24] nonce   random per record
//   80 [kidLen]     key id, ASCII
//   .. ciphertext || tag(16)   AAD = bytes [0, 80 + kidLen) i.e. the whole header above
//   .. u32 len      footer, equal to the header length (lets readers walk backwards)
// The chain hash of a frame is SHA-256 over all of its bytes, footer included.
import { hash, timingSafeEqual } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

/** Key ids: short ASCII names, safe as file names and as a one-byte-length header field. */
export const KID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const FILE_MAGIC = 'CPAUDIT1';
export const LOG_ID_LEN = 16;
export const FILE_HEADER_LEN = FILE_MAGIC.length + LOG_ID_LEN;
export const RECORD_VERSION = 1;
export const NONCE_LEN = 24;
export const TAG_LEN = 16;
export const HASH_LEN = 32;
const OFF_VERSION = 4;
const OFF_KIDLEN = 5;
const OFF_FLAGS = 6;
const OFF_SEQ = 8;
const OFF_TIME = 16;
const OFF_PREV = 24;
const OFF_NONCE = 56;
const OFF_KID = 80;
export const FOOTER_LEN = 4;
export const MAX_FRAME = 1 << 20;
export const MIN_FRAME = OFF_KID + 1 + TAG_LEN + FOOTER_LEN;
const U32 = 0x1_0000_0000;

export function frameLength(kidLen: number, plaintextLen: number): number {
  return OFF_KID + kidLen + plaintextLen + TAG_LEN + FOOTER_LEN;
}

export function encodeFileHeader(logId: Uint8Array): Buffer {
  if (logId.length !== LOG_ID_LEN) throw new Error('logId must be 16 bytes');
  return Buffer.concat([Buffer.from(FILE_MAGIC, 'latin1'), logId]);
}

/** Returns the log id, or undefined if `buf` does not start with a valid file header. */
export function decodeFileHeader(buf: Buffer): Buffer | undefined {
  if (buf.length < FILE_HEADER_LEN || buf.toString('latin1', 0, FILE_MAGIC.length) !== FILE_MAGIC)
    return undefined;
  return Buffer.from(buf.subarray(FILE_MAGIC.length, FILE_HEADER_LEN));
}

export function sha256(data: Uint8Array): Buffer {
  return hash('sha256', data, 'buffer');
}

/** The chain starts from the hash of the file header, binding every record to this log's id. */
export function genesisHash(logId: Uint8Array): Buffer {
  return sha256(encodeFileHeader(logId));
}

export interface SealParams {
  seq: number;
  time: number;
  prevHash: Uint8Array;
  kid: string;
  key: Uint8Array;
  nonce: Uint8Array;
  plaintext: Uint8Array;
}

/** Writes one sealed frame into `out` at `off`; returns its length. */
export function sealFrame(out: Buffer, off: number, p: SealParams): number {
  const len = frameLength(p.kid.length, p.plaintext.length);
  if (len > MAX_FRAME) throw new RangeError(`record of ${len} bytes exceeds MAX_FRAME`);
  const aadEnd = off + OFF_KID + p.kid.length;
  const ctEnd = aadEnd + p.plaintext.length + TAG_LEN;
  out.writeUInt32LE(len, off);
  out[off + OFF_VERSION] = RECORD_VERSION;
  out[off + OFF_KIDLEN] = p.kid.length;
  out.writeUInt16LE(0, off + OFF_FLAGS);
  writeU64(out, off + OFF_SEQ, p.seq);
  writeU64(out, off + OFF_TIME, p.time);
  out.set(p.prevHash, off + OFF_PREV);
  out.set(p.nonce, off + OFF_NONCE);
  out.write(p.kid, off + OFF_KID, 'latin1');
  xchacha20poly1305(p.key, p.nonce, out.subarray(off, aadEnd)).encrypt(
    p.plaintext,
    out.subarray(aadEnd, ctEnd),
  );
  out.writeUInt32LE(len, ctEnd);
  return len;
}

function writeU64(buf: Buffer, off: number, n: number): void {
  buf.writeUInt32LE(n % U32, off);
  buf.writeUInt32LE(Math.floor(n / U32), off + 4);
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * U32;
}

export interface FrameHeader {
  len: number;
  seq: number;
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
  if (avail < 4) return { fault: 'truncated', message: `incomplete record: ${avail} bytes at end of log` };
  const len = buf.readUInt32LE(off);
  if (len < MIN_FRAME || len > MAX_FRAME)
    return { fault: 'bad-frame', message: `invalid record length ${len}` };
  if (avail < len)
    return { fault: 'truncated', message: `incomplete record: ${avail} of ${len} bytes present` };
  const footer = buf.readUInt32LE(off + len - FOOTER_LEN);
  if (footer !== len)
    return { fault: 'bad-frame', message: `length footer ${footer} != header length ${len}` };
  const version = buf[off + OFF_VERSION];
  if (version !== RECORD_VERSION)
    return { fault: 'bad-frame', message: `unsupported record version ${version}` };
  if (buf.readUInt16LE(off + OFF_FLAGS) !== 0)
    return { fault: 'bad-frame', message: 'reserved header bits set' };
  const kidLen = buf[off + OFF_KIDLEN] ?? 0;
  if (kidLen === 0 || frameLength(kidLen, 0) > len) {
    return { fault: 'bad-frame', message: `invalid key id length ${kidLen}` };
  }
  const kid = buf.toString('latin1', off + OFF_KID, off + OFF_KID + kidLen);
  if (!KID_PATTERN.test(kid)) return { fault: 'bad-frame', message: 'key id has invalid characters' };
  return { len, seq: readU64(buf, off + OFF_SEQ), time: readU64(buf, off + OFF_TIME), kid };
}

export function isFault(h: FrameHeader | FrameFault): h is FrameFault {
  return 'fault' in h;
}

/** Constant-time check that the frame at `off` names `expected` as its predecessor's hash. */
export function prevHashMatches(buf: Buffer, off: number, expected: Uint8Array): boolean {
  return timingSafeEqual(buf.subarray(off + OFF_PREV, off + OFF_PREV + HASH_LEN), expected);
}

export function hashFrame(buf: Buffer, off: number, len: number): Buffer {
  return sha256(buf.subarray(off, off + len));
}

const nonceScratch = new Uint8Array(NONCE_LEN);

/**
 * Authenticates and decrypts the frame at `off` into `scratch` (which must hold the plaintext).
 * Returns a view of the plaintext, or undefined if the tag does not verify.
 */
export function openFrame(
  buf: Buffer,
  off: number,
  h: FrameHeader,
  key: Uint8Array,
  scratch: Uint8Array,
): Uint8Array | undefined {
  const aadEnd = off + OFF_KID + h.kid.length;
  const ctEnd = off + h.len - FOOTER_LEN;
  // noble copies unaligned nonces on every call; hand it an aligned one instead (a per-record saving).
  nonceScratch.set(buf.subarray(off + OFF_NONCE, off + OFF_KID));
  const nonce = nonceScratch;
  const out = scratch.subarray(0, ctEnd - aadEnd - TAG_LEN);
  try {
    return xchacha20poly1305(key, nonce, buf.subarray(off, aadEnd)).decrypt(buf.subarray(aadEnd, ctEnd), out);
  } catch (err) {
    if ((err as Error).message === 'invalid tag') return undefined;
    throw err;
  }
}

// Repair policy for the bytes after the last good frame when a log is opened for writing.
//
// A crash during a group commit can leave only two things behind: a prefix of the frame being written
// (cut short), and/or zeros where the file grew but the data never reached the disk. Only those are
// repaired. Anything else there (a complete frame failing its MAC, chain, sequence or key check, bytes
// that do not continue the chain, more than one write's worth of bytes) is damage or tampering: the
// store refuses to open rather than cut away evidence.
import {
  FRAME_VERSION,
  HASH_LEN,
  KID_PATTERN,
  MAX_FRAME,
  MIN_FRAME,
  OFF_COUNT,
  OFF_FLAGS,
  OFF_KID,
  OFF_KIDLEN,
  OFF_PREV,
  OFF_SEQ,
  OFF_VERSION,
  writeU64,
} from './record.ts';
import type { Problem } from './scan.ts';

export interface TailInput {
  /** The bytes from the end of the verified chain (at most MAX_FRAME + 1 of them). */
  bytes: Buffer;
  /** How many bytes follow the verified chain in the file. */
  length: number;
  /** What the scan found at the start of the tail. */
  problem: Problem;
  /** Sequence number the next frame must start with, and the hash it must name. */
  nextSeq: number;
  head: Buffer;
  knownKid: (kid: string) => boolean;
}

export type TailVerdict = { repair: boolean; reason: string };

/** Problems that can only come from a complete, structurally valid frame. */
const COMPLETE_FRAME_PROBLEMS = new Set([
  'sequence-gap',
  'duplicate',
  'out-of-order',
  'broken-chain',
  'unknown-key',
  'bad-mac',
]);

export function classifyTail(t: TailInput): TailVerdict {
  const refuse = (reason: string): TailVerdict => ({ repair: false, reason });
  if (COMPLETE_FRAME_PROBLEMS.has(t.problem.code)) return refuse(t.problem.message);
  if (t.length > MAX_FRAME) {
    return refuse(
      `${t.length} bytes follow the last good frame, more than one write (${MAX_FRAME}) can leave`,
    );
  }
  const bytes = t.bytes.subarray(0, t.length);
  const written = lastNonZero(bytes) + 1;
  if (written === 0)
    return { repair: true, reason: `zero-filled tail: ${t.length} zero bytes after the last frame` };
  if (bytes.length < 4)
    return { repair: true, reason: `torn write: ${bytes.length} bytes of a frame header` };
  const len = bytes.readUInt32LE(0);
  if (len < MIN_FRAME || len > MAX_FRAME) return refuse(`invalid frame length ${len}`);
  if (bytes.length >= len && bytes.readUInt32LE(len - 4) === len) return refuse(t.problem.message);
  if (written > len) return refuse(`non-zero bytes after the end of the ${len}-byte frame they follow`);
  const wrong = wrongHeaderField(bytes.subarray(0, written), t);
  if (wrong) return refuse(`the incomplete frame at the end does not continue the chain (${wrong})`);
  const zeros = bytes.length > written ? `, then ${bytes.length - written} zero bytes` : '';
  return {
    repair: true,
    reason: `torn write: ${written} of ${len} bytes of the frame for seq ${t.nextSeq}${zeros}`,
  };
}

function lastNonZero(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= 0; i--) if (bytes[i] !== 0) return i;
  return -1;
}

/** Checks the header bytes that were written against what the next frame must hold; names the first wrong field. */
function wrongHeaderField(p: Buffer, t: TailInput): string | undefined {
  const seq = Buffer.alloc(8);
  writeU64(seq, 0, t.nextSeq);
  const fields: Array<[string, number, Uint8Array]> = [
    ['version', OFF_VERSION, Uint8Array.of(FRAME_VERSION)],
    ['flags', OFF_FLAGS, Uint8Array.of(0, 0)],
    [`sequence number, expected ${t.nextSeq}`, OFF_SEQ, seq],
    ['previous hash', OFF_PREV, t.head.subarray(0, HASH_LEN)],
  ];
  for (const [name, off, want] of fields) {
    for (let i = 0; i < want.length && off + i < p.length; i++)
      if (p[off + i] !== want[i]) return `wrong ${name}`;
  }
  const kidLen = p[OFF_KIDLEN] ?? 0;
  if (p.length > OFF_KIDLEN && (kidLen < 1 || kidLen > 64)) return `invalid key id length ${kidLen}`;
  if (p.length >= OFF_COUNT + 4 && p.readUInt32LE(OFF_COUNT) === 0) return 'event count 0';
  if (p.length >= OFF_KID + kidLen) {
    const kid = p.toString('latin1', OFF_KID, OFF_KID + kidLen);
    if (!KID_PATTERN.test(kid) || !t.knownKid(kid)) return `unknown key id "${kid}"`;
  }
  return undefined;
}

// The repair policy as a pure decision: only a cut-short or zero-filled last frame is a torn write.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { MAX_FRAME, OFF_KID, OFF_PREV, OFF_SEQ, sealFrame } from './record.ts';
import type { Problem } from './scan.ts';
import { classifyTail, type TailInput } from './tail-repair.ts';

// Fixed bytes, not random ones: a prefix whose last byte happened to be zero (1 run in 256) shifted where
// the zero fill seems to start, and the torn-write case below failed by chance.
const head = Buffer.alloc(32, 0x5a);
const frame = sealFrame({
  seq: 11,
  time: 1_750_000_000_000,
  prevHash: head,
  kid: 'k1',
  key: Buffer.alloc(32, 0x11),
  nonce: Buffer.alloc(24, 0x22),
  entries: [{ time: 1, body: Buffer.from('{"type":"x","n":1}') }],
});
const zeros = (n: number) => Buffer.alloc(n);
const truncated: Problem = { code: 'truncated', message: 'incomplete frame' };
const badFrame: Problem = { code: 'bad-frame', message: 'length footer 0 != header length' };
const withByte = (b: Buffer, i: number, v: number) => {
  const c = Buffer.from(b);
  c[i] = v;
  return c;
};

function decide(bytes: Buffer, problem: Problem, length = bytes.length) {
  const input: TailInput = { bytes, length, problem, nextSeq: 11, head, knownKid: (k) => k === 'k1' };
  return classifyTail(input);
}

describe('tail repair policy', () => {
  const cases: Array<[string, Buffer, Problem, boolean, RegExp, number?]> = [
    [
      'only zeros (file grew, data never written)',
      zeros(4096),
      badFrame,
      true,
      /^zero-filled tail: 4096 zero bytes/,
    ],
    [
      'a few bytes of the length field',
      frame.subarray(0, 3),
      truncated,
      true,
      /^torn write: 3 bytes of a frame header/,
    ],
    [
      'cut inside the header',
      frame.subarray(0, 40),
      truncated,
      true,
      /^torn write: 40 of \d+ bytes of the frame for seq 11$/,
    ],
    ['cut one byte short', frame.subarray(0, -1), truncated, true, /^torn write: \d+ of \d+ bytes/],
    [
      'a prefix, then zeros up to the full length',
      Buffer.concat([frame.subarray(0, 100), zeros(frame.length - 100)]),
      badFrame,
      true,
      /^torn write: 100 of \d+ bytes .*, then \d+ zero bytes$/,
    ],
    [
      'a prefix, then zeros past the frame',
      Buffer.concat([frame.subarray(0, 100), zeros(frame.length + 50)]),
      badFrame,
      true,
      /then \d+ zero bytes$/,
    ],
    [
      'a complete frame failing its MAC',
      frame,
      { code: 'bad-mac', message: 'bad MAC: x' },
      false,
      /^bad MAC: x$/,
    ],
    [
      'a complete frame breaking the chain',
      frame,
      { code: 'broken-chain', message: 'broken chain: y' },
      false,
      /^broken chain: y$/,
    ],
    [
      'a complete frame with the wrong seq',
      frame,
      { code: 'sequence-gap', message: 'sequence gap: z' },
      false,
      /^sequence gap: z$/,
    ],
    [
      'a complete frame under an unknown key',
      frame,
      { code: 'unknown-key', message: 'unknown key id "k9"' },
      false,
      /unknown key id/,
    ],
    [
      'a complete frame with a bad version byte',
      withByte(frame, 4, 9),
      { code: 'bad-frame', message: 'unsupported frame version 9' },
      false,
      /^unsupported frame version 9$/,
    ],
    [
      'garbage',
      randomBytes(64),
      badFrame,
      false,
      /^invalid frame length|non-zero bytes after|does not continue/,
    ],
    [
      'an invalid length field',
      Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2]),
      badFrame,
      false,
      /^invalid frame length 2147483647$/,
    ],
    [
      'a prefix naming the wrong seq',
      withByte(frame.subarray(0, 60), OFF_SEQ, 12),
      truncated,
      false,
      /does not continue the chain \(wrong sequence number, expected 11\)/,
    ],
    [
      'a prefix naming the wrong previous hash',
      withByte(frame.subarray(0, 70), OFF_PREV + 3, (head[3] ?? 0) ^ 1),
      truncated,
      false,
      /wrong previous hash/,
    ],
    ['a prefix with a bad version', withByte(frame.subarray(0, 20), 4, 1), truncated, false, /wrong version/],
    [
      'a prefix under an unknown key id',
      Buffer.concat([frame.subarray(0, OFF_KID), Buffer.from('k9'), frame.subarray(OFF_KID + 2, 120)]),
      truncated,
      false,
      /unknown key id "k9"/,
    ],
    [
      'a prefix followed by non-zero bytes past its frame',
      Buffer.concat([frame.subarray(0, 100), zeros(frame.length), Buffer.from([1])]),
      badFrame,
      false,
      /non-zero bytes after the end/,
    ],
    ['zeros, but more than one write', zeros(16), badFrame, false, /more than one write/, MAX_FRAME + 1],
  ];
  for (const [name, bytes, problem, repair, reason, length] of cases) {
    test(`${name}: ${repair ? 'repaired' : 'refused'}`, () => {
      const verdict = decide(bytes, problem, length);
      assert.equal(verdict.repair, repair, verdict.reason);
      assert.match(verdict.reason, reason);
    });
  }

  test('a cut at every offset of a frame is a torn write; the same bytes after a wrong seq never are', () => {
    for (let n = 1; n < frame.length; n++) {
      assert.equal(decide(frame.subarray(0, n), truncated).repair, true, `cut at ${n}`);
      if (n > OFF_SEQ) {
        const wrong = withByte(frame.subarray(0, n), OFF_SEQ, 99);
        assert.equal(decide(wrong, truncated).repair, false, `wrong seq, cut at ${n}`);
      }
    }
  });
});

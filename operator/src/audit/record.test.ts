import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { frameLength, isFault, MAX_FRAME, openFrame, readFrameHeader, sealFrame, TAG_LEN } from './record.ts';

const key = randomBytes(32);

function seal(plaintext: string, over: Partial<Parameters<typeof sealFrame>[2]> = {}): Buffer {
  const pt = Buffer.from(plaintext);
  const buf = Buffer.alloc(frameLength(2, pt.length));
  const p = {
    seq: 7,
    time: 1_700_000_000_123,
    prevHash: randomBytes(32),
    kid: 'k1',
    key,
    nonce: randomBytes(24),
  };
  sealFrame(buf, 0, { ...p, plaintext: pt, ...over });
  return buf;
}

function header(buf: Buffer) {
  const h = readFrameHeader(buf, 0, buf.length);
  assert.ok(!isFault(h), 'expected a well-formed frame');
  return h;
}

describe('record framing and sealing', () => {
  test('XChaCha20-Poly1305 primitive matches the draft-irtf-cfrg-xchacha A.3.1 test vector', () => {
    const k = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
    const nonce = Buffer.from('404142434445464748494a4b4c4d4e4f5051525354555657', 'hex');
    const aad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
    const pt = Buffer.from(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const out = Buffer.from(xchacha20poly1305(k, nonce, aad).encrypt(pt));
    assert.equal(out.subarray(-TAG_LEN).toString('hex'), 'c0875924c1c7987947deafd8780acf49');
    assert.ok(out.toString('hex').startsWith('bd6d179d3e83d43b9576579493c0e939572a1700252bfacc'));
  });

  test('a sealed frame round-trips and carries seq, time and kid in its header', () => {
    const buf = seal('{"type":"x"}');
    const h = header(buf);
    assert.deepEqual(
      { seq: h.seq, time: h.time, kid: h.kid, len: h.len },
      {
        seq: 7,
        time: 1_700_000_000_123,
        kid: 'k1',
        len: buf.length,
      },
    );
    const pt = openFrame(buf, 0, h, key, Buffer.alloc(MAX_FRAME));
    assert.equal(Buffer.from(pt ?? []).toString(), '{"type":"x"}');
  });

  test('the ciphertext does not contain the plaintext', () => {
    const secret = 'very-recognisable-plaintext-0123456789';
    assert.equal(seal(secret).includes(secret), false);
  });

  test('every header byte is authenticated: changing one (seq, time, prev, nonce) fails the MAC', () => {
    const buf = seal('payload');
    const h = header(buf);
    for (const pos of [8, 16, 24, 56]) {
      const copy = Buffer.from(buf);
      copy[pos] = (copy[pos] ?? 0) ^ 1;
      assert.equal(
        openFrame(copy, 0, { ...h, seq: h.seq }, key, Buffer.alloc(MAX_FRAME)),
        undefined,
        `byte ${pos}`,
      );
    }
  });

  test('a different key fails the MAC', () => {
    const buf = seal('payload');
    assert.equal(openFrame(buf, 0, header(buf), randomBytes(32), Buffer.alloc(MAX_FRAME)), undefined);
  });

  test('structural faults are named precisely', () => {
    const buf = seal('payload');
    assert.deepEqual(readFrameHeader(buf, 0, 3), {
      fault: 'truncated',
      message: 'incomplete record: 3 bytes at end of log',
    });
    assert.deepEqual(readFrameHeader(buf, 0, buf.length - 1), {
      fault: 'truncated',
      message: `incomplete record: ${buf.length - 1} of ${buf.length} bytes present`,
    });
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(5, 0);
    assert.deepEqual(readFrameHeader(bad, 0, bad.length), {
      fault: 'bad-frame',
      message: 'invalid record length 5',
    });
    const footer = Buffer.from(buf);
    footer.writeUInt32LE(buf.length + 1, buf.length - 4);
    assert.deepEqual(readFrameHeader(footer, 0, footer.length), {
      fault: 'bad-frame',
      message: `length footer ${buf.length + 1} != header length ${buf.length}`,
    });
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import {
  decodeFileHeader,
  ENTRY_HEADER_LEN,
  type Entry,
  encodeFileHeader,
  forEachEntry,
  isFault,
  OFF_KID,
  OFF_NONCE,
  openFrame,
  readFrameHeader,
  type SealParams,
  sealFrame,
  TAG_LEN,
} from './record.ts';
import { xchachaOpen, xchachaSeal } from './xchacha.ts';

const key = randomBytes(32);
const entries = (...bodies: string[]): Entry[] =>
  bodies.map((b, i) => ({ time: 1_700_000_000_000 + i, body: Buffer.from(b) }));

function seal(over: Partial<SealParams> = {}): Buffer {
  return sealFrame({
    seq: 7,
    time: 1_700_000_000_123,
    prevHash: randomBytes(32),
    kid: 'k1',
    key,
    nonce: randomBytes(24),
    entries: entries('{"type":"a"}', '{"type":"b"}', '{"type":"c"}'),
    ...over,
  });
}

function header(buf: Buffer) {
  const h = readFrameHeader(buf, 0, buf.length);
  assert.ok(!isFault(h), 'expected a well-formed frame');
  return h;
}

function bodies(buf: Buffer, k: Uint8Array = key): string[] | undefined {
  const pt = openFrame(buf, 0, header(buf), k);
  if (!pt) return undefined;
  const out: string[] = [];
  assert.equal(
    forEachEntry(pt, header(buf).count, (_, __, body) => out.push(body.toString())),
    undefined,
  );
  return out;
}

describe('XChaCha20-Poly1305 (native ChaCha20-Poly1305 under the HChaCha20 subkey)', () => {
  const k = Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex');
  const nonce = Buffer.from('404142434445464748494a4b4c4d4e4f5051525354555657', 'hex');
  const aad = Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex');
  const pt = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );

  test('matches the draft-irtf-cfrg-xchacha A.3.1 test vector', () => {
    const out = Buffer.alloc(pt.length + TAG_LEN);
    assert.equal(xchachaSeal(k, nonce, aad, pt, out), out.length);
    assert.equal(out.subarray(-TAG_LEN).toString('hex'), 'c0875924c1c7987947deafd8780acf49');
    assert.ok(out.toString('hex').startsWith('bd6d179d3e83d43b9576579493c0e939572a1700252bfacc'));
    assert.deepEqual(xchachaOpen(k, nonce, aad, out), pt);
  });

  test('agrees with @noble/ciphers xchacha20poly1305 both ways, for random inputs', () => {
    for (const size of [0, 1, 63, 64, 65, 4096, 100_000]) {
      const [kk, nn, a, p] = [randomBytes(32), randomBytes(24), randomBytes(size % 97), randomBytes(size)];
      const ours = Buffer.alloc(size + TAG_LEN);
      xchachaSeal(kk, nn, a, p, ours);
      assert.deepEqual(ours, Buffer.from(xchacha20poly1305(kk, nn, a).encrypt(p)), `size ${size}`);
      assert.deepEqual(xchachaOpen(kk, nn, a, ours), p, `size ${size}`);
    }
  });

  test('a changed ciphertext, tag, AAD, nonce or key fails authentication', () => {
    const sealed = Buffer.alloc(pt.length + TAG_LEN);
    xchachaSeal(k, nonce, aad, pt, sealed);
    const flipped = (b: Buffer, i: number) => {
      const c = Buffer.from(b);
      c[i] = (c[i] ?? 0) ^ 1;
      return c;
    };
    assert.equal(xchachaOpen(k, nonce, aad, flipped(sealed, 3)), undefined);
    assert.equal(xchachaOpen(k, nonce, aad, flipped(sealed, sealed.length - 1)), undefined);
    assert.equal(xchachaOpen(k, nonce, flipped(aad, 0), sealed), undefined);
    assert.equal(xchachaOpen(k, flipped(nonce, 2), aad, sealed), undefined);
    assert.equal(xchachaOpen(k, flipped(nonce, 20), aad, sealed), undefined);
    assert.equal(xchachaOpen(flipped(k, 0), nonce, aad, sealed), undefined);
  });
});

describe('frame format v2', () => {
  test('a sealed frame carries its first seq, event count, seal time and kid, and round-trips its events', () => {
    const buf = seal();
    const h = header(buf);
    assert.deepEqual(h, { len: buf.length, seq: 7, count: 3, time: 1_700_000_000_123, kid: 'k1' });
    assert.deepEqual(bodies(buf), ['{"type":"a"}', '{"type":"b"}', '{"type":"c"}']);
  });

  test('event times travel sealed, one per event', () => {
    const buf = seal();
    const pt = openFrame(buf, 0, header(buf), key);
    assert.ok(pt);
    const times: number[] = [];
    forEachEntry(pt, 3, (_, time) => times.push(time));
    assert.deepEqual(times, [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002]);
  });

  test('the ciphertext contains neither the events nor their times', () => {
    const secret = 'very-recognisable-plaintext-0123456789';
    const buf = seal({ entries: [{ time: 0x0102030405, body: Buffer.from(secret) }] });
    assert.equal(buf.includes(secret), false);
    assert.equal(buf.includes(Buffer.from([5, 4, 3, 2, 1])), false);
  });

  test('every header byte is authenticated: changing seq, time, count, prev, nonce or kid fails the MAC', () => {
    const buf = seal();
    const h = header(buf);
    for (const pos of [8, 16, 24, 28, OFF_NONCE, OFF_KID + 1]) {
      const copy = Buffer.from(buf);
      copy[pos] = (copy[pos] ?? 0) ^ 1;
      const kid = copy.toString('latin1', OFF_KID, OFF_KID + 2);
      assert.equal(openFrame(copy, 0, { ...h, kid }, key), undefined, `byte ${pos}`);
    }
  });

  test('a different key fails the MAC', () => {
    assert.equal(bodies(seal(), randomBytes(32)), undefined);
  });

  test('structural faults are named precisely', () => {
    const buf = seal();
    assert.deepEqual(readFrameHeader(buf, 0, 3), {
      fault: 'truncated',
      message: 'incomplete frame: 3 bytes at end of log',
    });
    assert.deepEqual(readFrameHeader(buf, 0, buf.length - 1), {
      fault: 'truncated',
      message: `incomplete frame: ${buf.length - 1} of ${buf.length} bytes present`,
    });
    const cases: Array<[number, (b: Buffer) => void, string]> = [
      [0, (b) => b.writeUInt32LE(5, 0), 'invalid frame length 5'],
      [
        1,
        (b) => b.writeUInt32LE(b.length + 1, b.length - 4),
        `length footer ${buf.length + 1} != header length ${buf.length}`,
      ],
      [2, (b) => (b[4] = 1), 'unsupported frame version 1'],
      [3, (b) => b.writeUInt16LE(1, 6), 'reserved header bits set'],
      [
        4,
        (b) => b.writeUInt32LE(0, 24),
        `event count 0 does not fit a ${buf.length - OFF_KID - 2 - TAG_LEN - 4}-byte payload`,
      ],
      [5, (b) => b.writeUInt32LE(1000, 24), /event count 1000 does not fit/.source],
      [6, (b) => b.write('!', OFF_KID, 'latin1'), 'key id has invalid characters'],
    ];
    for (const [i, mutate, message] of cases) {
      const copy = Buffer.from(buf);
      mutate(copy);
      const fault = readFrameHeader(copy, 0, copy.length);
      assert.ok(isFault(fault), `case ${i}`);
      assert.match(fault.message, new RegExp(`^${message.replace(/[()]/g, '\\$&')}`), `case ${i}`);
    }
  });

  test('the sealed payload must hold exactly the declared events', () => {
    const pt = Buffer.alloc(2 * ENTRY_HEADER_LEN + 3);
    pt.writeUInt32LE(3, 8);
    assert.equal(forEachEntry(pt, 1), `sealed payload has ${ENTRY_HEADER_LEN} bytes after its 1 events`);
    assert.equal(forEachEntry(pt, 3), 'sealed payload holds 2 of 3 events');
    pt.writeUInt32LE(99, ENTRY_HEADER_LEN + 3 + 8);
    assert.equal(forEachEntry(pt, 2), 'event 2 of 2 overruns the sealed payload');
  });

  test('the file header names format v2; a v1 log is refused with what to do', () => {
    const id = randomBytes(16);
    assert.deepEqual(decodeFileHeader(encodeFileHeader(id)), { logId: id });
    const v1 = Buffer.concat([Buffer.from('CPAUDIT1'), id]);
    assert.match(
      String((decodeFileHeader(v1) as { error: string }).error),
      /format v1 .* not supported .* move it aside/,
    );
    assert.deepEqual(decodeFileHeader(Buffer.from('hello')), {
      error: 'not a ClosedPaw audit log (bad or missing file header)',
    });
  });
});

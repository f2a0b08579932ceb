// Tampering with the log in every way the issue lists must be reported at the right frame, with the
// reason: by full verification (secret keys) and, for everything a signature covers, by public
// verification (public keys only).
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { CompactSign } from 'jose';
import { CHECKPOINT_TYP, localCheckpointPath } from './checkpoint.ts';
import { PublicKeyring, publicJwks } from './keys.ts';
import { LogWriter, type PendingRecord } from './log-writer.ts';
import { AuditOpenError } from './open-log.ts';
import {
  FILE_HEADER_LEN,
  forEachEntry,
  hashFrame,
  isFault,
  MAX_FRAME,
  MIN_FRAME,
  OFF_COUNT,
  OFF_KID,
  OFF_KIDLEN,
  OFF_PREV,
  OFF_SEQ,
  OFF_TIME,
  openFrame,
  readFrameHeader,
  sealFrame,
} from './record.ts';
import type { ProblemCode } from './scan.ts';
import { openAuditSink } from './sink.ts';
import { at, type Fixture, type FrameLoc, fixture, flip, frames, writeEvents } from './testkit.ts';
import { type VerifyReport, verifyLog } from './verify.ts';

const BATCHES = [1, 3, 2, 4, 1, 2];
const EVENTS = BATCHES.reduce((a, b) => a + b, 0);

const batch = (from: number, n: number): PendingRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    time: 1_750_000_000_000 + from + i,
    body: Buffer.from(`{"i":${from + i}}`),
  }));

function problemOf(r: VerifyReport) {
  assert.equal(r.ok, false, 'verification should fail');
  return (r as Extract<VerifyReport, { ok: false }>).problem;
}

function expectProblem(
  r: VerifyReport,
  code: ProblemCode,
  seq: number | undefined,
  message: RegExp,
  offset?: number,
) {
  const p = problemOf(r);
  assert.equal(p.code, code, `code (message: ${p.message})`);
  assert.equal(p.seq, seq, 'seq');
  assert.match(p.message, message);
  if (offset !== undefined) assert.equal(p.offset, offset, 'offset');
}

type Expected = { code: ProblemCode; message: RegExp };

/** What flipping (xor 0xff) byte `pos` of frame `fr` is reported as when the frame itself is checked. */
function expectedAtFrame(fr: FrameLoc, pos: number, log: Buffer): Expected | 'contents' {
  if (pos < 4) {
    const len = log.readUInt32LE(fr.offset) ^ (0xff << (8 * pos));
    if (len >>> 0 < MIN_FRAME || len >>> 0 > MAX_FRAME)
      return { code: 'bad-frame', message: /^invalid frame length/ };
    if (fr.offset + (len >>> 0) > log.length) return { code: 'truncated', message: /^incomplete frame/ };
    return { code: 'bad-frame', message: /^length footer/ };
  }
  if (pos >= fr.len - 4) return { code: 'bad-frame', message: /^length footer/ };
  if (pos === 4) return { code: 'bad-frame', message: /^unsupported frame version/ };
  if (pos === OFF_KIDLEN)
    return { code: 'bad-frame', message: /^(invalid key id length|key id has invalid characters)/ };
  if (pos < OFF_SEQ) return { code: 'bad-frame', message: /^reserved header bits set/ };
  if (pos < OFF_TIME)
    return { code: 'sequence-gap', message: /^sequence gap: expected seq \d+, found seq \d+/ };
  if (pos >= OFF_COUNT && pos < OFF_PREV) {
    const copy = flip(Buffer.from(log.subarray(fr.offset, fr.offset + fr.len)), pos);
    if (isFault(readFrameHeader(copy, 0, copy.length)))
      return { code: 'bad-frame', message: /^event count \d+ does not fit/ };
    return 'contents'; // a count that still fits: the MAC (full) or the next frame's seq (public) catches it
  }
  if (pos >= OFF_PREV && pos < OFF_PREV + 32)
    return { code: 'broken-chain', message: /^broken chain: previous-hash field/ };
  if (pos === OFF_KID || pos === OFF_KID + 1)
    return { code: 'bad-frame', message: /^key id has invalid characters/ };
  return 'contents'; // time, nonce, ciphertext, tag
}

describe('tamper detection', () => {
  let f: Fixture;
  let pristine: Buffer;
  let fr: FrameLoc[];
  let publicKeys: PublicKeyring;
  const firstSeq = (i: number) => BATCHES.slice(0, i).reduce((a, b) => a + b, 0) + 1;
  const verify = (pub = false) =>
    verifyLog({ logPath: f.logPath, keyring: pub ? publicKeys : f.keyring, checkpointDir: f.checkpointDir });
  const verifyBytes = async (bytes: Uint8Array, pub = false) => {
    await writeFile(f.logPath, bytes);
    return verify(pub);
  };
  const frame = (i: number) => pristine.subarray(at(fr, i).offset, at(fr, i).offset + at(fr, i).len);
  const spliced = (...parts: Uint8Array[]) =>
    Buffer.concat([pristine.subarray(0, FILE_HEADER_LEN), ...parts]);
  const allFrames = () => fr.map((_, i) => frame(i));

  before(async () => {
    f = await fixture();
    const w = await LogWriter.open({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
    });
    let from = 0;
    for (const n of BATCHES) {
      await w.append(batch(from, n));
      from += n;
    }
    await w.checkpoint();
    await w.close();
    pristine = await readFile(f.logPath);
    fr = frames(pristine);
    publicKeys = PublicKeyring.fromJwks(JSON.parse(JSON.stringify(publicJwks(f.keyring))));
  });
  after(() => f.cleanup());

  test('the untouched log verifies, fully and with the public keys only', async () => {
    for (const pub of [false, true]) {
      const r = await verify(pub);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(
        [r.level, r.records, r.frames, r.local?.seq, r.external?.seq, r.signedSeq],
        [pub ? 'public' : 'full', EVENTS, BATCHES.length, EVENTS, EVENTS, EVENTS],
      );
      assert.equal(r.firstTime === undefined, pub, 'event times are known only after decrypting');
    }
  });

  test('full verification: flipping any byte of the first, a middle and the last frame names that frame and the exact reason', async () => {
    for (const i of [0, 2, BATCHES.length - 1]) {
      const loc = at(fr, i);
      for (let pos = 0; pos < loc.len; pos++) {
        const exp = expectedAtFrame(loc, pos, pristine);
        const { code, message } =
          exp === 'contents'
            ? { code: 'bad-mac' as const, message: /^bad MAC: frame failed authentication/ }
            : exp;
        const p = problemOf(await verifyBytes(flip(Buffer.from(pristine), loc.offset + pos)));
        const ctx = `frame ${i + 1} byte ${pos}: got ${p.code} ${p.message}`;
        assert.deepEqual([p.code, p.seq, p.offset], [code, firstSeq(i), loc.offset], ctx);
        assert.match(p.message, message, ctx);
      }
    }
  });

  test('public verification: flipping any byte is detected, at the frame, at the next frame or against the checkpoint', async () => {
    for (const i of [0, 2, BATCHES.length - 1]) {
      const loc = at(fr, i);
      const next = fr[i + 1];
      for (let pos = 0; pos < loc.len; pos++) {
        const exp = expectedAtFrame(loc, pos, pristine);
        const p = problemOf(await verifyBytes(flip(Buffer.from(pristine), loc.offset + pos), true));
        const ctx = `frame ${i + 1} byte ${pos}: got ${p.code} at seq ${p.seq}: ${p.message}`;
        if (exp !== 'contents') {
          assert.deepEqual([p.code, p.seq, p.offset], [exp.code, firstSeq(i), loc.offset], ctx);
        } else if (pos >= OFF_COUNT && pos < OFF_PREV) {
          assert.ok(
            ['sequence-gap', 'out-of-order', 'duplicate', 'checkpoint-mismatch', 'truncated'].includes(
              p.code,
            ),
            ctx,
          );
        } else if (next) {
          assert.deepEqual([p.code, p.seq, p.offset], ['broken-chain', firstSeq(i + 1), next.offset], ctx);
        } else {
          assert.equal(p.code, 'checkpoint-mismatch', ctx);
          assert.match(p.message, /^local checkpoint mismatch at seq 13/, ctx);
        }
      }
    }
  });

  test('flipping a byte of the file header is a bad header', async () => {
    const bytes = Buffer.from(pristine);
    flip(bytes, 0);
    expectProblem(await verifyBytes(bytes), 'bad-header', undefined, /not a ClosedPaw audit log/);
    flip(bytes, 0);
    flip(bytes, FILE_HEADER_LEN - 1); // log id: the chain no longer starts from this header
    for (const pub of [false, true]) {
      expectProblem(await verifyBytes(bytes, pub), 'checkpoint-mismatch', undefined, /belongs to log/);
    }
  });

  test('deleting a frame is a sequence gap (also for the public verifier)', async () => {
    const parts = allFrames().filter((_, i) => i !== 2);
    for (const pub of [false, true]) {
      expectProblem(
        await verifyBytes(spliced(...parts), pub),
        'sequence-gap',
        5,
        /expected seq 5, found seq 7\.\.10/,
        at(fr, 2).offset,
      );
    }
    expectProblem(
      await verifyBytes(spliced(...allFrames().slice(1))),
      'sequence-gap',
      1,
      /expected seq 1, found seq 2\.\.4/,
    );
  });

  test('swapping two frames is detected at the first of them', async () => {
    const parts = allFrames();
    [parts[1], parts[3]] = [at(parts, 3), at(parts, 1)];
    expectProblem(
      await verifyBytes(spliced(...parts), true),
      'sequence-gap',
      2,
      /expected seq 2, found seq 7\.\.10/,
    );
  });

  test('duplicating a frame, or replaying an old one later, is detected', async () => {
    const dup = allFrames();
    dup.splice(3, 0, frame(2));
    expectProblem(
      await verifyBytes(spliced(...dup), true),
      'duplicate',
      7,
      /duplicate frame: seq 5\.\.6 appears twice/,
    );
    const replay = allFrames();
    replay.splice(4, 0, frame(0));
    expectProblem(await verifyBytes(spliced(...replay)), 'out-of-order', 11, /expected seq 11, found seq 1$/);
  });

  test('truncating at a frame boundary behind the checkpoint, or inside a frame, is detected', async () => {
    const last = at(fr, fr.length - 1);
    for (const pub of [false, true]) {
      expectProblem(
        await verifyBytes(pristine.subarray(0, last.offset), pub),
        'truncated',
        12,
        /log truncated: it ends at seq 11 .* covers seq 13/,
      );
      expectProblem(
        await verifyBytes(pristine.subarray(0, last.offset + 10), pub),
        'truncated',
        12,
        /incomplete frame: 10 of \d+ bytes present/,
        last.offset,
      );
    }
  });

  test('a frame re-sealed under another key (same kid, valid chain) fails its MAC; publicly, the signed head', async () => {
    const last = at(fr, fr.length - 1);
    const h = readFrameHeader(frame(fr.length - 1), 0, last.len);
    assert.ok(!isFault(h));
    const forged = sealFrame({
      seq: h.seq,
      time: h.time,
      prevHash: hashFrame(pristine, at(fr, fr.length - 2).offset, at(fr, fr.length - 2).len),
      kid: 'k1',
      key: randomBytes(32),
      nonce: randomBytes(24),
      entries: batch(100, 2),
    });
    const bytes = spliced(...allFrames().slice(0, -1), forged);
    expectProblem(await verifyBytes(bytes), 'bad-mac', 12, /^bad MAC/, last.offset);
    expectProblem(
      await verifyBytes(bytes, true),
      'checkpoint-mismatch',
      13,
      /local checkpoint mismatch at seq 13/,
    );
  });

  test('a rewritten history with the record key but without the signing key mismatches the checkpoint', async () => {
    const key = f.keyring.active.recordKey;
    const out: Buffer[] = [];
    let prevHash = hashFrame(pristine, 0, FILE_HEADER_LEN);
    for (const loc of fr) {
      const h = readFrameHeader(pristine, loc.offset, loc.len);
      assert.ok(!isFault(h));
      const pt = openFrame(pristine, loc.offset, h, key);
      assert.ok(pt);
      const entries: PendingRecord[] = [];
      forEachEntry(pt, h.count, (_, time, body) =>
        entries.push({ time, body: Buffer.from(body.toString().replace('"i":1}', '"i":-1}')) }),
      );
      const buf = sealFrame({
        seq: h.seq,
        time: h.time,
        prevHash,
        kid: 'k1',
        key,
        nonce: randomBytes(24),
        entries,
      });
      prevHash = hashFrame(buf, 0, buf.length);
      out.push(buf);
    }
    for (const pub of [false, true]) {
      expectProblem(
        await verifyBytes(spliced(...out), pub),
        'checkpoint-mismatch',
        EVENTS,
        /local checkpoint mismatch at seq 13/,
      );
    }
  });

  test('a forged or foreign checkpoint is rejected', async () => {
    await writeFile(f.logPath, pristine);
    const cpPath = localCheckpointPath(f.logPath);
    const jws = (await readFile(cpPath, 'utf8')).trim();
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const altered = [h, Buffer.from(JSON.stringify({ ...payload, seq: 3 })).toString('base64url'), s].join(
      '.',
    );
    const foreignKey = generateKeyPairSync('ed25519').privateKey;
    const foreign = await new CompactSign(Buffer.from(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'Ed25519', kid: 'k1', typ: CHECKPOINT_TYP })
      .sign(foreignKey);
    for (const bad of [altered, foreign]) {
      await writeFile(cpPath, bad);
      for (const pub of [false, true])
        expectProblem(await verify(pub), 'bad-checkpoint', undefined, /signature is invalid/);
    }
    await writeFile(cpPath, jws);
  });

  describe('what only the public key cannot tell (documented in docs/audit.md)', () => {
    /** A frame an attacker without the record key appends: valid framing and chain, wrong MAC. */
    function forgedExtension(): Buffer {
      const last = at(fr, fr.length - 1);
      return sealFrame({
        seq: EVENTS + 1,
        time: Date.now(),
        prevHash: hashFrame(pristine, last.offset, last.len),
        kid: 'k1',
        key: randomBytes(32),
        nonce: randomBytes(24),
        entries: batch(500, 3),
      });
    }

    test('a forged frame after the newest checkpoint: public verification reports it as unsigned; full verification and opening reject it', async () => {
      const bytes = Buffer.concat([pristine, forgedExtension()]);
      const pub = await verifyBytes(bytes, true);
      assert.ok(pub.ok);
      assert.deepEqual(
        [pub.records, pub.signedSeq],
        [EVENTS + 3, EVENTS],
        'events past the checkpoint are not signed',
      );
      expectProblem(await verifyBytes(bytes), 'bad-mac', EVENTS + 1, /^bad MAC/, pristine.length);
      await assert.rejects(
        openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir }),
        (e: Error) => e instanceof AuditOpenError && e.code === 'bad-mac',
      );
      assert.deepEqual(await readFile(f.logPath), bytes, 'not repaired away');
    });

    test('the public keys cannot read events, and hold nothing secret', async () => {
      await writeFile(f.logPath, pristine);
      await assert.rejects(
        verifyLog({ logPath: f.logPath, keyring: publicKeys, onRecord: () => {} }),
        /reading events needs the secret keyring/,
      );
      const text = JSON.stringify(publicJwks(f.keyring));
      assert.doesNotMatch(text, /"d"|secret/);
    });
  });
});

describe('rollback and tail cuts against checkpoints', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
  });
  after(() => f.cleanup());
  const verify = () => verifyLog({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir });

  test('restoring an older log and its local checkpoint is a rollback (external checkpoint is newer)', async () => {
    await writeEvents(f, 6);
    await copyFile(f.logPath, `${f.logPath}.bak`);
    await copyFile(localCheckpointPath(f.logPath), `${f.logPath}.cp.bak`);
    await writeEvents(f, 3, { from: 6 });
    assert.ok((await verify()).ok);
    await copyFile(`${f.logPath}.bak`, f.logPath);
    await copyFile(`${f.logPath}.cp.bak`, localCheckpointPath(f.logPath));
    expectProblem(
      await verify(),
      'rollback',
      7,
      /log rolled back: it ends at seq 6 but the external checkpoint .* covers seq 9/,
    );
  });

  test('replacing the whole log with a fresh one is caught by the external checkpoint', async () => {
    await rm(f.logPath);
    await rm(localCheckpointPath(f.logPath));
    const w = await LogWriter.open({ logPath: f.logPath, keyring: f.keyring });
    await w.append(batch(0, 1));
    await w.checkpoint();
    await w.close();
    expectProblem(await verify(), 'checkpoint-mismatch', undefined, /external checkpoint belongs to log/);
  });

  test('without a later checkpoint: a torn frame is detected, a clean cut at a boundary is not (documented limit)', async () => {
    await rm(f.checkpointDir, { recursive: true, force: true });
    await rm(f.logPath);
    await rm(localCheckpointPath(f.logPath));
    const w = await LogWriter.open({ logPath: f.logPath, keyring: f.keyring });
    for (let i = 0; i < 3; i++) await w.append(batch(i, 1));
    await w.checkpoint();
    for (let i = 3; i < 6; i++) await w.append(batch(i, 1));
    await w.close();
    const log = await readFile(f.logPath);
    const fr = frames(log);
    await writeFile(f.logPath, log.subarray(0, at(fr, 5).offset + 7));
    expectProblem(await verify(), 'truncated', 6, /incomplete frame: 7 of/);
    await writeFile(f.logPath, log.subarray(0, at(fr, 5).offset));
    const r = await verify();
    assert.ok(
      r.ok && r.records === 5,
      'a boundary cut after the last checkpoint is indistinguishable from a shorter log',
    );
    await writeFile(f.logPath, log.subarray(0, at(fr, 2).offset));
    expectProblem(await verify(), 'truncated', 3, /log truncated: it ends at seq 2/);
  });
});

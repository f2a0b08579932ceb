// Tampering with the log in every way the issue lists must be reported at the right record, with the reason.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { localCheckpointPath } from './checkpoint.ts';
import { LogWriter } from './log-writer.ts';
import {
  FILE_HEADER_LEN,
  frameLength,
  hashFrame,
  isFault,
  MAX_FRAME,
  MIN_FRAME,
  openFrame,
  readFrameHeader,
  sealFrame,
} from './record.ts';
import type { ProblemCode } from './scan.ts';
import {
  at,
  type Fixture,
  type FrameLoc,
  fixture,
  flip,
  frames,
  sampleEvent,
  writeEvents,
} from './testkit.ts';
import { type VerifyReport, verifyLog } from './verify.ts';

const RECORDS = 6;

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
): void {
  const p = problemOf(r);
  assert.equal(p.code, code, `code (message: ${p.message})`);
  assert.equal(p.seq, seq, 'seq');
  assert.match(p.message, message);
  if (offset !== undefined) assert.equal(p.offset, offset, 'offset');
}

/** What flipping (xor 0xff) byte `pos` of frame `fr` must be reported as. Kid is "k1". */
function expectedFlip(fr: FrameLoc, pos: number, log: Buffer): { code: ProblemCode; message: RegExp } {
  if (pos < 4) {
    const copy = Buffer.from(log.subarray(fr.offset, fr.offset + 4));
    copy[pos] = (copy[pos] ?? 0) ^ 0xff;
    const len = copy.readUInt32LE(0);
    if (len < MIN_FRAME || len > MAX_FRAME) return { code: 'bad-frame', message: /^invalid record length/ };
    if (fr.offset + len > log.length) return { code: 'truncated', message: /^incomplete record/ };
    return { code: 'bad-frame', message: /^length footer/ };
  }
  if (pos >= fr.len - 4) return { code: 'bad-frame', message: /^length footer/ };
  if (pos === 4) return { code: 'bad-frame', message: /^unsupported record version/ };
  if (pos === 5) return { code: 'bad-frame', message: /^invalid key id length/ };
  if (pos < 8) return { code: 'bad-frame', message: /^reserved header bits set/ };
  if (pos < 16) return { code: 'sequence-gap', message: /^sequence gap: expected seq \d+, found seq \d+/ };
  if (pos >= 24 && pos < 56) return { code: 'broken-chain', message: /^broken chain: previous-hash field/ };
  if (pos === 80 || pos === 81) return { code: 'bad-frame', message: /^key id has invalid characters/ };
  return { code: 'bad-mac', message: /^bad MAC: record failed authentication/ }; // time, nonce, ciphertext, tag
}

describe('tamper detection', () => {
  let f: Fixture;
  let pristine: Buffer;
  let fr: FrameLoc[];
  const verify = () => verifyLog({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir });
  const verifyBytes = async (bytes: Uint8Array) => {
    await writeFile(f.logPath, bytes);
    return verify();
  };
  const frame = (i: number) => pristine.subarray(at(fr, i).offset, at(fr, i).offset + at(fr, i).len);
  const spliced = (...parts: Uint8Array[]) =>
    Buffer.concat([pristine.subarray(0, FILE_HEADER_LEN), ...parts]);

  before(async () => {
    f = await fixture();
    await writeEvents(f, RECORDS);
    pristine = await readFile(f.logPath);
    fr = frames(pristine);
  });
  after(() => f.cleanup());

  test('the untouched log verifies', async () => {
    const r = await verify();
    assert.ok(r.ok);
    assert.equal(r.records, RECORDS);
    assert.equal(r.local?.seq, RECORDS);
    assert.equal(r.external?.seq, RECORDS);
  });

  test('flipping any byte of the first, a middle and the last record names that record and the exact reason', async () => {
    for (const i of [0, 2, RECORDS - 1]) {
      const loc = at(fr, i);
      for (let pos = 0; pos < loc.len; pos++) {
        const bytes = Buffer.from(pristine);
        flip(bytes, loc.offset + pos);
        const { code, message } = expectedFlip(loc, pos, pristine);
        const p = problemOf(await verifyBytes(bytes));
        const ctx = `record ${i + 1} byte ${pos}: got ${p.code} ${p.message}`;
        assert.deepEqual([p.code, p.seq, p.offset], [code, i + 1, loc.offset], ctx);
        assert.match(p.message, message, ctx);
      }
    }
  });

  test('flipping a byte of the file header is a bad header', async () => {
    const bytes = Buffer.from(pristine);
    flip(bytes, 0);
    expectProblem(await verifyBytes(bytes), 'bad-header', undefined, /not a ClosedPaw audit log/);
    flip(bytes, 0);
    flip(bytes, FILE_HEADER_LEN - 1); // log id: the chain no longer starts from this header
    expectProblem(await verifyBytes(bytes), 'checkpoint-mismatch', undefined, /belongs to log/);
  });

  test('deleting a record is a sequence gap', async () => {
    const parts = fr.map((_, i) => frame(i)).filter((_, i) => i !== 2);
    expectProblem(
      await verifyBytes(spliced(...parts)),
      'sequence-gap',
      3,
      /expected seq 3, found seq 4/,
      at(fr, 2).offset,
    );
    const noFirst = fr.map((_, i) => frame(i)).slice(1);
    expectProblem(await verifyBytes(spliced(...noFirst)), 'sequence-gap', 1, /expected seq 1, found seq 2/);
  });

  test('swapping two records is detected at the first of them', async () => {
    const parts = fr.map((_, i) => frame(i));
    [parts[1], parts[3]] = [at(parts, 3), at(parts, 1)];
    expectProblem(await verifyBytes(spliced(...parts)), 'sequence-gap', 2, /expected seq 2, found seq 4/);
  });

  test('duplicating a record, or replaying an old one later, is detected', async () => {
    const dup = fr.map((_, i) => frame(i));
    dup.splice(3, 0, frame(2));
    expectProblem(
      await verifyBytes(spliced(...dup)),
      'duplicate',
      4,
      /duplicate record: seq 3 appears twice/,
    );
    const replay = fr.map((_, i) => frame(i));
    replay.splice(4, 0, frame(0));
    expectProblem(await verifyBytes(spliced(...replay)), 'out-of-order', 5, /expected seq 5, found seq 1/);
  });

  test('truncating the tail at a record boundary, behind a later checkpoint, is detected', async () => {
    const cut = pristine.subarray(0, at(fr, RECORDS - 1).offset);
    expectProblem(
      await verifyBytes(cut),
      'truncated',
      RECORDS,
      /log truncated: it ends at seq 5 .* covers seq 6/,
    );
  });

  test('truncating inside a record is an incomplete record', async () => {
    const last = at(fr, RECORDS - 1);
    const cut = pristine.subarray(0, last.offset + 10);
    expectProblem(
      await verifyBytes(cut),
      'truncated',
      RECORDS,
      /incomplete record: 10 of \d+ bytes present/,
      last.offset,
    );
  });

  test('a record re-sealed under another key (same kid, valid chain) fails its MAC', async () => {
    const h = readFrameHeader(frame(2), 0, at(fr, 2).len);
    assert.ok(!isFault(h));
    const plaintext = Buffer.from(JSON.stringify({ ...sampleEvent(99), time: undefined }));
    const forged = Buffer.alloc(frameLength(2, plaintext.length));
    const prevHash = hashFrame(frame(1), 0, at(fr, 1).len);
    sealFrame(forged, 0, {
      seq: 3,
      time: h.time,
      prevHash,
      kid: 'k1',
      key: randomBytes(32),
      nonce: randomBytes(24),
      plaintext,
    });
    const parts = fr.map((_, i) => (i === 2 ? forged : frame(i)));
    expectProblem(await verifyBytes(spliced(...parts)), 'bad-mac', 3, /^bad MAC/, at(fr, 2).offset);
  });

  test('a rewritten history with the record key but without the signing key mismatches the checkpoint', async () => {
    const key = f.keyring.active.recordKey;
    const scratch = Buffer.alloc(MAX_FRAME);
    const out: Buffer[] = [];
    let prevHash = hashFrameOf(pristine.subarray(0, FILE_HEADER_LEN));
    for (const [i, loc] of fr.entries()) {
      const h = readFrameHeader(pristine, loc.offset, loc.len);
      assert.ok(!isFault(h));
      const text = Buffer.from(openFrame(pristine, loc.offset, h, key, scratch) ?? []).toString();
      const plaintext = Buffer.from(i === 1 ? text.replace('approved', 'denied!!') : text);
      const buf = Buffer.alloc(frameLength(2, plaintext.length));
      sealFrame(buf, 0, {
        seq: h.seq,
        time: h.time,
        prevHash,
        kid: 'k1',
        key,
        nonce: randomBytes(24),
        plaintext,
      });
      prevHash = hashFrame(buf, 0, buf.length);
      out.push(buf);
    }
    expectProblem(
      await verifyBytes(spliced(...out)),
      'checkpoint-mismatch',
      RECORDS,
      /local checkpoint mismatch at seq 6/,
    );
  });

  test('a forged or foreign checkpoint is rejected', async () => {
    await writeFile(f.logPath, pristine);
    const cpPath = localCheckpointPath(f.logPath);
    const jws = (await readFile(cpPath, 'utf8')).trim();
    const [h, p, s] = jws.split('.');
    const payload = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
    const forged = [h, Buffer.from(JSON.stringify({ ...payload, seq: 3 })).toString('base64url'), s].join(
      '.',
    );
    await writeFile(cpPath, forged);
    expectProblem(await verify(), 'bad-checkpoint', undefined, /signature is invalid/);
    await writeFile(cpPath, jws);
  });

  test('worker-thread verification reports exactly what inline verification reports', async () => {
    const third = at(fr, 2);
    const unknownKid = Buffer.from(pristine);
    unknownKid.write('k9', third.offset + 80, 'latin1');
    const mutations = [
      pristine,
      unknownKid,
      pristine.subarray(0, pristine.length - 7),
      spliced(...fr.map((_, i) => frame(i)).filter((_, i) => i !== 2)),
      ...[0, 4, 9, 20, 30, 60, 81, 100, third.len - 20, third.len - 2].map((pos) =>
        flip(Buffer.from(pristine), third.offset + pos),
      ),
    ];
    for (const [i, bytes] of mutations.entries()) {
      await writeFile(f.logPath, bytes);
      const loc = { logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir };
      const inline = await verifyLog({ ...loc, workers: 0 });
      const pooled = await verifyLog({ ...loc, workers: 2 });
      assert.deepEqual(pooled, inline, `mutation ${i}`);
      assert.equal(inline.ok, i === 0);
    }
  });

  function hashFrameOf(b: Buffer): Buffer {
    return hashFrame(b, 0, b.length);
  }
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
    await w.append([{ time: Date.now(), body: Buffer.from('{"type":"x"}') }]);
    await w.checkpoint();
    await w.close();
    expectProblem(await verify(), 'checkpoint-mismatch', undefined, /external checkpoint belongs to log/);
  });

  test('without a later checkpoint: a torn record is detected, a clean cut at a boundary is not (documented limit)', async () => {
    await rm(f.checkpointDir, { recursive: true, force: true });
    await rm(f.logPath);
    await rm(localCheckpointPath(f.logPath));
    const w = await LogWriter.open({ logPath: f.logPath, keyring: f.keyring });
    const batch = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ time: 1e12 + i, body: Buffer.from(`{"i":${i}}`) }));
    await w.append(batch(3));
    await w.checkpoint();
    await w.append(batch(3));
    await w.close();
    const log = await readFile(f.logPath);
    const fr = frames(log);
    await writeFile(f.logPath, log.subarray(0, at(fr, 5).offset + 7));
    expectProblem(await verify(), 'truncated', 6, /incomplete record: 7 of/);
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

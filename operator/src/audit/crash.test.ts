// Crash safety: whatever prefix of the last write reached the disk (cut short, or zero-filled where the
// file grew), reopening keeps every acknowledged event, cuts off (and saves) the torn tail, records that
// it did, and continues a valid chain. Anything else in the tail is refused, and the log left untouched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { externalCheckpointPath, localCheckpointPath } from './checkpoint.ts';
import { LogWriter, type PendingRecord } from './log-writer.ts';
import { AuditOpenError, MAX_BATCH_BYTES } from './open-log.ts';
import { type AuditRecord, exportRecords } from './read.ts';
import { hashFrame, OFF_KID, OFF_PREV, OFF_SEQ, sealFrame } from './record.ts';
import { type AuditLogger, openAuditSink } from './sink.ts';
import { at, type Fixture, fixture, flip, frames } from './testkit.ts';

const batch = (from: number, n: number): PendingRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    time: 1_750_000_000_000 + from + i,
    body: Buffer.from(`{"i":${from + i}}`),
  }));

describe('crash recovery', () => {
  let f: Fixture;
  let full: Buffer;
  let ackSize: number;
  const cpFiles: Array<[string, Buffer]> = [];
  const warnings: object[] = [];
  const logger: AuditLogger = { info() {}, warn: (o) => warnings.push(o), error() {} };
  const open = () =>
    openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir, logger });

  before(async () => {
    f = await fixture();
    const w = await LogWriter.open({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
    });
    await w.append(batch(0, 3)); // frame 1, acknowledged, covered by a checkpoint
    await w.checkpoint();
    await w.append(batch(3, 2)); // frame 2, acknowledged, after the last checkpoint
    ackSize = w.size;
    await w.append(batch(5, 2)); // frame 3: the write a crash interrupts
    await w.close();
    full = await readFile(f.logPath);
    for (const p of [localCheckpointPath(f.logPath), externalCheckpointPath(f.checkpointDir, f.logPath)]) {
      cpFiles.push([p, await readFile(p)]);
    }
  });
  after(() => f.cleanup());

  async function reset(bytes: Buffer): Promise<void> {
    for (const name of await readdir(dirname(f.logPath))) {
      if (name.includes('.torn-')) await rm(join(dirname(f.logPath), name));
    }
    for (const [p, b] of cpFiles) await writeFile(p, b);
    await writeFile(f.logPath, bytes);
  }

  async function exported(): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    const r = await exportRecords({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
      onRecord: (x) => out.push(x),
    });
    assert.ok(r.ok, r.ok ? '' : `verify failed: ${r.problem.code} ${r.problem.message}`);
    return out;
  }

  /** Reopens after a crash that left `bytes`, appends one event, and checks what the log then holds. */
  async function reopenAndCheck(bytes: Buffer, ctx: string): Promise<void> {
    await reset(bytes);
    warnings.length = 0;
    const sink = await open();
    sink.append({
      type: 'config.changed',
      actor: { kind: 'system', name: 'test' },
      key: 'after-crash',
      change: 'updated',
    });
    await sink.close();
    const recs = await exported();
    const complete = bytes.equals(full) ? 7 : 5;
    const torn = bytes.length !== ackSize && complete === 5;
    assert.deepEqual(
      recs.slice(0, complete).map((r) => r.event.i),
      Array.from({ length: complete }, (_, i) => i),
      ctx,
    );
    const rest = recs.slice(complete).map((r) => r.event.type);
    assert.deepEqual(rest, torn ? ['audit.recovered', 'config.changed'] : ['config.changed'], ctx);
    assert.deepEqual(
      recs.map((r) => r.seq),
      Array.from({ length: recs.length }, (_, i) => i + 1),
      ctx,
    );
    assert.equal(warnings.length, torn ? 1 : 0, ctx);
    if (torn) {
      assert.equal(at(recs, complete).event.offset, ackSize, ctx);
      assert.equal(at(recs, complete).event.truncatedBytes, bytes.length - ackSize, ctx);
      assert.match(String(at(recs, complete).event.reason), /^(torn write|zero-filled tail)/, ctx);
    }
  }

  test('a cut at every byte offset of the last write: acknowledged events kept, torn tail cut, clean append after', async () => {
    for (let length = ackSize; length <= full.length; length++) {
      await reopenAndCheck(full.subarray(0, length), `cut at ${length}`);
    }
  });

  test('every prefix of the last write followed by zeros up to its full length (size grew, data did not) is repaired', async () => {
    for (let length = ackSize; length < full.length; length++) {
      const bytes = Buffer.concat([full.subarray(0, length), Buffer.alloc(full.length - length)]);
      await reopenAndCheck(bytes, `written up to ${length}, zeros after`);
    }
  });

  test('the cut-off bytes are kept in a side file for forensics', async () => {
    await reset(full.subarray(0, full.length - 5));
    const sink = await openAuditSink({ logPath: f.logPath, keyring: f.keyring, logger });
    await sink.close();
    const torn = (await readdir(dirname(f.logPath))).filter((n) =>
      n.startsWith(`${basename(f.logPath)}.torn-`),
    );
    assert.equal(torn.length, 1);
    assert.deepEqual(
      await readFile(join(dirname(f.logPath), at(torn, 0))),
      full.subarray(ackSize, full.length - 5),
    );
  });

  test('a zero-filled tail after a complete frame is recovered', async () => {
    await reset(full);
    await appendFile(f.logPath, Buffer.alloc(4096));
    const sink = await open();
    await sink.close();
    const recs = await exported();
    assert.equal(recs.length, 8);
    assert.equal(at(recs, 7).event.type, 'audit.recovered');
    assert.match(String(at(recs, 7).event.reason), /^zero-filled tail: 4096 zero bytes/);
  });

  test('zeros longer than one write are not a crash: opening is refused', async () => {
    await reset(full);
    await appendFile(f.logPath, Buffer.alloc(MAX_BATCH_BYTES + 1));
    await assert.rejects(
      open(),
      (e: Error) =>
        e instanceof AuditOpenError && e.code === 'bad-frame' && /more than one write/.test(e.message),
    );
  });

  describe('damage in the tail that is not a torn write is refused, and the log left as it was', () => {
    const last = () => at(frames(full), 2);
    const tampered = (mutate: (b: Buffer) => void) => {
      const b = Buffer.from(full);
      mutate(b);
      return b;
    };
    const resealed = (over: { seq?: number; prevHash?: Buffer }) => {
      const lf = last();
      const frame = sealFrame({
        seq: over.seq ?? 6,
        time: Date.now(),
        prevHash: over.prevHash ?? hashFrame(full, at(frames(full), 1).offset, at(frames(full), 1).len),
        kid: 'k1',
        key: f.keyring.active.recordKey,
        nonce: randomBytes(24),
        entries: batch(5, 2),
      });
      return Buffer.concat([full.subarray(0, lf.offset), frame]);
    };
    // Each of these would have been cut off as a "torn tail" by the store before format v2.
    const cases: Array<[string, () => Buffer, string, RegExp]> = [
      [
        'a flipped ciphertext byte (bad MAC)',
        () => tampered((b) => flip(b, last().offset + OFF_KID + 10)),
        'bad-mac',
        /bad MAC/,
      ],
      [
        'a flipped tag byte (bad MAC)',
        () => tampered((b) => flip(b, last().offset + last().len - 6)),
        'bad-mac',
        /bad MAC/,
      ],
      [
        'a previous-hash that does not match (broken chain)',
        () => tampered((b) => flip(b, last().offset + OFF_PREV)),
        'broken-chain',
        /broken chain/,
      ],
      [
        'a wrong sequence number, validly sealed',
        () => resealed({ seq: 9 }),
        'sequence-gap',
        /sequence gap: expected seq 6, found seq 9\.\.10/,
      ],
      [
        'a validly sealed frame linked to the wrong predecessor',
        () => resealed({ prevHash: randomBytes(32) }),
        'broken-chain',
        /broken chain/,
      ],
      [
        'a flipped seq byte (sequence gap)',
        () => tampered((b) => flip(b, last().offset + OFF_SEQ + 1)),
        'sequence-gap',
        /sequence gap/,
      ],
      [
        'a frame in the middle after the checkpoint (bad MAC)',
        () => tampered((b) => flip(b, at(frames(full), 1).offset + OFF_KID + 5)),
        'bad-mac',
        /frame for seq 4 .*bad MAC/,
      ],
      [
        'garbage appended after the last frame',
        () => Buffer.concat([full, randomBytes(200)]),
        'bad-frame',
        /./,
      ],
      [
        'a frame prefix that does not continue the chain',
        () => Buffer.concat([full.subarray(0, ackSize), withSeq(full.subarray(ackSize, ackSize + 50), 42)]),
        'truncated',
        /does not continue the chain \(wrong sequence number, expected 6\)/,
      ],
    ];
    for (const [name, bytes, code, message] of cases) {
      test(name, async () => {
        const b = bytes();
        await reset(b);
        await assert.rejects(open(), (e: Error) => {
          assert.ok(e instanceof AuditOpenError, String(e));
          assert.equal(e.code, code, e.message);
          assert.match(e.message, message);
          assert.match(
            e.message,
            /^refusing to open audit log .*audit\.log: frame for seq \d+ at offset \d+: /,
          );
          assert.match(e.message, /not a torn write .* nothing was changed/);
          assert.match(e.message, /run "closedpaw audit verify --log .*audit\.log --keys <key dir>"/);
          assert.match(
            e.message,
            /move .*audit\.log and its checkpoints \(.*audit\.log\.checkpoint, .*published.*\) aside/,
          );
          return true;
        });
        assert.deepEqual(await readFile(f.logPath), b, 'the log is untouched');
        const sideFiles = (await readdir(dirname(f.logPath))).filter((n) => n.includes('.torn-'));
        assert.deepEqual(sideFiles, []);
      });
    }
  });

  test('a log shorter than its checkpoint is refused, not silently extended', async () => {
    await reset(full.subarray(0, at(frames(full), 0).offset + 10));
    await assert.rejects(open(), (e: Error) => e instanceof AuditOpenError && e.code === 'truncated');
    await rm(localCheckpointPath(f.logPath)); // as if log and local checkpoint were rolled back together
    await assert.rejects(open(), (e: Error) => e instanceof AuditOpenError && e.code === 'rollback');
    await rm(f.logPath);
    await assert.rejects(
      open(),
      (e: Error) => e instanceof AuditOpenError && e.code === 'rollback' && /missing/.test(e.message),
    );
  });

  test('a tail frame under an unknown key id is refused (misconfiguration, not a crash)', async () => {
    await reset(tamperedKid());
    await assert.rejects(open(), (e: Error) => e instanceof AuditOpenError && e.code === 'unknown-key');
  });

  function tamperedKid(): Buffer {
    const bytes = Buffer.from(full);
    bytes.write('k9', at(frames(full), 2).offset + OFF_KID, 'latin1');
    return bytes;
  }
});

function withSeq(prefix: Buffer, seq: number): Buffer {
  const b = Buffer.from(prefix);
  b.writeUInt32LE(seq, OFF_SEQ);
  return b;
}

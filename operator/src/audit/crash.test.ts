// Crash safety: whatever prefix of the last write reached the disk, reopening keeps every acknowledged
// record, cuts off (and saves) the torn tail, records that it did, and continues a valid chain.
import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { externalCheckpointPath, localCheckpointPath } from './checkpoint.ts';
import { LogWriter, type PendingRecord } from './log-writer.ts';
import { AuditOpenError, MAX_BATCH_BYTES } from './open-log.ts';
import { type AuditRecord, exportRecords } from './read.ts';
import { type AuditLogger, openAuditSink } from './sink.ts';
import { at, type Fixture, fixture, frames } from './testkit.ts';

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

  before(async () => {
    f = await fixture();
    const w = await LogWriter.open({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
    });
    await w.append(batch(0, 3)); // acknowledged, covered by a checkpoint
    await w.checkpoint();
    await w.append(batch(3, 2)); // acknowledged, after the last checkpoint
    ackSize = w.size;
    await w.append(batch(5, 2)); // the write a crash interrupts
    await w.close();
    full = await readFile(f.logPath);
    for (const p of [localCheckpointPath(f.logPath), externalCheckpointPath(f.checkpointDir, f.logPath)]) {
      cpFiles.push([p, await readFile(p)]);
    }
  });
  after(() => f.cleanup());

  async function resetTo(length: number): Promise<void> {
    for (const name of await readdir(dirname(f.logPath))) {
      if (name.includes('.torn-')) await rm(join(dirname(f.logPath), name));
    }
    for (const [p, bytes] of cpFiles) await writeFile(p, bytes);
    await writeFile(f.logPath, full.subarray(0, length));
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

  test('a cut at every byte offset of the last write: acknowledged records kept, torn tail cut, clean append after', async () => {
    const boundaries = new Set(frames(full).map((x) => x.offset + x.len));
    for (let length = ackSize; length <= full.length; length++) {
      await resetTo(length);
      const complete = frames(full).filter((x) => x.offset + x.len <= length).length;
      const torn = !boundaries.has(length);
      warnings.length = 0;
      const sink = await openAuditSink({
        logPath: f.logPath,
        keyring: f.keyring,
        checkpointDir: f.checkpointDir,
        logger,
      });
      sink.append({
        type: 'config.changed',
        actor: { kind: 'system', name: 'test' },
        key: 'after-crash',
        change: 'updated',
      });
      await sink.close();

      const recs = await exported();
      const ctx = `cut at ${length}`;
      assert.deepEqual(
        recs.slice(0, complete).map((r) => r.event.i),
        Array.from({ length: complete }, (_, i) => i),
        ctx,
      );
      assert.ok(complete >= 5, `${ctx}: all acknowledged records kept`);
      const rest = recs.slice(complete).map((r) => r.event.type);
      assert.deepEqual(rest, torn ? ['audit.recovered', 'config.changed'] : ['config.changed'], ctx);
      assert.deepEqual(
        recs.map((r) => r.seq),
        Array.from({ length: recs.length }, (_, i) => i + 1),
        ctx,
      );
      assert.equal(warnings.length, torn ? 1 : 0, ctx);
      if (torn) {
        const offset = Math.max(...[...boundaries].filter((b) => b <= length), ackSize);
        assert.deepEqual(at(recs, complete).event.offset, offset, ctx);
        assert.deepEqual(at(recs, complete).event.truncatedBytes, length - offset, ctx);
      }
    }
  });

  test('the cut-off bytes are kept in a side file for forensics', async () => {
    await resetTo(full.length - 5);
    const sink = await openAuditSink({ logPath: f.logPath, keyring: f.keyring, logger });
    await sink.close();
    const torn = (await readdir(dirname(f.logPath))).filter((n) =>
      n.startsWith(`${basename(f.logPath)}.torn-`),
    );
    assert.equal(torn.length, 1);
    const last = at(frames(full), 6);
    assert.deepEqual(
      await readFile(join(dirname(f.logPath), at(torn, 0))),
      full.subarray(last.offset, full.length - 5),
    );
  });

  test('a zero-filled tail (size grew, data never written) is recovered', async () => {
    await resetTo(full.length);
    await appendFile(f.logPath, Buffer.alloc(4096));
    const sink = await openAuditSink({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
      logger,
    });
    await sink.close();
    const recs = await exported();
    assert.equal(recs.length, 8);
    assert.equal(at(recs, 7).event.type, 'audit.recovered');
    assert.match(String(at(recs, 7).event.reason), /^bad-frame: invalid record length 0/);
  });

  test('damage larger than one batch is not a crash: opening is refused', async () => {
    await resetTo(full.length);
    await appendFile(f.logPath, Buffer.alloc(MAX_BATCH_BYTES + 1));
    await assert.rejects(
      openAuditSink({ logPath: f.logPath, keyring: f.keyring }),
      (e: Error) =>
        e instanceof AuditOpenError && e.code === 'bad-frame' && /not a torn tail/.test(e.message),
    );
  });

  test('a log shorter than its checkpoint is refused, not silently extended', async () => {
    await resetTo(at(frames(full), 1).offset);
    await assert.rejects(
      openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir }),
      (e: Error) => e instanceof AuditOpenError && e.code === 'truncated',
    );
    await rm(localCheckpointPath(f.logPath)); // as if log and local checkpoint were rolled back together
    await assert.rejects(
      openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir }),
      (e: Error) => e instanceof AuditOpenError && e.code === 'rollback',
    );
    await rm(f.logPath);
    await assert.rejects(
      openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir }),
      (e: Error) => e instanceof AuditOpenError && e.code === 'rollback' && /missing/.test(e.message),
    );
  });

  test('a tail record under an unknown key id is refused (misconfiguration, not a crash)', async () => {
    await resetTo(full.length);
    const bytes = Buffer.from(full);
    const last = at(frames(full), 6);
    bytes.write('k9', last.offset + 80, 'latin1');
    await writeFile(f.logPath, bytes);
    await assert.rejects(
      openAuditSink({ logPath: f.logPath, keyring: f.keyring }),
      (e: Error) => e instanceof AuditOpenError && e.code === 'unknown-key',
    );
  });
});

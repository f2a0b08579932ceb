import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { externalCheckpointPath, localCheckpointPath, readLatestCheckpoint } from './checkpoint.ts';
import { AUDIT_EVENT_TYPES, parseAuditEvent } from './events.ts';
import { OFF_COUNT, OFF_KID, OFF_NONCE } from './record.ts';
import { AuditSinkError, MemoryAuditSink, openAuditSink } from './sink.ts';
import { at, type Fixture, fixture, logFrames, sampleEvent, writeEvents } from './testkit.ts';
import { verifyLog } from './verify.ts';

const isSinkError = (code: string) => (e: unknown) => e instanceof AuditSinkError && e.code === code;

describe('event catalogue', () => {
  test('covers every security-relevant action', () => {
    assert.deepEqual([...AUDIT_EVENT_TYPES].sort(), [
      'approval.decided',
      'approval.expired',
      'approval.requested',
      'audit.key_rotated',
      'audit.recovered',
      'channel.decision',
      'channel.intake',
      'channel.notified',
      'channel.pairing',
      'channel.rejected',
      'config.changed',
      'model.call',
      'pod.created',
      'pod.finished',
      'policy.changed',
      'screening.flagged',
      'task.admitted',
      'task.deleted',
      'task.result_recorded',
      'task.risk_rated',
      'ui.login_failed',
      'ui.login_succeeded',
      'verification.run',
    ]);
  });

  test('rejects unknown fields, missing actors and malformed digests', () => {
    assert.throws(() => parseAuditEvent({ ...sampleEvent(1), extra: 1 }), /extra/);
    const { decidedBy: _, ...noActor } = sampleEvent(1) as Record<string, unknown>;
    assert.throws(() => parseAuditEvent(noActor), /decidedBy/);
    const result = { type: 'task.result_recorded', task: { namespace: 'a', name: 'b' }, sizeBytes: 1 };
    assert.throws(() => parseAuditEvent({ ...result, digest: 'md5:abc' }), /sha256/);
    assert.equal(
      parseAuditEvent({ ...result, digest: `sha256:${'a'.repeat(64)}` }).type,
      'task.result_recorded',
    );
  });
});

describe('file audit sink', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
  });
  after(() => f.cleanup());
  const verify = () => verifyLog({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir });

  test('append only enqueues; flush makes the events durable (acknowledged)', async () => {
    const sink = await openAuditSink({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
    });
    const before = statSync(f.logPath).size;
    for (let i = 0; i < 50; i++) sink.append(sampleEvent(i));
    assert.deepEqual(
      { ...sink.stats, checkpointErrors: undefined },
      {
        appended: 50,
        durable: 0,
        pending: 50,
        seq: 0,
        checkpointErrors: undefined,
      },
    );
    assert.equal(statSync(f.logPath).size, before, 'nothing written synchronously');
    await sink.flush();
    assert.equal(sink.stats.durable, 50);
    const r = await verify();
    assert.ok(r.ok && r.records === 50, 'a reader sees every acknowledged event while the sink is open');
    await sink.close();
    await sink.close(); // idempotent
  });

  test('one group commit is one frame; every frame gets its own random 24-byte nonce', async () => {
    const { log, frames: fr } = await logFrames(f.logPath);
    assert.equal(fr.length, 1, '50 events appended together share one frame');
    assert.equal(log.readUInt32LE(at(fr, 0).offset + OFF_COUNT), 50);
    await writeEvents(f, 1, { from: 50 });
    await writeEvents(f, 1, { from: 51 });
    const after = await logFrames(f.logPath);
    const nonces = new Set(
      after.frames.map((x) => after.log.toString('hex', x.offset + OFF_NONCE, x.offset + OFF_KID)),
    );
    assert.equal(nonces.size, 3);
  });

  test('invalid, oversized, overflowing and post-close appends throw typed errors', async () => {
    const sink = await openAuditSink({ logPath: f.logPath, keyring: f.keyring, maxQueue: 2 });
    assert.throws(() => sink.append({ type: 'task.admitted' } as never), isSinkError('invalid-event'));
    const huge = { type: 'task.risk_rated', task: { namespace: 'a', name: 'b' }, level: 'low' } as const;
    assert.throws(() => sink.append({ ...huge, reasons: Array(33).fill('x') }), isSinkError('invalid-event'));
    // Within the schema's character limits but over MAX_EVENT_BYTES once UTF-8 encoded.
    assert.throws(
      () => sink.append({ ...huge, reasons: Array(32).fill('\u{1F600}'.repeat(512)) }),
      isSinkError('too-large'),
    );
    sink.append(sampleEvent(1));
    sink.append(sampleEvent(2));
    assert.throws(() => sink.append(sampleEvent(3)), isSinkError('overflow'));
    await sink.close();
    assert.throws(() => sink.append(sampleEvent(4)), isSinkError('closed'));
  });

  test('reopening continues the same chain', async () => {
    const before = await verify();
    assert.ok(before.ok);
    await writeEvents(f, 5, { from: 100 });
    const r = await verify();
    assert.ok(r.ok);
    assert.equal(r.records, before.records + 5);
    assert.equal(r.end.seq, r.records);
  });

  test('checkpoints every N records and on a timer, beside the log and in the external directory', async () => {
    const sink = await openAuditSink({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
      checkpointEvery: 10,
      checkpointIntervalMs: 30,
    });
    const start = sink.stats.seq;
    for (let i = 0; i < 25; i++) sink.append(sampleEvent(i));
    await sink.flush();
    for (let i = 0; i < 50 && sink.latestCheckpoint()?.checkpoint.seq !== start + 25; i++) await sleep(20);
    const cp = sink.latestCheckpoint();
    assert.equal(cp?.checkpoint.seq, start + 25, 'timer checkpoint covers the last records');
    assert.equal(cp?.checkpoint.kid, 'k1');
    const latest = await readLatestCheckpoint({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
    });
    assert.deepEqual(latest?.checkpoint, cp?.checkpoint);
    const local = await readFile(localCheckpointPath(f.logPath), 'utf8');
    assert.equal(await readFile(externalCheckpointPath(f.checkpointDir, f.logPath), 'utf8'), local);
    await sink.close();
  });
});

describe('memory audit sink', () => {
  test('validates and keeps events in order', async () => {
    const sink = new MemoryAuditSink();
    sink.append(sampleEvent(1));
    sink.append(sampleEvent(2));
    assert.throws(() => sink.append({ type: 'nope' } as never));
    await sink.flush();
    assert.deepEqual(
      sink.events.map((e) => e.type === 'approval.decided' && e.approvalId),
      ['apr-1', 'apr-2'],
    );
  });
});

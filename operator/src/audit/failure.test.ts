// Fail closed, then recover: a failed write stops the sink (failure(), onFailure, appends throw), releases
// the log and its lock at once, and a reopen repairs what the failed write left and carries the events
// that did not land over, exactly once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type AuditRecord, exportRecords } from './read.ts';
import { type AuditLogger, AuditSinkError, type FileAuditSink, openAuditSink } from './sink.ts';
import { type Fixture, fixture, sampleEvent } from './testkit.ts';

type Proto = {
  write: (...args: unknown[]) => Promise<{ bytesWritten: number }>;
  datasync: () => Promise<void>;
};

/** Fault injection on node's FileHandle prototype (only the log writer uses write/datasync). */
async function fileHandleProto(): Promise<Proto> {
  const fh = await open(import.meta.filename, 'r');
  const proto = Object.getPrototypeOf(fh) as Proto;
  await fh.close();
  return proto;
}

const errno = (code: string) => Object.assign(new Error(`${code}: injected`), { code });

describe('failure and recovery of the file sink', () => {
  let f: Fixture;
  let proto: Proto;
  let realWrite: Proto['write'];
  let realDatasync: Proto['datasync'];
  const logs: Array<{ level: string; msg: string; obj: object }> = [];
  const logger: AuditLogger = {
    info: (obj, msg) => logs.push({ level: 'info', msg, obj }),
    warn: (obj, msg) => logs.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => logs.push({ level: 'error', msg, obj }),
  };
  const opts = () => ({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir, logger });
  const restore = () => {
    proto.write = realWrite;
    proto.datasync = realDatasync;
  };

  before(async () => {
    proto = await fileHandleProto();
    realWrite = proto.write;
    realDatasync = proto.datasync;
  });

  async function events(): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    const r = await exportRecords({ ...opts(), onRecord: (x) => out.push(x) });
    assert.ok(r.ok, r.ok ? '' : `${r.problem.code}: ${r.problem.message}`);
    assert.deepEqual(
      out.map((x) => x.seq),
      out.map((_, i) => i + 1),
    );
    return out;
  }
  const ids = (recs: AuditRecord[]) =>
    recs.map((r) => (r.event.approvalId as string | undefined) ?? r.event.type);
  const apr = (from: number, n: number) => Array.from({ length: n }, (_, i) => `apr-${from + i}`);

  /** Opens a sink whose failures are recorded, with `n` events already acknowledged. */
  async function healthySink(
    n: number,
    extra: { maxBatch?: number } = {},
  ): Promise<{ sink: FileAuditSink; failures: AuditSinkError[] }> {
    const failures: AuditSinkError[] = [];
    const sink = await openAuditSink({ ...opts(), ...extra, onFailure: (e) => failures.push(e) });
    for (let i = 0; i < n; i++) sink.append(sampleEvent(i));
    await sink.flush();
    assert.equal(sink.failure(), undefined);
    return { sink, failures };
  }

  test('a write torn by ENOSPC: failure reported, sink closed for appends, reopen cuts the torn frame and carries the events over', async () => {
    f = await fixture();
    try {
      const { sink, failures } = await healthySink(3);
      proto.write = async function (this: unknown, ...args: unknown[]) {
        const [buf, off, len, pos] = args as [Buffer, number, number, number];
        await realWrite.call(this, buf, off, Math.floor(len / 2), pos); // half the frame reaches the file
        throw errno('ENOSPC');
      };
      for (let i = 3; i < 8; i++) sink.append(sampleEvent(i));
      await assert.rejects(sink.flush(), (e: Error) => e instanceof AuditSinkError && e.code === 'failed');
      restore();
      const failure = sink.failure();
      assert.ok(failure instanceof AuditSinkError);
      assert.equal(failure.code, 'failed');
      assert.match(failure.message, /^audit log write failed: ENOSPC/);
      assert.deepEqual(failures, [failure], 'onFailure called once, with the same error');
      assert.throws(
        () => sink.append(sampleEvent(99)),
        (e: Error) => e === failure,
      );
      await assert.rejects(sink.flush(), (e: Error) => e === failure);
      await assert.rejects(
        sink.close(),
        (e: Error) => e === failure,
        'close releases, then reports the failure',
      );

      const reopened = await openAuditSink({ ...opts(), resumeFrom: sink });
      reopened.append(sampleEvent(8));
      await reopened.close();
      const recs = await events();
      assert.deepEqual(ids(recs), [...apr(0, 3), 'audit.recovered', ...apr(3, 5), 'apr-8']);
      assert.match(String(recs[3]?.event.reason), /^torn write: \d+ of \d+ bytes of the frame for seq 4/);
    } finally {
      restore();
      await f.cleanup();
    }
  });

  test('fdatasync failed after the frame was written whole: the reopen keeps it and appends only what was queued behind it', async () => {
    f = await fixture();
    try {
      const { sink } = await healthySink(2, { maxBatch: 4 });
      proto.datasync = async () => {
        throw errno('EIO');
      };
      for (let i = 2; i < 8; i++) sink.append(sampleEvent(i)); // 4 in the failing frame, 2 queued behind it
      await assert.rejects(sink.flush(), /EIO/);
      restore();
      await sink.close().catch(() => {});
      const reopened = await openAuditSink({ ...opts(), resumeFrom: sink });
      await reopened.close();
      assert.deepEqual(ids(await events()), apr(0, 8), 'every event exactly once, in order');
      assert.ok(
        logs.some(
          (l) =>
            l.msg.includes('re-appending events of the failed sink') &&
            (l.obj as { events: number }).events === 2,
        ),
      );
    } finally {
      restore();
      await f.cleanup();
    }
  });

  test('a write that failed before reaching the file: all its events are carried over', async () => {
    f = await fixture();
    try {
      const { sink } = await healthySink(1);
      proto.write = async () => {
        throw errno('EBADF');
      };
      for (let i = 1; i < 4; i++) sink.append(sampleEvent(i));
      await assert.rejects(sink.flush(), /EBADF/);
      restore();
      await sink.close().catch(() => {});
      const reopened = await openAuditSink({ ...opts(), resumeFrom: sink });
      await reopened.close();
      assert.deepEqual(ids(await events()), apr(0, 4));
    } finally {
      restore();
      await f.cleanup();
    }
  });

  test('if the log moved on since the failure, unwritten events are not guessed into place: logged, not re-appended', async () => {
    f = await fixture();
    try {
      const { sink } = await healthySink(1);
      proto.write = async () => {
        throw errno('EIO');
      };
      sink.append(sampleEvent(1));
      await assert.rejects(sink.flush());
      restore();
      await sink.close().catch(() => {});
      const other = await openAuditSink(opts());
      other.append(sampleEvent(50));
      await other.close();
      logs.length = 0;
      const reopened = await openAuditSink({ ...opts(), resumeFrom: sink });
      await reopened.close();
      assert.deepEqual(ids(await events()), ['apr-0', 'apr-50']);
      assert.ok(
        logs.some(
          (l) =>
            l.level === 'error' && /cannot be placed/.test(l.msg) && (l.obj as { lost: number }).lost === 1,
        ),
      );
    } finally {
      restore();
      await f.cleanup();
    }
  });

  test('a healthy sink reports no failure and no unwritten events', async () => {
    f = await fixture();
    try {
      const { sink } = await healthySink(2);
      assert.equal(sink.failure(), undefined);
      assert.equal(sink.unwritten(), undefined);
      await sink.close();
    } finally {
      await f.cleanup();
    }
  });
});

describe('a full filesystem (real tmpfs, needs root)', () => {
  let f: Fixture;
  let mnt: string;
  let mounted = false;
  before(async () => {
    f = await fixture();
    mnt = join(f.dir, 'volume');
    await mkdir(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
      mounted = true;
    } catch {
      mounted = false;
    }
  });
  after(async () => {
    if (mounted) execFileSync('umount', [mnt]);
    await f.cleanup();
  });

  test('ENOSPC fails the sink; reopening fails while the disk is full (not "locked"), then succeeds with nothing lost', async (t) => {
    if (!mounted) {
      t.skip('cannot mount a tmpfs here (not root?)');
      return;
    }
    const logPath = join(mnt, 'audit.log');
    const opts = { logPath, keyring: f.keyring, checkpointDir: f.checkpointDir }; // checkpoints on another volume
    const failures: AuditSinkError[] = [];
    const sink = await openAuditSink({ ...opts, onFailure: (e) => failures.push(e) });
    for (let i = 0; i < 10; i++) sink.append(sampleEvent(i));
    await sink.flush();
    const filler = join(mnt, 'filler');
    await writeFile(filler, Buffer.alloc(512 * 1024)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOSPC') throw err;
    });
    for (let i = 10; i < 400; i++) sink.append(sampleEvent(i)); // a frame larger than what is left
    await assert.rejects(sink.flush(), /ENOSPC/);
    assert.equal(failures.length, 1);
    assert.equal(sink.failure()?.code, 'failed');
    await sink.close().catch(() => {});

    await assert.rejects(openAuditSink({ ...opts, resumeFrom: sink }), (e: NodeJS.ErrnoException) => {
      assert.notEqual((e as { code?: string }).code, 'locked', e.message);
      assert.match(e.message, /ENOSPC/);
      return true;
    });
    await rm(filler);
    const reopened = await openAuditSink({ ...opts, resumeFrom: sink });
    await reopened.close();
    const recs: AuditRecord[] = [];
    const r = await exportRecords({ ...opts, onRecord: (x) => recs.push(x) });
    assert.ok(r.ok, r.ok ? '' : r.problem.message);
    const recovered = recs.filter((x) => x.event.type === 'audit.recovered');
    assert.equal(recovered.length, 1, 'the partly written frame was cut off on reopen');
    assert.match(String(recovered[0]?.event.reason), /^torn write: \d+ of \d+ bytes of the frame for seq 11/);
    const approvals = recs.map((x) => x.event.approvalId).filter(Boolean);
    assert.deepEqual(
      approvals,
      Array.from({ length: 400 }, (_, i) => `apr-${i}`),
      'all 400, once each, in order',
    );
    assert.deepEqual(
      recs.map((x) => x.seq),
      recs.map((_, i) => i + 1),
    );
  });
});

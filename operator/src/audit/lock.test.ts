// One writer per log: a second sink (same process or another) is refused with a clear error; the lock is
// released on close, on a failed open, and by the kernel when the holder dies (no stale lock to break).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, readFile, stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { lockPath, ownerPath } from './lock.ts';
import { AuditOpenError } from './open-log.ts';
import { openAuditSink } from './sink.ts';
import { type Fixture, fixture, sampleEvent, writeEvents } from './testkit.ts';
import { verifyLog } from './verify.ts';

const isLocked = (logPath: string, pid?: number) => (e: Error) => {
  assert.ok(e instanceof AuditOpenError, String(e));
  assert.equal(e.code, 'locked');
  assert.ok(e.message.startsWith(`audit log ${logPath} is locked`), e.message);
  assert.match(e.message, /another process or sink has it open/);
  if (pid !== undefined) assert.match(e.message, new RegExp(`by pid ${pid} on `));
  return true;
};

/** A separate node process holding the log open until killed. */
async function holder(f: Fixture): Promise<ChildProcess> {
  const index = new URL('./index.ts', import.meta.url).href;
  const code = `
    const { loadKeyring, openAuditSink } = await import(${JSON.stringify(index)});
    const keyring = await loadKeyring(${JSON.stringify(f.keysDir)});
    await openAuditSink({ logPath: ${JSON.stringify(f.logPath)}, keyring });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout ?? child, 'data')) as [Buffer];
  assert.equal(chunk.toString().trim(), 'ready');
  return child;
}

describe('writer lock', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
  });
  after(() => f.cleanup());
  const open = () => openAuditSink({ logPath: f.logPath, keyring: f.keyring });

  test('a second sink in the same process is refused, naming the log and this pid; readers are not blocked', async () => {
    const first = await open();
    first.append(sampleEvent(1));
    await first.flush();
    await assert.rejects(open(), isLocked(f.logPath, process.pid));
    const r = await verifyLog({ logPath: f.logPath, keyring: f.keyring });
    assert.ok(r.ok && r.records === 1, 'verify needs no lock');
    await first.close();
    const again = await open();
    await again.close();
  });

  test('another process holding the log: refused with its pid; once it is killed the log opens (the kernel dropped the lock)', async () => {
    const child = await holder(f);
    try {
      await assert.rejects(open(), isLocked(f.logPath, child.pid));
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    assert.ok((await stat(lockPath(f.logPath))).isFile(), 'the lock file is still there after the kill');
    assert.match(
      await readFile(ownerPath(f.logPath), 'utf8'),
      new RegExp(`"pid":${child.pid}`),
      'and so is the dead owner record',
    );
    const sink = await open(); // nothing stale to break: the kernel released the lock with the process
    sink.append(sampleEvent(2));
    await sink.close();
    assert.ok((await verifyLog({ logPath: f.logPath, keyring: f.keyring })).ok);
  });

  test('a failed open releases the lock', async () => {
    await writeEvents(f, 1);
    await appendFile(f.logPath, Buffer.from('definitely not a frame, and not zeros'));
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        open(),
        (e: Error) => e instanceof AuditOpenError && e.code === 'bad-frame',
        `attempt ${i + 1}`,
      );
    }
  });
});

/**
 * The audit trail over a real sealed log in a temp dir: written by the real sink,
 * read back with the keyring, verified, tampered with.
 */
import assert from 'node:assert/strict';
import { open, rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type AuditEventInput, type FileAuditSink, openAuditSink } from '../../audit/index.ts';
import { type Fixture, fixture, logFrames } from '../../audit/testkit.ts';
import { AuditTrailIndex, type AuditTrailOptions, taskUidOf } from './audit-trail.ts';

const A = { namespace: 'team-a', name: 'job-a', uid: 'uid-a' };
const B = { namespace: 'team-a', name: 'job-b', uid: 'uid-b' };
const OPERATOR = { kind: 'system', name: 'closedpaw-operator' } as const;

const admitted = (task: typeof A): AuditEventInput => ({
  type: 'task.admitted',
  actor: OPERATOR,
  task,
  runtimeClass: 'gvisor',
});
const rated = (task: typeof A, n: number): AuditEventInput => ({
  type: 'task.risk_rated',
  task,
  level: 'low',
  reasons: [`check ${n}`],
});

let f: Fixture;
let sink: FileAuditSink | undefined;

beforeEach(async () => {
  f = await fixture();
});
afterEach(async () => {
  await sink?.close().catch(() => undefined);
  sink = undefined;
  await f.cleanup();
});

/** Appends events, one frame each (a flush after every append), through the real sink. */
async function write(...events: AuditEventInput[]): Promise<void> {
  sink ??= await openAuditSink({ logPath: f.logPath, keyring: f.keyring, checkpointDir: f.checkpointDir });
  for (const e of events) {
    sink.append(e);
    await sink.flush();
  }
}

function index(extra: Partial<AuditTrailOptions> = {}) {
  let clock = 1_000_000;
  const trail = new AuditTrailIndex({
    logPath: f.logPath,
    checkpointDir: f.checkpointDir,
    keyring: async () => f.keyring,
    now: () => clock,
    ...extra,
  });
  return { trail, advance: (ms: number) => (clock += ms) };
}

describe('AuditTrailIndex', () => {
  test("a task's events only, oldest first, with the log verified to its end", async () => {
    await write(admitted(A), admitted(B), rated(A, 1), rated(B, 1), {
      type: 'ui.login_succeeded',
      actor: { kind: 'user', name: 'alice' },
      method: 'token',
    });
    const { trail } = index();
    const view = await trail.trail(A);
    assert.equal(view.available, true);
    assert.deepEqual(
      view.events.map((e) => [e.seq, e.type, e.summary]),
      [
        [1, 'task.admitted', 'admitted by closedpaw-operator (runtime gvisor)'],
        [3, 'task.risk_rated', 'risk rated low: check 1'],
      ],
    );
    assert.equal(view.total, 2);
    assert.ok(view.events.every((e) => !Number.isNaN(Date.parse(e.time))));
    assert.equal(view.verification?.ok, true);
    assert.equal(view.verification?.checkedTo, 5);
    assert.equal(view.verification?.current, true);
    assert.match(view.verification?.message ?? '', /^verified: events 1\.\.5/);
    assert.deepEqual(
      (await trail.trail(B)).events.map((e) => e.seq),
      [2, 4],
    );
  });

  test('bounded: the last `perTask` events, and the total', async () => {
    await write(admitted(A), ...Array.from({ length: 12 }, (_, i) => rated(A, i)));
    const view = await index({ perTask: 5 }).trail.trail(A);
    assert.deepEqual(
      view.events.map((e) => e.seq),
      [9, 10, 11, 12, 13],
    );
    assert.equal(view.total, 13);
  });

  test('cheap: one pass serves every task until the log changes; passes are spaced', async () => {
    await write(admitted(A), admitted(B));
    const { trail, advance } = index({ minIntervalMs: 5000 });
    await trail.trail(A);
    await trail.trail(B);
    await trail.trail(A);
    assert.equal(trail.passes, 1, 'an unchanged log is not read again');

    await write(rated(A, 1));
    advance(1000);
    const stale = await trail.trail(A);
    assert.equal(trail.passes, 1, 'no second pass within minIntervalMs');
    assert.equal(stale.verification?.current, false, 'the answer says it is not current');
    assert.equal(stale.events.length, 1);

    advance(5000);
    const fresh = await trail.trail(A);
    assert.equal(trail.passes, 2);
    assert.equal(fresh.verification?.current, true);
    assert.deepEqual(
      fresh.events.map((e) => e.seq),
      [1, 3],
    );
  });

  test('a slow pass spaces the next ones out (at most ~10% of the time spent verifying)', async () => {
    await write(admitted(A));
    let clock = 0;
    const trail = new AuditTrailIndex({
      logPath: f.logPath,
      checkpointDir: f.checkpointDir,
      // The pass "takes" 3 s: the next may begin 30 s after this one began.
      keyring: async () => {
        clock += 3000;
        return f.keyring;
      },
      now: () => clock,
      minIntervalMs: 2000,
    });
    await trail.trail(A);
    await write(rated(A, 1));
    clock += 20_000;
    assert.equal((await trail.trail(A)).verification?.current, false);
    assert.equal(trail.passes, 1);
    clock += 10_000;
    assert.equal((await trail.trail(A)).total, 2);
    assert.equal(trail.passes, 2);
  });

  test('concurrent requests share one pass', async () => {
    await write(admitted(A), admitted(B));
    const { trail } = index();
    const views = await Promise.all([trail.trail(A), trail.trail(B), trail.trail(A)]);
    assert.equal(trail.passes, 1);
    assert.deepEqual(
      views.map((v) => v.total),
      [1, 1, 1],
    );
  });

  test('a tampered event: verification not ok, with the reason; nothing from the bad frame on is shown', async () => {
    await write(admitted(A), rated(A, 1), rated(A, 2), rated(A, 3));
    await sink!.close();
    sink = undefined;
    const { log, frames } = await logFrames(f.logPath);
    assert.equal(frames.length >= 4, true);
    // Flip one byte inside the sealed body of the third event's frame.
    const target = frames[2]!;
    const at = target.offset + target.len - 30;
    const fh = await open(f.logPath, 'r+');
    await fh.write(Buffer.from([log[at]! ^ 0x01]), 0, 1, at);
    await fh.close();

    const view = await index().trail.trail(A);
    assert.equal(view.verification?.ok, false);
    assert.equal(view.verification?.checkedTo, 2);
    assert.match(view.verification?.message ?? '', /verification FAILED \[bad-mac\] at seq 3/);
    assert.match(view.verification?.message ?? '', /altered/);
    assert.deepEqual(
      view.events.map((e) => e.seq),
      [1, 2],
    );
  });

  test('a log cut behind its checkpoint: not ok (truncated)', async () => {
    await write(admitted(A), rated(A, 1), rated(A, 2));
    await sink!.close();
    sink = undefined;
    const { frames } = await logFrames(f.logPath);
    const fh = await open(f.logPath, 'r+');
    await fh.truncate(frames.at(-1)!.offset);
    await fh.close();
    const view = await index().trail.trail(A);
    assert.equal(view.verification?.ok, false);
    assert.match(view.verification?.message ?? '', /\[truncated\]/);
  });

  test('no log yet: said so, not ok, no events', async () => {
    await rm(f.logPath, { force: true });
    const view = await index().trail.trail(A);
    assert.deepEqual(view.events, []);
    assert.equal(view.verification?.ok, false);
    assert.match(view.verification?.message ?? '', /no audit log at .* yet/);
  });

  test('keys that cannot be loaded: not ok, with the reason', async () => {
    await write(admitted(A));
    const view = await index({
      keyring: async () => {
        throw new Error('no audit keys in /keys');
      },
    }).trail.trail(A);
    assert.equal(view.verification?.ok, false);
    assert.match(view.verification?.message ?? '', /cannot verify the audit log: no audit keys in \/keys/);
  });

  test('only tasks that exist are indexed, and at most maxTasks of them', async () => {
    const C = { namespace: 'team-a', name: 'job-c', uid: 'uid-c' };
    await write(admitted(A), admitted(B), admitted(C), rated(A, 1));
    const wanted = index({ wantedUids: () => new Set(['uid-a']) }).trail;
    assert.equal((await wanted.trail(A)).total, 2);
    assert.equal((await wanted.trail(B)).total, 0);

    // Two slots: C's first event drops A (least recently active), then A's next one drops B. What was
    // dropped is said, never shown as a complete history.
    const small = index({ maxTasks: 2 }).trail;
    const a = await small.trail(A);
    assert.deepEqual(
      a.events.map((e) => e.seq),
      [4],
    );
    assert.equal(a.incomplete, true);
    assert.match(a.message ?? '', /older events of this task were dropped/);
    const c = await small.trail(C);
    assert.equal(c.total, 1);
    assert.equal(c.incomplete, undefined);
    const b = await small.trail(B);
    assert.equal(b.total, 0);
    assert.equal(b.incomplete, true);
  });
});

describe('taskUidOf', () => {
  const body = (event: unknown) => Buffer.from(JSON.stringify(event));
  const cases: Array<[string, Buffer, string | undefined]> = [
    ['a task event', body({ type: 'task.admitted', actor: OPERATOR, task: A }), 'uid-a'],
    [
      'a pod event: the task uid, not the pod one',
      body({ type: 'pod.created', task: A, pod: { namespace: 'n', name: 'p', uid: 'pod-uid' } }),
      'uid-a',
    ],
    [
      'a task without uid',
      body({ type: 'task.deleted', task: { namespace: 'n', name: 'x' }, pod: { uid: 'p' } }),
      undefined,
    ],
    ['no task', body({ type: 'ui.login_succeeded', actor: OPERATOR, method: 'token' }), undefined],
    [
      'the key sequence inside a string is escaped, so it is not taken for the task',
      body({ type: 'approval.decided', comment: 'x "task":{"uid":"forged"}', task: B }),
      'uid-b',
    ],
    ['cut short', Buffer.from('{"task":{"namespace":"n","uid":"abc'), undefined],
  ];
  for (const [name, b, expected] of cases) test(name, () => assert.equal(taskUidOf(b), expected));
});

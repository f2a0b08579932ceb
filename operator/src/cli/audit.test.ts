import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadKeyring, openAuditSink } from '../audit/index.ts';
import { at, flip, frames, sampleEvent } from '../audit/testkit.ts';
import { runAuditCli } from './audit.ts';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAuditCli(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const minute = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString();

describe('closedpaw audit CLI', () => {
  let dir: string;
  let keys: string;
  let log: string;
  let cps: string;
  let pristine: Buffer;
  const store = () => ['--log', log, '--keys', keys, '--checkpoints', cps];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-cli-'));
    keys = join(dir, 'keys');
    log = join(dir, 'audit.log');
    cps = join(dir, 'published');
    const gen = await run('keygen', '--dir', keys, '--kid', 'k1');
    assert.equal(gen.code, 0, gen.err);
    assert.match(
      gen.out,
      /^generated key k1 \(active\) in .*k1\.json\ncheckpoint verification key: \{"kty":"OKP"/,
    );
    const sink = await openAuditSink({ logPath: log, keyring: await loadKeyring(keys), checkpointDir: cps });
    for (let i = 0; i < 5; i++) sink.append(sampleEvent(i, minute(i)));
    await sink.close();
    pristine = await readFile(log);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('keygen writes a private key file', async () => {
    assert.equal((await stat(join(keys, 'k1.json'))).mode & 0o777, 0o600);
  });

  test('verify: OK with record count and covered seq/time range', async () => {
    const r = await run('verify', ...store());
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^OK 5 records \(seq 1\.\.5, 2025-01-01T00:00:00\.000Z \.\. 2025-01-01T00:04:00\.000Z\); local checkpoint seq 5, external checkpoint seq 5; log [0-9a-f]{32}\n$/,
    );
  });

  test('export --since decrypts the matching records as JSON lines', async () => {
    const r = await run('export', ...store(), '--since', minute(2), '--format', 'jsonl');
    assert.equal(r.code, 0, r.err);
    const lines = r.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.seq, l.time, l.kid, l.type, l.approvalId]),
      [2, 3, 4].map((i) => [i + 1, minute(i), 'k1', 'approval.decided', `apr-${i}`]),
    );
    assert.deepEqual(at(lines, 0).decidedBy, { kind: 'user', name: 'alice@example.com' });
  });

  test('tail -n shows the last records', async () => {
    const r = await run('tail', '--log', log, '--keys', keys, '-n', '2');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(
      r.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
      [4, 5],
    );
  });

  test('a tampered record fails verify with exit code 1, the record and the reason', async () => {
    const third = at(frames(pristine), 2);
    const bytes = Buffer.from(pristine);
    flip(bytes, third.offset + third.len - 10, 1); // inside the tag
    await writeFile(log, bytes);
    try {
      const r = await run('verify', ...store());
      assert.equal(r.code, 1);
      assert.equal(r.out, '');
      assert.equal(
        r.err,
        `FAIL [bad-mac] at seq 3, offset ${third.offset}: bad MAC: record failed authentication (altered, or sealed under a different key) (2 records verified before it)\n`,
      );
      const exp = await run('export', ...store());
      assert.equal(exp.code, 1);
      assert.equal(exp.out.trimEnd().split('\n').length, 2, 'records before the bad one are still exported');
      const tail = await run('tail', '--log', log, '--keys', keys, '-n', '3');
      assert.equal(tail.code, 1);
      assert.match(tail.err, /^FAIL \[bad-mac\] at seq 3/);
    } finally {
      await writeFile(log, pristine);
    }
  });

  test('a truncated log fails verify and tail', async () => {
    await writeFile(log, pristine.subarray(0, pristine.length - 3));
    try {
      const r = await run('verify', ...store());
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /^FAIL \[truncated\] at seq 5, offset \d+: incomplete record: \d+ of \d+ bytes present/,
      );
      const tail = await run('tail', '--log', log, '--keys', keys);
      assert.equal(tail.code, 1);
      assert.match(tail.err, /^FAIL \[truncated\].*log does not end on a record boundary/);
    } finally {
      await writeFile(log, pristine);
    }
  });

  test('help prints usage and exits 0', async () => {
    for (const argv of [['help'], ['--help'], ['verify', '-h']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0);
      assert.match(r.out, /^usage: closedpaw audit <command>/);
    }
  });

  test('usage errors exit 2 with a message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /usage: closedpaw audit/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['verify', '--log', log], /--keys is required/],
      [['export', ...store(), '--format', 'csv'], /unsupported --format "csv"/],
      [['export', ...store(), '--since', 'yesterday'], /--since: not an ISO time/],
      [['tail', '--log', log, '--keys', keys, '-n', '0'], /-n: want a positive integer/],
      [['verify', '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err + r.out, message, argv.join(' '));
    }
  });
});

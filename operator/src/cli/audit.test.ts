import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadKeyring, openAuditSink } from '../audit/index.ts';
import { OFF_KID } from '../audit/record.ts';
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
  let jwks: string;
  const store = () => ['--log', log, '--keys', keys, '--checkpoints', cps];
  const publicStore = () => ['--log', log, '--pubkeys', jwks, '--checkpoints', cps];

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
    const keyring = await loadKeyring(keys);
    for (const [from, n] of [
      [0, 2],
      [2, 3],
    ] as const) {
      const sink = await openAuditSink({ logPath: log, keyring, checkpointDir: cps });
      for (let i = from; i < from + n; i++) sink.append(sampleEvent(i, minute(i)));
      await sink.close(); // two frames: events 1-2 and 3-5
    }
    pristine = await readFile(log);
    const pub = await run('pubkey', '--dir', keys);
    assert.equal(pub.code, 0, pub.err);
    jwks = join(dir, 'audit-pub.json');
    await writeFile(jwks, pub.out);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('keygen writes a private key file', async () => {
    assert.equal((await stat(join(keys, 'k1.json'))).mode & 0o777, 0o600);
  });

  test('verify: OK with event and frame counts, covered seq/time range and the verification level', async () => {
    const r = await run('verify', ...store());
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^OK 5 records in 2 frames \(seq 1\.\.5, 2025-01-01T00:00:00\.000Z \.\. 2025-01-01T00:04:00\.000Z\); local checkpoint seq 5, external checkpoint seq 5; log [0-9a-f]{32}; full \(contents authenticated\)\n$/,
    );
  });

  test('pubkey prints a JWKS with the public keys only', async () => {
    const parsed = JSON.parse(await readFile(jwks, 'utf8'));
    assert.deepEqual(Object.keys(parsed), ['keys']);
    assert.deepEqual(Object.keys(parsed.keys[0]).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(parsed.keys[0].kid, 'k1');
  });

  test('verify --pubkeys: OK without any secret, saying what was and was not checked', async () => {
    const r = await run('verify', ...publicStore());
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /^OK 5 records in 2 frames \(seq 1\.\.5, sealed \S+ \.\. \S+\); local checkpoint seq 5, external checkpoint seq 5; log [0-9a-f]{32}; public keys only \(chain, framing, sequence and signatures checked; contents not decrypted\)\n$/,
    );
  });

  test('verify --pubkeys reports frames after the newest checkpoint as not covered by a signature', async () => {
    const r0 = await run('verify', '--log', log, '--pubkeys', jwks); // only the local checkpoint, seq 5
    assert.equal(r0.code, 0, r0.err);
    assert.doesNotMatch(r0.out, /not covered/);
    const cpFile = `${log}.checkpoint`;
    const saved = await readFile(cpFile);
    await rm(cpFile);
    try {
      const r = await run('verify', '--log', log, '--pubkeys', jwks);
      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        /no local checkpoint, no external checkpoint; .*; seq 1\.\.5 come after the newest checkpoint and are not covered by a signature \(verify with --keys to authenticate them\)\n$/,
      );
    } finally {
      await writeFile(cpFile, saved);
    }
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

  test('tail -n shows the last events, one line each, across frames', async () => {
    for (const [n, seqs] of [
      [2, [4, 5]],
      [4, [2, 3, 4, 5]],
      [9, [1, 2, 3, 4, 5]],
    ] as const) {
      const r = await run('tail', '--log', log, '--keys', keys, '-n', String(n));
      assert.equal(r.code, 0, r.err);
      const lines = r.out
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => l.seq),
        seqs,
      );
      assert.deepEqual(
        lines.map((l) => l.approvalId),
        seqs.map((s) => `apr-${s - 1}`),
      );
    }
  });

  test('a frame under a key id missing from the JWKS fails public verification', async () => {
    const bytes = Buffer.from(pristine);
    bytes.write('k9', at(frames(pristine), 1).offset + OFF_KID, 'latin1');
    await writeFile(log, bytes);
    try {
      const r = await run('verify', ...publicStore());
      assert.equal(r.code, 1);
      assert.match(r.err, /^FAIL \[unknown-key\] at seq 3.*unknown key id "k9"/);
    } finally {
      await writeFile(log, pristine);
    }
  });

  test('a tampered record fails verify with exit code 1, the record and the reason', async () => {
    const second = at(frames(pristine), 1);
    const bytes = Buffer.from(pristine);
    flip(bytes, second.offset + second.len - 10, 1); // inside the tag
    await writeFile(log, bytes);
    try {
      const r = await run('verify', ...store());
      assert.equal(r.code, 1);
      assert.equal(r.out, '');
      assert.equal(
        r.err,
        `FAIL [bad-mac] at seq 3, offset ${second.offset}: bad MAC: frame failed authentication (altered, or sealed under a different key) (2 records verified before it)\n`,
      );
      const pub = await run('verify', ...publicStore());
      assert.equal(pub.code, 1);
      assert.match(pub.err, /^FAIL \[checkpoint-mismatch\] at seq 5.*: local checkpoint mismatch at seq 5/);
      const exp = await run('export', ...store());
      assert.equal(exp.code, 1);
      assert.equal(exp.out.trimEnd().split('\n').length, 2, 'events before the bad frame are still exported');
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
        /^FAIL \[truncated\] at seq 3, offset \d+: incomplete frame: \d+ of \d+ bytes present/,
      );
      const tail = await run('tail', '--log', log, '--keys', keys);
      assert.equal(tail.code, 1);
      assert.match(tail.err, /^FAIL \[truncated\].*log does not end on a frame boundary/);
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
      [['verify', ...store(), '--pubkeys', 'x.json'], /give --keys or --pubkeys, not both/],
      [['pubkey'], /--dir is required/],
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

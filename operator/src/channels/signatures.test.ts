import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import { MonotonicIds, ReplayGuard } from './replay.ts';
import { discordPublicKey, verifyDiscord, verifySlack, verifyTelegram } from './signatures.ts';

const NOW = 1_700_000_000;
const body = Buffer.from('payload=%7B%22type%22%3A%22block_actions%22%7D');

describe('Slack v0 signatures', () => {
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const sig = (ts: string, b: Buffer | string, s = secret) =>
    `v0=${createHmac('sha256', s).update(`v0:${ts}:${b}`).digest('hex')}`;
  for (const [what, timestamp, signature, sent, expected] of [
    ['a valid request', String(NOW), sig(String(NOW), body), body, true],
    ['4 minutes old', String(NOW - 240), sig(String(NOW - 240), body), body, true],
    ['6 minutes old (replay window over)', String(NOW - 360), sig(String(NOW - 360), body), body, 'stale'],
    ['6 minutes in the future', String(NOW + 360), sig(String(NOW + 360), body), body, 'stale'],
    [
      'signed with another secret (forged)',
      String(NOW),
      sig(String(NOW), body, 'not-the-secret'),
      body,
      'bad-signature',
    ],
    [
      'a body changed after signing',
      String(NOW),
      sig(String(NOW), body),
      Buffer.from(`${body}&x=1`),
      'bad-signature',
    ],
    ['a timestamp changed after signing', String(NOW - 1), sig(String(NOW), body), body, 'bad-signature'],
    ['no signature', String(NOW), undefined, body, 'missing'],
    ['no timestamp', undefined, sig(String(NOW), body), body, 'missing'],
    ['a v1 signature', String(NOW), sig(String(NOW), body).replace('v0=', 'v1='), body, 'malformed'],
    ['a timestamp that is not a number', 'now', sig('now', body), body, 'malformed'],
  ] as const) {
    test(what, () => {
      const r = verifySlack({ signingSecret: secret, timestamp, signature, body: sent, nowSeconds: NOW });
      assert.deepEqual(r, expected === true ? { ok: true } : { ok: false, problem: expected });
    });
  }
});

describe('Discord Ed25519 interaction signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').privateKey;
  const hex = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('hex');
  const key = discordPublicKey(hex);
  const signed = (ts: string, b: Buffer, k = privateKey) =>
    sign(null, Buffer.concat([Buffer.from(ts), b]), k).toString('hex');
  for (const [what, timestamp, signature, sent, expected] of [
    ['a valid interaction', String(NOW), signed(String(NOW), body), body, true],
    ['signed by another key (forged)', String(NOW), signed(String(NOW), body, other), body, 'bad-signature'],
    [
      'a body changed after signing',
      String(NOW),
      signed(String(NOW), body),
      Buffer.from('{"type":1}'),
      'bad-signature',
    ],
    ['a replayed old interaction', String(NOW - 600), signed(String(NOW - 600), body), body, 'stale'],
    ['a timestamp moved to now', String(NOW), signed(String(NOW - 600), body), body, 'bad-signature'],
    ['no headers', undefined, undefined, body, 'missing'],
    ['a short signature', String(NOW), 'abcd', body, 'malformed'],
  ] as const) {
    test(what, () => {
      const r = verifyDiscord({ publicKey: key, timestamp, signature, body: sent, nowSeconds: NOW });
      assert.deepEqual(r, expected === true ? { ok: true } : { ok: false, problem: expected });
    });
  }
  test('a public key that is not 32 bytes of hex is refused at start', () => {
    assert.throws(() => discordPublicKey('xyz'), /64 hex characters/);
  });
});

describe('Telegram secret token', () => {
  for (const [what, header, expected] of [
    ['the secret', 'Sup3r-secret_token', true],
    ['another secret of the same length', 'Sup3r-secret_tokeN', 'bad-signature'],
    ['a prefix', 'Sup3r', 'bad-signature'],
    ['no header', undefined, 'missing'],
    ['the header twice', ['Sup3r-secret_token', 'x'], 'missing'],
  ] as Array<[string, string | string[] | undefined, true | 'missing' | 'bad-signature']>) {
    test(what, () => {
      const r = verifyTelegram({ secretToken: 'Sup3r-secret_token', header });
      assert.deepEqual(r, expected === true ? { ok: true } : { ok: false, problem: expected });
    });
  }
});

describe('replay guards', () => {
  test('an id is accepted once within its window, and again only after it', () => {
    const g = new ReplayGuard({ ttlMs: 1000 });
    assert.equal(g.accept('a', 0), true);
    assert.equal(g.accept('a', 500), false);
    assert.equal(g.accept('b', 600), true);
    assert.equal(
      g.accept('a', 1501),
      true,
      'after the window (the signature check refuses it as stale anyway)',
    );
  });
  test('bounded without reopening a window: when full, new ids are refused until old ones expire', () => {
    const g = new ReplayGuard({ ttlMs: 1000, max: 2 });
    assert.deepEqual(
      ['a', 'b', 'c'].map((id) => g.accept(id, 1)),
      [true, true, false],
    );
    assert.equal(g.accept('a', 2), false, 'a replay of a remembered id, however full the guard');
    assert.equal(g.accept('c', 2), false, 'still full');
    assert.equal(g.accept('c', 1002), true, 'a and b have expired');
    assert.equal(g.accept('c', 1003), false);
  });
  test('Telegram update ids only grow', () => {
    const ids = new MonotonicIds();
    assert.deepEqual(
      [5, 5, 4, 6, 1.5].map((id) => ids.accept(id)),
      [true, false, false, true, false],
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { generateKey, loadKeyring } from '../audit/keys.ts';
import { Vault } from '../vault/vault.ts';
import {
  CODE_TTL_MS,
  codeDigest,
  isCodeShaped,
  type Pairing,
  PairingCodes,
  PairingStore,
  vaultPairings,
} from './pairing.ts';
import { judgePairing } from './pairing-resource.ts';
import type { ChatAccount } from './types.ts';

const alice: ChatAccount = { platform: 'telegram', id: '1001', name: '@alice' };
const mallory: ChatAccount = { platform: 'telegram', id: '666', name: '@mallory' };

describe('pairing codes', () => {
  test('shape, one-shot, bound to the account that asked', () => {
    const codes = new PairingCodes();
    const issued = codes.issue(alice, 0);
    assert.ok('code' in issued);
    assert.ok(isCodeShaped(issued.code), issued.code);
    assert.equal(
      codes.redeem(codeDigest(issued.code.toLowerCase().replace('-', '')), 1)?.id,
      '1001',
      'case and dash do not matter',
    );
    assert.equal(codes.redeem(codeDigest(issued.code), 2), undefined, 'redeemed once only');
  });

  test('expires after 10 minutes; a new code replaces the old one', () => {
    const codes = new PairingCodes();
    const first = codes.issue(alice, 0);
    const second = codes.issue(alice, 1);
    assert.ok('code' in first && 'code' in second);
    assert.equal(codes.redeem(codeDigest(first.code), 2), undefined);
    assert.equal(codes.redeem(codeDigest(second.code), CODE_TTL_MS + 1), undefined);
  });

  test('at most 5 codes an hour per account; others are not affected', () => {
    const codes = new PairingCodes();
    for (let i = 0; i < 5; i++) assert.ok('code' in codes.issue(mallory, i));
    assert.match(JSON.stringify(codes.issue(mallory, 10)), /too many pairing codes/);
    assert.ok('code' in codes.issue(alice, 10));
    assert.ok('code' in codes.issue(mallory, 3_600_001));
  });

  test('codes are not guessable in practice: 8 symbols of 32, all different over many issues', () => {
    const codes = new PairingCodes();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = codes.issue({ platform: 'slack', id: `T:${i}` }, 0);
      assert.ok('code' in r);
      seen.add(r.code);
    }
    assert.equal(seen.size, 200);
  });
});

describe('judging a ChannelPairing', () => {
  const obj = (user: string) => ({
    metadata: { name: 'pair-x' },
    spec: { user, codeDigest: codeDigest('ABCD-EFGH') },
  });
  for (const [what, user, redeemed, expected] of [
    ['a redeemed code by a pairable user', 'alice', true, /^Paired alice$/],
    ['an unknown, used or expired code', 'alice', false, /^Rejected unknown, used or expired code/],
    ['a user the operator may not impersonate', 'root', true, /^Rejected user root may not decide/],
  ] as const) {
    test(what, () => {
      const o = judgePairing(obj(user), redeemed, ['alice', 'bob']);
      assert.match(`${o.phase} ${o.phase === 'Paired' ? o.user : o.message}`, expected);
    });
  }
});

describe('pairing store', () => {
  test('pairs, re-pairs, unpairs; saved before it counts; sealed in the vault (tamper fails closed)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-pairings-'));
    try {
      await generateKey(join(dir, 'keys'));
      const vault = await Vault.open(join(dir, 'vault'), await loadKeyring(join(dir, 'keys')));
      const store = new PairingStore(vaultPairings(vault));
      await store.load();
      assert.equal(store.lookup(alice), undefined);
      await store.pair(alice, 'alice', new Date(0));
      await store.pair(alice, 'bob', new Date(1));
      const again = new PairingStore(vaultPairings(vault));
      await again.load();
      assert.equal(again.lookup(alice)?.user, 'bob');
      assert.equal(
        again.lookup({ platform: 'discord', id: '1001' }),
        undefined,
        'the platform is part of the identity',
      );
      const onDisk = await readFile(join(dir, 'vault', 'channel-pairings.json'), 'utf8');
      assert.equal(onDisk.includes('@alice'), false, 'encrypted at rest');

      const failing = new PairingStore({
        load: async () => [] as Pairing[],
        save: async () => Promise.reject(new Error('disk full')),
      });
      await assert.rejects(failing.pair(alice, 'alice', new Date()), /disk full/);
      assert.equal(failing.lookup(alice), undefined, 'not paired when it could not be saved');

      assert.equal(await again.unpair(alice), true);
      assert.equal(again.lookup(alice), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { codeDigest } from './pairing.ts';
import { confirmPairing, type NewChannelPairing, type PairingRequests } from './pairing-request.ts';
import type { ChannelPairing } from './pairing-resource.ts';

/** Answers with `statuses` in turn (the last one repeats); records what was created. */
function fakeRequests(statuses: Array<ChannelPairing['status']>) {
  const created: NewChannelPairing[] = [];
  let reads = 0;
  const requests: PairingRequests = {
    create: async (body) => {
      created.push(body);
      return { metadata: { name: 'pair-x' }, spec: body.spec };
    },
    read: async (name) => {
      assert.equal(name, 'pair-x');
      const status = statuses[Math.min(reads++, statuses.length - 1)];
      return { metadata: { name }, spec: created[0]!.spec, ...(status ? { status } : {}) };
    },
  };
  return { requests, created };
}

describe('confirmPairing', () => {
  test('creates the confirmation in the user’s name with the code’s digest only', async () => {
    const fake = fakeRequests([{ phase: 'Paired', account: 'telegram account @a (id 1)' }]);
    await confirmPairing(fake.requests, 'alice', 'abcd-efgh', { pollMs: 1 });
    assert.deepEqual(fake.created[0]?.spec, { user: 'alice', codeDigest: codeDigest('ABCD-EFGH') });
    assert.doesNotMatch(JSON.stringify(fake.created), /ABCD|abcd/);
  });

  const cases: Array<[string, Array<ChannelPairing['status']>, unknown]> = [
    [
      'paired after the operator answers',
      [undefined, undefined, { phase: 'Paired', account: 'telegram account @a (id 1)' }],
      { phase: 'Paired', account: 'telegram account @a (id 1)' },
    ],
    [
      'rejected, with the operator’s reason',
      [{ phase: 'Rejected', message: 'unknown, used or expired code' }],
      { phase: 'Rejected', message: 'unknown, used or expired code' },
    ],
    [
      'unanswered when no status comes in time',
      [undefined],
      {
        phase: 'Unanswered',
        message: 'the operator did not answer within 1 s (is it running, with channels on?)',
      },
    ],
  ];
  for (const [name, statuses, want] of cases) {
    test(name, async () => {
      const fake = fakeRequests(statuses);
      const timeoutMs = name.startsWith('unanswered') ? 30 : 5_000;
      assert.deepEqual(
        await confirmPairing(fake.requests, 'alice', 'ABCD-EFGH', { pollMs: 1, timeoutMs }),
        want,
      );
    });
  }

  test('an API error (e.g. RBAC refusing the create) propagates', async () => {
    const requests: PairingRequests = {
      create: async () => {
        throw new Error('channelpairings is forbidden');
      },
      read: async () => assert.fail('nothing to read'),
    };
    await assert.rejects(confirmPairing(requests, 'alice', 'ABCD-EFGH'), /forbidden/);
  });
});

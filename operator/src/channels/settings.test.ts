import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseChannelSettings } from './settings.ts';

const BASE = {
  CLOSEDPAW_CHANNELS: 'slack',
  CLOSEDPAW_CHANNEL_USERS: 'alice',
  CLOSEDPAW_SLACK_CHANNEL_ID: 'C0APPROVE',
};

describe('channel settings', () => {
  test('off unless channels are listed; defaults otherwise', () => {
    assert.equal(parseChannelSettings({}), undefined);
    const s = parseChannelSettings(BASE)!;
    assert.deepEqual(s.listen, { host: '0.0.0.0', port: 7781 });
    assert.equal(s.slack?.apiUrl, 'https://slack.com/api');
    assert.deepEqual(s.users, ['alice']);
    assert.equal(s.intake, undefined, 'intake is opt-in');
  });

  for (const [what, env, message] of [
    [
      'an unknown channel',
      { ...BASE, CLOSEDPAW_CHANNELS: 'irc' },
      /CLOSEDPAW_CHANNELS: unknown channel "irc"/,
    ],
    [
      'no pairable users',
      { ...BASE, CLOSEDPAW_CHANNEL_USERS: '' },
      /CLOSEDPAW_CHANNEL_USERS: list the Kubernetes users/,
    ],
    [
      'a missing chat id',
      { ...BASE, CLOSEDPAW_SLACK_CHANNEL_ID: undefined },
      /CLOSEDPAW_SLACK_CHANNEL_ID: required/,
    ],
    [
      'plain http to another host',
      { ...BASE, CLOSEDPAW_SLACK_API_URL: 'http://slack.example/api' },
      /must be https/,
    ],
    [
      'a Discord key that is not hex',
      {
        CLOSEDPAW_CHANNELS: 'discord',
        CLOSEDPAW_CHANNEL_USERS: 'a',
        CLOSEDPAW_DISCORD_CHANNEL_ID: '123456',
        CLOSEDPAW_DISCORD_PUBLIC_KEY: 'zz',
      },
      /CLOSEDPAW_DISCORD_PUBLIC_KEY/,
    ],
    [
      'a bad listen address',
      { ...BASE, CLOSEDPAW_CHANNELS_ADDR: 'localhost' },
      /CLOSEDPAW_CHANNELS_ADDR: expected host:port/,
    ],
  ] as const) {
    test(`refused, naming the variable: ${what}`, () => {
      assert.throws(() => parseChannelSettings(env), message);
    });
  }
});

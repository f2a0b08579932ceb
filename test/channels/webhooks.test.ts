/**
 * The three channels over real HTTP, without a cluster: the operator's channel service (listener,
 * adapters, core, notifier) against local fakes of the Telegram, Discord and Slack APIs, which also
 * send the webhooks — genuine, forged, replayed, backdated, and from senders nobody paired. Decisions
 * go to a recording stand-in for ClusterClient.decideApproval (the cluster test checks the real one).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Approval } from '../../operator/src/api/types.ts';
import type { AuditEventInput } from '../../operator/src/audit/events.ts';
import type { Pairing } from '../../operator/src/channels/pairing.ts';
import { type RunningChannels, startChannels } from '../../operator/src/channels/service.ts';
import { parseChannelSettings } from '../../operator/src/channels/settings.ts';
import { buttonData } from '../../operator/src/channels/types.ts';
import { approvalFixture, taskFixture } from '../../operator/src/server/ui/testkit.ts';
import { SecretValue } from '../../operator/src/vault/secret.ts';
import { FakeDiscord, FakeSlack, FakeTelegram } from '../support/fake-chat-platforms.ts';

const TELEGRAM_TOKEN = '123456:AAH-telegram-bot-token-TESTONLY';
const TELEGRAM_SECRET = 'tg-webhook-secret_TESTONLY';
const DISCORD_TOKEN = 'discord-bot-token.TESTONLY';
const SLACK_TOKEN = 'xoxb-slack-bot-token-TESTONLY';
const SLACK_SECRET = 'slack-signing-secret-TESTONLY';
const TG_CHAT = -100123;
const DISCORD_CHANNEL = '555000111';
const SLACK_CHANNEL = 'C0APPROVE';

const PAIRED: Pairing[] = [
  { platform: 'telegram', accountId: '1001', user: 'alice', pairedAt: new Date().toISOString() },
  { platform: 'discord', accountId: '2002', user: 'alice', pairedAt: new Date().toISOString() },
  { platform: 'slack', accountId: 'T1:U3003', user: 'alice', pairedAt: new Date().toISOString() },
];

let telegram: FakeTelegram;
let discord: FakeDiscord;
let slack: FakeSlack;
let channels: RunningChannels;
let base = '';
const decided: Array<{ name: string; user: string; verdict: string }> = [];
const audit: AuditEventInput[] = [];
const logs: string[] = [];
const approvals = new Map<string, Approval>();
const task = taskFixture('build', { model: 'anthropic/claude-3-5-haiku-latest' });

function addApproval(name: string): Approval {
  const a = approvalFixture(task, {
    name,
    metadata: { uid: `uid-${name}`, creationTimestamp: new Date() },
    spec: { expiresAt: new Date(Date.now() + 600_000).toISOString() },
  });
  approvals.set(`${a.metadata.namespace}/${name}`, a);
  return a;
}

before(async () => {
  telegram = await new FakeTelegram(TELEGRAM_TOKEN, TELEGRAM_SECRET).start();
  discord = await new FakeDiscord(DISCORD_TOKEN).start();
  slack = await new FakeSlack(SLACK_TOKEN, SLACK_SECRET).start();
  const vault = new Map([
    ['telegram-bot-token', TELEGRAM_TOKEN],
    ['telegram-webhook-secret', TELEGRAM_SECRET],
    ['discord-bot-token', DISCORD_TOKEN],
    ['slack-bot-token', SLACK_TOKEN],
    ['slack-signing-secret', SLACK_SECRET],
  ]);
  const settings = parseChannelSettings({
    CLOSEDPAW_CHANNELS: 'telegram,discord,slack',
    CLOSEDPAW_CHANNELS_ADDR: '127.0.0.1:0',
    CLOSEDPAW_CHANNEL_USERS: 'alice',
    CLOSEDPAW_TELEGRAM_API_URL: telegram.url,
    CLOSEDPAW_TELEGRAM_CHAT_ID: String(TG_CHAT),
    CLOSEDPAW_DISCORD_API_URL: `${discord.url}/api/v10`,
    CLOSEDPAW_DISCORD_CHANNEL_ID: DISCORD_CHANNEL,
    CLOSEDPAW_DISCORD_PUBLIC_KEY: discord.publicKeyHex,
    CLOSEDPAW_SLACK_API_URL: `${slack.url}/api`,
    CLOSEDPAW_SLACK_CHANNEL_ID: SLACK_CHANNEL,
  })!;
  channels = await startChannels({
    settings,
    secrets: {
      get: async (name) =>
        new SecretValue(vault.get(name) ?? (Promise.reject(new Error(`no vault entry "${name}"`)) as never)),
    },
    pairingPersistence: { load: async () => PAIRED, save: async () => {} },
    kubeConfig: {
      getCurrentCluster: () => ({ server: 'https://127.0.0.1:9' }),
      applyToHTTPSOptions: async () => {},
    },
    decideApproval: async (_ns, name, approver, decision) =>
      void decided.push({ name, user: approver.user, verdict: decision.verdict }),
    approvals: { list: () => [...approvals.values()], get: (k) => approvals.get(k) },
    tasks: { get: () => task },
    audit: { append: (e) => void audit.push(e) },
    logger: {
      info: (o, m) => void logs.push(JSON.stringify({ ...o, m })),
      warn: (o, m) => void logs.push(JSON.stringify({ ...o, m })),
      error: (o, m) => void logs.push(JSON.stringify({ ...o, m })),
    },
    ttlSeconds: 1800,
    scanIntervalMs: 60_000,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 2000, timeoutMs: 5000 },
  });
  base = `http://127.0.0.1:${channels.port}`;
});

after(async () => {
  await channels?.stop();
  await Promise.all([telegram?.stop(), discord?.stop(), slack?.stop()]);
});

async function notified(name: string): Promise<string> {
  addApproval(name);
  await Promise.all(channels.notifier.scan());
  const ref = channels.core.refs.refFor({ namespace: task.metadata.namespace!, name, uid: `uid-${name}` });
  return ref;
}

describe('notifications reach each platform through its real API', () => {
  test('Telegram inline keyboard, Discord components, Slack blocks — with summary, risk reasons and expiry', async () => {
    const ref = await notified('apv-notify');
    const tg = telegram.callsTo('/sendMessage').at(-1)!;
    assert.equal(tg.path, `/bot${TELEGRAM_TOKEN}/sendMessage`);
    assert.equal(tg.body.chat_id, String(TG_CHAT));
    assert.deepEqual((tg.body.reply_markup as { inline_keyboard: unknown[][] }).inline_keyboard[0], [
      { text: 'Approve', callback_data: buttonData('Approved', ref) },
      { text: 'Deny', callback_data: buttonData('Denied', ref) },
    ]);
    for (const text of [
      tg.body.text,
      discord.callsTo('/messages').at(-1)?.body.content,
      slack.callsTo('/chat.postMessage').at(-1)?.body.text,
    ]) {
      assert.match(String(text), /approval needed for task .*\/build/);
      assert.match(String(text), /Risk: critical/);
      assert.match(String(text), /Model: anthropic\/claude-3-5-haiku-latest/);
      assert.match(String(text), /Expires: /);
    }
    const d = discord.callsTo(`/channels/${DISCORD_CHANNEL}/messages`).at(-1)!;
    assert.equal(d.headers.authorization, `Bot ${DISCORD_TOKEN}`);
    assert.deepEqual(
      (d.body.components as Array<{ components: Array<{ custom_id: string }> }>)[0]?.components.map(
        (c) => c.custom_id,
      ),
      [buttonData('Approved', ref), buttonData('Denied', ref)],
    );
    assert.deepEqual(d.body.allowed_mentions, { parse: [] }, 'a prompt cannot ping @everyone');
    const s = slack.callsTo('/chat.postMessage').at(-1)!;
    assert.equal(s.headers.authorization, `Bearer ${SLACK_TOKEN}`);
    assert.equal(s.body.channel, SLACK_CHANNEL);
    assert.deepEqual(
      audit
        .filter((e) => e.type === 'channel.notified')
        .map((e) => e.type === 'channel.notified' && e.outcome),
      ['sent', 'sent', 'sent'],
    );
  });

  test('a rate limit is waited out (retry_after) and an outage fails only that notification', async () => {
    telegram.rateLimit(0.05);
    discord.failures.push({ status: 503 }, { status: 503 }, { status: 503 });
    const before = audit.length;
    await notified('apv-limits');
    await channels.idle();
    const outcomes = audit
      .slice(before)
      .map((e) => e.type === 'channel.notified' && `${e.platform}:${e.outcome}`);
    assert.deepEqual(outcomes.sort(), ['discord:failed', 'slack:sent', 'telegram:sent']);
    assert.equal(telegram.callsTo('/sendMessage').length, 3, 'the 429 was retried once');
  });
});

describe('Telegram webhook', () => {
  const hook = () => `${base}/telegram`;
  const alice = FakeTelegram.user(1001, 'alice');
  const mallory = FakeTelegram.user(666, 'mallory');

  test('a paired sender approves: relayed as the paired Kubernetes user, answered in the webhook response', async () => {
    const ref = await notified('apv-tg');
    const r = await telegram.deliver(
      hook(),
      FakeTelegram.pressed(alice, TG_CHAT, buttonData('Approved', ref)),
    );
    assert.equal(r.status, 200);
    assert.deepEqual(decided.at(-1), { name: 'apv-tg', user: 'alice', verdict: 'Approved' });
    const answer = r.json as Record<string, unknown>;
    assert.equal(answer.method, 'answerCallbackQuery');
    assert.match(String(answer.text), /Approved .* as alice/);
  });

  test('forged (wrong or missing secret), replayed, unpaired, wrong chat: nothing decided', async () => {
    const ref = await notified('apv-tg-bad');
    const count = decided.length;
    const press = FakeTelegram.pressed(alice, TG_CHAT, buttonData('Approved', ref));
    assert.equal((await telegram.deliver(hook(), press, 'guessed-secret')).status, 401);
    assert.equal((await telegram.deliver(hook(), press, null)).status, 401);
    const body = JSON.stringify({
      update_id: telegram.nextUpdateId(),
      ...FakeTelegram.pressed(mallory, TG_CHAT, buttonData('Approved', ref)),
    });
    const unpaired = await telegram.deliverRaw(hook(), body);
    assert.deepEqual([unpaired.status, unpaired.text], [200, ''], 'an unpaired sender gets nothing');
    const replay = await telegram.deliverRaw(hook(), body.replace('"from":{"id":666', '"from":{"id":1001'));
    assert.deepEqual([replay.status, replay.text], [200, ''], 'a replayed update_id is dropped');
    const other = await telegram.deliver(
      hook(),
      FakeTelegram.pressed(alice, 4242, buttonData('Approved', ref)),
    );
    assert.equal(other.text, '', 'a button outside the approval chat does nothing');
    assert.equal(decided.length, count);
    const problems = audit
      .filter((e) => e.type === 'channel.rejected' && e.platform === 'telegram')
      .map((e) => e.type === 'channel.rejected' && e.problem);
    assert.deepEqual(problems, ['bad-signature', 'missing', 'replayed']);
  });

  test('/pair in a private chat answers a code; in a group it answers nothing', async () => {
    const r = await telegram.deliver(hook(), FakeTelegram.typed(mallory, '/pair'));
    const answer = r.json as Record<string, unknown>;
    assert.equal(answer.method, 'sendMessage');
    assert.equal(answer.chat_id, 666);
    assert.match(String(answer.text), /closedpaw channel pair [2-9A-Z]{4}-[2-9A-Z]{4}/);
    const group = await telegram.deliver(hook(), FakeTelegram.typed(mallory, '/pair', 'group'));
    assert.equal(group.text, '');
  });
});

describe('Discord interactions', () => {
  const hook = () => `${base}/discord`;

  test('PING is answered with PONG; a paired member decides (ephemeral answer)', async () => {
    assert.deepEqual((await discord.deliver(hook(), { type: 1 })).json, { type: 1 });
    const ref = await notified('apv-dc');
    const r = await discord.deliver(
      hook(),
      FakeDiscord.button('2002', 'alice', DISCORD_CHANNEL, buttonData('Denied', ref)),
    );
    assert.equal(r.status, 200);
    assert.deepEqual(decided.at(-1), { name: 'apv-dc', user: 'alice', verdict: 'Denied' });
    const answer = r.json as { type: number; data: { content: string; flags: number } };
    assert.equal(answer.type, 4);
    assert.equal(answer.data.flags, 64);
    assert.match(answer.data.content, /Denied .* as alice/);
  });

  test('forged key, tampered body, stale timestamp, replayed id: 401; unpaired: acknowledged with nothing', async () => {
    const ref = await notified('apv-dc-bad');
    const count = decided.length;
    const press = FakeDiscord.button('2002', 'alice', DISCORD_CHANNEL, buttonData('Approved', ref));
    const forger = generateKeyPairSync('ed25519').privateKey;
    assert.equal((await discord.deliver(hook(), press, { key: forger })).status, 401);
    assert.equal(
      (await discord.deliver(hook(), press, { tamper: (b) => b.replace('"2002"', '"2003"') })).status,
      401,
    );
    assert.equal(
      (await discord.deliver(hook(), press, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status,
      401,
    );
    const body = JSON.stringify({ id: 'interaction-1', token: 't', ...press });
    const ts = String(Math.floor(Date.now() / 1000));
    const first = await discord.deliverSigned(hook(), body.replace('"2002"', '"9999"'), ts);
    assert.deepEqual(first.json, { type: 6 }, 'an unpaired member: acknowledged, nothing shown');
    assert.equal(
      (await discord.deliverSigned(hook(), body.replace('"2002"', '"9999"'), ts)).status,
      401,
      'the same interaction again',
    );
    assert.equal(decided.length, count);
  });
});

describe('Slack interactivity', () => {
  const hook = () => `${base}/slack`;

  test('a paired user approves; the outcome comes back as an ephemeral message', async () => {
    const ref = await notified('apv-sl');
    const r = await slack.deliver(
      hook(),
      FakeSlack.pressed('T1', 'U3003', 'alice', SLACK_CHANNEL, buttonData('Approved', ref)),
    );
    assert.deepEqual([r.status, r.text], [200, '']);
    assert.deepEqual(decided.at(-1), { name: 'apv-sl', user: 'alice', verdict: 'Approved' });
    await channels.idle();
    const eph = slack.callsTo('/chat.postEphemeral').at(-1);
    assert.equal(eph?.body.user, 'U3003');
    assert.match(String(eph?.body.text), /Approved .* as alice/);
  });

  test('forged secret, stale (6 min) and replayed requests: 401; another workspace with the same user id: nothing', async () => {
    const ref = await notified('apv-sl-bad');
    const count = decided.length;
    const form = FakeSlack.pressed('T1', 'U3003', 'alice', SLACK_CHANNEL, buttonData('Approved', ref));
    assert.equal((await slack.deliver(hook(), form, { secret: 'guessed' })).status, 401);
    assert.equal(
      (await slack.deliver(hook(), form, { timestamp: Math.floor(Date.now() / 1000) - 360 })).status,
      401,
    );
    const other = await slack.deliver(
      hook(),
      FakeSlack.pressed('T2', 'U3003', 'alice', SLACK_CHANNEL, buttonData('Approved', ref)),
    );
    assert.deepEqual([other.status, other.text], [200, '']);
    const replayed = await slack.resend(hook(), other.headers, other.body);
    assert.equal(replayed.status, 401);
    assert.equal(decided.length, count);
  });

  test('/closedpaw pair answers an ephemeral code', async () => {
    const r = await slack.deliver(hook(), FakeSlack.command('T1', 'U7777', 'bob', 'pair'));
    const answer = r.json as { response_type: string; text: string };
    assert.equal(answer.response_type, 'ephemeral');
    assert.match(answer.text, /closedpaw channel pair /);
  });
});

test('no bot token or signing secret appears in logs or audit records', () => {
  const everything = JSON.stringify(audit) + logs.join('\n');
  for (const secret of [TELEGRAM_TOKEN, TELEGRAM_SECRET, DISCORD_TOKEN, SLACK_TOKEN, SLACK_SECRET]) {
    assert.equal(everything.includes(secret), false, secret);
  }
});

/**
 * Channels against the real API server: pairing proves the Kubernetes user through the API server
 * (ChannelPairing + admission policy), and a paired chat user's button press becomes a decision written
 * by impersonating that user only — so the approval decision policy still checks who decides. The
 * operator runs as the chart's service account; Telegram is a local fake speaking its Bot API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import type { AgentTask, Approval } from '../../operator/src/api/types.ts';
import type { AuditEventInput } from '../../operator/src/audit/events.ts';
import { runChannelCli } from '../../operator/src/channels/cli.ts';
import type { Pairing } from '../../operator/src/channels/pairing.ts';
import { codeDigest } from '../../operator/src/channels/pairing.ts';
import { pairingAs } from '../../operator/src/channels/pairing-request.ts';
import { type RunningChannels, startChannels } from '../../operator/src/channels/service.ts';
import { parseChannelSettings } from '../../operator/src/channels/settings.ts';
import { ClusterClient } from '../../operator/src/k8s/client.ts';
import { createLogger } from '../../operator/src/logger.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { Informer, type KubeObject } from '../../operator/src/runtime/informer.ts';
import { createAccessReview, startUiServer, UI_DIST_DIR } from '../../operator/src/server/ui/index.ts';
import { SecretValue } from '../../operator/src/vault/secret.ts';
import { FakeTelegram } from '../support/fake-chat-platforms.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { capturingLogger, runOperator, Tasks, waitUntil } from '../support/operator.ts';
import { operatorKubeConfig } from '../support/operator-identity.ts';
import { ensureUiBuilt, grantApprover, launchChromium, newUiToken } from '../ui/support.ts';
import { grantOperatorChannels, grantPairing, installPairing, revokeChannelGrants } from './support.ts';

const TOKEN = '777000:AAtelegram-e2e-token-TESTONLY';
const SECRET = 'e2e-webhook-secret_TESTONLY';
const CHAT = -100777;
const alice = FakeTelegram.user(1001, 'alice');
const alicePhone = FakeTelegram.user(1003, 'alice_phone');
const mallory = FakeTelegram.user(666, 'mallory');
const bobChat = FakeTelegram.user(2002, 'bob');

const admin = kubeConfig();
let ns = '';
let operator: RunningOperator;
let channels: RunningChannels;
let telegram: FakeTelegram;
let tasks: Tasks;
let informers: Informer<KubeObject>[] = [];
let ui: Awaited<ReturnType<typeof startUiServer>> | undefined;
let identityClient: ClusterClient;
let identityConfig: KubeConfig;
let approvalInformer: Informer<KubeObject>;
let taskInformer: Informer<KubeObject>;
/** The operator's log lines: a wait that times out shows the last of them (this file has failed under load). */
const operatorLog = capturingLogger();
/** Waits as given; on a timeout, the error carries the operator's last log lines. */
async function withOperatorLog<T>(wait: Promise<T>): Promise<T> {
  try {
    return await wait;
  } catch (error) {
    const tail = operatorLog.lines.slice(-40).join('');
    throw new Error(`${(error as Error).message}\noperator log (last 40 lines):\n${tail}`);
  }
}
const audit: AuditEventInput[] = [];
const hook = () => `http://127.0.0.1:${channels.port}/telegram`;

function as(user: string): KubeConfig {
  const kc = kubeConfig();
  kc.users = kc.users.map((u) => ({ ...u, impersonateUser: user }));
  return kc;
}

async function cli(user: string, code: string): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const exit = await runChannelCli(
    ['pair', code],
    { stdout: (s) => lines.push(s), stderr: (s) => lines.push(s) },
    { kubeConfig: as(user), timeoutMs: 20_000 },
  );
  return { code: exit, out: lines.join('\n') };
}

/** The code the bot answered /pair with, in the webhook response. */
async function askCode(from: ReturnType<typeof FakeTelegram.user>): Promise<string> {
  const r = await telegram.deliver(hook(), FakeTelegram.typed(from, '/pair'));
  const text = String((r.json as { text?: unknown } | undefined)?.text);
  const code = /closedpaw channel pair ([2-9A-Z]{4}-[2-9A-Z]{4})/.exec(text)?.[1];
  assert.ok(code, text);
  return code;
}

before(async () => {
  ns = await createTestNamespace('channels');
  await installPairing();
  await grantOperatorChannels(['alice']);
  await grantPairing(['alice', 'mallory']);
  await grantApprover(ns, 'alice');
  await grantApprover(ns, 'bob');
  telegram = await new FakeTelegram(TOKEN, SECRET).start();
  operator = await runOperator(admin, ns, { CLOSEDPAW_APPROVAL_TTL_SECONDS: '600' }, {}, operatorLog.logger);
  tasks = new Tasks(admin, ns);

  const identity = await operatorKubeConfig(admin);
  const approvals = new Informer<KubeObject>('approvals', {
    kubeConfig: identity,
    path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${APPROVAL.plural}`,
  });
  const agentTasks = new Informer<KubeObject>('agenttasks', {
    kubeConfig: identity,
    path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${AGENT_TASK.plural}`,
  });
  informers = [approvals, agentTasks];
  await Promise.all(informers.map((i) => i.start()));
  const client = new ClusterClient(identity);
  const paired: Pairing[] = [
    {
      platform: 'telegram',
      accountId: '2002',
      accountName: '@bob',
      user: 'bob',
      pairedAt: new Date().toISOString(),
    },
  ];
  identityClient = client;
  identityConfig = identity;
  approvalInformer = approvals;
  taskInformer = agentTasks;
  channels = await startChannels({
    settings: parseChannelSettings({
      CLOSEDPAW_CHANNELS: 'telegram',
      CLOSEDPAW_CHANNELS_ADDR: '127.0.0.1:0',
      CLOSEDPAW_CHANNEL_USERS: 'alice',
      CLOSEDPAW_TELEGRAM_API_URL: telegram.url,
      CLOSEDPAW_TELEGRAM_CHAT_ID: String(CHAT),
    })!,
    secrets: { get: async (name) => new SecretValue(name === 'telegram-bot-token' ? TOKEN : SECRET) },
    pairingPersistence: { load: async () => paired, save: async () => {} },
    kubeConfig: identity,
    decideApproval: (namespace, name, approver, decision) =>
      client.decideApproval(namespace, name, approver, decision),
    approvals: {
      list: () => approvals.list() as unknown as Approval[],
      get: (k) => approvals.get(k) as unknown as Approval | undefined,
    },
    tasks: { get: (k) => agentTasks.get(k) as unknown as AgentTask | undefined },
    audit: { append: (e) => void audit.push(e) },
    logger: { info() {}, warn() {}, error() {} },
    ttlSeconds: 600,
    scanIntervalMs: 200,
  });
});

after(async () => {
  await ui?.close();
  await channels?.stop();
  for (const i of informers) i.stop();
  await operator?.stop();
  await telegram?.stop();
  await revokeChannelGrants(['alice', 'mallory']);
  await deleteNamespace(ns);
});

describe('pairing through the API server', () => {
  test('the operator handles pairings only because the admission policy is installed', () => {
    assert.equal(channels.pairingEnabled, true);
  });

  test("nobody can confirm a code in someone else's name: the API server refuses spec.user ≠ requester", async () => {
    const custom = as('mallory').makeApiClient(CustomObjectsApi);
    const err = await custom
      .createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: 'channelpairings',
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'ChannelPairing',
          metadata: { generateName: 'pair-' },
          spec: { user: 'alice', codeDigest: codeDigest('ABCD-EFGH') },
        },
      })
      .catch((e: { code?: number; body?: string }) => e);
    assert.equal((err as { code?: number }).code, 403);
    assert.match(String((err as { body?: string }).body), /spec.user must be your own user name mallory/);
  });

  test('a user the operator may not impersonate cannot pair (the code is spent)', async () => {
    const code = await askCode(mallory);
    const r = await cli('mallory', code);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /not paired: user mallory may not decide through chat channels/);
  });

  test('alice confirms her own code with her own identity: paired, and told in the chat', async () => {
    const code = await askCode(alice);
    const r = await cli('alice', code);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /paired telegram account @alice \(id 1001\) with Kubernetes user alice/);
    await waitUntil(
      'the pairing message to alice',
      async () => telegram.callsTo('/sendMessage').some((c) => c.body.chat_id === '1001'),
      10_000,
    );
    assert.match(
      String(telegram.callsTo('/sendMessage').find((c) => c.body.chat_id === '1001')?.body.text),
      /Paired with Kubernetes user alice/,
    );
    const again = await cli('alice', code);
    assert.match(again.out, /unknown, used or expired code/, 'a code works once');
    assert.deepEqual(
      audit
        .filter((e) => e.type === 'channel.pairing' && e.outcome !== 'code_issued')
        .map((e) => e.type === 'channel.pairing' && [e.outcome, e.user]),
      [
        ['rejected', 'mallory'],
        ['paired', 'alice'],
        ['rejected', 'alice'],
      ],
    );
  });
});

describe('decisions from the chat', () => {
  let ref = '';
  let approval: Approval;

  before(async () => {
    await tasks.create('needs-human', {
      prompt: 'Clean the build cache.',
      model: 'llama3.2:3b',
      tools: ['shell'],
    });
    await withOperatorLog(tasks.waitForPhase('needs-human', 'AwaitingApproval', 30_000));
    await waitUntil(
      'the approval notice',
      async () => telegram.callsTo('/sendMessage').some((c) => String(c.body.text).includes('needs-human')),
      20_000,
    );
    const sent = telegram.callsTo('/sendMessage').find((c) => String(c.body.text).includes('needs-human'))!;
    const keyboard = (sent.body.reply_markup as { inline_keyboard: Array<Array<{ callback_data: string }>> })
      .inline_keyboard;
    ref = keyboard[0]![0]!.callback_data.split(':')[2]!;
    approval = (await tasks.listApprovals())[0]!;
  });

  test('forged and unpaired presses change nothing', async () => {
    assert.equal(
      (await telegram.deliver(hook(), FakeTelegram.pressed(alice, CHAT, `cp1:a:${ref}`), 'forged')).status,
      401,
    );
    const unpaired = await telegram.deliver(hook(), FakeTelegram.pressed(mallory, CHAT, `cp1:a:${ref}`));
    assert.equal(unpaired.text, '');
    const now = (await tasks.listApprovals())[0];
    assert.equal(now?.spec.decision, undefined);
  });

  test('a paired user whose identity the operator may not impersonate: the API server refuses, nothing decided', async () => {
    const r = await telegram.deliver(hook(), FakeTelegram.pressed(bobChat, CHAT, `cp1:a:${ref}`));
    assert.match(String((r.json as { text?: string }).text), /refused it as bob: .*cannot impersonate/);
    assert.equal((await tasks.listApprovals())[0]?.spec.decision, undefined);
  });

  test('alice approves from the chat: the decision is written as alice, and the task goes on', async () => {
    const r = await telegram.deliver(hook(), FakeTelegram.pressed(alice, CHAT, `cp1:a:${ref}`));
    assert.match(String((r.json as { text?: string }).text), /Approved .* as alice/);
    const decided = (await tasks.listApprovals()).find((a) => a.metadata.uid === approval.metadata.uid);
    assert.equal(decided?.spec.decision?.decidedBy, 'alice');
    assert.equal(decided?.spec.decision?.verdict, 'Approved');
    assert.match(decided?.spec.decision?.reason ?? '', /via telegram account @alice/);
    await withOperatorLog(
      tasks.waitFor(
        'needs-human',
        'past the approval',
        (t) => t?.status?.phase !== 'AwaitingApproval',
        30_000,
      ),
    );
    const again = await telegram.deliver(hook(), FakeTelegram.pressed(alice, CHAT, `cp1:d:${ref}`));
    assert.match(
      String((again.json as { text?: string }).text),
      /Not decided: .*already decided|is Approved/,
    );
    const relayed = audit
      .filter((e) => e.type === 'channel.decision')
      .map((e) => e.type === 'channel.decision' && `${e.account}:${e.outcome}`);
    assert.deepEqual(relayed, [
      'telegram:666:ignored',
      'telegram:2002:refused',
      'telegram:1001:relayed',
      'telegram:1001:refused',
    ]);
  });
});

describe('pairing in the web UI (Chromium), as its approver', () => {
  const token = newUiToken();

  before(async () => {
    await ensureUiBuilt();
    // Wired as operator.ts wires it with channels on: pairing as the UI's approver, alice.
    ui = await startUiServer({
      approvals: approvalInformer as unknown as Informer<Approval & KubeObject>,
      tasks: taskInformer as unknown as Informer<AgentTask & KubeObject>,
      decide: (namespace, name, decision) =>
        identityClient.decideApproval(namespace, name, { user: 'alice' }, decision),
      approver: 'alice',
      access: createAccessReview({ user: 'alice', canI: (who, attrs) => identityClient.canI(who, attrs) }),
      ttlSeconds: 600,
      token,
      host: '127.0.0.1',
      port: 0,
      staticDir: UI_DIST_DIR,
      logger: createLogger('silent'),
      pair: pairingAs(identityConfig, { user: 'alice' }),
    });
  });

  test('alice pairs her second chat account by typing its code into the page; a spent code is refused there', async () => {
    const code = await askCode(alicePhone);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${ui!.url.replace(/\/?#/, '/pair#')}`);
      await page.getByRole('heading', { name: 'Pair a chat account' }).waitFor();
      await page.getByRole('link', { name: 'Pair a chat account' }).waitFor();
      const input = page.getByLabel('Pairing code');
      const confirm = page.getByRole('button', { name: 'Confirm pairing' });
      await input.fill('not a code');
      assert.equal(await confirm.isDisabled(), true, 'a malformed code cannot be sent');
      await input.fill(code);
      await confirm.click();
      const paired = page.getByRole('status').filter({ hasText: 'Paired' });
      await paired.waitFor({ timeout: 20_000 });
      assert.match(
        String(await paired.textContent()),
        /Paired telegram account @alice_phone \(id 1003\) with alice: its buttons now decide as you/,
      );
      await input.fill(code);
      await confirm.click();
      const refused = page.getByRole('alert').filter({ hasText: 'Not paired' });
      await refused.waitFor({ timeout: 20_000 });
      assert.match(String(await refused.textContent()), /unknown, used or expired code/);
    } finally {
      await browser.close();
    }
    await waitUntil(
      'the pairing message to the second account',
      async () => telegram.callsTo('/sendMessage').some((c) => c.body.chat_id === '1003'),
      10_000,
    );
    const pairedEvents = audit.filter(
      (e) => e.type === 'channel.pairing' && e.outcome === 'paired' && e.account === 'telegram:1003',
    );
    assert.deepEqual(
      pairedEvents.map((e) => e.type === 'channel.pairing' && e.user),
      ['alice'],
    );
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentTask, Approval } from '../api/types.ts';
import type { AuditEventInput } from '../audit/events.ts';
import { parseCloudSettings } from '../gateway/providers/catalog.ts';
import { approvalFixture, taskFixture } from '../server/ui/testkit.ts';
import type { ChannelAdapter } from './adapter.ts';
import { ChannelCore } from './core.ts';
import { noticeText } from './message.ts';
import { ApprovalNotifier, noticeFor } from './notifier.ts';
import { PairingCodes, PairingStore } from './pairing.ts';
import { decideRelay } from './relay.ts';
import type { ApprovalNotice, ChatAccount } from './types.ts';

const alice: ChatAccount = { platform: 'slack', id: 'T1:U1', name: 'alice' };
const stranger: ChatAccount = { platform: 'slack', id: 'T1:U9', name: 'mallory' };
const now = new Date();

function world() {
  const task = taskFixture('clean', { model: 'openai/gpt-4o-mini' });
  const approval = approvalFixture(task, {
    spec: { expiresAt: new Date(now.getTime() + 600_000).toISOString() },
    metadata: { creationTimestamp: now },
  });
  const key = `${approval.metadata.namespace}/${approval.metadata.name}`;
  const approvals = new Map<string, Approval>([[key, approval]]);
  const tasks = new Map<string, AgentTask>([[`${task.metadata.namespace}/${task.metadata.name}`, task]]);
  const decided: Array<{ ns: string; name: string; user: string; verdict: string; reason: string }> = [];
  const events: AuditEventInput[] = [];
  const pairings = new PairingStore({ load: async () => [], save: async () => {} });
  let refuse: Error | undefined;
  const core = new ChannelCore({
    pairings,
    codes: new PairingCodes(),
    approvals,
    tasks,
    decide: async (ns, name, user, d) => {
      if (refuse) throw refuse;
      decided.push({ ns, name, user, ...d });
    },
    audit: (e) => events.push(e),
    now: () => now,
    ttlSeconds: 1800,
  });
  const ref = core.refs.refFor({
    namespace: approval.metadata.namespace!,
    name: approval.metadata.name!,
    uid: approval.metadata.uid!,
  });
  return {
    task,
    approval,
    approvals,
    core,
    ref,
    decided,
    events,
    pairings,
    refuseWith: (e: Error) => (refuse = e),
  };
}

describe('relaying a button press', () => {
  test('a paired sender decides as their Kubernetes user, and only as them', async () => {
    const w = world();
    await w.pairings.pair(alice, 'alice', now);
    const reply = await w.core.act(alice, { kind: 'decide', verdict: 'Approved', ref: w.ref });
    assert.match(reply?.text ?? '', /^Approved .* as alice\.$/);
    assert.deepEqual(w.decided, [
      {
        ns: w.approval.metadata.namespace,
        name: w.approval.metadata.name,
        user: 'alice',
        verdict: 'Approved',
        reason: 'approved via slack account alice',
      },
    ]);
    const audit = w.events.at(-1);
    assert.equal(audit?.type, 'channel.decision');
    assert.deepEqual(
      audit?.type === 'channel.decision' && [audit.outcome, audit.decidedBy?.name, audit.account],
      ['relayed', 'alice', 'slack:T1:U1'],
    );
  });

  test('an unpaired sender gets nothing, and nothing is decided (audited as ignored)', async () => {
    const w = world();
    assert.equal(await w.core.act(stranger, { kind: 'decide', verdict: 'Approved', ref: w.ref }), undefined);
    assert.equal(w.decided.length, 0);
    assert.deepEqual(
      w.events.map((e) => e.type === 'channel.decision' && e.outcome),
      ['ignored'],
    );
  });

  test('an unknown button ref, a replaced approval, an expired one: refused with why, nothing decided', async () => {
    const w = world();
    await w.pairings.pair(alice, 'alice', now);
    assert.match(
      (await w.core.act(alice, { kind: 'decide', verdict: 'Denied', ref: 'AAAAAAAAAAAA' }))?.text ?? '',
      /no longer valid/,
    );
    const key = [...w.approvals.keys()][0]!;
    w.approvals.set(key, { ...w.approval, metadata: { ...w.approval.metadata, uid: 'another' } });
    assert.match(
      (await w.core.act(alice, { kind: 'decide', verdict: 'Denied', ref: w.ref }))?.text ?? '',
      /no longer exists/,
    );
    w.approvals.set(key, {
      ...w.approval,
      spec: { ...w.approval.spec, expiresAt: new Date(now.getTime() - 1).toISOString() },
    });
    assert.match(
      (await w.core.act(alice, { kind: 'decide', verdict: 'Denied', ref: w.ref }))?.text ?? '',
      /expired/,
    );
    assert.equal(w.decided.length, 0);
  });

  test("the API server's refusal (admission policy, RBAC) is shown and audited", async () => {
    const w = world();
    await w.pairings.pair(alice, 'alice', now);
    w.refuseWith(
      Object.assign(new Error('user alice is not in spec.approvers of this Approval'), { code: 403 }),
    );
    const reply = await w.core.act(alice, { kind: 'decide', verdict: 'Approved', ref: w.ref });
    assert.match(reply?.text ?? '', /refused it as alice: user alice is not in spec.approvers/);
    const last = w.events.at(-1);
    assert.equal(last?.type === 'channel.decision' && last.outcome, 'refused');
  });

  test('decideRelay table: ignore beats everything for an unpaired sender', () => {
    const d = decideRelay({
      sender: stranger,
      pairing: undefined,
      verdict: 'Approved',
      target: undefined,
      approval: undefined,
      task: undefined,
      now,
      ttlSeconds: 1,
    });
    assert.equal(d.kind, 'ignore');
  });
});

describe('pairing and intake through the core', () => {
  test('/pair answers a code and the command to confirm it', async () => {
    const w = world();
    const reply = await w.core.act(alice, { kind: 'pair' });
    assert.match(reply?.text ?? '', /closedpaw channel pair [2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}/);
    assert.equal(w.events.at(-1)?.type === 'channel.pairing' && w.events.at(-1)?.type, 'channel.pairing');
  });

  test('intake: only allowlisted, paired senders; created as their user', async () => {
    const created: Array<[string, string]> = [];
    const pairings = new PairingStore({ load: async () => [], save: async () => {} });
    await pairings.pair(alice, 'alice', now);
    await pairings.pair({ platform: 'slack', id: 'T1:U2' }, 'bob', now);
    const core = new ChannelCore({
      pairings,
      codes: new PairingCodes(),
      approvals: new Map(),
      tasks: new Map(),
      decide: async () => {},
      audit: () => {},
      now: () => now,
      ttlSeconds: 1800,
      intake: {
        namespace: 'team-a',
        users: ['alice'],
        model: 'llama3.2:3b',
        create: async (user, prompt) => {
          created.push([user, prompt]);
          return 'chat-x1';
        },
      },
    });
    assert.match(
      (await core.act(alice, { kind: 'intake', prompt: 'tidy up' }))?.text ?? '',
      /Created task team-a\/chat-x1 as alice; it waits for an approval/,
    );
    assert.equal(
      await core.act({ platform: 'slack', id: 'T1:U2' }, { kind: 'intake', prompt: 'x' }),
      undefined,
      'paired but not allowlisted',
    );
    assert.equal(await core.act(stranger, { kind: 'intake', prompt: 'x' }), undefined, 'not paired');
    assert.deepEqual(created, [['alice', 'tidy up']]);
  });

  test('intake is off by default: nothing for anyone', async () => {
    const w = world();
    await w.pairings.pair(alice, 'alice', now);
    assert.equal(await w.core.act(alice, { kind: 'intake', prompt: 'do it' }), undefined);
  });
});

describe('notifications', () => {
  test('each decidable approval once per channel, with summary, risk reasons and expiry; outcomes audited', async () => {
    const w = world();
    const sent: ApprovalNotice[] = [];
    const events: AuditEventInput[] = [];
    const working: ChannelAdapter = {
      platform: 'slack',
      handle: async () => ({ status: 200 }),
      notify: async (n) => void sent.push(n),
      tell: async () => {},
    };
    const broken: ChannelAdapter = {
      platform: 'discord',
      handle: async () => ({ status: 200 }),
      notify: async () => Promise.reject(new Error('discord: HTTP 503')),
      tell: async () => {},
    };
    const notifier = new ApprovalNotifier({
      approvals: { list: () => [...w.approvals.values()] },
      tasks: { get: () => w.task },
      adapters: [working, broken],
      refs: w.core.refs,
      audit: (e) => events.push(e),
      now: () => now,
      ttlSeconds: 1800,
    });
    await Promise.all(notifier.scan());
    await Promise.all(notifier.scan());
    assert.equal(sent.length, 1, 'notified once');
    assert.equal(sent[0]?.ref, w.ref, 'the same ref as the core resolves');
    const text = noticeText(sent[0]!, now);
    assert.match(text, /Risk: critical/);
    assert.match(text, /tool shell requested/);
    assert.match(text, /Model: openai\/gpt-4o-mini/);
    assert.match(text, /Expires: .* \(in 10 min/);
    assert.deepEqual(
      events.map((e) => e.type === 'channel.notified' && [e.platform, e.outcome]),
      [
        ['slack', 'sent'],
        ['discord', 'failed'],
      ],
    );
  });
});

test('a chat notice rates the task as the operator does: a cloud model is a risk reason there too', () => {
  const w = world();
  const cloud = parseCloudSettings({
    CLOSEDPAW_CLOUD_MODELS: 'openai/gpt-4o-mini',
    CLOSEDPAW_CLOUD_PRICES: 'openai/gpt-4o-mini=0.15/0.60',
  });
  const withCloud = noticeFor(w.approval, w.task, w.core.refs, now, 1800, cloud);
  const local = noticeFor(w.approval, w.task, w.core.refs, now, 1800);
  assert.equal(withCloud?.risk.level, 'critical');
  assert.ok(
    withCloud?.risk.reasons.some((r) => r.includes('cloud model openai/gpt-4o-mini')),
    JSON.stringify(withCloud?.risk),
  );
  assert.ok(!local?.risk.reasons.some((r) => r.includes('cloud model')), JSON.stringify(local?.risk));
});

/**
 * A cloud task end to end: AgentTask (model openai/gpt-4o-mini, or an Anthropic one) → operator (as the chart's service
 * account) → hardened pod → the real runner bundle in gVisor → the model gateway, which translates the
 * runner's Ollama chat into OpenAI chat completions for a local fake of that API (and its SSE answer,
 * tool calls included, back), with the API key from the encrypted vault. Then the key is looked for
 * everywhere it must never be: pods, pod logs, Events, the sealed audit log, API objects, logs.
 *
 * The operator runs with its own gateway and cloud configuration (CLOSEDPAW_CLOUD_*), the key put into its
 * vault with `closedpaw vault set`, and a sealed audit sink the test reads back.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { pino } from 'pino';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import { exportRecords, generateKey, loadKeyring, openAuditSink } from '../../operator/src/audit/index.ts';
import type { FileAuditSink } from '../../operator/src/audit/sink.ts';
import { whoAmI } from '../../operator/src/cli/approvals.ts';
import { runVaultCli } from '../../operator/src/cli/vault.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { vaultLoggerOptions } from '../../operator/src/vault/index.ts';
import { FakeAnthropic, FakeOpenAI } from '../support/fake-llm-providers.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from '../support/operator.ts';

const KEY = 'sk-proj-E2E-never-leaks-5f0c2b9d8e7a6f1c3b4a5d6e7f8091a2';
const ANTHROPIC_KEY = 'sk-ant-api03-E2E-never-leaks-9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a49';
const CLAUDE = 'anthropic/claude-3-5-haiku-latest';
const kc = kubeConfig();
let ns = '';
let dir = '';
let openai: FakeOpenAI;
let anthropic: FakeAnthropic;
let operator: RunningOperator;
let kubelet: TestKubelet;
let tasks: Tasks;
let sink: FileAuditSink;
const logLines: string[] = [];

before(async () => {
  ns = await createTestNamespace('cloud');
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-cloud-e2e-'));
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  openai = await new FakeOpenAI(KEY).start();
  anthropic = await new FakeAnthropic(ANTHROPIC_KEY).start();

  // closedpaw vault set openai < key (the value on stdin), into the state dir the operator would use.
  const stateEnv = { CLOSEDPAW_STATE_DIR: join(dir, 'state') };
  for (const [name, key] of [
    ['openai', KEY],
    ['anthropic', ANTHROPIC_KEY],
  ] as const) {
    const set = await runVaultCli(['set', name], {
      stdout: () => {},
      stderr: () => {},
      stdin: Readable.from([Buffer.from(`${key}\n`)]),
      env: stateEnv,
    });
    assert.equal(set, 0);
  }

  await generateKey(join(dir, 'audit-keys'));
  sink = await openAuditSink({
    logPath: join(dir, 'audit', 'audit.log'),
    keyring: await loadKeyring(join(dir, 'audit-keys')),
  });
  const logger = pino(
    { level: 'debug', ...vaultLoggerOptions },
    { write: (s: string) => void logLines.push(s) },
  );

  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = () => ({ kind: 'gvisor' });
  await kubelet.start();
  operator = await runOperator(
    kc,
    ns,
    {
      ...stateEnv,
      CLOSEDPAW_CLOUD_MODELS: `openai/gpt-4o-mini,${CLAUDE}`,
      CLOSEDPAW_CLOUD_PRICES: `openai/gpt-4o-mini=0.15/0.60,${CLAUDE}=0.8/4`,
      CLOSEDPAW_CLOUD_PROVIDERS: `openai=openai,${openai.url},openai;anthropic=anthropic,${anthropic.url},anthropic`,
    },
    { auditSink: sink },
    logger,
  );
  tasks = new Tasks(kc, ns);
});

/**
 * A cloud model is a risk reason, critical unless the operator's policy says otherwise (CLOSEDPAW_CLOUD_RISK
 * is not set here): the task must wait for a human, the Approval names the provider and model, and the
 * admin approves as themselves. A cloud task that runs without asking fails here.
 */
async function approveIfAsked(name: string, model = 'openai/gpt-4o-mini'): Promise<void> {
  const task = await tasks.waitFor(
    name,
    'a decision on approval',
    (t) => !!t?.status?.phase && t.status.phase !== 'Pending',
    60_000,
  );
  assert.equal(
    task?.status?.phase,
    'AwaitingApproval',
    `a cloud task must wait for a human: ${JSON.stringify(task?.status)}`,
  );
  const approval = (await tasks.listApprovals()).find((a) => a.spec.taskRef.name === name);
  assert.ok(approval, 'an Approval for the cloud task');
  assert.ok(
    approval.spec.risk.reasons.some(
      (r) => r.includes(`cloud model ${model}`) && r.includes(`provider ${model.split('/')[0]}`),
    ),
    JSON.stringify(approval.spec.risk),
  );
  const me = await whoAmI(kc);
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: APPROVAL.plural,
      name: approval.metadata.name!,
      body: { spec: { decision: { verdict: 'Approved', decidedBy: me, reason: 'cloud e2e' } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await sink?.close();
  await openai?.stop();
  await anthropic?.stop();
  await deleteNamespace(ns);
  await rm(dir, { recursive: true, force: true });
});

describe('a cloud task through the gateway, in gVisor', () => {
  test('tool calls translated both ways; the answer comes back; every call audited with provider and cost', async () => {
    openai.script(
      { type: 'tool_calls', calls: [{ name: 'list_files', arguments: { path: '.' } }] },
      { type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'notes.txt' } }] },
      { type: 'text', content: 'The notes say: remember the milk.' },
    );
    await tasks.create('cloud-notes', {
      prompt: 'What do the notes say?',
      model: 'openai/gpt-4o-mini',
      tools: ['fs.list', 'fs.read'],
      inputs: [{ path: 'notes.txt', content: 'remember the milk' }],
    });
    await approveIfAsked('cloud-notes');
    const done = await tasks.waitForPhase('cloud-notes', 'Succeeded', 180_000);
    assert.equal(done.status?.result?.summary, 'The notes say: remember the milk.');

    assert.equal(openai.requests.length, 3, 'one provider call per agent step');
    for (const r of openai.requests) {
      assert.equal(
        r.headers.authorization,
        `Bearer ${KEY}`,
        'the key is added by the gateway, on the way out',
      );
      assert.equal(r.body.model, 'gpt-4o-mini');
      assert.ok(
        Array.isArray(r.body.tools) && r.body.tools.length === 2,
        'the runner’s tools, as OpenAI functions',
      );
    }
    const last = openai.requests[2]!.body.messages as Array<Record<string, unknown>>;
    const calls = last
      .filter((m) => m.role === 'assistant')
      .flatMap(
        (m) => (m.tool_calls as Array<{ id: string; function: { name: string; arguments: string } }>) ?? [],
      );
    assert.deepEqual(
      calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
      [
        ['list_files', { path: '.' }],
        ['read_file', { path: 'notes.txt' }],
      ],
    );
    const results = last.filter((m) => m.role === 'tool');
    assert.deepEqual(
      results.map((m) => m.tool_call_id),
      calls.map((c) => c.id),
      'each tool result answers its call',
    );
    assert.match(String(results[1]?.content), /remember the milk/);
    assert.match(
      String(results[1]?.content),
      /<<untrusted-data/,
      'tool output is still spotlighted and screened',
    );

    await sink.flush();
    const events: Array<Record<string, unknown>> = [];
    await exportRecords({
      logPath: join(dir, 'audit', 'audit.log'),
      keyring: await loadKeyring(join(dir, 'audit-keys')),
      onRecord: (r) => void events.push(r as never),
    });
    const modelCalls = events
      .map((r) => (r as { event?: Record<string, unknown> }).event ?? r)
      .filter((e) => e.type === 'model.call');
    assert.equal(modelCalls.length, 3);
    for (const e of modelCalls) {
      assert.equal(e.provider, 'openai');
      assert.equal(e.verdict, 'allowed');
      assert.ok(Number(e.costMicroUsd) > 0);
      assert.match(String(e.requestDigest), /^sha256:/);
    }
  });

  test('anthropic: tool use and results translated both ways through the operator and gVisor, key as x-api-key', async () => {
    anthropic.script(
      { type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'todo.txt' } }] },
      { type: 'text', content: 'The list says: water the plants.' },
    );
    await tasks.create('claude-todo', {
      prompt: 'What is on the list?',
      model: CLAUDE,
      tools: ['fs.read'],
      inputs: [{ path: 'todo.txt', content: 'water the plants' }],
    });
    await approveIfAsked('claude-todo', CLAUDE);
    const done = await tasks.waitForPhase('claude-todo', 'Succeeded', 180_000);
    assert.equal(done.status?.result?.summary, 'The list says: water the plants.');
    assert.equal(anthropic.requests.length, 2, 'one provider call per agent step');
    for (const r of anthropic.requests) {
      assert.equal(r.headers['x-api-key'], ANTHROPIC_KEY, 'the key is added by the gateway, on the way out');
      assert.equal(r.body.model, 'claude-3-5-haiku-latest');
    }
    const messages = anthropic.requests[1]!.body.messages as Array<{ role: string; content: unknown }>;
    const blocks = messages.flatMap((m) =>
      Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : [],
    );
    const use = blocks.find((b) => b.type === 'tool_use');
    const result = blocks.find((b) => b.type === 'tool_result');
    assert.deepEqual([use?.name, use?.input], ['read_file', { path: 'todo.txt' }]);
    assert.equal(result?.tool_use_id, use?.id, 'the tool result answers its call');
    assert.match(JSON.stringify(result?.content), /water the plants/);
  });

  test('the token budget ends a cloud task Failed with BudgetExceeded', async () => {
    // The first step spends (almost) the whole token budget; the gateway refuses the second before the provider.
    openai.script({
      type: 'tool_calls',
      calls: [{ name: 'list_files', arguments: { path: '.' } }],
      promptTokens: 995,
      completionTokens: 5,
    });
    openai.fallback = { type: 'text', content: 'never reached' };
    const before = openai.requests.length;
    await tasks.create('cloud-budget', {
      prompt: 'List the files, twice.',
      model: 'openai/gpt-4o-mini',
      tools: ['fs.list'],
      budget: { modelCalls: 10, tokens: 1000, bytes: 16 * 1024 * 1024 },
    });
    await approveIfAsked('cloud-budget');
    const done = await tasks.waitForPhase('cloud-budget', 'Failed', 180_000);
    const failed = done.status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'BudgetExceeded', JSON.stringify(failed));
    assert.equal(openai.requests.length - before, 1, 'the refused call never reached the provider');
    assert.match(failed?.message ?? '', /token budget/);
  });

  test('the key is nowhere: pods, pod logs, Events, API objects, the audit log (sealed and decrypted), logs', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const net = kc.makeApiClient(NetworkingV1Api);
    const places: Record<string, string> = {};
    const pods = await core.listNamespacedPod({ namespace: ns });
    places.pods = JSON.stringify(pods);
    assert.ok(pods.items.length >= 2, 'the pods are still there to inspect');
    for (const p of pods.items) {
      places[`log ${p.metadata?.name}`] = await core
        .readNamespacedPodLog({
          namespace: ns,
          name: p.metadata!.name!,
          container: p.spec!.containers[0]!.name,
        })
        .catch((e: Error) => `(no log: ${e.message})`);
    }
    places.events = JSON.stringify(await core.listNamespacedEvent({ namespace: ns }));
    places.tasks = JSON.stringify(
      await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: AGENT_TASK.plural,
      }),
    );
    places.approvals = JSON.stringify(
      await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: APPROVAL.plural,
      }),
    );
    places.policies = JSON.stringify(await net.listNamespacedNetworkPolicy({ namespace: ns }));
    places.configmaps = JSON.stringify(await core.listNamespacedConfigMap({ namespace: ns }));
    places.secrets = JSON.stringify(await core.listNamespacedSecret({ namespace: ns }));
    await sink.flush();
    places.auditRaw = (await readFile(join(dir, 'audit', 'audit.log'))).toString('latin1');
    const decrypted: unknown[] = [];
    await exportRecords({
      logPath: join(dir, 'audit', 'audit.log'),
      keyring: await loadKeyring(join(dir, 'audit-keys')),
      onRecord: (r) => void decrypted.push(r),
    });
    places.auditDecrypted = JSON.stringify(decrypted);
    places.logs = logLines.join('');
    places.vaultFile = await readFile(join(dir, 'state', 'vault', 'openai.json'), 'utf8');
    places.anthropicVaultFile = await readFile(join(dir, 'state', 'vault', 'anthropic.json'), 'utf8');
    assert.ok(places.logs.length > 0 && decrypted.length > 0, 'there was something to search');
    for (const [where, text] of Object.entries(places)) {
      for (const needle of [
        KEY,
        KEY.slice(8, 40),
        Buffer.from(KEY).toString('base64'),
        ANTHROPIC_KEY,
        ANTHROPIC_KEY.slice(14, 46),
      ]) {
        assert.equal(text.includes(needle), false, `the key (or part of it) is in ${where}`);
      }
    }
  });
});

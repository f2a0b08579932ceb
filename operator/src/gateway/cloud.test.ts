/**
 * Cloud models through the gateway, as the runner sees them: the `ollama` npm client (what the runner
 * uses) talks Ollama's /api/chat to the gateway, which translates to the provider's real API (local
 * fakes of OpenAI chat completions and Anthropic messages) and back, with the key from the vault.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { pino } from 'pino';
import { FakeAnthropic, FakeOpenAI } from '../../../test/support/fake-llm-providers.ts';
import { MemoryAuditSink } from '../audit/sink.ts';
import { vaultLoggerOptions } from '../vault/redact.ts';
import { SecretValue } from '../vault/secret.ts';
import { createGateway } from './gateway.ts';
import { parseCloudSettings } from './providers/catalog.ts';
import type { KeySource } from './providers/keys.ts';
import {
  createTokenVerifier,
  type GatewayKey,
  generateGatewayKey,
  issueTaskToken,
  type TokenSpec,
} from './tokens.ts';

const OPENAI_KEY = 'sk-proj-TESTKEY0123456789abcdefOPENAI';
const ANTHROPIC_KEY = 'sk-ant-api03-TESTKEY0123456789abcdefANTHROPIC';
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'read_file',
      description: 'Read a file',
      parameters: { type: 'object', properties: { path: { type: 'string' } } },
    },
  },
];

let key: GatewayKey;
before(async () => {
  key = await generateGatewayKey();
});

async function harness(t: { after(fn: () => Promise<void> | void): void }, env: Record<string, string> = {}) {
  const openai = await new FakeOpenAI(OPENAI_KEY).start();
  const anthropic = await new FakeAnthropic(ANTHROPIC_KEY).start();
  t.after(() => openai.stop());
  t.after(() => anthropic.stop());
  const settings = parseCloudSettings({
    CLOSEDPAW_CLOUD_MODELS: 'openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest',
    CLOSEDPAW_CLOUD_PRICES: 'openai/gpt-4o-mini=0.15/0.60,anthropic/claude-3-5-haiku-latest=0.8/4',
    CLOSEDPAW_CLOUD_PROVIDERS: `openai=openai,${openai.url},openai;anthropic=anthropic,${anthropic.url},anthropic`,
    ...env,
  })!;
  const vault = new Map([
    ['openai', OPENAI_KEY],
    ['anthropic', ANTHROPIC_KEY],
  ]);
  const keys: KeySource = {
    async get(name) {
      const value = vault.get(name);
      if (!value) throw new Error(`no API key in the vault entry "${name}"`);
      return new SecretValue(value);
    },
  };
  const audit = new MemoryAuditSink();
  const lines: string[] = [];
  const logger = pino({ level: 'debug', ...vaultLoggerOptions }, { write: (s: string) => lines.push(s) });
  const gateway = createGateway({
    upstream: 'http://127.0.0.1:9',
    verifier: await createTokenVerifier(key.publicKey),
    taskState: () => 'active',
    audit,
    logger,
    cloud: { settings, keys },
  });
  const { port } = await gateway.listen('127.0.0.1', 0);
  t.after(() => gateway.close());
  let n = 0;
  const client = async (model: string, spec: Partial<TokenSpec> = {}) => {
    n++;
    const task = { namespace: 'team-a', name: `cloud-${n}`, uid: `uid-cloud-${n}` };
    const token = await issueTaskToken(key, task, {
      model,
      budget: { modelCalls: 10, tokens: 100_000, bytes: 1_000_000 },
      timeoutSeconds: 600,
      ...spec,
    });
    const ollama = new Ollama({
      host: `http://127.0.0.1:${port}`,
      headers: { authorization: `Bearer ${token}` },
    });
    return { ollama, task };
  };
  return { openai, anthropic, vault, audit, lines, gateway, client };
}

/** The runner's turn assembly: text and tool calls out of a streamed chat. */
async function turn(ollama: Ollama, request: Parameters<Ollama['chat']>[0]) {
  const stream = await ollama.chat({ ...request, stream: true });
  let content = '';
  const calls: unknown[] = [];
  let counts: [number | undefined, number | undefined] = [undefined, undefined];
  for await (const part of stream) {
    content += part.message?.content ?? '';
    calls.push(...(part.message?.tool_calls ?? []));
    if (part.done) counts = [part.prompt_eval_count, part.eval_count];
  }
  return { content, calls, counts };
}

for (const [provider, model] of [
  ['openai', 'openai/gpt-4o-mini'],
  ['anthropic', 'anthropic/claude-3-5-haiku-latest'],
] as const) {
  describe(`${provider} through the gateway`, () => {
    test('a tool-calling conversation, translated both ways, metered, audited without the key', async (t) => {
      const h = await harness(t);
      const fake = provider === 'openai' ? h.openai : h.anthropic;
      fake.script(
        {
          type: 'tool_calls',
          content: 'Reading.',
          calls: [{ name: 'read_file', arguments: { path: 'notes.md' } }],
        },
        { type: 'text', content: 'The notes say: buy milk.', promptTokens: 40, completionTokens: 7 },
      );
      const { ollama, task } = await h.client(model);
      const messages = [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What do the notes say?' },
      ];
      const first = await turn(ollama, { model, messages, tools: TOOLS });
      assert.equal(first.content, 'Reading.');
      assert.deepEqual(first.calls, [{ function: { name: 'read_file', arguments: { path: 'notes.md' } } }]);

      const second = await turn(ollama, {
        model,
        tools: TOOLS,
        messages: [
          ...messages,
          { role: 'assistant', content: first.content, tool_calls: first.calls as never },
          { role: 'tool', content: 'buy milk', tool_name: 'read_file' } as never,
        ],
      });
      assert.equal(second.content, 'The notes say: buy milk.');
      assert.deepEqual(second.counts, [40, 7]);

      // The provider saw its own protocol, the configured key, and the tool result tied to its call.
      assert.equal(fake.requests.length, 2);
      const [req1, req2] = fake.requests;
      if (provider === 'openai') {
        assert.equal(req1?.headers.authorization, `Bearer ${OPENAI_KEY}`);
        assert.equal(req1?.body.model, 'gpt-4o-mini');
        const msgs = req2?.body.messages as Array<Record<string, unknown>>;
        const callId = (msgs[2]?.tool_calls as Array<{ id: string }> | undefined)?.[0]?.id;
        assert.deepEqual(msgs[3], { role: 'tool', tool_call_id: callId, content: 'buy milk' });
      } else {
        assert.equal(req1?.headers['x-api-key'], ANTHROPIC_KEY);
        assert.equal(req1?.headers.authorization, undefined);
        assert.equal(req1?.body.system, 'Be brief.');
        const msgs = req2?.body.messages as Array<{ role: string; content: Array<Record<string, unknown>> }>;
        const useId = msgs[1]?.content.find((b) => b.type === 'tool_use')?.id;
        assert.deepEqual(msgs[2], {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: useId, content: 'buy milk' }],
        });
      }
      assert.equal(req1?.headers['x-closedpaw-token'], undefined);
      assert.ok(
        !JSON.stringify(req1?.headers).includes('closedpaw-task'),
        'the task token stops at the gateway',
      );

      const usage = h.gateway.usage(task.uid);
      assert.equal(usage?.modelCalls, 2);
      assert.ok((usage?.tokens ?? 0) >= 47);
      assert.ok((usage?.costMicroUsd ?? 0) > 0, 'cost is estimated');
      const calls = h.audit.events.filter((e) => e.type === 'model.call');
      assert.equal(calls.length, 2);
      for (const c of calls) {
        assert.equal(c.provider, provider);
        assert.equal(c.verdict, 'allowed');
        assert.equal(c.model, model);
        assert.match(c.requestDigest ?? '', /^sha256:/);
        assert.match(c.responseDigest ?? '', /^sha256:/);
        assert.ok((c.costMicroUsd ?? 0) > 0);
      }
      assert.deepEqual([calls[1]?.promptTokens, calls[1]?.completionTokens], [40, 7]);
      const everything = JSON.stringify(h.audit.events) + h.lines.join('');
      for (const secret of [OPENAI_KEY, ANTHROPIC_KEY]) assert.equal(everything.includes(secret), false);
    });
  });
}

describe('cloud calls are refused or contained', () => {
  test('a cloud model off the allowlist, and a cloud model on /api/generate', async (t) => {
    const h = await harness(t);
    const off = await h.client('openai/gpt-4o');
    await assert.rejects(
      off.ollama.chat({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      /not in the operator's cloud allowlist/,
    );
    const on = await h.client('openai/gpt-4o-mini');
    await assert.rejects(
      on.ollama.generate({ model: 'openai/gpt-4o-mini', prompt: 'hi' }),
      /serves only \/api\/chat/,
    );
    assert.equal(h.openai.requests.length, 0);
    assert.deepEqual(
      h.audit.events.map((e) => (e.type === 'model.call' ? e.code : e.type)),
      ['model_not_allowed', 'bad_request'],
    );
  });

  test('the cost cap: calls are planned to fit and refused once spent', async (t) => {
    // 0.60 USD per 1M output tokens; a cap of 0.0001 USD leaves ~150 completion tokens after the prompt.
    const h = await harness(t, { CLOSEDPAW_CLOUD_MAX_COST_USD: '0.0001' });
    h.openai.fallback = { type: 'text', content: 'ok', promptTokens: 100, completionTokens: 160 };
    const { ollama, task } = await h.client('openai/gpt-4o-mini');
    const ask = () =>
      turn(ollama, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    const maxTokens = h.openai.requests[0]?.body.max_tokens as number;
    assert.ok(maxTokens > 0 && maxTokens < 170, `max_tokens ${maxTokens} fits the cost left`);
    assert.equal(h.gateway.usage(task.uid)?.costMicroUsd, Math.ceil(100 * 0.15 + 160 * 0.6));
    await assert.rejects(ask(), /cost budget exhausted/);
    assert.equal(h.openai.requests.length, 1, 'the refused call never reached the provider');
    const last = h.audit.events.at(-1);
    assert.equal(last?.type === 'model.call' && last.code, 'budget_exceeded');
  });

  test('the token budget bounds max_tokens, and the next call is refused once spent', async (t) => {
    const h = await harness(t);
    h.anthropic.fallback = { type: 'text', content: 'ok', promptTokens: 600, completionTokens: 500 };
    const { ollama } = await h.client('anthropic/claude-3-5-haiku-latest', {
      budget: { modelCalls: 10, tokens: 1000, bytes: 1_000_000 },
    });
    const ask = () =>
      turn(ollama, {
        model: 'anthropic/claude-3-5-haiku-latest',
        messages: [{ role: 'user', content: 'hi' }],
      });
    await ask();
    assert.ok((h.anthropic.requests[0]?.body.max_tokens as number) < 1000);
    await assert.rejects(ask(), /token budget/);
    assert.equal(h.anthropic.requests.length, 1);
  });

  test("a provider's auth error is relayed with the key scrubbed; a missing vault entry names the fix", async (t) => {
    const h = await harness(t);
    h.vault.set('openai', 'sk-wrong-KEY-abcdef0123456789');
    const { ollama } = await h.client('openai/gpt-4o-mini');
    const err = await ollama
      .chat({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: Error) => e);
    assert.match(String(err), /cloud provider openai: Incorrect API key provided/);
    assert.equal(String(err).includes('sk-wrong'), false, String(err));
    h.vault.delete('openai');
    const err2 = await ollama
      .chat({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: Error) => e);
    assert.match(String(err2), /no API key in the vault entry "openai"/);
    const everything = JSON.stringify(h.audit.events) + h.lines.join('');
    assert.equal(everything.includes('sk-wrong-KEY'), false);
  });

  test('a provider stream cut mid-answer reaches the runner as an error, never as a finished answer', async (t) => {
    const h = await harness(t);
    h.openai.script({ type: 'cut', content: 'half an ans' });
    const { ollama } = await h.client('openai/gpt-4o-mini');
    await assert.rejects(
      turn(ollama, { model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      /ended before|broke|error/i,
    );
    const call = h.audit.events.find((e) => e.type === 'model.call');
    assert.equal(call?.type === 'model.call' && call.code, 'upstream_error');
  });

  test('stream: false gets one Ollama JSON object with the tool calls', async (t) => {
    const h = await harness(t);
    h.anthropic.script({ type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'x' } }] });
    const { ollama } = await h.client('anthropic/claude-3-5-haiku-latest');
    const reply = await ollama.chat({
      model: 'anthropic/claude-3-5-haiku-latest',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    });
    assert.equal(reply.done, true);
    assert.deepEqual(reply.message.tool_calls, [
      { function: { name: 'read_file', arguments: { path: 'x' } } },
    ]);
  });
});

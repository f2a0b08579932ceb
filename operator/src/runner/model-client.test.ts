import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ScriptedOllama } from '../../../test/support/scripted-ollama.ts';
import type { RunnerFailureReason } from '../api/agent-protocol.ts';
import type { ChatRequest } from './agent-loop.ts';
import { RunFailure } from './failure.ts';
import { createModelClient, type ModelClientOptions } from './model-client.ts';

const TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJucy90YXNrIn0.c2lnbmF0dXJl';
const request: ChatRequest = {
  model: 'smollm2:135m',
  messages: [{ role: 'user', content: 'hi' }],
  tools: [{ type: 'function', function: { name: 'read_file', parameters: { type: 'object' } } }],
};

let ollama: ScriptedOllama;
before(async () => {
  ollama = await ScriptedOllama.start({ models: ['smollm2:135m'] });
});
after(() => ollama.stop());

function client(overrides: Partial<ModelClientOptions> = {}) {
  const controller = new AbortController();
  const model = createModelClient({
    gatewayUrl: ollama.url,
    token: TOKEN,
    signal: controller.signal,
    retryDelayMs: 0,
    ...overrides,
  });
  after(() => model.close());
  return { ...model, controller };
}

async function fails(
  promise: Promise<unknown>,
  reason: RunnerFailureReason,
  message?: RegExp,
): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RunFailure, `expected a RunFailure, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (message) assert.match(error.message, message);
    return;
  }
  assert.fail('expected a failure');
}

/** Requests to /api/chat made while `fn` ran. */
async function counting(fn: () => Promise<unknown>): Promise<number> {
  const before = ollama.requestsTo('/api/chat').length;
  await fn().catch(() => {});
  return ollama.requestsTo('/api/chat').length - before;
}

describe('model client against a scripted Ollama', () => {
  test('streams a reply; sends the Bearer token, the tools and stream: true, and no sampling options', async () => {
    const { chat, controller } = client();
    ollama.chat({
      type: 'text',
      content: 'Hello there, how are you today?',
      chunks: 4,
      promptEvalCount: 12,
      evalCount: 7,
    });
    const turn = await chat(request, controller.signal);
    assert.deepEqual(turn, {
      content: 'Hello there, how are you today?',
      toolCalls: [],
      promptTokens: 12,
      completionTokens: 7,
    });
    const sent = ollama.requestsTo('/api/chat').at(-1);
    assert.equal(sent?.headers.authorization, `Bearer ${TOKEN}`);
    const body = sent?.body as Record<string, unknown>;
    assert.equal(body.stream, true);
    assert.equal(body.model, 'smollm2:135m');
    assert.deepEqual(body.tools, request.tools);
    assert.equal('options' in body, false);
  });

  test('assembles tool calls; malformed ones are passed on untouched for the loop to judge', async () => {
    const { chat, controller } = client();
    ollama.chat({
      type: 'tool_calls',
      calls: [
        { name: 'read_file', arguments: { path: 'a.txt' } },
        { name: 'list_files', arguments: {} },
      ],
    });
    const turn = await chat(request, controller.signal);
    assert.deepEqual(turn.toolCalls, [
      { name: 'read_file', arguments: { path: 'a.txt' } },
      { name: 'list_files', arguments: {} },
    ]);
    ollama.chat({
      type: 'raw_tool_calls',
      toolCalls: [{ function: { name: 'read_file', arguments: '{"path":' } }, 7],
    });
    const odd = await chat(request, controller.signal);
    assert.deepEqual(odd.toolCalls, [
      { name: 'read_file', arguments: '{"path":' },
      { name: undefined, arguments: undefined },
    ]);
  });

  const refusals: [string, number, string, RunnerFailureReason][] = [
    ['unauthenticated', 401, 'bad token', 'GatewayRefused'],
    ['model_not_allowed', 403, 'not this model', 'GatewayRefused'],
    ['budget_exceeded', 429, 'budget spent', 'BudgetExceeded'],
    ['tool_output_flagged', 403, 'injection suspected', 'ToolOutputFlagged'],
  ];
  for (const [code, status, error, reason] of refusals) {
    test(`gateway ${code} (${status}) ends at once as ${reason}, no retry`, async () => {
      const { chat, controller } = client();
      ollama.chat({ type: 'http_error', status, body: { error, code } });
      const made = await counting(() => fails(chat(request, controller.signal), reason, new RegExp(error)));
      assert.equal(made, 1);
    });
  }

  test("Ollama's own 404 for an unknown model is a ModelError, no retry", async () => {
    const { chat, controller } = client();
    const made = await counting(() =>
      fails(chat({ ...request, model: 'nope' }, controller.signal), 'ModelError', /model 'nope' not found/),
    );
    assert.equal(made, 1);
  });

  test('a server error is retried once, then is a ModelError', async () => {
    const { chat, controller } = client();
    ollama.chat(
      { type: 'http_error', status: 502, body: { error: 'ollama crashed', code: 'upstream_error' } },
      { type: 'http_error', status: 502, body: { error: 'ollama crashed', code: 'upstream_error' } },
    );
    const made = await counting(() =>
      fails(chat(request, controller.signal), 'ModelError', /after one retry/),
    );
    assert.equal(made, 2);
  });

  test('a server error followed by a good reply succeeds', async () => {
    const { chat, controller } = client();
    ollama.chat(
      { type: 'http_error', status: 500, error: 'busy' },
      { type: 'text', content: 'second time lucky' },
    );
    assert.equal((await chat(request, controller.signal)).content, 'second time lucky');
  });

  test('a dropped connection is retried once, then is ModelUnreachable', async () => {
    const { chat, controller } = client();
    ollama.chat({ type: 'drop' }, { type: 'drop' });
    const made = await counting(() =>
      fails(chat(request, controller.signal), 'ModelUnreachable', /after one retry/),
    );
    assert.equal(made, 2);
  });

  test('a connection dropped mid-reply is retried', async () => {
    const { chat, controller } = client();
    ollama.chat(
      { type: 'drop', when: 'mid_stream', content: 'half an ans' },
      { type: 'text', content: 'whole' },
    );
    assert.equal((await chat(request, controller.signal)).content, 'whole');
  });

  test('an error line in the stream is retried once, then is a ModelError', async () => {
    const { chat, controller } = client();
    ollama.chat(
      { type: 'stream_error', error: 'llama runner terminated', content: 'par' },
      { type: 'stream_error', error: 'llama runner terminated' },
    );
    await fails(chat(request, controller.signal), 'ModelError', /llama runner terminated/);
  });

  test('nothing listening: ModelUnreachable after one retry', async () => {
    const port = await freePort();
    const { chat, controller } = client({ gatewayUrl: `http://127.0.0.1:${port}` });
    await fails(chat(request, controller.signal), 'ModelUnreachable', /ECONNREFUSED|connect/);
  });

  test('a reply over the size cap is a ModelError', async () => {
    const { chat, controller } = client({ replyMaxBytes: 10 });
    ollama.chat({ type: 'text', content: 'far more than ten bytes of reply' });
    await fails(chat(request, controller.signal), 'ModelError', /exceeded 10 bytes/);
  });

  test('a hung model is ended by the run signal, with its reason', async () => {
    const { chat, controller } = client();
    ollama.chat({ type: 'hang' });
    const pending = chat(request, controller.signal);
    await ollama.waitForRequests(ollama.requests.length + 1);
    controller.abort(new RunFailure('WallClockExceeded', 'out of time'));
    await fails(pending, 'WallClockExceeded', /out of time/);
  });

  test('a slow stream is ended by the run signal mid-reply', async () => {
    const slow = await ScriptedOllama.start({ chunkDelayMs: 200 });
    after(() => slow.stop());
    const { chat, controller } = client({ gatewayUrl: slow.url });
    slow.chat({ type: 'text', content: 'one two three four five six seven eight', chunks: 8 });
    const pending = chat(request, controller.signal);
    await slow.waitForRequests(1);
    setTimeout(() => controller.abort(new RunFailure('WallClockExceeded', 'out of time')), 300);
    await fails(pending, 'WallClockExceeded');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

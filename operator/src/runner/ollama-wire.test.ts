/**
 * The scripted Ollama (test/support/scripted-ollama.ts) must speak the wire
 * protocol the real `ollama` client parses — this is what makes tests against
 * it mean something for the runner and the gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ollama } from 'ollama';
import { ScriptedOllama } from '../../../test/support/scripted-ollama.ts';

let server: ScriptedOllama;
let client: Ollama;
before(async () => {
  server = await ScriptedOllama.start({ models: ['smollm2:135m'], version: '0.24.0' });
  client = new Ollama({ host: server.url });
});
after(() => server.stop());

describe('scripted Ollama speaks the protocol of the ollama client', () => {
  test('chat, streamed: content pieces, tool calls with id and index, a final chunk with metrics', async () => {
    server.chat({
      type: 'tool_calls',
      content: 'Let me look.',
      calls: [{ name: 'read_file', arguments: { path: 'a.txt' } }],
    });
    const parts = [];
    for await (const part of await client.chat({
      model: 'smollm2:135m',
      messages: [{ role: 'user', content: 'read a.txt' }],
      stream: true,
    })) {
      parts.push(part);
    }
    const last = parts.at(-1);
    assert.equal(last?.done, true);
    assert.equal(last?.done_reason, 'stop');
    assert.ok(
      (last?.prompt_eval_count ?? 0) > 0 && (last?.eval_count ?? 0) > 0 && (last?.total_duration ?? 0) > 0,
    );
    assert.equal(parts.map((p) => p.message.content).join(''), 'Let me look.');
    const calls = parts.flatMap((p) => p.message.tool_calls ?? []);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]?.function, { index: 0, name: 'read_file', arguments: { path: 'a.txt' } });
    assert.match((calls[0] as { id?: string }).id ?? '', /^call_[a-f0-9]{8}$/);
    assert.ok(
      parts.every((p) => p.model === 'smollm2:135m' && !Number.isNaN(Date.parse(String(p.created_at)))),
    );
  });

  test('chat, not streamed: one object with the whole message', async () => {
    server.chat({ type: 'tool_calls', calls: [{ name: 'list_files', arguments: {} }] });
    const reply = await client.chat({ model: 'smollm2:135m', messages: [{ role: 'user', content: 'ls' }] });
    assert.equal(reply.done, true);
    assert.deepEqual(reply.message.tool_calls?.[0]?.function.name, 'list_files');
    server.chat({ type: 'text', content: 'plain answer' });
    const text = await client.chat({ model: 'smollm2:135m', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(text.message.content, 'plain answer');
  });

  test('generate, streamed and not', async () => {
    server.generate({ type: 'text', content: 'one two three' }, { type: 'text', content: 'four' });
    let streamed = '';
    for await (const part of await client.generate({
      model: 'smollm2:135m',
      prompt: 'count',
      stream: true,
    })) {
      streamed += part.response;
    }
    assert.equal(streamed, 'one two three');
    const whole = await client.generate({ model: 'smollm2:135m', prompt: 'count on' });
    assert.equal(whole.response, 'four');
    assert.equal(whole.done, true);
  });

  test('embed, version and tags', async () => {
    const embedded = await client.embed({ model: 'smollm2:135m', input: ['a', 'b'] });
    assert.equal(embedded.embeddings.length, 2);
    assert.equal(embedded.embeddings[0]?.length, 8);
    assert.deepEqual(await client.version(), { version: '0.24.0' });
    const tags = await client.list();
    assert.deepEqual(
      tags.models.map((m) => [m.name, m.details.family]),
      [['smollm2:135m', 'llama']],
    );
  });

  test('errors: an unknown model is a 404 with Ollama’s message; a scripted status passes through', async () => {
    await assert.rejects(
      client.chat({ model: 'missing', messages: [] }),
      (error: Error & { status_code?: number }) =>
        error.status_code === 404 && error.message === "model 'missing' not found",
    );
    server.chat({ type: 'http_error', status: 503, error: 'server busy, please try again' });
    await assert.rejects(
      client.chat({ model: 'smollm2:135m', messages: [] }),
      (error: Error & { status_code?: number }) =>
        error.status_code === 503 && /server busy/.test(error.message),
    );
  });

  test('an error line mid-stream surfaces as an error in the client', async () => {
    server.chat({ type: 'stream_error', content: 'partial', error: 'llama runner process has terminated' });
    await assert.rejects(async () => {
      for await (const _ of await client.chat({ model: 'smollm2:135m', messages: [], stream: true })) {
        // consume
      }
    }, /llama runner process has terminated/);
  });

  test('an empty queue is a clear 500, and every request is recorded with its parsed body', async () => {
    await assert.rejects(
      client.chat({ model: 'smollm2:135m', messages: [{ role: 'user', content: 'x' }] }),
      /no scripted reply left for POST \/api\/chat/,
    );
    const last = server.requests.at(-1);
    assert.equal(last?.method, 'POST');
    assert.equal(last?.path, '/api/chat');
    assert.equal(last?.headers['content-type'], 'application/json');
    assert.deepEqual((last?.body as { messages?: unknown } | undefined)?.messages, [
      { role: 'user', content: 'x' },
    ]);
  });
});

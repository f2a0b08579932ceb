import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AnthropicStreamTranslator, toAnthropicRequest } from './anthropic.ts';
import { OpenAIStreamTranslator, toOpenAIRequest } from './openai.ts';
import { SseParser } from './sse.ts';
import {
  type OllamaChatRequest,
  type OllamaChunk,
  type StreamTranslator,
  TranslationError,
} from './types.ts';

const CONVERSATION: OllamaChatRequest = {
  model: 'openai/gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are careful.' },
    { role: 'user', content: 'List then read.' },
    {
      role: 'assistant',
      content: '',
      tool_calls: [
        { function: { name: 'list_files', arguments: { path: '.' } } },
        { function: { name: 'read_file', arguments: { path: 'a.txt' } } },
      ],
    },
    { role: 'tool', tool_name: 'read_file', content: 'A' },
    { role: 'tool', tool_name: 'list_files', content: 'a.txt' },
    { role: 'assistant', content: 'Done reading.' },
    { role: 'user', content: 'Thanks.' },
  ],
  tools: [
    {
      type: 'function',
      function: { name: 'read_file', description: 'Read', parameters: { type: 'object' } },
    },
  ],
  options: { temperature: 0.2, num_predict: 50, stop: ['END'] },
};

describe('Ollama → OpenAI request', () => {
  test('roles, tool-call ids answered by name, JSON-string arguments, budgets, streaming with usage', () => {
    const body = toOpenAIRequest(CONVERSATION, { upstreamModel: 'gpt-4o-mini', maxTokens: 30 });
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'You are careful.' },
      { role: 'user', content: 'List then read.' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_2_0', type: 'function', function: { name: 'list_files', arguments: '{"path":"."}' } },
          {
            id: 'call_2_1',
            type: 'function',
            function: { name: 'read_file', arguments: '{"path":"a.txt"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_2_1', content: 'A' },
      { role: 'tool', tool_call_id: 'call_2_0', content: 'a.txt' },
      { role: 'assistant', content: 'Done reading.' },
      { role: 'user', content: 'Thanks.' },
    ]);
    assert.equal(body.model, 'gpt-4o-mini');
    assert.equal(body.max_tokens, 30, 'the budget plan caps num_predict');
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.deepEqual(body.stop, ['END']);
    assert.deepEqual(body.tools, [
      {
        type: 'function',
        function: { name: 'read_file', description: 'Read', parameters: { type: 'object' } },
      },
    ]);
  });

  test('a tool message answering no call is refused', () => {
    const req = {
      model: 'm',
      messages: [
        { role: 'user', content: 'x' },
        { role: 'tool', content: 'y' },
      ],
    };
    assert.throws(() => toOpenAIRequest(req, { upstreamModel: 'm', maxTokens: 5 }), TranslationError);
  });
});

describe('Ollama → Anthropic request', () => {
  test('system lifted, tool_use/tool_result blocks, consecutive turns merged, max_tokens required', () => {
    const body = toAnthropicRequest(CONVERSATION, { upstreamModel: 'claude-x', maxTokens: 80 });
    assert.equal(body.system, 'You are careful.');
    assert.equal(body.max_tokens, 50, 'num_predict under the plan wins');
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'List then read.' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_2_0', name: 'list_files', input: { path: '.' } },
          { type: 'tool_use', id: 'toolu_2_1', name: 'read_file', input: { path: 'a.txt' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_2_1', content: 'A' },
          { type: 'tool_result', tool_use_id: 'toolu_2_0', content: 'a.txt' },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: 'Done reading.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Thanks.' }] },
    ]);
    assert.deepEqual(body.tools, [
      { name: 'read_file', description: 'Read', input_schema: { type: 'object' } },
    ]);
    assert.deepEqual(body.stop_sequences, ['END']);
  });

  test('a conversation that does not start with a user turn is refused', () => {
    const req = { model: 'm', messages: [{ role: 'assistant', content: 'hi' }] };
    assert.throws(
      () => toAnthropicRequest(req, { upstreamModel: 'm', maxTokens: 5 }),
      /start with a user message/,
    );
  });
});

/** Feeds an SSE text through the parser and translator, `cut` characters at a time. */
function run(t: StreamTranslator, sse: string, cut: number): OllamaChunk[] {
  const parser = new SseParser();
  const out: OllamaChunk[] = [];
  for (let i = 0; i < sse.length; i += cut) {
    for (const e of parser.push(sse.slice(i, i + cut))) out.push(...t.event(e.event, e.data));
  }
  for (const e of parser.end()) out.push(...t.event(e.event, e.data));
  out.push(...t.end());
  return out;
}

const text = (chunks: OllamaChunk[]) =>
  chunks.map((c) => ('message' in c && !c.done ? c.message.content : '')).join('');
const calls = (chunks: OllamaChunk[]) =>
  chunks.flatMap((c) => ('message' in c && !c.done ? (c.message.tool_calls ?? []) : []));
const final = (chunks: OllamaChunk[]) => chunks.at(-1);

/** One `chat.completion.chunk` with a delta for choice 0. */
const openaiChunk = (delta: object, finish_reason: string | null = null) => ({
  choices: [{ index: 0, delta, finish_reason }],
});

const OPENAI_SSE = [
  openaiChunk({ role: 'assistant', content: '' }),
  openaiChunk({ content: 'Let me ' }),
  openaiChunk({ content: 'look.' }),
  openaiChunk({
    tool_calls: [{ index: 0, id: 'c0', type: 'function', function: { name: 'read_file', arguments: '' } }],
  }),
  openaiChunk({ tool_calls: [{ index: 0, function: { arguments: '{"pa' } }] }),
  openaiChunk({
    tool_calls: [{ index: 1, id: 'c1', type: 'function', function: { name: 'list_files', arguments: '{}' } }],
  }),
  openaiChunk({ tool_calls: [{ index: 0, function: { arguments: 'th":"a.txt"}' } }] }),
  openaiChunk({}, 'tool_calls'),
  { choices: [], usage: { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 } },
]
  .map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`)
  .concat('data: [DONE]\r\n\r\n')
  .join('');

const ANTHROPIC_SSE = [
  [
    'message_start',
    { message: { usage: { input_tokens: 18, cache_read_input_tokens: 2, output_tokens: 1 } } },
  ],
  ['ping', {}],
  ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
  ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Let me ' } }],
  ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'look.' } }],
  ['content_block_stop', { index: 0 }],
  [
    'content_block_start',
    { index: 1, content_block: { type: 'tool_use', id: 't1', name: 'read_file', input: {} } },
  ],
  ['content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"pa' } }],
  ['content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: 'th":"a.txt"}' } }],
  ['content_block_stop', { index: 1 }],
  [
    'content_block_start',
    { index: 2, content_block: { type: 'tool_use', id: 't2', name: 'list_files', input: {} } },
  ],
  ['content_block_stop', { index: 2 }],
  ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } }],
  ['message_stop', {}],
]
  .map(
    ([event, data]) => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...(data as object) })}\n\n`,
  )
  .join('');

describe('provider streams → Ollama chunks', () => {
  for (const [name, make, sse] of [
    ['OpenAI', () => new OpenAIStreamTranslator('openai/gpt-4o-mini'), OPENAI_SSE],
    ['Anthropic', () => new AnthropicStreamTranslator('openai/gpt-4o-mini'), ANTHROPIC_SSE],
  ] as const) {
    for (const cut of [1, 7, 64, 100_000]) {
      test(`${name}: text as it streams, tool calls once whole, counts at the end (read ${cut} chars at a time)`, () => {
        const t = make();
        const chunks = run(t, sse, cut);
        assert.equal(text(chunks), 'Let me look.');
        assert.deepEqual(calls(chunks), [
          { function: { name: 'read_file', arguments: { path: 'a.txt' } } },
          { function: { name: 'list_files', arguments: {} } },
        ]);
        const last = final(chunks);
        assert.ok(last && 'done' in last && last.done, JSON.stringify(last));
        assert.equal(last.prompt_eval_count, 20 + (name === 'OpenAI' ? 1 : 0));
        assert.equal(last.eval_count, 9);
        assert.equal(last.model, 'openai/gpt-4o-mini', 'chunks carry the name the runner asked for');
        assert.deepEqual(t.summary(), {
          promptTokens: last.prompt_eval_count,
          completionTokens: 9,
          complete: true,
        });
      });
    }
  }

  test('a stream cut before its end becomes an Ollama error line, not a done chunk', () => {
    for (const [t, sse] of [
      [new OpenAIStreamTranslator('m'), OPENAI_SSE.slice(0, OPENAI_SSE.indexOf('tool_calls"}'))],
      [new AnthropicStreamTranslator('m'), ANTHROPIC_SSE.slice(0, ANTHROPIC_SSE.indexOf('message_delta'))],
    ] as const) {
      const chunks = run(t, sse, 50);
      const last = final(chunks);
      assert.ok(last && 'error' in last, JSON.stringify(last));
      assert.equal(t.summary().complete, false);
      assert.equal(calls(chunks).length, 0, 'no half-streamed tool call is handed to the runner');
    }
  });

  test('provider error events are relayed as errors', () => {
    const o = new OpenAIStreamTranslator('m');
    assert.deepEqual(o.event(undefined, '{"error":{"message":"overloaded"}}'), [{ error: 'overloaded' }]);
    const a = new AnthropicStreamTranslator('m');
    assert.deepEqual(
      a.event('error', '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'),
      [{ error: 'Overloaded' }],
    );
  });

  test('arguments that are not JSON reach the runner as text (it refuses them as ToolCallInvalid)', () => {
    const t = new OpenAIStreamTranslator('m');
    const sse = [
      {
        choices: [
          {
            index: 0,
            delta: {
              tool_calls: [{ index: 0, id: 'x', function: { name: 'read_file', arguments: '{oops' } }],
            },
          },
        ],
      },
      { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
    ]
      .map((c) => `data: ${JSON.stringify(c)}\n\n`)
      .join('');
    assert.deepEqual(calls(run(t, `${sse}data: [DONE]\n\n`, 10)), [
      { function: { name: 'read_file', arguments: '{oops' } },
    ]);
  });
});

describe('SSE parser', () => {
  test('comments, multi-line data, CR/LF/CRLF line ends, split anywhere', () => {
    const stream = ': hi\nevent: a\ndata: 1\ndata: 2\n\r\nevent: b\rdata: x\r\r';
    for (let cut = 1; cut <= stream.length; cut++) {
      const p = new SseParser();
      const events = [];
      for (let i = 0; i < stream.length; i += cut) events.push(...p.push(stream.slice(i, i + cut)));
      events.push(...p.end());
      assert.deepEqual(
        events,
        [
          { event: 'a', data: '1\n2' },
          { event: 'b', data: 'x' },
        ],
        `cut ${cut}`,
      );
    }
  });

  test('a line past the limit throws instead of growing', () => {
    assert.throws(() => new SseParser(16).push(`data: ${'x'.repeat(32)}`), /longer than 16/);
  });
});

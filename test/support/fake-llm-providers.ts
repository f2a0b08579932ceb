/**
 * Local stand-ins for two cloud model APIs, speaking their real HTTP wire protocols on 127.0.0.1:
 *
 * - OpenAI chat completions: POST /v1/chat/completions, `Authorization: Bearer <key>`, streamed as SSE
 *   `data: {chat.completion.chunk}` lines (tool-call arguments in pieces, by index), a usage chunk
 *   (`stream_options.include_usage`) and `data: [DONE]`; errors `{"error":{"message","type","code"}}`.
 * - Anthropic messages: POST /v1/messages, `x-api-key` + `anthropic-version`, SSE `event:`/`data:` pairs
 *   message_start, content_block_start/delta(text_delta | input_json_delta)/stop, message_delta (stop_reason,
 *   usage), message_stop; errors `{"type":"error","error":{"type","message"}}`.
 *
 * Each checks what the real API rejects (auth, required fields, tool-result ids that answer no earlier
 * call, Anthropic's alternating roles and required max_tokens) and answers each call with the next
 * scripted turn. Every request is recorded (headers, parsed body).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProviderTurn =
  | { type: 'text'; content: string; promptTokens?: number; completionTokens?: number }
  | {
      type: 'tool_calls';
      calls: Array<{ name: string; arguments: Record<string, unknown> }>;
      content?: string;
      promptTokens?: number;
      completionTokens?: number;
    }
  | { type: 'http_error'; status: number; message: string }
  /** Stops mid-answer: headers and some text, then the connection is destroyed. */
  | { type: 'cut'; content: string };

export interface RecordedCall {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

abstract class FakeProvider {
  readonly requests: RecordedCall[] = [];
  url = '';
  readonly #key: string;
  #server?: Server;
  #turns: ProviderTurn[] = [];
  fallback: ProviderTurn = { type: 'text', content: 'Nothing scripted.' };

  constructor(key: string) {
    this.#key = key;
  }

  /** The next calls' answers, in order. */
  script(...turns: ProviderTurn[]): void {
    this.#turns.push(...turns);
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#serve(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  protected abstract path: string;
  protected abstract authorized(req: IncomingMessage, key: string): string | undefined;
  protected abstract invalid(body: Record<string, unknown>): string | undefined;
  protected abstract error(res: ServerResponse, status: number, type: string, message: string): void;
  protected abstract stream(res: ServerResponse, body: Record<string, unknown>, turn: ProviderTurn): void;

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (req.method !== 'POST' || req.url !== this.path) {
      return this.error(res, 404, 'not_found_error', `no route ${req.method} ${req.url}`);
    }
    const authProblem = this.authorized(req, this.#key);
    if (authProblem) return this.error(res, 401, 'authentication_error', authProblem);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return this.error(res, 400, 'invalid_request_error', 'body is not JSON');
    }
    this.requests.push({ path: req.url, headers: { ...req.headers }, body });
    const problem = this.invalid(body);
    if (problem) return this.error(res, 400, 'invalid_request_error', problem);
    const turn = this.#turns.shift() ?? this.fallback;
    if (turn.type === 'http_error') return this.error(res, turn.status, 'api_error', turn.message);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.stream(res, body, turn);
  }
}

/** Splits text into about `n` pieces (the way a model streams). */
export function pieces(text: string, n = 3): string[] {
  if (text === '') return [];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const estimate = (value: unknown) => Math.max(1, Math.ceil(JSON.stringify(value).length / 4));

export class FakeOpenAI extends FakeProvider {
  protected path = '/v1/chat/completions';

  protected authorized(req: IncomingMessage, key: string): string | undefined {
    const header = req.headers.authorization ?? '';
    if (header === `Bearer ${key}`) return undefined;
    const shown = header.replace(/^Bearer /, '');
    return `Incorrect API key provided: ${shown.slice(0, 3)}***${shown.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
  }

  protected invalid(body: Record<string, unknown>): string | undefined {
    if (typeof body.model !== 'string') return 'you must provide a model parameter';
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return "'messages' must be a non-empty array";
    const ids = new Set<string>();
    for (const [i, m] of (body.messages as Record<string, unknown>[]).entries()) {
      if (!['system', 'user', 'assistant', 'tool', 'developer'].includes(String(m.role)))
        return `messages[${i}].role is invalid`;
      for (const call of (m.tool_calls as Array<Record<string, unknown>> | undefined) ?? []) {
        const fn = call.function as { arguments?: unknown };
        if (typeof call.id !== 'string' || call.type !== 'function' || typeof fn?.arguments !== 'string') {
          return `messages[${i}].tool_calls: each needs id, type "function" and function.arguments as a string`;
        }
        ids.add(call.id);
      }
      if (m.role === 'tool' && !ids.has(String(m.tool_call_id))) {
        return `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (messages[${i}])`;
      }
    }
    if (
      body.max_tokens !== undefined &&
      (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)
    ) {
      return 'max_tokens must be a positive integer';
    }
    return undefined;
  }

  protected error(res: ServerResponse, status: number, type: string, message: string): void {
    const body = JSON.stringify({
      error: { message, type, param: null, code: status === 401 ? 'invalid_api_key' : null },
    });
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  }

  protected stream(res: ServerResponse, body: Record<string, unknown>, turn: ProviderTurn): void {
    const base = {
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: body.model,
    };
    const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
    const delta = (d: Record<string, unknown>, finish: string | null = null) =>
      send([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
    delta({ role: 'assistant', content: '' });
    if (turn.type === 'cut') {
      for (const p of pieces(turn.content)) delta({ content: p });
      res.write(': flushed\n\n', () => setImmediate(() => res.destroy()));
      return;
    }
    const content =
      turn.type === 'text' ? turn.content : turn.type === 'tool_calls' ? (turn.content ?? '') : '';
    for (const p of pieces(content)) delta({ content: p });
    let completion = Math.ceil(content.length / 4);
    if (turn.type === 'tool_calls') {
      for (const [index, call] of turn.calls.entries()) {
        const args = JSON.stringify(call.arguments);
        completion += Math.ceil(args.length / 4) + 3;
        delta({
          tool_calls: [
            {
              index,
              id: `call_fake_${index}`,
              type: 'function',
              function: { name: call.name, arguments: '' },
            },
          ],
        });
        for (const p of pieces(args)) delta({ tool_calls: [{ index, function: { arguments: p } }] });
      }
    }
    delta({}, turn.type === 'tool_calls' ? 'tool_calls' : 'stop');
    const prompt =
      'promptTokens' in turn && turn.promptTokens !== undefined ? turn.promptTokens : estimate(body.messages);
    if ('completionTokens' in turn && turn.completionTokens !== undefined) completion = turn.completionTokens;
    if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) {
      send([], {
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      });
    }
    res.end('data: [DONE]\n\n');
  }
}

export class FakeAnthropic extends FakeProvider {
  protected path = '/v1/messages';

  protected authorized(req: IncomingMessage, key: string): string | undefined {
    if (req.headers['anthropic-version'] !== '2023-06-01') return 'anthropic-version header is required';
    return req.headers['x-api-key'] === key ? undefined : 'invalid x-api-key';
  }

  protected invalid(body: Record<string, unknown>): string | undefined {
    if (typeof body.model !== 'string') return 'model: Field required';
    if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1)
      return 'max_tokens: Field required';
    const messages = body.messages as Array<{ role: string; content: unknown }> | undefined;
    if (!Array.isArray(messages) || messages.length === 0)
      return 'messages: at least one message is required';
    if (messages[0]?.role !== 'user') return 'messages: first message must use the "user" role';
    const ids = new Set<string>();
    for (const [i, m] of messages.entries()) {
      if (i > 0 && messages[i - 1]?.role === m.role)
        return `messages: roles must alternate between "user" and "assistant" (messages.${i})`;
      const blocks =
        typeof m.content === 'string'
          ? [{ type: 'text', text: m.content }]
          : (m.content as Record<string, unknown>[]);
      for (const b of blocks) {
        if (b.type === 'text' && (typeof b.text !== 'string' || b.text.trim() === ''))
          return `messages.${i}: text content blocks must be non-empty`;
        if (b.type === 'tool_use') {
          if (m.role !== 'assistant' || typeof b.input !== 'object' || b.input === null)
            return `messages.${i}: invalid tool_use block`;
          ids.add(String(b.id));
        }
        if (b.type === 'tool_result' && !ids.has(String(b.tool_use_id))) {
          return `messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(b.tool_use_id)}`;
        }
      }
    }
    if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system))
      return 'system: invalid';
    return undefined;
  }

  protected error(res: ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ type: 'error', error: { type, message } }));
  }

  protected stream(res: ServerResponse, body: Record<string, unknown>, turn: ProviderTurn): void {
    const send = (event: string, data: Record<string, unknown>) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
    const prompt =
      'promptTokens' in turn && turn.promptTokens !== undefined ? turn.promptTokens : estimate(body.messages);
    send('message_start', {
      message: {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [],
        stop_reason: null,
        usage: { input_tokens: prompt, output_tokens: 1 },
      },
    });
    send('ping', {});
    const content =
      turn.type === 'http_error' ? '' : turn.type === 'tool_calls' ? (turn.content ?? '') : turn.content;
    let index = 0;
    if (content !== '') {
      send('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (const p of pieces(content))
        send('content_block_delta', { index, delta: { type: 'text_delta', text: p } });
      if (turn.type === 'cut') {
        res.write(': flushed\n\n', () => setImmediate(() => res.destroy()));
        return;
      }
      send('content_block_stop', { index });
      index++;
    }
    let completion = Math.ceil(content.length / 4);
    if (turn.type === 'tool_calls') {
      for (const call of turn.calls) {
        const args = JSON.stringify(call.arguments);
        completion += Math.ceil(args.length / 4) + 3;
        send('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: `toolu_fake_${index}`, name: call.name, input: {} },
        });
        for (const p of pieces(args))
          send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
        send('content_block_stop', { index });
        index++;
      }
    }
    if ('completionTokens' in turn && turn.completionTokens !== undefined) completion = turn.completionTokens;
    send('message_delta', {
      delta: { stop_reason: turn.type === 'tool_calls' ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: completion },
    });
    send('message_stop', {});
    res.end();
  }
}

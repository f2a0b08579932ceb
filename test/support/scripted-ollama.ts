/**
 * A scripted Ollama for tests: a loopback HTTP server that speaks Ollama's
 * real wire protocol — POST /api/chat, /api/generate (NDJSON streams or one
 * JSON object with `stream: false`), POST /api/embed, GET /api/version,
 * GET /api/tags, errors as `{"error": "..."}` with a status — and answers each
 * model call with the next scripted turn. It records every request (method,
 * path, headers, parsed body). No model: tests say what the "model" does.
 *
 *   const ollama = await ScriptedOllama.start();
 *   ollama.chat({ type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] },
 *               { type: 'text', content: 'done' });
 *   ... point a client at ollama.url ...
 *   ollama.requests[0].headers.authorization
 *   await ollama.stop();
 *
 * The shapes follow ollama/ollama api/types.go (ChatResponse, GenerateResponse,
 * EmbedResponse, Metrics, ToolCall with `id` and `function.index`) and are
 * checked against the `ollama` npm client in operator/src/runner/ollama-wire.test.ts.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

/** What the "model" does for one call. */
export type ScriptedTurn =
  /** A normal answer, streamed in `chunks` pieces (default: about one per word, at most 8). */
  | { type: 'text'; content: string; chunks?: number; promptEvalCount?: number; evalCount?: number }
  /** Real tool calls (optionally with some text before them). */
  | { type: 'tool_calls'; calls: ScriptedToolCall[]; content?: string }
  /** `message.tool_calls` sent verbatim, any shape: for malformed calls. */
  | { type: 'raw_tool_calls'; toolCalls: unknown; content?: string }
  /** An HTTP error: `{"error": error}` (or `body` verbatim as JSON) with `status`. */
  | { type: 'http_error'; status: number; error?: string; body?: unknown }
  /** Status 200, `content` streamed, then an `{"error"}` line, as Ollama does when a runner fails mid-reply. */
  | { type: 'stream_error'; error: string; content?: string }
  /** Accept the request and never answer (until the client goes away or the server stops). */
  | { type: 'hang' }
  /** Drop the connection: before any response, or after the headers and part of the stream. */
  | { type: 'drop'; when?: 'before_headers' | 'mid_stream'; content?: string }
  /** Any response, byte for byte. */
  | { type: 'raw'; status?: number; contentType?: string; body: string };

export type ModelEndpoint = '/api/chat' | '/api/generate' | '/api/embed';

export interface RecordedRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  rawBody: string;
}

export interface ScriptedOllamaOptions {
  /** Known models; a call naming another gets 404 `model '<name>' not found`. Default: any name is known. */
  models?: string[];
  /** What /api/version says. */
  version?: string;
  /** Pause between streamed chunks. */
  chunkDelayMs?: number;
  /** Answer for a chat or generate call when its queue is empty (default: HTTP 500 naming the problem). */
  fallback?: (request: RecordedRequest) => ScriptedTurn;
  /** Length of the vectors /api/embed returns. */
  embeddingDimensions?: number;
}

export class ScriptedOllama {
  readonly requests: RecordedRequest[] = [];
  url = '';
  private readonly options: ScriptedOllamaOptions;
  private readonly queues = new Map<ModelEndpoint, ScriptedTurn[]>();
  private readonly sockets = new Set<Socket>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private server: Server | undefined;

  private constructor(options: ScriptedOllamaOptions) {
    this.options = options;
  }

  static async start(options: ScriptedOllamaOptions = {}): Promise<ScriptedOllama> {
    const ollama = new ScriptedOllama(options);
    await ollama.listen();
    return ollama;
  }

  /** Queue turns for /api/chat. */
  chat(...turns: ScriptedTurn[]): this {
    return this.reply('/api/chat', ...turns);
  }

  /** Queue turns for /api/generate. */
  generate(...turns: ScriptedTurn[]): this {
    return this.reply('/api/generate', ...turns);
  }

  /** Queue turns for an endpoint. For /api/embed only errors, hangs, drops and raw replies are meaningful. */
  reply(endpoint: ModelEndpoint, ...turns: ScriptedTurn[]): this {
    const queue = this.queues.get(endpoint) ?? [];
    queue.push(...turns);
    this.queues.set(endpoint, queue);
    return this;
  }

  /** Drops the turns not used yet (a run that ended early leaves some behind). */
  clear(): this {
    this.queues.clear();
    return this;
  }

  /** Turns not used yet, per endpoint. */
  pending(endpoint: ModelEndpoint = '/api/chat'): number {
    return this.queues.get(endpoint)?.length ?? 0;
  }

  /** Requests to one path (e.g. '/api/chat'). */
  requestsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Resolves once at least `count` requests have arrived. */
  waitForRequests(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      void this.handle(req, res).catch((error: Error) => {
        if (!res.headersSent) sendJson(res, 500, { error: `scripted-ollama: ${error.message}` });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    const address = server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path,
      headers: { ...req.headers },
      body,
      rawBody,
    };
    this.requests.push(recorded);
    for (const waiter of this.waiters.filter((w) => this.requests.length >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }

    const route = `${req.method} ${path}`;
    if (route === 'GET /' || route === 'HEAD /') return sendText(res, 200, 'Ollama is running');
    if (route === 'GET /api/version')
      return sendJson(res, 200, { version: this.options.version ?? '0.24.0' });
    if (route === 'GET /api/tags')
      return sendJson(res, 200, { models: (this.options.models ?? []).map(tagEntry) });
    if (req.method !== 'POST' || !isModelEndpoint(path)) return sendText(res, 404, '404 page not found');

    if (rawBody !== '' && body === undefined)
      return sendJson(res, 400, { error: 'invalid JSON in request body' });
    const request = (body ?? {}) as { model?: unknown; stream?: unknown };
    if (typeof request.model !== 'string' || request.model === '') {
      return sendJson(res, 400, { error: 'model is required' });
    }
    if (this.options.models && !this.options.models.includes(request.model)) {
      return sendJson(res, 404, { error: `model '${request.model}' not found` });
    }
    const turn = this.queues.get(path)?.shift() ?? this.fallbackFor(path, recorded);
    const stream = request.stream !== false; // Ollama streams unless told not to
    await this.answer(path, request.model, stream, turn, recorded, req, res);
  }

  private fallbackFor(path: ModelEndpoint, request: RecordedRequest): ScriptedTurn | undefined {
    if (path === '/api/embed') return undefined;
    if (this.options.fallback) return this.options.fallback(request);
    return {
      type: 'http_error',
      status: 500,
      error: `scripted-ollama: no scripted reply left for POST ${path}`,
    };
  }

  private async answer(
    path: ModelEndpoint,
    model: string,
    stream: boolean,
    turn: ScriptedTurn | undefined,
    request: RecordedRequest,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (turn?.type === 'http_error')
      return sendJson(res, turn.status, turn.body ?? { error: turn.error ?? 'error' });
    if (turn?.type === 'raw') {
      res.writeHead(turn.status ?? 200, {
        'content-type': turn.contentType ?? 'application/json; charset=utf-8',
      });
      res.end(turn.body);
      return;
    }
    if (turn?.type === 'hang') {
      await new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
      return;
    }
    if (turn?.type === 'drop' && turn.when !== 'mid_stream') {
      req.socket.destroy();
      return;
    }
    if (path === '/api/embed') return sendJson(res, 200, this.embedding(model, request.body));

    const chunks = this.chunksFor(path, model, turn, request);
    if (!stream) {
      if (turn?.type === 'stream_error') return sendJson(res, 500, { error: turn.error });
      return sendJson(res, 200, merge(chunks));
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const body = turn?.type === 'stream_error' || turn?.type === 'drop' ? chunks.slice(0, -1) : chunks;
    for (const chunk of body) {
      if (res.destroyed) return;
      res.write(`${JSON.stringify(chunk)}\n`);
      if (this.options.chunkDelayMs) await sleep(this.options.chunkDelayMs);
    }
    if (turn?.type === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (turn?.type === 'stream_error') res.write(`${JSON.stringify({ error: turn.error })}\n`);
    res.end();
  }

  /** The stream of a chat or generate reply: content pieces, tool calls, then the final chunk with metrics. */
  private chunksFor(
    path: ModelEndpoint,
    model: string,
    turn: ScriptedTurn | undefined,
    request: RecordedRequest,
  ): Record<string, unknown>[] {
    const content = turn && 'content' in turn && typeof turn.content === 'string' ? turn.content : '';
    const pieces = splitText(content, turn?.type === 'text' ? turn.chunks : undefined);
    const base = () => ({ model, created_at: new Date().toISOString() });
    const isChat = path === '/api/chat';
    const part = (text: string) =>
      isChat
        ? { ...base(), message: { role: 'assistant', content: text }, done: false }
        : { ...base(), response: text, done: false };
    const chunks: Record<string, unknown>[] = pieces.map(part);
    const toolCalls =
      turn?.type === 'tool_calls'
        ? turn.calls.map((call, index) => ({
            id: `call_${createHash('sha256').update(`${this.requests.length}:${index}`).digest('hex').slice(0, 8)}`,
            function: { index, name: call.name, arguments: call.arguments },
          }))
        : turn?.type === 'raw_tool_calls'
          ? turn.toolCalls
          : undefined;
    if (isChat && toolCalls !== undefined) {
      chunks.push({
        ...base(),
        message: { role: 'assistant', content: '', tool_calls: toolCalls },
        done: false,
      });
    }
    const promptEvalCount =
      (turn?.type === 'text' ? turn.promptEvalCount : undefined) ?? estimateTokens(request.rawBody);
    const evalCount =
      (turn?.type === 'text' ? turn.evalCount : undefined) ??
      estimateTokens(content) + (Array.isArray(toolCalls) ? 10 * toolCalls.length : 0);
    const final = {
      ...base(),
      ...(isChat ? { message: { role: 'assistant', content: '' } } : { response: '' }),
      done: true,
      done_reason: 'stop',
      ...(isChat ? {} : { context: [1, 2, 3] }),
      total_duration: 1_000_000 * (1 + pieces.length),
      load_duration: 100_000,
      prompt_eval_count: promptEvalCount,
      prompt_eval_duration: 500_000,
      eval_count: evalCount,
      eval_duration: 500_000 * (1 + pieces.length),
    };
    chunks.push(final);
    return chunks;
  }

  private embedding(model: string, body: unknown): Record<string, unknown> {
    const input = (body as { input?: unknown })?.input;
    const texts = Array.isArray(input) ? input.map(String) : [String(input ?? '')];
    const dimensions = this.options.embeddingDimensions ?? 8;
    const embeddings = texts.map((text) => {
      const digest = createHash('sha256').update(text).digest();
      return Array.from({ length: dimensions }, (_, i) => ((digest[i % digest.length] ?? 0) - 128) / 128);
    });
    return {
      model,
      embeddings,
      total_duration: 1_000_000,
      load_duration: 100_000,
      prompt_eval_count: texts.reduce((n, t) => n + estimateTokens(t), 0),
    };
  }
}

function isModelEndpoint(path: string): path is ModelEndpoint {
  return path === '/api/chat' || path === '/api/generate' || path === '/api/embed';
}

/** A non-streamed reply: the streamed chunks folded into the final one. */
function merge(chunks: Record<string, unknown>[]): Record<string, unknown> {
  const final = { ...(chunks.at(-1) ?? {}) };
  const parts = chunks.slice(0, -1);
  if ('message' in final) {
    const content = parts.map((c) => (c.message as { content?: string }).content ?? '').join('');
    const toolCalls = parts.flatMap((c) => {
      const calls = (c.message as { tool_calls?: unknown }).tool_calls;
      return calls === undefined ? [] : Array.isArray(calls) ? calls : [calls];
    });
    final.message = {
      role: 'assistant',
      content,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    };
  } else {
    final.response = parts.map((c) => c.response ?? '').join('');
  }
  return final;
}

function splitText(text: string, chunks: number | undefined): string[] {
  if (text === '') return [];
  const words = text.split(/(?<=\s)/);
  const count = Math.max(1, Math.min(chunks ?? 8, words.length));
  const size = Math.ceil(words.length / count);
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += size) pieces.push(words.slice(i, i + size).join(''));
  return pieces;
}

const estimateTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function tagEntry(name: string): Record<string, unknown> {
  const digest = createHash('sha256').update(name).digest('hex');
  return {
    name,
    model: name,
    modified_at: '2025-01-01T00:00:00Z',
    size: 98_362_432,
    digest,
    details: {
      parent_model: '',
      format: 'gguf',
      family: 'llama',
      families: ['llama'],
      parameter_size: '135M',
      quantization_level: 'Q4_1',
    },
  };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The model, through the gateway, with the `ollama` client: streamed chat
 * with tools, assembled into one ChatTurn. Errors are classified into failure
 * reasons (model-errors.ts); lost connections and server errors get one retry.
 */
import { Ollama } from 'ollama';
import type { ChatFn, ChatRequest, ChatTurn } from './agent-loop.ts';
import { RunFailure } from './failure.ts';
import { createHttpFetch } from './http-fetch.ts';
import { LIMITS } from './limits.ts';
import { classifyModelError, GatewayHttpError, ReplyTooLargeError } from './model-errors.ts';

export interface ModelClientOptions {
  gatewayUrl: string;
  token?: string;
  /** The run's wall-clock budget. */
  signal: AbortSignal;
  retryDelayMs?: number;
  replyMaxBytes?: number;
}

export interface ModelClient {
  chat: ChatFn;
  close(): void;
}

export function createModelClient(options: ModelClientOptions): ModelClient {
  const http = createHttpFetch({
    signal: options.signal,
    ...(options.token ? { token: options.token } : {}),
  });
  const refusalAware: typeof fetch = async (input, init) => {
    const response = await http.fetch(input, init);
    if (response.ok) return response;
    throw await GatewayHttpError.from(response, LIMITS.errorBodyMaxBytes);
  };
  const ollama = new Ollama({ host: options.gatewayUrl, fetch: refusalAware });
  const replyMaxBytes = options.replyMaxBytes ?? LIMITS.modelReplyMaxBytes;
  const retryDelayMs = options.retryDelayMs ?? LIMITS.modelRetryDelayMs;

  const chat: ChatFn = async (request, signal) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await chatOnce(ollama, request, signal, replyMaxBytes);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const verdict = classifyModelError(error);
        if (verdict.retry && attempt === 1) {
          await pause(retryDelayMs, signal);
          continue;
        }
        throw new RunFailure(
          verdict.reason,
          attempt > 1 ? `${verdict.message} (after one retry)` : verdict.message,
        );
      }
    }
  };
  return { chat, close: () => http.close() };
}

async function chatOnce(
  ollama: Ollama,
  request: ChatRequest,
  signal: AbortSignal,
  replyMaxBytes: number,
): Promise<ChatTurn> {
  const stream = await ollama.chat({
    model: request.model,
    messages: request.messages,
    ...(request.tools.length > 0 ? { tools: request.tools } : {}),
    stream: true,
  });
  const onAbort = () => stream.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const turn: ChatTurn = { content: '', toolCalls: [] };
  let bytes = 0;
  try {
    for await (const part of stream) {
      const message = part.message as Partial<typeof part.message> | undefined;
      const piece = typeof message?.content === 'string' ? message.content : '';
      bytes += Buffer.byteLength(piece);
      if (bytes > replyMaxBytes) {
        stream.abort();
        throw new ReplyTooLargeError(replyMaxBytes);
      }
      turn.content += piece;
      const calls: unknown = message?.tool_calls;
      if (calls !== undefined && calls !== null) {
        for (const call of Array.isArray(calls) ? calls : [calls]) {
          const fn = (call as { function?: { name?: unknown; arguments?: unknown } } | null)?.function;
          turn.toolCalls.push({ name: fn?.name, arguments: fn?.arguments });
        }
      }
      if (part.done) {
        if (isCount(part.prompt_eval_count)) turn.promptTokens = part.prompt_eval_count;
        if (isCount(part.eval_count)) turn.completionTokens = part.eval_count;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  return turn;
}

const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

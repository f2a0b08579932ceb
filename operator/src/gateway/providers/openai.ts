/**
 * Ollama chat ⇄ OpenAI chat completions (the API every "OpenAI-compatible" server speaks).
 *
 * Request: messages map one to one; Ollama's tool calls carry no ids, so each assistant tool call gets
 * `call_<message>_<n>` and the tool messages that follow answer them in order (by `tool_name` when
 * given); arguments become the JSON string OpenAI expects. Always streamed upstream, with usage.
 * Response: `chat.completion.chunk` events → Ollama chunks: text as it comes, tool calls (whose
 * argument text streams in pieces, by index) once complete, then a done chunk with the token counts.
 */
import { OllamaStream, parseArguments, tokenCount } from './ollama-out.ts';
import {
  type OllamaChatRequest,
  type OllamaChunk,
  type StreamSummary,
  type StreamTranslator,
  type TranslateOptions,
  TranslationError,
} from './types.ts';

export function toOpenAIRequest(req: OllamaChatRequest, opts: TranslateOptions): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  const pending: Array<{ id: string; name: string }> = [];
  for (const [i, m] of req.messages.entries()) {
    const content = typeof m.content === 'string' ? m.content : '';
    if (m.role === 'system' || m.role === 'user') {
      messages.push({ role: m.role, content });
    } else if (m.role === 'assistant') {
      const calls = (m.tool_calls ?? []).map((call, j) => {
        const id = `call_${i}_${j}`;
        pending.push({ id, name: call.function.name });
        return {
          id,
          type: 'function',
          function: { name: call.function.name, arguments: argumentsText(call.function.arguments) },
        };
      });
      messages.push({
        role: 'assistant',
        content: calls.length > 0 && content === '' ? null : content,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      });
    } else if (m.role === 'tool') {
      const answered = takePending(pending, m.tool_name, i);
      messages.push({ role: 'tool', tool_call_id: answered.id, content });
    } else {
      throw new TranslationError(
        `messages[${i}] has role ${JSON.stringify(m.role)}: expected system, user, assistant or tool`,
      );
    }
  }
  const o = req.options ?? {};
  const maxTokens = Math.min(opts.maxTokens, positive(o.num_predict) ?? opts.maxTokens);
  return {
    model: opts.upstreamModel,
    messages,
    ...(req.tools && req.tools.length > 0
      ? {
          tools: req.tools.map((t) => ({
            type: 'function',
            function: {
              name: t.function.name,
              ...(t.function.description !== undefined ? { description: t.function.description } : {}),
              parameters: t.function.parameters ?? { type: 'object', properties: {} },
            },
          })),
        }
      : {}),
    ...(typeof o.temperature === 'number' ? { temperature: o.temperature } : {}),
    ...(typeof o.top_p === 'number' ? { top_p: o.top_p } : {}),
    ...(typeof o.seed === 'number' ? { seed: o.seed } : {}),
    ...(Array.isArray(o.stop) && o.stop.length > 0 ? { stop: o.stop.slice(0, 4) } : {}),
    ...responseFormat(req.format),
    max_tokens: maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
}

/** The tool call a tool message answers: the first pending one with its name, else the first pending. */
export function takePending(
  pending: Array<{ id: string; name: string }>,
  toolName: string | undefined,
  index: number,
): { id: string; name: string } {
  const at =
    toolName === undefined
      ? 0
      : Math.max(
          0,
          pending.findIndex((p) => p.name === toolName),
        );
  const [taken] = pending.splice(at, 1);
  if (!taken) {
    throw new TranslationError(
      `messages[${index}] (role tool) answers no tool call of an earlier assistant message`,
    );
  }
  return taken;
}

function argumentsText(args: unknown): string {
  if (typeof args === 'string') return args;
  return JSON.stringify(args ?? {});
}

function positive(n: unknown): number | undefined {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

function responseFormat(format: unknown): Record<string, unknown> {
  if (format === 'json') return { response_format: { type: 'json_object' } };
  if (format && typeof format === 'object') {
    return { response_format: { type: 'json_schema', json_schema: { name: 'output', schema: format } } };
  }
  return {};
}

interface PartialCall {
  name: string;
  args: string;
}

const FINISH: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'stop',
  content_filter: 'stop',
};

export class OpenAIStreamTranslator implements StreamTranslator {
  readonly #out: OllamaStream;
  readonly #calls = new Map<number, PartialCall>();
  #finish: string | undefined;
  #callsSent = false;

  /** `model` is the name the runner asked for (what the Ollama chunks carry). */
  constructor(model: string, now: () => Date = () => new Date()) {
    this.#out = new OllamaStream(model, now);
  }

  event(_name: string | undefined, data: string): OllamaChunk[] {
    if (this.#out.over) return [];
    if (data.trim() === '[DONE]') return this.#finishStream();
    let chunk: Record<string, unknown>;
    try {
      chunk = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return this.#out.fail('the provider sent an event that is not JSON');
    }
    if (chunk.error !== undefined) return this.#out.fail(errorText(chunk.error));
    const usage = chunk.usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined;
    if (usage) {
      this.#out.promptTokens = tokenCount(usage.prompt_tokens) ?? this.#out.promptTokens;
      this.#out.completionTokens = tokenCount(usage.completion_tokens) ?? this.#out.completionTokens;
    }
    const out: OllamaChunk[] = [];
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as Record<string, unknown>[]) : [];
    const choice = choices.find((c) => (c.index ?? 0) === 0);
    if (!choice) return out;
    const delta = (choice.delta ?? {}) as { content?: unknown; tool_calls?: unknown };
    if (typeof delta.content === 'string' && delta.content !== '') {
      out.push(this.#out.content(delta.content));
    }
    if (Array.isArray(delta.tool_calls)) this.#collect(delta.tool_calls as Record<string, unknown>[]);
    if (typeof choice.finish_reason === 'string') {
      this.#finish = choice.finish_reason;
      out.push(...this.#toolCalls());
    }
    return out;
  }

  end(): OllamaChunk[] {
    if (this.#out.over) return [];
    if (this.#finish === undefined)
      return this.#out.fail('the provider stream ended before the answer was complete');
    return this.#finishStream();
  }

  summary(): StreamSummary {
    return this.#out.summary();
  }

  #collect(deltas: Record<string, unknown>[]): void {
    for (const d of deltas) {
      const index = typeof d.index === 'number' ? d.index : 0;
      const fn = (d.function ?? {}) as { name?: unknown; arguments?: unknown };
      const call = this.#calls.get(index) ?? { name: '', args: '' };
      if (typeof fn.name === 'string') call.name += fn.name;
      if (typeof fn.arguments === 'string') call.args += fn.arguments;
      this.#calls.set(index, call);
    }
  }

  #toolCalls(): OllamaChunk[] {
    if (this.#callsSent || this.#calls.size === 0) return [];
    this.#callsSent = true;
    const calls = [...this.#calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ function: { name: c.name, arguments: parseArguments(c.args) } }));
    return [this.#out.toolCalls(calls)];
  }

  #finishStream(): OllamaChunk[] {
    if (this.#finish === undefined)
      return this.#out.fail('the provider ended the stream without a finish reason');
    return [...this.#toolCalls(), this.#out.done(FINISH[this.#finish] ?? 'stop')];
  }
}

/** The message of a provider error object (`{"error": {"message"}}` or a string). */
export function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : 'the provider reported an error';
}

/**
 * Ollama chat ⇄ Anthropic messages.
 *
 * Request: system messages become `system`; assistant tool calls become `tool_use` blocks with ids
 * `toolu_<message>_<n>`, tool messages `tool_result` blocks in a user turn; consecutive turns of one
 * role are merged (the API wants user and assistant to alternate); `max_tokens` (required) is what is
 * left of the task's budgets. Response: message_start / content_block_* / message_delta /
 * message_stop events → Ollama chunks; a tool_use block's input streams as `input_json_delta` pieces
 * and is sent once its block stops.
 */

import { OllamaStream, parseArguments, tokenCount } from './ollama-out.ts';
import { errorText, takePending } from './openai.ts';
import {
  type OllamaChatRequest,
  type OllamaChunk,
  type OllamaToolCall,
  type StreamSummary,
  type StreamTranslator,
  type TranslateOptions,
  TranslationError,
} from './types.ts';

export const ANTHROPIC_VERSION = '2023-06-01';

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

export function toAnthropicRequest(req: OllamaChatRequest, opts: TranslateOptions): Record<string, unknown> {
  const system: string[] = [];
  const turns: Turn[] = [];
  const pending: Array<{ id: string; name: string }> = [];
  const add = (role: Turn['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const [i, m] of req.messages.entries()) {
    const content = typeof m.content === 'string' ? m.content : '';
    const text: Block[] = content.trim() === '' ? [] : [{ type: 'text', text: content }];
    if (m.role === 'system') {
      if (content !== '') system.push(content);
    } else if (m.role === 'user') {
      add('user', text);
    } else if (m.role === 'assistant') {
      const uses = (m.tool_calls ?? []).map((call, j) => {
        const id = `toolu_${i}_${j}`;
        pending.push({ id, name: call.function.name });
        return {
          type: 'tool_use',
          id,
          name: call.function.name,
          input: inputObject(call.function.arguments),
        };
      });
      add('assistant', [...text, ...uses]);
    } else if (m.role === 'tool') {
      const answered = takePending(pending, m.tool_name, i);
      add('user', [{ type: 'tool_result', tool_use_id: answered.id, content }]);
    } else {
      throw new TranslationError(
        `messages[${i}] has role ${JSON.stringify(m.role)}: expected system, user, assistant or tool`,
      );
    }
  }
  if (turns[0]?.role !== 'user') {
    throw new TranslationError('the conversation must start with a user message (Anthropic requires it)');
  }
  const o = req.options ?? {};
  const requested =
    typeof o.num_predict === 'number' && o.num_predict > 0 ? Math.floor(o.num_predict) : undefined;
  return {
    model: opts.upstreamModel,
    max_tokens: Math.min(opts.maxTokens, requested ?? opts.maxTokens),
    ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
    messages: turns,
    ...(req.tools && req.tools.length > 0
      ? {
          tools: req.tools.map((t) => ({
            name: t.function.name,
            ...(t.function.description !== undefined ? { description: t.function.description } : {}),
            input_schema: t.function.parameters ?? { type: 'object', properties: {} },
          })),
        }
      : {}),
    ...(typeof o.temperature === 'number' ? { temperature: Math.min(1, Math.max(0, o.temperature)) } : {}),
    ...(typeof o.top_p === 'number' ? { top_p: o.top_p } : {}),
    ...(Array.isArray(o.stop) && o.stop.length > 0 ? { stop_sequences: o.stop } : {}),
    stream: true,
  };
}

/** tool_use.input must be an object: a JSON-string argument is parsed, anything else wrapped. */
function inputObject(args: unknown): Record<string, unknown> {
  const value = typeof args === 'string' ? parseArguments(args) : args;
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  return value === undefined || value === null ? {} : { value };
}

const STOP: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'stop',
  max_tokens: 'length',
};

interface ToolBlock {
  name: string;
  json: string;
}

export class AnthropicStreamTranslator implements StreamTranslator {
  readonly #out: OllamaStream;
  readonly #tools = new Map<number, ToolBlock>();
  readonly #finished: OllamaToolCall[] = [];
  #stop: string | undefined;

  /** `model` is the name the runner asked for (what the Ollama chunks carry). */
  constructor(model: string, now: () => Date = () => new Date()) {
    this.#out = new OllamaStream(model, now);
  }

  event(_name: string | undefined, data: string): OllamaChunk[] {
    if (this.#out.over) return [];
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return this.#out.fail('the provider sent an event that is not JSON');
    }
    switch (e.type) {
      case 'message_start': {
        const usage = ((e.message as Record<string, unknown> | undefined)?.usage ?? {}) as Record<
          string,
          unknown
        >;
        this.#out.promptTokens = inputTokens(usage);
        this.#out.completionTokens = tokenCount(usage.output_tokens) ?? 0;
        return [];
      }
      case 'content_block_start': {
        const block = (e.content_block ?? {}) as Record<string, unknown>;
        const index = typeof e.index === 'number' ? e.index : 0;
        if (block.type === 'tool_use') {
          const initial =
            block.input && Object.keys(block.input as object).length > 0 ? JSON.stringify(block.input) : '';
          this.#tools.set(index, { name: String(block.name ?? ''), json: initial });
          return [];
        }
        return block.type === 'text' && typeof block.text === 'string' && block.text !== ''
          ? [this.#out.content(block.text)]
          : [];
      }
      case 'content_block_delta': {
        const delta = (e.delta ?? {}) as Record<string, unknown>;
        const index = typeof e.index === 'number' ? e.index : 0;
        if (delta.type === 'text_delta' && typeof delta.text === 'string' && delta.text !== '') {
          return [this.#out.content(delta.text)];
        }
        const tool = this.#tools.get(index);
        if (delta.type === 'input_json_delta' && tool && typeof delta.partial_json === 'string') {
          tool.json += delta.partial_json;
        }
        return [];
      }
      case 'content_block_stop': {
        const index = typeof e.index === 'number' ? e.index : 0;
        const tool = this.#tools.get(index);
        if (tool) {
          this.#tools.delete(index);
          this.#finished.push({ function: { name: tool.name, arguments: parseArguments(tool.json) } });
        }
        return [];
      }
      case 'message_delta': {
        const delta = (e.delta ?? {}) as Record<string, unknown>;
        if (typeof delta.stop_reason === 'string') this.#stop = delta.stop_reason;
        const usage = (e.usage ?? {}) as Record<string, unknown>;
        this.#out.completionTokens = tokenCount(usage.output_tokens) ?? this.#out.completionTokens;
        if (tokenCount(usage.input_tokens) !== undefined) this.#out.promptTokens = inputTokens(usage);
        return [];
      }
      case 'message_stop':
        return this.#finishStream();
      case 'error':
        return this.#out.fail(errorText(e.error));
      default:
        return []; // ping, and event types added later
    }
  }

  end(): OllamaChunk[] {
    if (this.#out.over) return [];
    return this.#out.fail('the provider stream ended before message_stop');
  }

  summary(): StreamSummary {
    return this.#out.summary();
  }

  #finishStream(): OllamaChunk[] {
    const calls = this.#finished.length > 0 ? [this.#out.toolCalls([...this.#finished])] : [];
    return [...calls, this.#out.done(STOP[this.#stop ?? 'end_turn'] ?? 'stop')];
  }
}

/** Input tokens, cache reads and writes included (all of them are billed and count against the budget). */
function inputTokens(usage: Record<string, unknown>): number {
  return (
    (tokenCount(usage.input_tokens) ?? 0) +
    (tokenCount(usage.cache_creation_input_tokens) ?? 0) +
    (tokenCount(usage.cache_read_input_tokens) ?? 0)
  );
}

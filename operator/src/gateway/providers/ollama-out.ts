/**
 * The Ollama side of a cloud model's answer: the /api/chat stream chunks the gateway writes, and what
 * both providers' translators keep while writing them (token counts; whether the stream completed, or
 * why it failed).
 */
import type { OllamaChunk, OllamaToolCall, StreamSummary } from './types.ts';

export class OllamaStream {
  promptTokens = 0;
  completionTokens = 0;
  readonly #model: string;
  readonly #now: () => Date;
  #complete = false;
  #error: string | undefined;

  /** `model` is the name the runner asked for (what the chunks carry). */
  constructor(model: string, now: () => Date) {
    this.#model = model;
    this.#now = now;
  }

  /** Completed or failed: nothing more is written. */
  get over(): boolean {
    return this.#complete || this.#error !== undefined;
  }

  content(content: string): OllamaChunk {
    return {
      model: this.#model,
      created_at: this.#now().toISOString(),
      message: { role: 'assistant', content },
      done: false,
    };
  }

  toolCalls(calls: OllamaToolCall[]): OllamaChunk {
    return {
      model: this.#model,
      created_at: this.#now().toISOString(),
      message: { role: 'assistant', content: '', tool_calls: calls },
      done: false,
    };
  }

  /** The stream completed: the final chunk, with the token counts. */
  done(reason: string): OllamaChunk {
    this.#complete = true;
    return {
      model: this.#model,
      created_at: this.#now().toISOString(),
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: reason,
      total_duration: 0,
      prompt_eval_count: this.promptTokens,
      eval_count: this.completionTokens,
    };
  }

  /** The stream failed: an Ollama error line. */
  fail(message: string): OllamaChunk[] {
    this.#error = message;
    return [{ error: message }];
  }

  summary(): StreamSummary {
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      complete: this.#complete,
      ...(this.#error !== undefined ? { error: this.#error } : {}),
    };
  }
}

/** A token count as a provider reports it (a non-negative safe integer), else undefined. */
export function tokenCount(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Tool-call arguments as Ollama carries them: the parsed object, or the raw text if it is not JSON. */
export function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Chunks as NDJSON: one JSON object per line. */
export function ndjson(chunks: readonly OllamaChunk[]): string {
  return chunks.map((c) => `${JSON.stringify(c)}\n`).join('');
}

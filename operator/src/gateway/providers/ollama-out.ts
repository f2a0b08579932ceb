/** Ollama /api/chat stream chunks, as the gateway writes them for a cloud model's answer. */
import type { OllamaChunk, OllamaToolCall } from './types.ts';

export function contentChunk(model: string, content: string, now: Date): OllamaChunk {
  return { model, created_at: now.toISOString(), message: { role: 'assistant', content }, done: false };
}

export function toolCallsChunk(model: string, calls: OllamaToolCall[], now: Date): OllamaChunk {
  return {
    model,
    created_at: now.toISOString(),
    message: { role: 'assistant', content: '', tool_calls: calls },
    done: false,
  };
}

export function doneChunk(
  model: string,
  usage: { promptTokens: number; completionTokens: number; reason: string },
  now: Date,
): OllamaChunk {
  return {
    model,
    created_at: now.toISOString(),
    message: { role: 'assistant', content: '' },
    done: true,
    done_reason: usage.reason,
    total_duration: 0,
    prompt_eval_count: usage.promptTokens,
    eval_count: usage.completionTokens,
  };
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

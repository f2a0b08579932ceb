/**
 * What the cloud providers share: Ollama's chat request as the runner sends it (read loosely: the gateway
 * has already checked its keys), the Ollama stream chunks the gateway answers with, and a provider's
 * translator pair. No I/O.
 */

/** An Ollama tool call: `{function: {name, arguments}}` (arguments an object). */
export interface OllamaToolCall {
  function: { name: string; arguments: unknown };
}

export interface OllamaMessage {
  role: string;
  content?: string;
  tool_calls?: OllamaToolCall[];
  /** Which tool a `role: "tool"` message answers (Ollama ≥ 0.9). */
  tool_name?: string;
}

export interface OllamaTool {
  type?: string;
  function: { name: string; description?: string; parameters?: unknown };
}

export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  tools?: OllamaTool[];
  stream?: boolean;
  format?: unknown;
  options?: { temperature?: number; top_p?: number; seed?: number; stop?: string[]; num_predict?: number };
}

/** One line of Ollama's /api/chat NDJSON stream, as the gateway writes it for a cloud model. */
export type OllamaChunk =
  | {
      model: string;
      created_at: string;
      message: { role: 'assistant'; content: string; tool_calls?: OllamaToolCall[] };
      done: false;
    }
  | {
      model: string;
      created_at: string;
      message: { role: 'assistant'; content: string };
      done: true;
      done_reason: string;
      total_duration: number;
      prompt_eval_count: number;
      eval_count: number;
    }
  | { error: string };

/** What the translator saw of the provider's answer once it is over. */
export interface StreamSummary {
  promptTokens: number;
  completionTokens: number;
  /** The stream ended properly (a final event), not cut off. */
  complete: boolean;
  error?: string;
}

/** Turns the provider's SSE events into Ollama chunks, incrementally. */
export interface StreamTranslator {
  /** One SSE event (`event:` name, if any, and its `data:` text). */
  event(name: string | undefined, data: string): OllamaChunk[];
  /** The stream ended (or broke): whatever is still owed, ending with a done chunk or an error. */
  end(): OllamaChunk[];
  summary(): StreamSummary;
}

export type ProviderKind = 'openai' | 'anthropic';

/** Settings a translation needs that the runner's request does not say. */
export interface TranslateOptions {
  /** The provider's own model name (the allowlisted name without its `provider/` prefix). */
  upstreamModel: string;
  /** Most completion tokens this call may produce (what is left of the task's token and cost budgets). */
  maxTokens: number;
}

/** Why a request cannot be translated; the gateway refuses it as bad_request. */
export class TranslationError extends Error {
  override name = 'TranslationError';
}

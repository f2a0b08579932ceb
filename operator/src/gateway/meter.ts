/**
 * Watches an Ollama response as it streams past: byte count, sha256 of the exact bytes, and the token
 * counts from the final chunk, parsing NDJSON lines incrementally with a bounded line buffer. Nothing
 * is held back: the caller forwards each chunk as it comes.
 *
 * A line longer than `maxLineBytes` (a non-streamed answer, an embedding) is not kept whole; its
 * counts are read from its last `tailBytes`, where Ollama writes them. A quote inside a JSON string is
 * always escaped, so `"eval_count":` can only match the real field, never text the model wrote.
 */
import { createHash, type Hash } from 'node:crypto';

export interface MeterResult {
  bytes: number;
  /** `sha256:<hex>` of the exact bytes. */
  digest: string;
  promptTokens?: number;
  completionTokens?: number;
  /** A chunk with `done: true` (or an embed response with counts) was seen. */
  done: boolean;
  /** The text of an `{"error": …}` line, if the upstream reported one mid-stream. */
  error?: string;
  /** Lines that carried generated content (one token each when streaming): the estimate if cut off. */
  contentChunks: number;
}

export interface MeterOptions {
  maxLineBytes?: number;
  tailBytes?: number;
}

export class ResponseMeter {
  readonly #hash: Hash = createHash('sha256');
  readonly #maxLine: number;
  readonly #tailBytes: number;
  #bytes = 0;
  #line: Buffer[] = [];
  #lineBytes = 0;
  #overflowed = false;
  #tail: Buffer = Buffer.alloc(0);
  #result: Omit<MeterResult, 'bytes' | 'digest'> = { done: false, contentChunks: 0 };

  constructor(opts: MeterOptions = {}) {
    this.#maxLine = opts.maxLineBytes ?? 64 * 1024;
    this.#tailBytes = opts.tailBytes ?? 4096;
  }

  push(chunk: Buffer): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#append(chunk.subarray(start, nl));
      this.#endLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.#append(chunk.subarray(start));
  }

  finish(): MeterResult {
    if (this.#lineBytes > 0) this.#endLine();
    return { ...this.#result, bytes: this.#bytes, digest: `sha256:${this.#hash.digest('hex')}` };
  }

  #append(part: Buffer): void {
    if (part.length === 0) return;
    this.#lineBytes += part.length;
    if (!this.#overflowed && this.#lineBytes <= this.#maxLine) {
      this.#line.push(part);
      return;
    }
    if (!this.#overflowed) {
      this.#overflowed = true;
      this.#tail = Buffer.concat(this.#line);
      this.#line = [];
    }
    const joined = Buffer.concat([this.#tail, part]);
    this.#tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.#tailBytes)));
  }

  #endLine(): void {
    if (this.#overflowed) this.#readTail(this.#tail.toString('latin1'));
    else if (this.#lineBytes > 0) this.#readLine(Buffer.concat(this.#line).toString('utf8'));
    this.#line = [];
    this.#lineBytes = 0;
    this.#overflowed = false;
    this.#tail = Buffer.alloc(0);
  }

  #readLine(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const chunk = value as Record<string, unknown>;
    if (typeof chunk.error === 'string') this.#result.error = chunk.error;
    const prompt = count(chunk.prompt_eval_count);
    const completion = count(chunk.eval_count);
    if (prompt !== undefined) this.#result.promptTokens = prompt;
    if (completion !== undefined) this.#result.completionTokens = completion;
    if (chunk.done === true || (prompt !== undefined && Array.isArray(chunk.embeddings))) {
      this.#result.done = true;
    } else if (hasContent(chunk)) {
      this.#result.contentChunks++;
    }
  }

  #readTail(tail: string): void {
    const prompt = lastNumber(tail, /"prompt_eval_count":(\d+)/g);
    const completion = lastNumber(tail, /"eval_count":(\d+)/g);
    if (prompt !== undefined) this.#result.promptTokens = prompt;
    if (completion !== undefined) this.#result.completionTokens = completion;
    if (/"done":true/.test(tail) || prompt !== undefined) this.#result.done = true;
  }
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function lastNumber(text: string, pattern: RegExp): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(pattern)) last = count(Number(m[1]));
  return last;
}

function hasContent(chunk: Record<string, unknown>): boolean {
  if (typeof chunk.response === 'string') return true;
  const message = chunk.message;
  return typeof message === 'object' && message !== null;
}

/** Tokens a finished call spent: the upstream's counts, or the streamed chunks if it was cut off. */
export function tokensSpent(m: MeterResult): number {
  const reported = (m.promptTokens ?? 0) + (m.completionTokens ?? 0);
  return m.done ? reported : Math.max(reported, m.contentChunks);
}

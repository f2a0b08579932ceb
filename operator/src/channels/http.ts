/**
 * Calls to a chat platform's HTTP API, with what every platform asks of a client: a timeout, retries
 * with exponential backoff and jitter on network errors and 5xx, and rate limits obeyed (429 with
 * `Retry-After`, Discord's `retry_after` seconds, Telegram's `parameters.retry_after`). Other 4xx are
 * final. Bot tokens may sit in a URL (Telegram) or a header: neither appears in an error message.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PlatformResponse {
  status: number;
  json: unknown;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  timeoutMs: 10_000,
};

export class PlatformError extends Error {
  override name = 'PlatformError';
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** How long a 429 asks us to wait, in ms (header or body), capped. */
export function retryAfterMs(headers: Headers, json: unknown, cap: number): number | undefined {
  const header = headers.get('retry-after');
  const body = json as { retry_after?: unknown; parameters?: { retry_after?: unknown } } | null;
  const given = (v: unknown) => (v === null || v === undefined || v === '' ? Number.NaN : Number(v));
  const seconds = [given(header), given(body?.retry_after), given(body?.parameters?.retry_after)].find(
    (n) => Number.isFinite(n) && n >= 0,
  );
  return seconds === undefined ? undefined : Math.min(cap, Math.ceil(seconds * 1000));
}

export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export async function callPlatform(
  what: string,
  url: URL,
  init: { method?: string; headers?: Record<string, string>; body?: unknown },
  policy: RetryPolicy = DEFAULT_RETRY,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<PlatformResponse> {
  let last = '';
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    let res: Response;
    try {
      res = await fetch(url, {
        method: init.method ?? 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', ...init.headers },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: AbortSignal.timeout(policy.timeoutMs),
        redirect: 'error',
      });
    } catch (err) {
      last = `${what}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable'}`;
      if (attempt < policy.attempts) await wait(backoffMs(attempt, policy));
      continue;
    }
    const text = await res.text().catch(() => '');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status === 429 || res.status >= 500) {
      last = `${what}: HTTP ${res.status}`;
      const delay = res.status === 429 ? retryAfterMs(res.headers, json, policy.maxDelayMs) : undefined;
      if (attempt < policy.attempts) await wait(delay ?? backoffMs(attempt, policy));
      continue;
    }
    if (res.status >= 400)
      throw new PlatformError(`${what}: HTTP ${res.status} ${describe(json)}`, res.status);
    return { status: res.status, json };
  }
  throw new PlatformError(`${last} (gave up after ${policy.attempts} attempts)`);
}

function describe(json: unknown): string {
  const j = json as { description?: unknown; message?: unknown; error?: unknown } | undefined;
  const text = j?.description ?? j?.message ?? j?.error;
  return typeof text === 'string' ? text.slice(0, 300) : '';
}

/**
 * One sender per channel: sends run one at a time, so a rate limit slows this channel and nothing
 * else; the queue is bounded (the oldest waiting send is dropped), so an outage never grows memory or
 * holds up the operator, which only enqueues.
 */
export class Outbox {
  readonly #max: number;
  readonly #queue: Array<{ run: () => Promise<void>; drop: () => void }> = [];
  #running = false;
  #idle: Array<() => void> = [];

  constructor(max = 100) {
    this.#max = max;
  }

  /** Resolves when the send ran (or rejects with why it failed or was dropped). */
  enqueue(send: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        run: () => send().then(resolve, reject),
        drop: () => reject(new PlatformError('dropped: the channel is backed up (outage or rate limit)')),
      });
      while (this.#queue.length > this.#max) this.#queue.shift()?.drop();
      void this.#drain();
    });
  }

  get pending(): number {
    return this.#queue.length + (this.#running ? 1 : 0);
  }

  /** Resolves once nothing is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    for (let next = this.#queue.shift(); next; next = this.#queue.shift()) await next.run().catch(() => {});
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

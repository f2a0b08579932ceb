/**
 * A rate-limited work queue with client-go semantics:
 *
 * - dedup: a key that is already queued is not queued twice;
 * - a key that is being processed is never handed out again until `done(key)`;
 *   adding it meanwhile marks it dirty and it is re-queued (once) on `done`;
 * - so one key never runs on two workers at once, whatever the number of workers;
 * - `addAfter` parks a key until a deadline (the earliest deadline wins);
 * - `addRateLimited` = `addAfter(key, max(per-key exponential backoff, global token bucket))`;
 *   `forget(key)` resets the per-key backoff (call it after a success).
 *
 * Timers use the global `setTimeout` and `Date.now()` so tests can drive them with
 * node:test's `mock.timers`.
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import { initQueueMetrics, type QueueMetrics } from './metrics.ts';

export interface RateLimiterOptions {
  /** First per-key backoff in ms (5). Doubles on every addRateLimited until forget(). */
  baseDelayMs?: number;
  /** Cap of the per-key backoff in ms (1_000_000, i.e. 1000 s). */
  maxDelayMs?: number;
  /** Global token bucket refill rate per second (10). 0 or Infinity disables the bucket. */
  qps?: number;
  /** Global token bucket size (100). */
  burst?: number;
}

/**
 * max(ItemExponentialFailureRateLimiter, BucketRateLimiter) from client-go.
 * `when(key)` both reserves and returns the delay in ms.
 */
export class RateLimiter {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly qps: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly failures = new Map<string, number>();
  private tokens: number;
  private last: number;

  constructor(opts: RateLimiterOptions & { now?: () => number } = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000_000;
    this.qps = opts.qps ?? 10;
    this.burst = opts.burst ?? 100;
    this.now = opts.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Delay for the next retry of `key`; counts as one failure and reserves one token. */
  when(key: string): number {
    const exp = this.failures.get(key) ?? 0;
    this.failures.set(key, exp + 1);
    const backoff = Math.min(this.baseDelayMs * 2 ** exp, this.maxDelayMs);
    return Math.max(backoff, this.reserveToken());
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** golang.org/x/time/rate Reserve().Delay(): tokens may go negative; the debt is the wait. */
  private reserveToken(): number {
    if (!(this.qps > 0) || this.qps === Number.POSITIVE_INFINITY) return 0;
    const now = this.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
}

interface Delayed {
  key: string;
  at: number;
}

type Waiter = (key: string | undefined) => void;

/** The longest delay Node's timers honour (about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue {
  readonly name: string;
  private readonly limiter: RateLimiter;
  private items: string[] = [];
  private head = 0;
  /** Keys that need processing: queued ones, and processing ones added again. */
  private readonly dirty = new Set<string>();
  /** Keys handed out and not yet done → start time (performance.now()). */
  private readonly processing = new Map<string, number>();
  private readonly addedAt = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private shuttingDown = false;
  // Delayed adds: key → earliest deadline, plus a min-heap with lazy deletion.
  private readonly waiting = new Map<string, number>();
  private heap: Delayed[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private readonly m:
    | {
        depth: ReturnType<Gauge<'name'>['labels']>;
        adds: ReturnType<Counter<'name'>['labels']>;
        retries: ReturnType<Counter<'name'>['labels']>;
        queueDuration: ReturnType<Histogram<'name'>['labels']>;
        workDuration: ReturnType<Histogram<'name'>['labels']>;
      }
    | undefined;

  constructor(
    name: string,
    opts: RateLimiterOptions & { metrics?: QueueMetrics; rateLimiter?: RateLimiter } = {},
  ) {
    this.name = name;
    this.limiter = opts.rateLimiter ?? new RateLimiter(opts);
    const metrics = opts.metrics;
    if (metrics) {
      initQueueMetrics(metrics, name);
      const labels = { name };
      this.m = {
        depth: metrics.depth.labels(labels),
        adds: metrics.adds.labels(labels),
        retries: metrics.retries.labels(labels),
        queueDuration: metrics.queueDuration.labels(labels),
        workDuration: metrics.workDuration.labels(labels),
      };
      metrics.probes.set(name, {
        longestRunningSeconds: () => {
          const now = performance.now();
          let longest = 0;
          for (const start of this.processing.values()) longest = Math.max(longest, now - start);
          return longest / 1000;
        },
        unfinishedWorkSeconds: () => {
          const now = performance.now();
          let sum = 0;
          for (const start of this.processing.values()) sum += now - start;
          return sum / 1000;
        },
      });
    }
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.m?.adds.inc();
    this.dirty.add(key);
    this.addedAt.set(key, performance.now());
    if (this.processing.has(key)) return;
    this.enqueue(key);
  }

  addAfter(key: string, requestedDelayMs: number): void {
    if (this.shuttingDown) return;
    // setTimeout fires at once for delays past 2^31-1 ms; a far deadline is re-checked then instead.
    const delayMs = Math.min(requestedDelayMs, MAX_TIMER_MS);
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const existing = this.waiting.get(key);
    if (existing !== undefined && existing <= at) return;
    this.waiting.set(key, at);
    this.heapPush({ key, at });
    this.schedule();
  }

  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.m?.retries.inc();
    this.addAfter(key, this.limiter.when(key));
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.limiter.numRequeues(key);
  }

  /** Waits for a key; resolves undefined once the queue is shut down (queued keys are dropped). */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.head < this.items.length) {
      const key = this.items[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      this.m?.depth.set(this.len());
      this.take(key);
      return Promise.resolve(key);
    }
    return new Promise<string | undefined>((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const start = this.processing.get(key);
    if (start === undefined) return;
    this.processing.delete(key);
    this.m?.workDuration.observe((performance.now() - start) / 1000);
    if (!this.shuttingDown && this.dirty.has(key)) this.enqueue(key);
  }

  /** Number of keys ready to be handed out (not counting delayed or in-flight ones). */
  len(): number {
    return this.items.length - this.head;
  }

  /** Number of keys parked by addAfter/addRateLimited. */
  delayedLen(): number {
    return this.waiting.size;
  }

  /** Number of keys handed out by get() and not yet done(). */
  processingLen(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.waiting.clear();
    this.heap = [];
    this.items = [];
    this.head = 0;
    this.dirty.clear();
    this.addedAt.clear();
    this.m?.depth.set(0);
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.items.push(key);
    this.m?.depth.set(this.len());
  }

  private take(key: string): void {
    this.dirty.delete(key);
    const now = performance.now();
    this.processing.set(key, now);
    const added = this.addedAt.get(key);
    if (added !== undefined) {
      this.addedAt.delete(key);
      this.m?.queueDuration.observe((now - added) / 1000);
    }
  }

  private schedule(): void {
    // Drop stale heap tops (superseded by an earlier deadline for the same key).
    while (this.heap.length > 0 && this.waiting.get(this.heap[0]!.key) !== this.heap[0]!.at) this.heapPop();
    const top = this.heap[0];
    if (!top) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.timer !== undefined && this.timerAt <= top.at) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = top.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, top.at - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const { key, at } = this.heapPop()!;
      if (this.waiting.get(key) !== at) continue;
      this.waiting.delete(key);
      this.add(key);
    }
    if (!this.shuttingDown) this.schedule();
  }

  private heapPush(item: Delayed): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= item.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = item;
  }

  private heapPop(): Delayed | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

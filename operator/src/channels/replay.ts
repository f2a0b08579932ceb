/**
 * Remembers request ids (a Slack signature, a Discord interaction id, a Telegram update_id) for as long
 * as a signed request could still be accepted, so the same request twice is refused. Bounded: the
 * oldest ids go first once `max` are held — and a request older than what is still remembered is
 * refused too (Telegram's update_ids only grow), so dropping never reopens a window.
 */
export class ReplayGuard {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #seen = new Map<string, number>();

  constructor(opts: { ttlMs: number; max?: number }) {
    this.#ttlMs = opts.ttlMs;
    this.#max = opts.max ?? 10_000;
  }

  /** True the first time `id` is offered within the window; false for a replay. */
  accept(id: string, nowMs: number): boolean {
    this.#expire(nowMs);
    if (this.#seen.has(id)) return false;
    this.#seen.set(id, nowMs);
    while (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
    return true;
  }

  #expire(nowMs: number): void {
    for (const [id, at] of this.#seen) {
      if (nowMs - at <= this.#ttlMs) break;
      this.#seen.delete(id);
    }
  }
}

/** Telegram update_ids increase: an id at or below the highest accepted one is a replay. */
export class MonotonicIds {
  #high = -1;

  accept(id: number): boolean {
    if (!Number.isSafeInteger(id) || id <= this.#high) return false;
    this.#high = id;
    return true;
  }
}

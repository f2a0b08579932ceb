/**
 * Remembers request ids (a Slack signature, a Discord interaction id) for as long as a signed request
 * could still be accepted, so the same request twice is refused. Bounded without reopening a window:
 * once `max` ids are held that are all still acceptable, new ids are refused (fail closed; the
 * platforms retry) instead of forgetting one that could then be replayed.
 */
import { REPLAY_WINDOW_SECONDS } from './signatures.ts';

export class ReplayGuard {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #seen = new Map<string, number>();

  /**
   * `ttlMs` defaults to how long a signed request stays acceptable: its timestamp may be up to the
   * replay window either side of now, so twice the window from when it is first seen.
   */
  constructor(opts: { ttlMs?: number; max?: number } = {}) {
    this.#ttlMs = opts.ttlMs ?? 2 * REPLAY_WINDOW_SECONDS * 1000;
    this.#max = opts.max ?? 10_000;
  }

  /** True the first time `id` is offered within the window; false for a replay, or while the guard is full. */
  accept(id: string, nowMs: number): boolean {
    this.#expire(nowMs);
    if (this.#seen.has(id) || this.#seen.size >= this.#max) return false;
    this.#seen.set(id, nowMs);
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

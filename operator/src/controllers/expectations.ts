/**
 * Objects this process created but its informer cache has not shown yet
 * (controller-runtime's "expectations"): never create them twice while the
 * watch lags. Entries expire, so a lost watch event cannot wedge a key and
 * the map cannot grow without bound.
 */
export class Expectations<T = true> {
  private readonly entries = new Map<string, { value: T; at: number }>();
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(ttlMs: number, clock: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.clock = clock;
  }

  expect(key: string, value: T): void {
    this.entries.set(key, { value, at: this.clock() });
  }

  /** The cache shows the object (or it is gone for good): stop expecting it. */
  observed(key: string): void {
    this.entries.delete(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.clock() - entry.at < this.ttlMs) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  values(): T[] {
    const now = this.clock();
    const live: T[] = [];
    for (const [key, entry] of this.entries) {
      if (now - entry.at < this.ttlMs) live.push(entry.value);
      else this.entries.delete(key);
    }
    return live;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * A list+watch cache of one resource path (client-go's reflector + indexer, reduced).
 *
 * - LIST with pagination (`limit`/`continue`), then WATCH from the list's resourceVersion
 *   with `allowWatchBookmarks=true`.
 * - 410 Gone (HTTP status, or a watch ERROR event with code 410) → re-list. The re-list is
 *   diffed against the cache: new objects are delivered as 'add', changed ones as 'update',
 *   and objects that vanished meanwhile as 'delete' (with their last known state).
 * - Any other watch failure or end → resume the watch from the last resourceVersion seen
 *   (objects and bookmarks), with capped exponential backoff when it keeps failing.
 * - Watchdog: a watch that produced nothing (not even a bookmark; the API server sends one
 *   about every minute for cached resources) for `watchIdleTimeoutMs` is torn down and resumed.
 * - `isHealthy()` is false once nothing was heard from the API server for `staleAfterMs`.
 *
 * Objects handed out (get/list/handlers) are the cached instances themselves and are
 * deep-frozen (unless `freeze: false`): handlers and readers must NEVER mutate them;
 * copy first (`structuredClone`) when you need a modified version.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, pino } from 'pino';
import { isGone } from '../k8s/errors.ts';
import {
  KubeApiError,
  type KubeConnection,
  type KubeStatus,
  RestClient,
  readBody,
  statusError,
} from '../k8s/rest.ts';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
    }>;
    deletionTimestamp?: Date | string;
    annotations?: Record<string, string>;
    finalizers?: string[];
    creationTimestamp?: Date | string;
    // No `[k: string]: unknown` index signature here (the brief had one): classes such as
    // client-node's V1ObjectMeta have no implicit index signature, so `Informer<V1Pod>` would
    // not satisfy the constraint.
  };
}

export interface InformerOptions {
  kubeConfig: KubeConnection;
  /** Collection path, e.g. '/apis/closedpaw.dev/v1alpha1/agenttasks' or '/api/v1/namespaces/x/pods'. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Periodic resync: re-deliver every cached object as 'update' (obj, obj). Off by default. */
  resyncMs?: number;
  /** isHealthy() turns false when nothing was heard from the API server for this long (300_000). */
  staleAfterMs?: number;
  /** Watchdog: tear down and resume a watch silent for this long (min(120_000, staleAfterMs / 2)). */
  watchIdleTimeoutMs?: number;
  /** LIST page size (500). */
  pageSize?: number;
  /** Backoff between failed watch/list attempts: starts here (250) … */
  minBackoffMs?: number;
  /** … and doubles up to this cap (30_000). */
  maxBackoffMs?: number;
  /** Timeout of each LIST page request (60_000). */
  requestTimeoutMs?: number;
  /** Deep-freeze cached objects (true). */
  freeze?: boolean;
  /** Keep metadata.managedFields (false): controllers rarely need them and they are most of an object's size. */
  keepManagedFields?: boolean;
  /**
   * Trims each object before it is cached (controller-runtime's TransformFunc): keep only what the
   * controllers read, so the cache of a busy cluster stays small. Runs before freezing.
   */
  transform?: (obj: KubeObject) => KubeObject;
  logger?: Logger;
}

export type InformerEvent = 'add' | 'update' | 'delete';
type Handler<T> = (obj: T, old?: T) => void;

export const objectKey = (obj: KubeObject): string => {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
};

/**
 * A copy without metadata.managedFields. Copied rather than `delete`d: deleting a property turns an object
 * into a dictionary, which costs several times the memory of a fast object in a cache of thousands.
 */
function withoutManagedFields(obj: KubeObject): KubeObject {
  if (!obj.metadata || !('managedFields' in obj.metadata)) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata as { managedFields?: unknown };
  return { ...obj, metadata } as KubeObject;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

interface ListResponse {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

interface WatchEvent {
  type?: string;
  object?: KubeObject & KubeStatus;
}

class WatchIdleError extends Error {}

export class Informer<T extends KubeObject> {
  readonly name: string;
  private readonly opts: InformerOptions;
  private readonly rest: RestClient;
  private readonly logger: Logger;
  private readonly staleAfterMs: number;
  private readonly watchIdleTimeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly freeze: boolean;
  private readonly keepManagedFields: boolean;
  private readonly transform: ((obj: KubeObject) => KubeObject) | undefined;
  private readonly handlers: Record<InformerEvent, Handler<T>[]> = { add: [], update: [], delete: [] };
  private cache = new Map<string, T>();
  private resourceVersion = '';
  private apiVersion: string | undefined;
  private kind: string | undefined;
  private started = false;
  private stopped = false;
  private synced = false;
  private readonly stopController = new AbortController();
  private watchController: AbortController | undefined;
  /** Last time anything arrived from the API server (health). */
  private lastActivity = performance.now();
  /** Start of the current watch attempt (the watchdog's reference when nothing arrived yet). */
  private watchStartedAt = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  private syncPromise: Promise<void> | undefined;
  private resolveSync: (() => void) | undefined;
  private rejectSync: ((err: Error) => void) | undefined;
  /** Counters for diagnostics and tests. */
  readonly stats = { lists: 0, watches: 0, gone: 0, watchErrors: 0, idleRestarts: 0 };

  constructor(name: string, opts: InformerOptions) {
    this.name = name;
    this.opts = opts;
    this.rest = new RestClient(opts.kubeConfig);
    this.logger = (opts.logger ?? pino({ enabled: false })).child({ informer: name });
    this.staleAfterMs = opts.staleAfterMs ?? 300_000;
    this.watchIdleTimeoutMs = opts.watchIdleTimeoutMs ?? Math.min(120_000, this.staleAfterMs / 2);
    this.minBackoffMs = opts.minBackoffMs ?? 250;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.freeze = opts.freeze ?? true;
    this.keepManagedFields = opts.keepManagedFields ?? false;
    this.transform = opts.transform;
  }

  /** Registers a handler. For 'update' the second argument is the previous object. Handlers must not mutate. */
  on(event: InformerEvent, handler: (obj: T, old?: T) => void): void {
    this.handlers[event].push(handler);
  }

  /** Starts list+watch; resolves once the first LIST is in the cache. Rejects if stopped before that. */
  start(): Promise<void> {
    if (this.syncPromise) return this.syncPromise;
    this.started = true;
    this.syncPromise = new Promise<void>((resolve, reject) => {
      this.resolveSync = resolve;
      this.rejectSync = reject;
    });
    this.syncPromise.catch(() => undefined);
    this.lastActivity = performance.now();
    const watchdogEvery = Math.max(50, Math.min(5_000, this.watchIdleTimeoutMs / 4));
    this.timers.push(setInterval(() => this.watchdog(), watchdogEvery));
    if (this.opts.resyncMs && this.opts.resyncMs > 0) {
      this.timers.push(setInterval(() => this.resync(), this.opts.resyncMs));
    }
    for (const t of this.timers) t.unref();
    void this.run();
    return this.syncPromise;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopController.abort(new Error(`informer ${this.name} stopped`));
    if (!this.synced) this.rejectSync?.(new Error(`informer ${this.name} stopped before its cache synced`));
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  keys(): string[] {
    return [...this.cache.keys()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  isHealthy(): boolean {
    if (this.stopped) return false;
    if (!this.started) return true;
    return performance.now() - this.lastActivity <= this.staleAfterMs;
  }

  /** The resourceVersion the next watch would resume from. */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  private async run(): Promise<void> {
    let backoff = this.minBackoffMs;
    let needList = true;
    let lastWasGone = false;
    while (!this.stopped) {
      let failed = false;
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const began = performance.now();
        const events = await this.watchOnce();
        // A normal end (server-side timeoutSeconds): resume at once, unless it ended empty-handed
        // right away, which would otherwise spin.
        if (events > 0 || performance.now() - began > 5_000) backoff = this.minBackoffMs;
        else failed = true;
        lastWasGone = false;
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          this.stats.gone++;
          this.logger.info({ err: (err as Error).message }, 'resourceVersion expired (410), re-listing');
          needList = true;
          failed = lastWasGone; // a 410 right after a re-list: back off instead of spinning
          lastWasGone = true;
        } else if (err instanceof WatchIdleError) {
          // Not a server failure as such: resume at once; a hung server paces this by the idle timeout.
          this.stats.idleRestarts++;
          lastWasGone = false;
          this.logger.warn({ idleMs: this.watchIdleTimeoutMs }, 'watch silent for too long, restarting it');
        } else {
          failed = true;
          lastWasGone = false;
          this.stats.watchErrors++;
          this.logger.warn(
            { err: (err as Error).message, backoffMs: backoff },
            'list/watch failed, retrying',
          );
        }
      }
      if (failed && !this.stopped) {
        const jittered = backoff * (1 + Math.random() * 0.2);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
        await sleep(jittered, undefined, { signal: this.stopController.signal }).catch(() => undefined);
      }
    }
  }

  private markActivity(): void {
    this.lastActivity = performance.now();
  }

  private watchdog(): void {
    const watch = this.watchController;
    const since = Math.max(this.lastActivity, this.watchStartedAt);
    if (watch && performance.now() - since > this.watchIdleTimeoutMs) {
      watch.abort(new WatchIdleError(`watch idle for more than ${this.watchIdleTimeoutMs} ms`));
    }
  }

  private resync(): void {
    if (!this.synced || this.stopped) return;
    for (const obj of [...this.cache.values()]) this.emit('update', obj, obj);
  }

  private prepare(input: KubeObject): T {
    const transformed = this.transform ? this.transform(input) : input;
    const raw = this.keepManagedFields ? transformed : withoutManagedFields(transformed);
    if (raw.apiVersion === undefined && this.apiVersion !== undefined) raw.apiVersion = this.apiVersion;
    if (raw.kind === undefined && this.kind !== undefined) raw.kind = this.kind;
    return (this.freeze ? deepFreeze(raw) : raw) as T;
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(obj, old);
      } catch (err) {
        this.logger.error({ err, event, key: objectKey(obj) }, 'informer event handler threw');
      }
    }
  }

  private selectors(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private async listAll(): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    let items: KubeObject[] = [];
    let cont: string | undefined;
    let limit: number | undefined = this.opts.pageSize ?? 500;
    let resourceVersion = '';
    for (;;) {
      let page: ListResponse;
      try {
        page = await this.rest.request<ListResponse>(this.opts.path, {
          query: { ...this.selectors(), limit, continue: cont },
          signal: this.stopController.signal,
          timeoutMs: this.opts.requestTimeoutMs ?? 60_000,
        });
      } catch (err) {
        if (isGone(err) && cont !== undefined) {
          // The continue token expired (compaction): start over with one unpaginated LIST.
          this.logger.info('list continue token expired, re-listing without pagination');
          items = [];
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      this.markActivity();
      if (page.apiVersion) this.apiVersion = page.apiVersion;
      if (page.kind) this.kind = page.kind.replace(/List$/, '');
      for (const item of page.items ?? []) items.push(item);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      cont = page.metadata?.continue || undefined;
      if (cont === undefined) return { items, resourceVersion };
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.listAll();
    if (this.stopped) return;
    this.stats.lists++;
    const next = new Map<string, T>();
    const events: Array<[InformerEvent, T, T | undefined]> = [];
    for (const raw of items) {
      const key = objectKey(raw);
      const old = this.cache.get(key);
      if (old && old.metadata?.resourceVersion === raw.metadata?.resourceVersion) {
        next.set(key, old);
        continue;
      }
      const obj = this.prepare(raw);
      next.set(key, obj);
      events.push(old ? ['update', obj, old] : ['add', obj, undefined]);
    }
    for (const [key, old] of this.cache) if (!next.has(key)) events.push(['delete', old, undefined]);
    this.cache = next;
    this.resourceVersion = resourceVersion;
    const first = !this.synced;
    this.synced = true;
    this.logger.debug({ objects: next.size, resourceVersion, changes: events.length }, 'listed');
    for (const [event, obj, old] of events) this.emit(event, obj, old);
    if (first) this.resolveSync?.();
  }

  /** One watch connection; resolves with the number of events when the server ends it normally. */
  private async watchOnce(): Promise<number> {
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, this.stopController.signal]);
    this.watchController = controller;
    this.watchStartedAt = performance.now();
    this.stats.watches++;
    try {
      const res = await this.rest
        .open(this.opts.path, {
          query: {
            ...this.selectors(),
            watch: 'true',
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: 'true',
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          },
          signal,
        })
        .catch((err: unknown) => {
          throw signal.aborted ? (signal.reason as Error) : err;
        });
      if (res.statusCode !== 200) throw statusError(res.statusCode ?? 0, await readBody(res));
      this.markActivity();
      return await new Promise<number>((resolve, reject) => {
        let events = 0;
        let buf = '';
        let settled = false;
        const finish = (err?: unknown) => {
          if (settled) return;
          settled = true;
          if (err === undefined) resolve(events);
          else reject(err);
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (settled) return;
          this.markActivity();
          // Lines are cut out by index and the rest kept once per chunk: re-slicing the buffer after every
          // line would copy it once per event (a chunk often holds many).
          let start = 0;
          let nl = chunk.indexOf('\n');
          if (nl >= 0 && buf.length > 0) {
            chunk = buf + chunk;
            nl += buf.length;
            buf = '';
          }
          for (; nl >= 0; start = nl + 1, nl = chunk.indexOf('\n', start)) {
            const line = chunk.slice(start, nl);
            if (line.trim() === '') continue;
            try {
              this.handleEvent(JSON.parse(line) as WatchEvent);
              events++;
            } catch (err) {
              res.destroy();
              finish(err);
              return;
            }
          }
          buf += start === 0 ? chunk : chunk.slice(start);
        });
        res.once('end', () => finish());
        res.once('error', (err) => finish(signal.aborted ? signal.reason : err));
        res.once('close', () =>
          finish(signal.aborted ? signal.reason : new Error('watch connection closed')),
        );
      });
    } finally {
      if (this.watchController === controller) this.watchController = undefined;
      controller.abort();
    }
  }

  private handleEvent(ev: WatchEvent): void {
    const raw = ev.object;
    if (!raw || typeof raw !== 'object') throw new Error(`malformed watch event: ${JSON.stringify(ev)}`);
    switch (ev.type) {
      case 'BOOKMARK':
        if (raw.metadata?.resourceVersion) this.resourceVersion = raw.metadata.resourceVersion;
        return;
      case 'ERROR':
        throw new KubeApiError(raw.code ?? 500, raw.message ?? 'watch error', raw.reason ?? '', raw);
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.prepare(raw);
        const key = objectKey(obj);
        const old = this.cache.get(key);
        this.cache.set(key, obj);
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (old) this.emit('update', obj, old);
        else this.emit('add', obj);
        return;
      }
      case 'DELETED': {
        const obj = this.prepare(raw);
        const key = objectKey(obj);
        this.cache.delete(key);
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        this.emit('delete', obj);
        return;
      }
      default:
        this.logger.warn({ type: ev.type }, 'ignoring unknown watch event type');
    }
  }
}

/**
 * A controller: informer events → keys in a rate-limited work queue → N workers
 * calling a level-based reconciler, with controller-runtime's outcome handling:
 *
 * | reconcile outcome              | queue                              | result label    |
 * |--------------------------------|------------------------------------|-----------------|
 * | `{}` / `undefined`             | forget(key)                        | success         |
 * | `{ requeueAfterMs: n > 0 }`    | forget(key); addAfter(key, n)      | requeue_after   |
 * | throws TerminalError           | forget(key), logged, not retried   | error           |
 * | throws anything else           | addRateLimited(key)                | error           |
 *
 * An error also reaches `reportError` (unless it is a ReportedError: already shown on the object), and
 * after `maxAttempts` failures in a row `giveUp` ends the key's retries (kopf's permanent error).
 * The queue guarantees one key is never reconciled by two workers at once. Every reconcile gets an
 * AbortSignal that `stop()` fires, so shutdown cancels in-flight API calls.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Informer, KubeObject } from './informer.ts';
import { type ControllerMetrics, initControllerMetrics, type ReconcileResultLabel } from './metrics.ts';
import { WorkQueue } from './queue.ts';

export interface ReconcileResult {
  /** Reconcile again after this delay (the success resets the key's backoff first). */
  requeueAfterMs?: number;
}

/** A failure the reconciler already made visible on the object (condition + Event): retried, not re-reported. */
export class ReportedError extends Error {
  override name = 'ReportedError';
}

/** A permanent failure: logged and counted as an error, but never retried (until the key is enqueued again). */
export class TerminalError extends Error {
  readonly reason: string;

  constructor(message: string, reason: string) {
    super(message);
    this.name = 'TerminalError';
    this.reason = reason;
  }
}

export interface ReconcileContext {
  reconcileID: string;
  logger: Logger;
  /** Fires when the controller stops: pass it to every API call. */
  signal: AbortSignal;
  /** 1 for a first try, n for the n-th try after n-1 failures in a row. */
  attempt: number;
}

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | undefined>;

export interface ReconcilerHooks {
  /** Called with each error (not ReportedError), e.g. to post a Warning Event on the object. */
  reportError?(key: string, error: unknown, attempt: number, ctx: ReconcileContext): Promise<void>;
  /** Called once `maxAttempts` reconciles in a row failed; the key is then not retried. */
  giveUp?(key: string, error: unknown, ctx: ReconcileContext): Promise<void>;
  /** Whether this error may end the retries (default: yes); e.g. not while the API server is unreachable. */
  mayGiveUp?(error: unknown): boolean;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  hooks?: ReconcilerHooks;
  /** Failures in a row after which `giveUp` is called (default 15: ~3 min of backoff). */
  maxAttempts?: number;
  /** Concurrent reconciles (4). */
  workers?: number;
  /** Defaults to a new WorkQueue named after the controller, with `metrics.queue` when present. */
  queue?: WorkQueue;
  metrics: ControllerMetrics;
  logger: Logger;
}

function splitKey(key: string): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcile: Reconciler;
  private readonly hooks: ReconcilerHooks;
  private readonly maxAttempts: number;
  private abort = new AbortController();
  private readonly workers: number;
  private readonly metrics: ControllerMetrics;
  private readonly logger: Logger;
  private running: Promise<void>[] = [];
  private started = false;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.hooks = opts.hooks ?? {};
    this.maxAttempts = opts.maxAttempts ?? 15;
    this.workers = Math.max(1, opts.workers ?? 4);
    this.metrics = opts.metrics;
    this.logger = opts.logger.child({ controller: opts.name });
    this.queue = opts.queue ?? new WorkQueue(opts.name, { metrics: opts.metrics.queue });
    initControllerMetrics(this.metrics, this.name, this.workers);
  }

  /**
   * Enqueues the keys `toKeys` maps each added, updated or deleted object to
   * (e.g. the object's own key via `objectKey`, or its owner's key).
   */
  watch<T extends KubeObject>(informer: Informer<T>, toKeys: (obj: T) => string[]): void {
    const handler = (obj: T) => {
      let keys: string[];
      try {
        keys = toKeys(obj);
      } catch (err) {
        this.logger.error({ err, informer: informer.name }, 'toKeys threw; event dropped');
        return;
      }
      for (const key of keys) this.queue.add(key);
    };
    informer.on('add', handler);
    informer.on('update', handler);
    informer.on('delete', handler);
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Starts the workers; resolves at once (they run until stop()). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.logger.info({ workers: this.workers }, 'starting workers');
    for (let i = 0; i < this.workers; i++) this.running.push(this.worker());
  }

  /** Shuts the queue down (queued keys are dropped), cancels in-flight reconciles and waits for them. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    this.abort.abort(new Error(`controller ${this.name} stopped`));
    await Promise.all(this.running);
    this.running = [];
    this.logger.info('workers stopped');
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.processKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async processKey(key: string): Promise<void> {
    const controller = this.name;
    const reconcileID = randomUUID();
    const logger = this.logger.child({ ...splitKey(key), reconcileID });
    const ctx: ReconcileContext = {
      reconcileID,
      logger,
      signal: this.abort.signal,
      attempt: this.queue.numRequeues(key) + 1,
    };
    const m = this.metrics;
    m.activeWorkers.inc({ controller });
    const start = performance.now();
    let label: ReconcileResultLabel;
    try {
      const result = await this.reconcile(key, ctx);
      if (result?.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
        label = 'requeue_after';
      } else {
        this.queue.forget(key);
        label = 'success';
      }
    } catch (err) {
      label = 'error';
      m.reconcileErrors.inc({ controller });
      if (this.abort.signal.aborted) {
        logger.info('reconcile cancelled: controller stopping');
      } else if (err instanceof TerminalError) {
        m.terminalReconcileErrors.inc({ controller });
        this.queue.forget(key);
        logger.error({ err, reason: err.reason }, 'reconciler failed with a terminal error; not retrying');
      } else {
        await this.failed(key, err, ctx);
      }
    } finally {
      m.activeWorkers.dec({ controller });
      m.reconcileTime.observe({ controller }, (performance.now() - start) / 1000);
    }
    m.reconcileTotal.inc({ controller, result: label });
  }

  /** Retries with backoff, reports the error, and gives up after maxAttempts failures in a row. */
  private async failed(key: string, err: unknown, ctx: ReconcileContext): Promise<void> {
    const { logger, attempt } = ctx;
    if (attempt >= this.maxAttempts && this.hooks.giveUp && (this.hooks.mayGiveUp?.(err) ?? true)) {
      this.metrics.terminalReconcileErrors.inc({ controller: this.name });
      this.queue.forget(key);
      logger.error({ err, attempt }, 'reconciler failed too many times in a row; giving up');
      await this.hooks.giveUp(key, err, ctx).catch((e: unknown) => logger.error({ err: e }, 'giveUp failed'));
      return;
    }
    this.queue.addRateLimited(key);
    logger.error({ err, attempt }, 'reconciler error; retrying with backoff');
    if (!(err instanceof ReportedError) && this.hooks.reportError) {
      await this.hooks
        .reportError(key, err, attempt, ctx)
        .catch((e: unknown) => logger.warn({ err: e }, 'reportError failed'));
    }
  }
}

/**
 * A controller: informer events → keys in a rate-limited work queue → N workers
 * calling a level-based reconciler, with controller-runtime's outcome handling:
 *
 * | reconcile outcome              | queue                              | result label    |
 * |--------------------------------|------------------------------------|-----------------|
 * | `{}` / `undefined`             | forget(key)                        | success         |
 * | `{ requeueAfterMs: n > 0 }`    | forget(key); addAfter(key, n)      | requeue_after   |
 * | `{ requeue: true }`            | addRateLimited(key)                | requeue         |
 * | throws TerminalError           | forget(key), logged, not retried   | error           |
 * | throws anything else           | addRateLimited(key)                | error           |
 *
 * The queue guarantees one key is never reconciled by two workers at once.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Informer, KubeObject } from './informer.ts';
import { type ControllerMetrics, initControllerMetrics, type ReconcileResultLabel } from './metrics.ts';
import { WorkQueue } from './queue.ts';

export interface ReconcileResult {
  /** Reconcile again after this delay (the success resets the key's backoff first). */
  requeueAfterMs?: number;
  /** Reconcile again with rate-limited backoff (without counting as an error). */
  requeue?: boolean;
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

export type Reconciler = (
  key: string,
  ctx: { reconcileID: string; logger: Logger },
) => Promise<ReconcileResult | undefined>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
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
  private readonly workers: number;
  private readonly metrics: ControllerMetrics;
  private readonly logger: Logger;
  private running: Promise<void>[] = [];
  private started = false;

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
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
    this.logger.info({ workers: this.workers }, 'starting workers');
    for (let i = 0; i < this.workers; i++) this.running.push(this.worker());
  }

  /** Shuts the queue down (queued keys are dropped) and waits for in-flight reconciles. */
  async stop(): Promise<void> {
    this.queue.shutDown();
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
    const m = this.metrics;
    m.activeWorkers.inc({ controller });
    const start = performance.now();
    let label: ReconcileResultLabel;
    try {
      const result = await this.reconcile(key, { reconcileID, logger });
      if (result?.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
        label = 'requeue_after';
      } else if (result?.requeue) {
        this.queue.addRateLimited(key);
        label = 'requeue';
      } else {
        this.queue.forget(key);
        label = 'success';
      }
    } catch (err) {
      label = 'error';
      m.reconcileErrors.inc({ controller });
      if (err instanceof TerminalError) {
        m.terminalReconcileErrors.inc({ controller });
        this.queue.forget(key);
        logger.error({ err, reason: err.reason }, 'reconciler failed with a terminal error; not retrying');
      } else {
        this.queue.addRateLimited(key);
        logger.error(
          { err, retries: this.queue.numRequeues(key) },
          'reconciler error; retrying with backoff',
        );
      }
    } finally {
      m.activeWorkers.dec({ controller });
      m.reconcileTime.observe({ controller }, (performance.now() - start) / 1000);
    }
    m.reconcileTotal.inc({ controller, result: label });
  }
}

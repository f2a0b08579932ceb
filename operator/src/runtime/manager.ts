/**
 * Holds the informers and controllers of one process and starts/stops them in order:
 * informers first (waiting for every cache to sync), then controllers; on stop,
 * controllers first (waiting for in-flight reconciles), then informers.
 *
 * Informers may run without leadership (warm caches) while controllers only run on
 * the leader: call `startInformers()` at boot and `startControllers()` from
 * `onStartedLeading`, or `start()` for both. No HTTP here: serve `healthz()` /
 * `readyz()` yourself.
 */
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Controller } from './controller.ts';
import type { Informer, KubeObject } from './informer.ts';

export interface Check {
  ok: boolean;
  /** One line for humans, e.g. "informer pods stale, informer approvals not synced". */
  detail: string;
  /** Per informer name: passing or not. */
  informers: Record<string, boolean>;
}

export class Manager {
  private readonly informers: Informer<KubeObject>[] = [];
  private readonly controllers: Controller[] = [];
  private readonly logger: Logger;
  private informersStarted = false;
  private controllersStarted = false;

  constructor(opts: { logger?: Logger } = {}) {
    this.logger = (opts.logger ?? pino({ enabled: false })).child({ component: 'manager' });
  }

  addInformer<T extends KubeObject>(informer: Informer<T>): void {
    this.informers.push(informer as unknown as Informer<KubeObject>);
    if (this.informersStarted) void informer.start();
  }

  addController(controller: Controller): void {
    this.controllers.push(controller);
    if (this.controllersStarted) void controller.start();
  }

  /** Starts every informer and resolves when all caches synced. */
  async startInformers(): Promise<void> {
    this.informersStarted = true;
    const started = performance.now();
    await Promise.all(this.informers.map((i) => i.start()));
    this.logger.info(
      { informers: this.informers.length, ms: Math.round(performance.now() - started) },
      'caches synced',
    );
  }

  async startControllers(): Promise<void> {
    this.controllersStarted = true;
    await Promise.all(this.controllers.map((c) => c.start()));
  }

  async start(): Promise<void> {
    await this.startInformers();
    await this.startControllers();
  }

  /** Stops the controllers (waiting for in-flight reconciles), then the informers. */
  async stopControllers(): Promise<void> {
    this.controllersStarted = false;
    await Promise.all(this.controllers.map((c) => c.stop()));
  }

  async stop(): Promise<void> {
    await this.stopControllers();
    this.informersStarted = false;
    for (const informer of this.informers) informer.stop();
  }

  /** Liveness: every informer has heard from the API server within its staleAfterMs. */
  healthz(): Check {
    return this.check((i) => (i.isHealthy() ? undefined : 'stale'), 'informers healthy');
  }

  /** Readiness: every informer's cache has synced. */
  readyz(): Check {
    return this.check((i) => (i.hasSynced() ? undefined : 'not synced'), 'caches synced');
  }

  private check(problem: (i: Informer<KubeObject>) => string | undefined, okText: string): Check {
    const informers: Record<string, boolean> = {};
    const bad: string[] = [];
    for (const i of this.informers) {
      const p = problem(i);
      informers[i.name] = p === undefined;
      if (p !== undefined) bad.push(`informer ${i.name} ${p}`);
    }
    const ok = bad.length === 0;
    return { ok, detail: ok ? `${okText} (${this.informers.length})` : bad.join(', '), informers };
  }
}

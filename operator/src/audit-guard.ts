/**
 * Keeps the operator fail-closed on its audit log. The guard owns the sealed
 * store's sink: it opens it (only once this process leads), reports whether
 * appends succeed, and when a write fails it closes the broken sink and
 * reopens the store with backoff. While it is unhealthy the reconciler
 * creates no pods and decides no approvals, the gateway refuses model calls,
 * and /readyz says why. `flush()` before an action makes everything appended
 * so far durable, so no pod exists whose admission was not recorded. It has
 * the AuditSink shape, so whatever writes audit events can write through it.
 */
import type { AuditEventInput, AuditSink } from './audit/index.ts';
import type { Logger } from './logger.ts';

export type AuditHealth = { ok: true } | { ok: false; message: string };

export interface AuditGuardOptions {
  /** Opens the store (a fresh sink each time: the previous one is closed first). */
  open: () => Promise<AuditSink & { latestCheckpoint?(): { checkpoint: { seq: number } } | undefined }>;
  logger: Logger;
  onFailure?: () => void;
  onCheckpoint?: (seq: number) => void;
  /** First and longest wait between reopen attempts. */
  retryMs?: { min: number; max: number };
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class AuditGuard implements AuditSink {
  private sink: Awaited<ReturnType<AuditGuardOptions['open']>> | undefined;
  private problem: string | undefined = 'the audit log is not open yet';
  private reopening: Promise<void> | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly opts: AuditGuardOptions;

  constructor(opts: AuditGuardOptions) {
    this.opts = opts;
  }

  /** Opens the store; on failure keeps retrying in the background and stays unhealthy meanwhile. */
  async start(): Promise<void> {
    this.timer = setInterval(() => this.publishCheckpoint(), 5000);
    this.timer.unref();
    await this.reopen();
  }

  health(): AuditHealth {
    return this.problem === undefined ? { ok: true } : { ok: false, message: this.unavailable() };
  }

  private unavailable(): string {
    return `audit log unavailable: ${this.problem ?? 'closed'}`;
  }

  /** Enqueues an event; throws (and turns unhealthy) when the store cannot take it. */
  append(event: AuditEventInput): void {
    if (!this.sink || this.problem !== undefined) throw new Error(this.unavailable());
    try {
      this.sink.append(event);
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  /** Resolves once everything appended so far is durable; rejects (and turns unhealthy) if it cannot be. */
  async flush(): Promise<void> {
    const sink = this.sink;
    if (!sink || this.problem !== undefined) throw new Error(this.unavailable());
    try {
      await sink.flush();
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.reopening?.catch(() => undefined);
    const sink = this.sink;
    this.sink = undefined;
    await sink?.close();
  }

  private publishCheckpoint(): void {
    const latest = this.sink?.latestCheckpoint?.();
    if (latest) this.opts.onCheckpoint?.(latest.checkpoint.seq);
  }

  private fail(error: unknown): void {
    if (this.problem !== undefined) return;
    this.problem = errorText(error);
    this.opts.logger.error({ err: this.problem }, 'audit log failed: no pods are created until it records again');
    this.opts.onFailure?.();
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined;
    });
  }

  private async reopen(): Promise<void> {
    const { min, max } = this.opts.retryMs ?? { min: 500, max: 30_000 };
    let wait = min;
    while (!this.closed) {
      const broken = this.sink;
      this.sink = undefined;
      await broken?.close().catch(() => undefined);
      try {
        const sink = await this.opts.open();
        await sink.flush();
        this.sink = sink;
        if (this.problem !== undefined) this.opts.logger.info('audit log open: recording again');
        this.problem = undefined;
        return;
      } catch (error) {
        this.problem = errorText(error);
        this.opts.logger.error({ err: this.problem, retryInMs: wait }, 'cannot open the audit log; retrying');
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        wait = Math.min(max, wait * 2);
      }
    }
  }
}

/**
 * Keeps the operator fail-closed on its audit log. The guard owns the sealed
 * store's sink: it opens it (only once this process leads), reports whether
 * appends succeed, and when a write fails it reopens the store with backoff,
 * carrying the failed sink's unwritten events over. While it is unhealthy the
 * reconciler creates no pods and decides no approvals, the gateway refuses
 * model calls, and /readyz says why. `flush()` before an action makes what
 * was appended so far durable, so no pod exists whose admission was not
 * recorded. It has the AuditSink shape: whatever records events writes
 * through it.
 */
import type { AuditEventInput, AuditSink, FileAuditSink } from './audit/index.ts';
import { AuditSinkError } from './audit/index.ts';
import type { Logger } from './logger.ts';

export type AuditHealth = { ok: true } | { ok: false; message: string };

export interface AuditGuardOptions {
  /**
   * Opens the store. `resumeFrom` is the failed sink whose unwritten events the new one takes over;
   * `onFailure` must be passed to the sink, so a failed write turns the guard unhealthy at once.
   */
  open: (extra: {
    resumeFrom?: FileAuditSink;
    onFailure: (error: AuditSinkError) => void;
  }) => Promise<FileAuditSink>;
  logger: Logger;
  onCheckpoint?: (seq: number) => void;
  /** First and longest wait between reopen attempts. */
  retryMs?: { min: number; max: number };
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export class AuditGuard implements AuditSink {
  private sink: FileAuditSink | undefined;
  /** The first sink that failed: its unwritten events go to the next sink that opens. */
  private failed: FileAuditSink | undefined;
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

  /** Enqueues an event; throws when the store cannot take it (and turns unhealthy if the store failed). */
  append(event: AuditEventInput): void {
    const sink = this.usable();
    try {
      sink.append(event);
    } catch (error) {
      if (error instanceof AuditSinkError && error.code === 'failed') this.fail(sink, error);
      throw error;
    }
  }

  /** Resolves once everything appended so far is durable; rejects (and turns unhealthy) if it cannot be. */
  async flush(): Promise<void> {
    const sink = this.usable();
    try {
      await sink.flush();
    } catch (error) {
      this.fail(sink, error);
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

  private usable(): FileAuditSink {
    if (!this.sink || this.problem !== undefined) throw new Error(this.unavailable());
    return this.sink;
  }

  private unavailable(): string {
    return `audit log unavailable: ${this.problem ?? 'closed'}`;
  }

  private publishCheckpoint(): void {
    const latest = this.sink?.latestCheckpoint();
    if (latest) this.opts.onCheckpoint?.(latest.checkpoint.seq);
  }

  private fail(sink: FileAuditSink, error: unknown): void {
    if (sink !== this.sink || this.problem !== undefined) return;
    this.problem = errorText(error);
    this.failed ??= sink;
    this.sink = undefined;
    this.opts.logger.error(
      { err: this.problem },
      'audit log failed: no pods are created until it records again',
    );
    this.reopening ??= this.reopen().finally(() => {
      this.reopening = undefined;
    });
  }

  private async reopen(): Promise<void> {
    const { min, max } = this.opts.retryMs ?? { min: 500, max: 30_000 };
    let wait = min;
    while (!this.closed) {
      await this.failed?.close().catch(() => undefined); // waits for the lock to be released
      let opened: FileAuditSink | undefined;
      try {
        opened = await this.opts.open({
          ...(this.failed ? { resumeFrom: this.failed } : {}),
          onFailure: (error) => this.fail(opened!, error),
        });
        await opened.flush();
        this.sink = opened;
        this.failed = undefined;
        if (this.problem !== undefined) this.opts.logger.info('audit log open: recording');
        this.problem = undefined;
        return;
      } catch (error) {
        await opened?.close().catch(() => undefined);
        this.problem = errorText(error);
        this.opts.logger.error({ err: this.problem, retryInMs: wait }, 'cannot open the audit log; retrying');
        await new Promise((resolve) => setTimeout(resolve, wait).unref());
        wait = Math.min(max, wait * 2);
      }
    }
  }
}

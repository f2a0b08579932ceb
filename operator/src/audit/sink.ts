// The AuditSink the operator and UI server call. `append` only validates and enqueues; a group-commit
// loop seals the queued events into one frame per batch, writes it with one write + fdatasync, and
// resolves `flush` promises.
//
// Durability promise: an event is *acknowledged* once a `flush()` called after its `append()` resolves.
// Acknowledged events survive a crash or power loss (assuming the disk honours fdatasync). Events appended
// but not yet acknowledged may be lost in a crash; a partially written batch is cut off on the next open.
//
// Fail closed: after a failed write the sink accepts nothing more, reports `failure()`, calls
// `onFailure`, and releases the log (file and lock) at once so the store can be reopened; pass the
// failed sink as `resumeFrom` to the reopen to carry its unwritten events over.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SignedCheckpoint } from './checkpoint.ts';
import { type AuditEvent, type AuditEventInput, parseAuditEvent } from './events.ts';
import type { Keyring } from './keys.ts';
import { LogWriter, type PendingRecord } from './log-writer.ts';
import { ENTRY_HEADER_LEN, frameLength, MAX_FRAME } from './record.ts';
import type { ChainState } from './scan.ts';

export interface AuditSink {
  /** Validates and enqueues an event; never waits for I/O. Throws AuditSinkError if it cannot accept it. */
  append(event: AuditEventInput): void;
  /** Resolves once every event appended before the call is durable (acknowledged); rejects if the store failed. */
  flush(): Promise<void>;
  /** Stops accepting events, flushes, writes a final checkpoint and closes the log. */
  close(): Promise<void>;
}

/** Structural subset of a pino logger. */
export interface AuditLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FileAuditSinkOptions {
  /** Append-only log file on a persistent volume. */
  logPath: string;
  keyring: Keyring;
  /** External directory where checkpoints are also published. */
  checkpointDir?: string;
  /** Checkpoint after this many new records (default 1000). */
  checkpointEvery?: number;
  /** ...or after this long with new records (default 10 s). */
  checkpointIntervalMs?: number;
  /** Most events sealed per group commit, i.e. per frame (default 1024; bounds how long sealing holds the event loop). */
  maxBatch?: number;
  /** Most queued, unwritten events before append throws (default 100 000). */
  maxQueue?: number;
  logger?: AuditLogger;
  /** Called once when a write fails and the sink stops accepting events (fail closed). */
  onFailure?: (err: AuditSinkError) => void;
  /**
   * A sink of the same log that failed: its events that did not reach the log are appended to the new
   * sink first (after any `audit.recovered`), once the reopened log shows which of them landed.
   */
  resumeFrom?: FileAuditSink;
}

export type AuditSinkErrorCode = 'invalid-event' | 'too-large' | 'overflow' | 'closed' | 'failed';

export class AuditSinkError extends Error {
  override name = 'AuditSinkError';
  readonly code: AuditSinkErrorCode;
  constructor(code: AuditSinkErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Largest JSON body of one event. */
export const MAX_EVENT_BYTES = 64 * 1024;
const silent: AuditLogger = { info() {}, warn() {}, error() {} };

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Opens (creating or repairing) the log under its writer lock and returns a sink writing to it. Throws
 * AuditOpenError (code `locked` if another process or sink holds it) when the log cannot be opened.
 */
export async function openAuditSink(opts: FileAuditSinkOptions): Promise<FileAuditSink> {
  const writer = await LogWriter.open(opts);
  const log = opts.logger ?? silent;
  const initial: PendingRecord[] = [];
  const { recovery, previousKid } = writer;
  if (recovery) {
    log.warn({ audit: { ...recovery, logPath: opts.logPath } }, 'audit log: cut off torn tail after crash');
    const { offset, truncatedBytes, reason } = recovery;
    initial.push(encode({ type: 'audit.recovered', offset, truncatedBytes, reason: reason.slice(0, 1024) }));
  }
  if (previousKid && previousKid !== opts.keyring.active.kid) {
    initial.push(encode({ type: 'audit.key_rotated', fromKid: previousKid, toKid: opts.keyring.active.kid }));
  }
  if (opts.resumeFrom) initial.push(...carryOver(opts.resumeFrom, writer, log));
  const sink = new FileAuditSink(writer, opts, initial);
  await sink.flush().catch(async (err: unknown) => {
    await sink.close().catch(() => {});
    throw err;
  });
  return sink;
}

/**
 * The failed sink's events that are not in the reopened log. One batch is one frame, so the frame being
 * written when the write failed is either in the log now (whole and valid) or was cut off as a torn tail.
 */
function carryOver(failed: FileAuditSink, writer: LogWriter, log: AuditLogger): PendingRecord[] {
  const u = failed.unwritten();
  if (!u) return [];
  const now = writer.opened;
  const landed = u.failedFrame && now.head.equals(u.failedFrame.hash);
  if (u.logId.equals(writer.logId) && (landed || now.head.equals(u.durable.head))) {
    const events = landed ? u.queued : [...u.inFlight, ...u.queued];
    if (events.length > 0)
      log.info({ events: events.length }, 'audit log: re-appending events of the failed sink');
    return events;
  }
  const lost = u.inFlight.length + u.queued.length;
  log.error(
    { lost, durableSeq: u.durable.seq, seq: now.seq },
    'audit log: the log changed since the sink failed; its unwritten events cannot be placed and are not re-appended',
  );
  return [];
}

/** Events a failed sink did not make durable, and where its chain stood. */
export interface UnwrittenEvents {
  logId: Buffer;
  /** End of the chain as the failed sink last knew it durable. */
  durable: ChainState;
  /** The frame whose write failed (it may have landed whole, in part, or not at all). */
  failedFrame?: { hash: Buffer };
  /** Events of that frame, then events still queued behind it. */
  inFlight: PendingRecord[];
  queued: PendingRecord[];
}

export class FileAuditSink implements AuditSink {
  readonly #writer: LogWriter;
  readonly #log: AuditLogger;
  readonly #every: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #timer: NodeJS.Timeout;
  readonly #onFailure?: (err: AuditSinkError) => void;
  #queue: PendingRecord[];
  #inFlight: PendingRecord[] = [];
  #waiters: Waiter[] = [];
  #appended: number;
  #durable = 0;
  #sinceCheckpoint = 0;
  #checkpointDue = false;
  #checkpointErrors = 0;
  #loop?: Promise<void>;
  #failed?: AuditSinkError;
  #released?: Promise<void>;
  #closing?: Promise<void>;

  /** Use openAuditSink. `initial` events are written before any appended ones. */
  constructor(writer: LogWriter, opts: FileAuditSinkOptions, initial: PendingRecord[] = []) {
    this.#writer = writer;
    this.#log = opts.logger ?? silent;
    this.#every = opts.checkpointEvery ?? 1000;
    this.#maxBatch = opts.maxBatch ?? 1024;
    this.#maxQueue = opts.maxQueue ?? 100_000;
    this.#onFailure = opts.onFailure;
    this.#queue = [...initial];
    this.#appended = initial.length;
    this.#timer = setInterval(() => this.#requestCheckpoint(), opts.checkpointIntervalMs ?? 10_000);
    this.#timer.unref();
    if (initial.length > 0) this.#kick();
  }

  append(event: AuditEventInput): void {
    if (this.#failed) throw this.#failed;
    if (this.#closing) throw new AuditSinkError('closed', 'audit sink is closed');
    if (this.#queue.length >= this.#maxQueue) {
      throw new AuditSinkError('overflow', `audit queue full (${this.#maxQueue} unwritten events)`);
    }
    this.#queue.push(encode(event));
    this.#appended++;
    this.#kick();
  }

  flush(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const target = this.#appended;
    if (this.#durable >= target) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ target, resolve, reject }));
  }

  /**
   * Stops accepting events, flushes, writes a final checkpoint, closes the log and releases its lock.
   * On a failed sink it only waits for the release and rejects with the failure.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Why the sink stopped accepting events (a failed write), or undefined while it is healthy. */
  failure(): AuditSinkError | undefined {
    return this.#failed;
  }

  /** After a failure: the events that did not become durable, for `resumeFrom` (otherwise undefined). */
  unwritten(): UnwrittenEvents | undefined {
    if (!this.#failed) return undefined;
    const fa = this.#writer.failedAppend;
    return {
      logId: this.#writer.logId,
      durable: fa?.before ?? this.#writer.state,
      ...(fa ? { failedFrame: { hash: fa.frameHash } } : {}),
      inFlight: [...this.#inFlight],
      queued: [...this.#queue],
    };
  }

  /** Newest checkpoint written or found by this sink: publish it in a metric or status. */
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.#writer.latestCheckpoint;
  }

  get stats(): { appended: number; durable: number; pending: number; seq: number; checkpointErrors: number } {
    const { seq } = this.#writer;
    return {
      appended: this.#appended,
      durable: this.#durable,
      pending: this.#queue.length + this.#inFlight.length,
      seq,
      checkpointErrors: this.#checkpointErrors,
    };
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.flush();
      await this.#loop;
      if (this.#failed) throw this.#failed;
      if (this.#writer.seq !== this.#writer.latestCheckpoint?.checkpoint.seq) await this.#writer.checkpoint();
    } finally {
      await (this.#released ?? this.#writer.close());
    }
  }

  #requestCheckpoint(): void {
    if (this.#writer.seq === this.#writer.latestCheckpoint?.checkpoint.seq) return;
    this.#checkpointDue = true;
    this.#kick();
  }

  #kick(): void {
    if (this.#loop || this.#failed) return;
    this.#loop = this.#drain()
      .catch((err: unknown) => this.#fail(err as Error))
      .finally(() => {
        this.#loop = undefined;
        if (this.#queue.length > 0 || this.#checkpointDue) this.#kick();
      });
  }

  async #drain(): Promise<void> {
    await nextTurn(); // let concurrent callers enqueue: they share this group commit
    while (!this.#failed && (this.#queue.length > 0 || this.#checkpointDue)) {
      if (this.#queue.length > 0) await this.#commit(this.#takeBatch());
      if (this.#checkpointDue && !this.#failed) await this.#checkpoint();
    }
  }

  /** The next batch: at most maxBatch events, and small enough for one frame whatever the key id. */
  #takeBatch(): PendingRecord[] {
    let n = 0;
    let payload = 0;
    for (const item of this.#queue) {
      payload += ENTRY_HEADER_LEN + item.body.length;
      if (n === this.#maxBatch || (n > 0 && frameLength(64, payload) > MAX_FRAME)) break;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: PendingRecord[]): Promise<void> {
    this.#inFlight = batch;
    try {
      await this.#writer.append(batch);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    this.#inFlight = [];
    this.#durable += batch.length;
    this.#sinceCheckpoint += batch.length;
    if (this.#sinceCheckpoint >= this.#every) this.#checkpointDue = true;
    while (this.#waiters[0] && this.#waiters[0].target <= this.#durable) this.#waiters.shift()?.resolve();
  }

  async #checkpoint(): Promise<void> {
    this.#checkpointDue = false;
    try {
      await this.#writer.checkpoint();
      this.#sinceCheckpoint = 0;
    } catch (err) {
      this.#checkpointErrors++;
      this.#log.error({ err }, 'audit log: writing checkpoint failed');
    }
  }

  #fail(cause: Error): void {
    if (this.#failed) return;
    this.#failed = new AuditSinkError('failed', `audit log write failed: ${cause.message}`, { cause });
    clearInterval(this.#timer);
    this.#log.error({ err: cause }, 'audit log: write failed; no further events accepted until reopened');
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
    this.#released = this.#writer.close().catch((err: unknown) => {
      this.#log.error({ err }, 'audit log: closing the failed log');
    });
    try {
      this.#onFailure?.(this.#failed);
    } catch (err) {
      this.#log.error({ err }, 'audit log: onFailure callback threw');
    }
  }
}

function encode(event: AuditEventInput): PendingRecord {
  let parsed: AuditEvent;
  try {
    parsed = parseAuditEvent(event);
  } catch (err) {
    throw new AuditSinkError('invalid-event', `invalid audit event: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const { time, ...rest } = parsed;
  const body = Buffer.from(JSON.stringify(rest));
  if (body.length > MAX_EVENT_BYTES)
    throw new AuditSinkError('too-large', `audit event is ${body.length} bytes`);
  return { time: time === undefined ? Date.now() : Date.parse(time), body };
}

/** In-memory sink for tests and for running without a store. Keeps validated events in order. */
export class MemoryAuditSink implements AuditSink {
  readonly events: AuditEvent[] = [];

  append(event: AuditEventInput): void {
    this.events.push(parseAuditEvent(event));
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

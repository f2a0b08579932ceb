// The AuditSink the operator and UI server call. `append` only validates and enqueues; a group-commit
// loop seals queued events, writes each batch with one write + fdatasync, and resolves `flush` promises.
//
// Durability promise: an event is *acknowledged* once a `flush()` called after its `append()` resolves.
// Acknowledged events survive a crash or power loss (assuming the disk honours fdatasync). Events appended
// but not yet acknowledged may be lost in a crash; a partially written batch is cut off on the next open.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { SignedCheckpoint } from './checkpoint.ts';
import { type AuditEvent, type AuditEventInput, parseAuditEvent } from './events.ts';
import type { Keyring } from './keys.ts';
import { LogWriter, type PendingRecord } from './log-writer.ts';
import { MAX_BATCH_BYTES } from './open-log.ts';
import { frameLength } from './record.ts';

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
  /** Most events sealed per group commit (default 256; bounds how long sealing holds the event loop). */
  maxBatch?: number;
  /** Most queued, unwritten events before append throws (default 100 000). */
  maxQueue?: number;
  logger?: AuditLogger;
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

/** Opens (creating or repairing) the log and returns a sink writing to it. */
export async function openAuditSink(opts: FileAuditSinkOptions): Promise<FileAuditSink> {
  const writer = await LogWriter.open(opts);
  const sink = new FileAuditSink(writer, opts);
  const log = opts.logger ?? silent;
  const { recovery, previousKid } = writer;
  if (recovery) {
    log.warn({ audit: { ...recovery, logPath: opts.logPath } }, 'audit log: cut off torn tail after crash');
    const { offset, truncatedBytes, reason } = recovery;
    sink.append({ type: 'audit.recovered', offset, truncatedBytes, reason: reason.slice(0, 1024) });
  }
  if (previousKid && previousKid !== opts.keyring.active.kid) {
    sink.append({ type: 'audit.key_rotated', fromKid: previousKid, toKid: opts.keyring.active.kid });
  }
  await sink.flush().catch(async (err: unknown) => {
    await sink.close().catch(() => {});
    throw err;
  });
  return sink;
}

export class FileAuditSink implements AuditSink {
  readonly #writer: LogWriter;
  readonly #log: AuditLogger;
  readonly #every: number;
  readonly #maxBatch: number;
  readonly #maxQueue: number;
  readonly #timer: NodeJS.Timeout;
  #queue: PendingRecord[] = [];
  #waiters: Waiter[] = [];
  #appended = 0;
  #durable = 0;
  #sinceCheckpoint = 0;
  #checkpointDue = false;
  #checkpointErrors = 0;
  #loop?: Promise<void>;
  #failed?: AuditSinkError;
  #closing?: Promise<void>;

  constructor(writer: LogWriter, opts: FileAuditSinkOptions) {
    this.#writer = writer;
    this.#log = opts.logger ?? silent;
    this.#every = opts.checkpointEvery ?? 1000;
    this.#maxBatch = opts.maxBatch ?? 256;
    this.#maxQueue = opts.maxQueue ?? 100_000;
    this.#timer = setInterval(() => this.#requestCheckpoint(), opts.checkpointIntervalMs ?? 10_000);
    this.#timer.unref();
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

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
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
      pending: this.#queue.length,
      seq,
      checkpointErrors: this.#checkpointErrors,
    };
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.flush();
      await this.#loop;
      if (this.#writer.seq !== this.#writer.latestCheckpoint?.checkpoint.seq) await this.#writer.checkpoint();
    } finally {
      await this.#writer.close();
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

  #takeBatch(): PendingRecord[] {
    const kidLen = 64; // worst case, so a batch never exceeds MAX_BATCH_BYTES
    let n = 0;
    let bytes = 0;
    for (const item of this.#queue) {
      bytes += frameLength(kidLen, item.body.length);
      if (n === this.#maxBatch || (n > 0 && bytes > MAX_BATCH_BYTES)) break;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: PendingRecord[]): Promise<void> {
    try {
      await this.#writer.append(batch);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
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
    this.#failed = new AuditSinkError('failed', `audit log write failed: ${cause.message}`, { cause });
    this.#log.error({ err: cause }, 'audit log: write failed; no further events accepted');
    for (const w of this.#waiters.splice(0)) w.reject(this.#failed);
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

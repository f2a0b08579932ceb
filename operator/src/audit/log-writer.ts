// Appends sealed, chained batches to the log (one frame, one write + fdatasync each) and publishes
// checkpoints. Holds the log's writer lock from open to close.
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir } from 'node:fs/promises';
import {
  type CheckpointLocations,
  externalCheckpointPath,
  localCheckpointPath,
  type SignedCheckpoint,
  signCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import type { Keyring } from './keys.ts';
import type { LogLock } from './lock.ts';
import { type OpenedLog, openLog, type Recovery, type StoreLocations } from './open-log.ts';
import { type Entry, hashFrame, lastSeq, NONCE_LEN, sealFrame } from './record.ts';
import type { ChainState } from './scan.ts';

/** One event ready to seal: its time (ms) and JSON body. */
export type PendingRecord = Entry;

/** What a failed append left undecided: the chain before it and the frame it tried to write. */
export interface FailedAppend {
  before: ChainState;
  frameHash: Buffer;
  count: number;
}

export class LogWriter {
  readonly logId: Buffer;
  readonly recovery?: Recovery;
  /** Key id of the newest record before this writer opened the log. */
  readonly previousKid?: string;
  /** Chain state right after opening (and repairing), before anything was appended. */
  readonly opened: ChainState;
  readonly #fh: FileHandle;
  readonly #lock: LogLock;
  readonly #keyring: Keyring;
  readonly #loc: CheckpointLocations;
  #state: ChainState;
  #latest?: SignedCheckpoint;
  #broken?: Error;
  #failedAppend?: FailedAppend;
  #closed?: Promise<void>;

  private constructor(loc: StoreLocations, opened: OpenedLog) {
    this.#loc = loc;
    this.#keyring = loc.keyring;
    this.#fh = opened.fh;
    this.#lock = opened.lock;
    this.opened = opened.state;
    this.logId = opened.logId;
    this.#state = opened.state;
    this.#latest = opened.latest;
    this.recovery = opened.recovery;
    this.previousKid = opened.lastKid;
  }

  static async open(loc: StoreLocations): Promise<LogWriter> {
    if (loc.checkpointDir) await mkdir(loc.checkpointDir, { recursive: true, mode: 0o755 });
    return new LogWriter(loc, await openLog(loc));
  }

  /** Last durable sequence number. */
  get seq(): number {
    return this.#state.seq;
  }

  get size(): number {
    return this.#state.offset;
  }

  /** The durable end of the chain. */
  get state(): ChainState {
    return this.#state;
  }

  get latestCheckpoint(): SignedCheckpoint | undefined {
    return this.#latest;
  }

  /** Set once an append failed: the chain before it and the frame that may or may not have landed. */
  get failedAppend(): FailedAppend | undefined {
    return this.#failedAppend;
  }

  /** Seals `items` under the active key as one frame, writes it in one go and fdatasyncs. Durable on resolve. */
  async append(items: readonly PendingRecord[]): Promise<void> {
    if (this.#broken) throw this.#broken;
    const key = this.#keyring.active;
    const before = this.#state;
    const frame = sealFrame({
      seq: before.seq + 1,
      time: Date.now(),
      prevHash: before.head,
      kid: key.kid,
      key: key.recordKey,
      nonce: randomBytes(NONCE_LEN),
      entries: items,
    });
    const frameHash = hashFrame(frame, 0, frame.length);
    try {
      await writeAll(this.#fh, frame, before.offset);
      await this.#fh.datasync();
    } catch (err) {
      // The file may now hold part (or all) of this frame; only a reopen, which repairs a torn tail, may go on.
      this.#broken = err as Error;
      this.#failedAppend = { before, frameHash, count: items.length };
      throw err;
    }
    this.#state = {
      seq: lastSeq({ seq: before.seq + 1, count: items.length }),
      head: frameHash,
      offset: before.offset + frame.length,
    };
  }

  /** Signs the current (durable) end of the log and writes it beside the log, then to the external dir. */
  async checkpoint(now = new Date()): Promise<SignedCheckpoint> {
    const key = this.#keyring.active;
    const { seq, head, offset } = this.#state;
    // One checkpoint per sequence number: a timer firing while one is being written must not sign a second.
    if (this.#latest?.checkpoint.seq === seq && this.#latest.checkpoint.kid === key.kid) return this.#latest;
    const checkpoint = {
      v: 2 as const,
      logId: this.logId.toString('hex'),
      seq,
      size: offset,
      head: head.toString('hex'),
      kid: key.kid,
      time: now.toISOString(),
    };
    const signed = await signCheckpoint(checkpoint, key);
    await writeCheckpoint(localCheckpointPath(this.#loc.logPath), signed);
    if (this.#loc.checkpointDir) {
      await writeCheckpoint(externalCheckpointPath(this.#loc.checkpointDir, this.#loc.logPath), signed);
    }
    this.#latest = signed;
    return signed;
  }

  /** Closes the file and releases the writer lock (idempotent; the lock is released even if closing fails). */
  close(): Promise<void> {
    this.#closed ??= this.#fh.close().finally(() => this.#lock.release());
    return this.#closed;
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

// Appends sealed, chained batches to the log (one write + fdatasync each) and publishes checkpoints.
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
import { MAX_BATCH_BYTES, type OpenedLog, openLog, type Recovery } from './open-log.ts';
import { frameLength, hashFrame, NONCE_LEN, sealFrame } from './record.ts';
import type { ChainState } from './scan.ts';

/** One event ready to seal: its time (ms) and JSON body. */
export interface PendingRecord {
  time: number;
  body: Uint8Array;
}

export class LogWriter {
  readonly logId: Buffer;
  readonly recovery?: Recovery;
  /** Key id of the newest record before this writer opened the log. */
  readonly previousKid?: string;
  readonly #fh: FileHandle;
  readonly #keyring: Keyring;
  readonly #loc: CheckpointLocations;
  #state: ChainState;
  #latest?: SignedCheckpoint;
  #broken?: Error;

  private constructor(loc: CheckpointLocations, opened: OpenedLog) {
    this.#loc = loc;
    this.#keyring = loc.keyring;
    this.#fh = opened.fh;
    this.logId = opened.logId;
    this.#state = opened.state;
    this.#latest = opened.latest;
    this.recovery = opened.recovery;
    this.previousKid = opened.lastKid;
  }

  static async open(loc: CheckpointLocations): Promise<LogWriter> {
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

  get latestCheckpoint(): SignedCheckpoint | undefined {
    return this.#latest;
  }

  /** Seals `items` under the active key, writes them in one go and fdatasyncs. Durable on resolve. */
  async append(items: readonly PendingRecord[]): Promise<void> {
    if (this.#broken) throw this.#broken;
    const { buf, state } = this.#seal(items);
    if (buf.length > MAX_BATCH_BYTES)
      throw new RangeError(`batch of ${buf.length} bytes exceeds MAX_BATCH_BYTES`);
    try {
      await writeAll(this.#fh, buf, this.#state.offset);
      await this.#fh.datasync();
    } catch (err) {
      // The file may now hold part of this batch; only a reopen (which repairs the tail) may continue.
      this.#broken = err as Error;
      throw err;
    }
    this.#state = state;
  }

  #seal(items: readonly PendingRecord[]): { buf: Buffer; state: ChainState } {
    const key = this.#keyring.active;
    let total = 0;
    for (const it of items) total += frameLength(key.kid.length, it.body.length);
    const buf = Buffer.allocUnsafe(total);
    const nonces = randomBytes(NONCE_LEN * items.length);
    let { seq, head } = this.#state;
    let off = 0;
    for (const [i, it] of items.entries()) {
      const nonce = nonces.subarray(i * NONCE_LEN, (i + 1) * NONCE_LEN);
      seq++;
      const p = {
        seq,
        time: it.time,
        prevHash: head,
        kid: key.kid,
        key: key.recordKey,
        nonce,
        plaintext: it.body,
      };
      const len = sealFrame(buf, off, p);
      head = hashFrame(buf, off, len);
      off += len;
    }
    return { buf, state: { seq, head, offset: this.#state.offset + total } };
  }

  /** Signs the current (durable) end of the log and writes it beside the log, then to the external dir. */
  async checkpoint(now = new Date()): Promise<SignedCheckpoint> {
    const key = this.#keyring.active;
    const { seq, head, offset } = this.#state;
    // One checkpoint per sequence number: a timer firing while one is being written must not sign a second.
    if (this.#latest?.checkpoint.seq === seq && this.#latest.checkpoint.kid === key.kid) return this.#latest;
    const checkpoint = {
      v: 1 as const,
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

  async close(): Promise<void> {
    await this.#fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

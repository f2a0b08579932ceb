// Worker threads that authenticate and hash frames in parallel for verification of large logs.
// The sequential checks (sequence numbers, chain links) stay on the calling thread; see scan.ts.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Keyring } from './keys.ts';
import { HASH_LEN } from './record.ts';

export const FRAME_OK = 0;
export const FRAME_UNKNOWN_KEY = 1;
export const FRAME_BAD_MAC = 2;

/** Per-frame outcome (FRAME_*) and SHA-256, in frame order. */
export interface MacResults {
  status: Uint8Array;
  hashes: Uint8Array;
}

export interface FrameSpan {
  pos: number;
  len: number;
}

export class MacPool {
  readonly #workers: Worker[];

  constructor(keyring: Keyring, size: number) {
    const keys = keyring.kids.map((kid) => [kid, keyring.get(kid)?.recordKey] as const);
    const url = new URL('./mac-worker.ts', import.meta.url);
    this.#workers = Array.from({ length: size }, () => new Worker(url, { workerData: { keys } }));
  }

  /** Checks `frames` (already structurally valid) of `buf`, split across the workers. */
  async run(buf: Buffer, frames: readonly FrameSpan[]): Promise<MacResults> {
    const per = Math.ceil(frames.length / this.#workers.length);
    const parts = await Promise.all(
      this.#workers.map((w, i) => this.#runOn(w, buf, frames.slice(i * per, (i + 1) * per))),
    );
    const status = new Uint8Array(frames.length);
    const hashes = new Uint8Array(frames.length * HASH_LEN);
    let n = 0;
    for (const part of parts) {
      status.set(part.status, n);
      hashes.set(part.hashes, n * HASH_LEN);
      n += part.status.length;
    }
    return { status, hashes };
  }

  async #runOn(worker: Worker, buf: Buffer, frames: readonly FrameSpan[]): Promise<MacResults> {
    const first = frames[0];
    const last = frames.at(-1);
    if (!first || !last) return { status: new Uint8Array(0), hashes: new Uint8Array(0) };
    const bytes = new Uint8Array(buf.subarray(first.pos, last.pos + last.len)); // a copy the worker may own
    const positions = Uint32Array.from(frames, (f) => f.pos - first.pos);
    worker.postMessage({ bytes, positions }, [bytes.buffer, positions.buffer]);
    const [reply] = (await once(worker, 'message')) as [MacResults];
    return reply;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

// Buffered sequential reads of a log for the scanner.
import type { FileHandle } from 'node:fs/promises';
import { MAX_FRAME } from './record.ts';

const CHUNK = 4 * MAX_FRAME;

/**
 * Sequential reader of the file up to the size it had when scanning began (a consistent snapshot even
 * while a writer appends). Keeps at least one maximal frame buffered unless at that end.
 */
export class ChunkReader {
  readonly buf: Buffer;
  pos = 0;
  #filled = 0;
  #filePos: number;
  #eof = false;
  readonly #fh: FileHandle;
  readonly #limit: number;

  constructor(fh: FileHandle, offset: number, limit: number) {
    this.#fh = fh;
    this.#filePos = offset;
    this.#limit = limit;
    this.buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK, limit - offset)));
  }

  get available(): number {
    return this.#filled - this.pos;
  }

  /** End of the buffered bytes. */
  get end(): number {
    return this.#filled;
  }

  /** True once everything up to the snapshot size is buffered. */
  get eof(): boolean {
    return this.#eof;
  }

  advance(n: number): void {
    this.pos += n;
  }

  get needsFill(): boolean {
    return !this.#eof && this.available < MAX_FRAME;
  }

  async fill(): Promise<void> {
    this.buf.copy(this.buf, 0, this.pos, this.#filled);
    this.#filled -= this.pos;
    this.pos = 0;
    let shrank = false;
    while (this.#filled < this.buf.length && this.#filePos < this.#limit) {
      const want = Math.min(this.buf.length - this.#filled, this.#limit - this.#filePos);
      const { bytesRead } = await this.#fh.read(this.buf, this.#filled, want, this.#filePos);
      if (bytesRead === 0) {
        shrank = true;
        break;
      }
      this.#filled += bytesRead;
      this.#filePos += bytesRead;
    }
    this.#eof = shrank || this.#filePos >= this.#limit;
  }
}

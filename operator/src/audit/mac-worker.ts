// Worker body for MacPool: authenticates (decrypts) and hashes each frame it is given.
import { parentPort, workerData } from 'node:worker_threads';
import { FRAME_BAD_MAC, FRAME_OK, FRAME_UNKNOWN_KEY } from './mac-pool.ts';
import { HASH_LEN, hashFrame, isFault, MAX_FRAME, openFrame, readFrameHeader } from './record.ts';

const keys = new Map<string, Uint8Array>((workerData as { keys: Array<[string, Uint8Array]> }).keys);
const scratch = Buffer.allocUnsafe(MAX_FRAME);

parentPort?.on('message', ({ bytes, positions }: { bytes: Uint8Array; positions: Uint32Array }) => {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const status = new Uint8Array(positions.length);
  const hashes = new Uint8Array(positions.length * HASH_LEN);
  for (const [i, pos] of positions.entries()) {
    const h = readFrameHeader(buf, pos, buf.length - pos);
    if (isFault(h)) throw new Error(`mac-worker: frame at ${pos} is malformed: ${h.message}`);
    const key = keys.get(h.kid);
    status[i] = !key ? FRAME_UNKNOWN_KEY : openFrame(buf, pos, h, key, scratch) ? FRAME_OK : FRAME_BAD_MAC;
    hashes.set(hashFrame(buf, pos, h.len), i * HASH_LEN);
  }
  parentPort?.postMessage({ status, hashes }, [status.buffer, hashes.buffer]);
});

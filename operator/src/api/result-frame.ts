/**
 * How the runner hands its result to the operator without the kubelet's 4 KiB
 * termination-message cap: it prints one frame on stdout, the operator reads
 * the pod log (with a byte cap) and checks the length and sha256.
 *
 *   <<<closedpaw-result bytes=N sha256=HEX[ flags=a,b]>>>\n
 *   base64(result)\n
 *   <<<closedpaw-result-end>>>\n
 *
 * Base64 keeps arbitrary bytes intact through the line-oriented log.
 */
import { createHash } from 'node:crypto';

const HEADER = /<<<closedpaw-result bytes=(\d+) sha256=([a-f0-9]{64})(?: flags=([a-z0-9,-]{1,256}))?>>>\n/;
const FOOTER = '\n<<<closedpaw-result-end>>>';

export const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** `flags` are short tags about the result (see RESULT_FLAGS in api/agent-protocol.ts). */
export function frameResult(result: Uint8Array | string, flags: readonly string[] = []): string {
  const bytes = typeof result === 'string' ? Buffer.from(result, 'utf8') : Buffer.from(result);
  const tags = flags.length > 0 ? ` flags=${flags.join(',')}` : '';
  const header = `<<<closedpaw-result bytes=${bytes.length} sha256=${sha256Hex(bytes)}${tags}>>>\n`;
  return `${header}${bytes.toString('base64')}${FOOTER}\n`;
}

export type FrameParse =
  | { ok: true; result: Buffer; sha256: string; bytes: number; flags: string[] }
  | { ok: false; reason: 'ResultMissing' | 'ResultTruncated' | 'ResultCorrupt'; message: string };

/** Finds the last result frame in a pod log and verifies it. */
export function parseResultFrame(log: string): FrameParse {
  const start = log.lastIndexOf('<<<closedpaw-result bytes=');
  if (start < 0) return { ok: false, reason: 'ResultMissing', message: 'the pod log holds no result frame' };
  const header = HEADER.exec(log.slice(start));
  if (!header)
    return { ok: false, reason: 'ResultTruncated', message: 'the result frame header is cut short' };
  const [line, bytesText, sha256, flagText] = header as unknown as [string, string, string, string?];
  const bodyStart = start + line.length;
  const end = log.indexOf(FOOTER, bodyStart);
  if (end < 0) return { ok: false, reason: 'ResultTruncated', message: 'the result frame has no end marker' };
  const result = Buffer.from(log.slice(bodyStart, end), 'base64');
  const bytes = Number(bytesText);
  if (result.length !== bytes) {
    return {
      ok: false,
      reason: 'ResultCorrupt',
      message: `the result has ${result.length} bytes, its frame says ${bytes}`,
    };
  }
  if (sha256Hex(result) !== sha256) {
    return {
      ok: false,
      reason: 'ResultCorrupt',
      message: 'the result does not match the sha256 in its frame',
    };
  }
  return { ok: true, result, sha256, bytes, flags: flagText ? flagText.split(',').filter(Boolean) : [] };
}

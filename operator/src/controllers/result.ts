/** Reads a finished pod's result frame from its log, capped, and turns it into status.result. */
import type { V1Pod } from '@kubernetes/client-node';
import { RESULT_SUMMARY_MAX_CHARS } from '../api/agenttask.ts';
import { parseResultFrame } from '../api/result-frame.ts';
import type { ClusterClient } from '../k8s/client.ts';
import { errorMessage, isTransient } from '../k8s/errors.ts';
import { findSecrets } from '../screening/index.ts';

export interface TaskResult {
  summary: string;
  sha256: string;
  bytes: number;
}

export type ReadResult =
  | { ok: true; result: TaskResult; flags: string[] }
  | { ok: false; reason: string; message: string; transient?: boolean };

/** Base64 grows data by 4/3; the frame adds two short lines. */
const logBytesFor = (resultMaxBytes: number) => Math.ceil((resultMaxBytes * 4) / 3) + 4096;

export async function readResult(
  client: ClusterClient,
  pod: V1Pod,
  container: string,
  resultMaxBytes: number,
  signal?: AbortSignal,
): Promise<ReadResult> {
  const limit = logBytesFor(resultMaxBytes);
  let log: string;
  try {
    log = await client.readPodLog(pod.metadata!.namespace!, pod.metadata!.name!, container, limit, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    return {
      ok: false,
      reason: 'ResultUnreadable',
      message: `could not read the pod log: ${errorMessage(error)}`,
      transient: isTransient(error),
    };
  }
  const parsed = parseResultFrame(log);
  if (!parsed.ok) {
    const capped = Buffer.byteLength(log) >= limit;
    return capped
      ? {
          ok: false,
          reason: 'ResultTooLarge',
          message: `the result exceeds CLOSEDPAW_RESULT_MAX_BYTES=${resultMaxBytes}`,
        }
      : parsed;
  }
  // Secret-shaped strings (keys, tokens) never reach status, logs or Events; the digest stays that of
  // what the runner produced.
  const { redacted, found } = findSecrets(summarize(parsed.result));
  const flags = found.length > 0 ? [...new Set([...parsed.flags, 'secret-redacted'])] : parsed.flags;
  return {
    ok: true,
    result: {
      summary: summarize(Buffer.from(redacted)),
      sha256: parsed.sha256,
      bytes: parsed.bytes,
    },
    flags,
  };
}

/** The first RESULT_SUMMARY_MAX_CHARS characters, never splitting a UTF-8 sequence. */
function summarize(result: Buffer): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(
    result.subarray(0, RESULT_SUMMARY_MAX_CHARS * 4),
  );
  return Array.from(text).slice(0, RESULT_SUMMARY_MAX_CHARS).join('');
}

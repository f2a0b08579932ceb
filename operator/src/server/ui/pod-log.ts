/**
 * Reads a sandbox pod's log through the API server (`pods/log`), as a byte
 * stream: once (`follow: false`) or following it while the container runs.
 * Always capped with `limitBytes`; the caller's signal ends it. The operator
 * reads it with its own identity (it already reads result frames this way);
 * the UI shows only the runner steps parsed out of it (steps.ts).
 */
import type { IncomingMessage } from 'node:http';
import { statusError } from '../../k8s/rest.ts';
import { AGENT_CONTAINER } from '../../sandbox/pod.ts';

export interface PodLogOptions {
  /** Keep the stream open while the container runs. */
  follow: boolean;
  /** The API server stops after this many bytes. */
  limitBytes: number;
  signal: AbortSignal;
}

/** A pod log as chunks (a stream, or all at once); rejects with the API server's answer when refused. */
export type PodLogChunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Reads a pod log; rejects with the API server's answer (a KubeApiError with its code) when refused. */
export type ReadPodLog = (namespace: string, name: string, opts: PodLogOptions) => Promise<PodLogChunks>;

/** Sends a GET to an API path with a query and resolves once response headers arrived (any status). */
export type OpenApiPath = (
  path: string,
  query: Record<string, string | number | boolean>,
  signal: AbortSignal,
) => Promise<IncomingMessage>;

/** How much of an error body is read to tell the user what the API server said. */
const ERROR_BODY_MAX = 4096;

export const podLogPath = (namespace: string, name: string): string =>
  `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log`;

async function errorBody(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    text += String(chunk);
    if (text.length >= ERROR_BODY_MAX) break;
  }
  res.destroy();
  return text.slice(0, ERROR_BODY_MAX);
}

/**
 * A ReadPodLog over a raw `open`: the operator passes `(path, query, signal) =>
 * new RestClient(kubeConfig).open(path, { query, signal })` (no request timeout: a followed log
 * lasts as long as the container; the signal ends it).
 */
export function podLogReader(open: OpenApiPath, container: string = AGENT_CONTAINER): ReadPodLog {
  return async (namespace, name, opts) => {
    if (!Number.isInteger(opts.limitBytes) || opts.limitBytes < 1) {
      throw new Error(`limitBytes must be a positive integer, not ${opts.limitBytes}`);
    }
    const query: Record<string, string | number | boolean> = { container, limitBytes: opts.limitBytes };
    if (opts.follow) query.follow = true;
    const res = await open(podLogPath(namespace, name), query, opts.signal);
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) throw statusError(code, await errorBody(res));
    const stop = () => res.destroy();
    opts.signal.addEventListener('abort', stop, { once: true });
    res.once('close', () => opts.signal.removeEventListener('abort', stop));
    return res;
  };
}

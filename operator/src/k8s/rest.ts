/**
 * A minimal JSON/REST client for the Kubernetes API on top of node:http(s).
 *
 * Why not the generated client-node APIs: the informer needs raw paths, streaming
 * watch bodies, per-request timeouts and full control over aborts, and client-node's
 * `Watch` aborts any watch that is silent for 30 s (a private, hard-coded inactivity
 * timeout) — longer than the API server's bookmark interval (60 s). TLS material and
 * auth headers come from a `KubeConnection`: the operator's own loader
 * (k8s/kubeconfig.ts), or client-node's KubeConfig in tests and tools.
 */
import type { IncomingMessage } from 'node:http';
import { type RequestOptions as HttpsRequestOptions, request as httpsRequest } from 'node:https';
import { http } from '../node-http.ts';

/**
 * What the client needs of a kubeconfig: the server, and TLS material plus auth
 * headers for a request. client-node's KubeConfig has this shape, and so does
 * the operator's own loader (k8s/kubeconfig.ts).
 */
export interface KubeConnection {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: HttpsRequestOptions): Promise<void>;
}

/** The `Status` object the API server returns with failures (and in watch ERROR events). */
export interface KubeStatus {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: unknown;
}

/** A non-2xx answer from the API server, or a transport failure (`code` 0). */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: KubeStatus | undefined;

  constructor(code: number, message: string, reason = '', status?: KubeStatus) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
    this.status = status;
  }
}

/** No API call may hang a reconcile: every non-watch request ends after this long unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RestRequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  /** Defaults to application/json when a body is given. */
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Aborts the whole request (including reading the body) after this long.
   * `request`/`requestText` default to DEFAULT_REQUEST_TIMEOUT_MS; `open` (watches) has none.
   */
  timeoutMs?: number;
  /** Extra request headers (e.g. Impersonate-User). */
  headers?: Record<string, string | string[]>;
}

function buildUrl(server: string, path: string, query?: Query): URL {
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/**
 * The caller's signal, bounded by `timeoutMs`. The timer is cleared by `release()` once the request is
 * over: AbortSignal.timeout() would keep a timer and a signal alive for the whole timeout after every
 * request (thousands of them during a burst), and AbortSignal.any() would tie them to the caller's signal.
 */
function boundedSignal(
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
): { signal: AbortSignal | undefined; release: () => void } {
  if (timeoutMs === undefined || !(timeoutMs > 0)) return { signal, release: () => undefined };
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    Math.ceil(timeoutMs),
  );
  timer.unref(); // like AbortSignal.timeout(): a pending request's timer alone does not keep the process up
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
    res.once('aborted', () => reject(new KubeApiError(0, 'response aborted')));
  });
}

/** Turns an error answer into a KubeApiError carrying the Status reason when there is one. */
export function statusError(code: number, text: string): KubeApiError {
  try {
    const status = JSON.parse(text) as KubeStatus;
    if (status && typeof status === 'object' && status.kind === 'Status') {
      return new KubeApiError(
        status.code ?? code,
        status.message ?? `HTTP ${code}`,
        status.reason ?? '',
        status,
      );
    }
  } catch {
    // not JSON
  }
  return new KubeApiError(code, `HTTP ${code}: ${text.slice(0, 200)}`);
}

export class RestClient {
  readonly kubeConfig: KubeConnection;

  constructor(kubeConfig: KubeConnection) {
    this.kubeConfig = kubeConfig;
  }

  /** Sends the request and resolves with the response once its headers arrived (any status). */
  async open(path: string, opts: RestRequestOptions = {}): Promise<IncomingMessage> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = buildUrl(cluster.server, path, opts.query);
    const httpsOpts: HttpsRequestOptions = { headers: {} };
    await this.kubeConfig.applyToHTTPSOptions(httpsOpts);
    const headers: Record<string, string | string[]> = {
      ...(httpsOpts.headers as Record<string, string>),
      Accept: 'application/json',
      ...opts.headers,
    };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const { signal, release } = boundedSignal(opts.signal, opts.timeoutMs);
    const send = url.protocol === 'http:' ? http.request : httpsRequest;
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { ...httpsOpts, method: opts.method ?? 'GET', headers, signal });
      req.once('response', (res) => {
        res.once('close', release);
        resolve(res);
      });
      req.once('error', (err) => {
        release();
        reject(signal?.aborted ? abortError(signal) : err);
      });
      req.end(payload);
    });
  }

  /** A JSON request; non-2xx answers throw KubeApiError. */
  async request<T = unknown>(path: string, opts: RestRequestOptions = {}): Promise<T> {
    const text = await this.requestText(path, opts);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Like request(), for endpoints that answer with text (pod logs). */
  async requestText(path: string, opts: RestRequestOptions = {}): Promise<string> {
    const { signal, release } = boundedSignal(opts.signal, opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    let text: string;
    let res: IncomingMessage;
    try {
      res = await this.open(path, { ...opts, ...(signal ? { signal } : {}), timeoutMs: undefined });
      text = await readBody(res);
    } catch (err) {
      throw signal?.aborted ? abortError(signal) : err;
    } finally {
      release();
    }
    const code = res.statusCode ?? 0;
    if (code < 200 || code >= 300) throw statusError(code, text);
    return text;
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason ?? 'aborted'));
}

/**
 * A small `fetch` over node:http/https for the Ollama client. Two reasons not
 * to use the global fetch: every request carries the task's Bearer token, and
 * there is no headers or body timeout (undici gives up after 300 s without
 * response headers, which a CPU model reaches) — the run's wall-clock budget,
 * passed in as `signal`, bounds every request instead.
 */
import http from 'node:http';
import https from 'node:https';
import { ConnectionError } from './model-errors.ts';

export interface HttpFetchOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Aborts every request and response body (the run's budget). */
  signal?: AbortSignal;
}

export interface HttpFetch {
  fetch: typeof fetch;
  /** Closes idle keep-alive connections. */
  close(): void;
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export function createHttpFetch(options: HttpFetchOptions = {}): HttpFetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  const fetchOverHttp = (input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new TypeError(`unsupported URL scheme ${url.protocol}`));
        return;
      }
      const signal = anySignal([options.signal, init.signal ?? undefined]);
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const body = requestBody(init.body);
      const headers = new Headers(init.headers);
      if (options.token) headers.set('authorization', `Bearer ${options.token}`);
      if (body !== undefined) headers.set('content-length', String(body.length));
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(url, {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(headers),
        agent: agents[url.protocol],
      });
      let settled = false;
      const onAbort = () => {
        request.destroy();
        if (!settled) reject(signal?.reason);
        settled = true;
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      request.once('error', (error: NodeJS.ErrnoException) => {
        done();
        if (settled) return;
        settled = true;
        reject(
          signal?.aborted
            ? signal.reason
            : new ConnectionError(`${url.origin}: ${error.message}`, error.code),
        );
      });
      request.once('response', (response) => {
        settled = true;
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 599) {
          done();
          response.destroy();
          reject(new ConnectionError(`${url.origin} answered with HTTP status ${status}`));
          return;
        }
        const stream = NULL_BODY_STATUSES.has(status) ? null : bodyStream(response, request, signal, done);
        if (stream === null) {
          done();
          response.resume();
        }
        resolve(
          new Response(stream, {
            status,
            statusText: response.statusMessage ?? '',
            headers: responseHeaders(response.rawHeaders),
          }),
        );
      });
      request.end(body);
    });
  return {
    fetch: fetchOverHttp as typeof fetch,
    close: () => {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

/** The response body as a web stream; a broken connection or an abort errors it. */
function bodyStream(
  response: http.IncomingMessage,
  request: http.ClientRequest,
  signal: AbortSignal | undefined,
  done: () => void,
): ReadableStream<Uint8Array> {
  let finished = false;
  let onAbort = () => {};
  const stop = () => {
    finished = true;
    signal?.removeEventListener('abort', onAbort);
    done();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const fail = (error: unknown) => {
        if (finished) return;
        stop();
        controller.error(error);
        request.destroy();
      };
      onAbort = () => fail(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      response.on('data', (chunk: Buffer) => {
        if (finished) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        if ((controller.desiredSize ?? 1) <= 0) response.pause();
      });
      response.once('end', () => {
        if (finished) return;
        stop();
        controller.close();
      });
      response.once('error', (error: NodeJS.ErrnoException) =>
        fail(new ConnectionError(`the connection broke during the reply: ${error.message}`, error.code)),
      );
      response.once('close', () => {
        if (!response.complete)
          fail(new ConnectionError('the connection closed before the reply was complete'));
      });
    },
    pull() {
      response.resume();
    },
    cancel() {
      stop();
      request.destroy();
    },
  });
}

function requestBody(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('only string and byte request bodies are supported');
}

function responseHeaders(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  return headers;
}

function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}

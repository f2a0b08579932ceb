/**
 * One model call forwarded to Ollama: the exact request bytes with a fixed set of headers, the answer
 * streamed back chunk by chunk (metered on the way, never buffered whole), Ollama's errors passed
 * through, and a client that goes away cancelling the upstream request. Reports once, when over.
 */
import type { Agent, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Transform } from 'node:stream';
import { http } from '../node-http.ts';
import { refusal, sendRefusal } from './errors.ts';
import { type MeterResult, ResponseMeter } from './meter.ts';

export interface ForwardOptions {
  url: URL;
  agent: Agent;
  body: Buffer;
  res: ServerResponse;
  idleTimeoutMs: number;
  maxErrorBytes: number;
}

export interface ForwardResult {
  status?: number;
  /** Why the call did not end normally: upstream_unreachable, upstream_error, upstream_aborted, client_aborted. */
  code?: string;
  /** Bytes sent to the client (the upstream's bytes, or the gateway's own error body). */
  responseBytes: number;
  meter: MeterResult;
}

type Cause = 'client' | 'upstream';

export function forward(opts: ForwardOptions, done: (result: ForwardResult) => void): void {
  const { res, body } = opts;
  const meter = new ResponseMeter();
  let cause: Cause | undefined;
  let over = false;
  const finish = (r: Omit<ForwardResult, 'meter' | 'responseBytes'> & { responseBytes?: number }) => {
    if (over) return;
    over = true;
    const m = meter.finish();
    const code = r.code ?? (m.error !== undefined ? 'upstream_error' : undefined);
    done({ ...r, ...(code ? { code } : {}), responseBytes: r.responseBytes ?? m.bytes, meter: m });
  };

  const upstream = http.request(opts.url, {
    method: 'POST',
    agent: opts.agent,
    timeout: opts.idleTimeoutMs,
    headers: {
      'content-type': 'application/json',
      'content-length': body.length,
      accept: 'application/x-ndjson, application/json',
      'user-agent': 'closedpaw-gateway',
    },
  });
  upstream.setNoDelay(true);
  res.on('close', () => {
    if (res.writableFinished) return;
    cause ??= 'client';
    upstream.destroy(); // Ollama sees its connection close and stops generating
  });
  upstream.on('timeout', () => upstream.destroy(new Error('upstream idle timeout')));
  upstream.on('error', (err) => {
    if (cause === 'client') return finish({ code: 'client_aborted' });
    if (res.headersSent) return; // mid-stream: the pipeline below reports it
    const sent = sendRefusal(
      res,
      refusal('upstream_unreachable', `model server unreachable: ${err.message}`),
    );
    finish({ code: 'upstream_unreachable', status: 502, responseBytes: sent.length });
  });
  upstream.on('response', (up) => {
    const status = up.statusCode ?? 502;
    up.on('error', () => {
      cause ??= 'upstream';
    });
    if (status >= 400) {
      void relayError(up, res, status, opts.maxErrorBytes).then((sent) =>
        finish({ code: 'upstream_error', status, responseBytes: sent }),
      );
      return;
    }
    res.writeHead(status, {
      'content-type': up.headers['content-type'] ?? 'application/json',
      'cache-control': 'no-store',
    });
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, next) {
        meter.push(chunk);
        next(null, chunk);
      },
    });
    pipeline(up, tap, res, (err) => {
      if (!err) return finish({ status });
      upstream.destroy();
      finish({ status, code: cause === 'client' ? 'client_aborted' : 'upstream_aborted' });
    });
  });
  upstream.end(body);
}

/** Passes Ollama's status and error text through as `upstream_error`; returns the bytes sent. */
async function relayError(up: IncomingMessage, res: ServerResponse, status: number, max: number) {
  const text = await readCapped(up, max);
  return sendRefusal(res, { code: 'upstream_error', message: upstreamErrorText(text, status), status })
    .length;
}

export function upstreamErrorText(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string' && parsed.error.length > 0) return parsed.error;
  } catch {
    // not JSON: use the text itself
  }
  const trimmed = text.trim().slice(0, 1024);
  return trimmed ? `model server answered ${status}: ${trimmed}` : `model server answered ${status}`;
}

/** The first `max` bytes of a response body, as text; resolves on end, error or close. */
export function readCapped(stream: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size >= max) return;
      chunks.push(chunk.subarray(0, max - size));
      size += Math.min(chunk.length, max - size);
    });
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    stream.on('end', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}

/**
 * One cloud model call: the translated request to the provider with its API key (added here, on the
 * way out, and nowhere else), the provider's SSE stream translated back into Ollama's NDJSON as it
 * arrives, metered like a local answer (bytes, digest, token counts); the provider's errors relayed
 * with the key scrubbed; a client that goes away cancels the provider request. Reports once.
 */
import type { Agent as HttpAgent, ServerResponse } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { http } from '../../node-http.ts';
import type { SecretValue } from '../../vault/secret.ts';
import { refusal, sendRefusal } from '../errors.ts';
import { readCapped, upstreamErrorText } from '../forward.ts';
import { type MeterResult, ResponseMeter } from '../meter.ts';
import { ANTHROPIC_VERSION } from './anthropic.ts';
import type { CloudProvider } from './catalog.ts';
import { scrubSecrets } from './keys.ts';
import { ndjson } from './ollama-out.ts';
import { SseParser } from './sse.ts';
import type { OllamaChunk, StreamSummary, StreamTranslator } from './types.ts';

export interface CloudForwardOptions {
  provider: CloudProvider;
  key: SecretValue;
  body: Record<string, unknown>;
  translator: StreamTranslator;
  /** Whether the runner asked for a stream (Ollama's default) or one JSON object. */
  stream: boolean;
  model: string;
  res: ServerResponse;
  agents: { http: HttpAgent; https: HttpsAgent };
  idleTimeoutMs: number;
  maxErrorBytes: number;
}

export interface CloudForwardResult {
  status?: number;
  code?: string;
  responseBytes: number;
  meter: MeterResult;
  summary: StreamSummary;
}

/** The provider endpoint and headers for a call (the key goes into exactly one header). */
export function providerRequest(provider: CloudProvider, key: SecretValue, bodyLength: number) {
  const url = new URL(
    `${provider.baseUrl}${provider.kind === 'anthropic' ? '/messages' : '/chat/completions'}`,
  );
  const auth: Record<string, string> =
    provider.kind === 'anthropic'
      ? { 'x-api-key': key.reveal(), 'anthropic-version': ANTHROPIC_VERSION }
      : { authorization: `Bearer ${key.reveal()}` };
  return {
    url,
    headers: {
      'content-type': 'application/json',
      'content-length': String(bodyLength),
      accept: 'text/event-stream',
      'user-agent': 'closedpaw-gateway',
      ...auth,
    },
  };
}

export function cloudForward(opts: CloudForwardOptions, done: (r: CloudForwardResult) => void): void {
  const { res, translator } = opts;
  const meter = new ResponseMeter();
  const payload = Buffer.from(JSON.stringify(opts.body));
  const { url, headers } = providerRequest(opts.provider, opts.key, payload.length);
  const secret = opts.key.reveal();
  const collected: OllamaChunk[] = [];
  let over = false;
  let clientGone = false;
  let responded = false;
  const finish = (r: { status?: number; code?: string; responseBytes?: number }) => {
    if (over) return;
    over = true;
    const m = meter.finish();
    const summary = translator.summary();
    const code = r.code ?? (summary.error !== undefined ? 'upstream_error' : undefined);
    done({ ...r, ...(code ? { code } : {}), responseBytes: r.responseBytes ?? m.bytes, meter: m, summary });
  };
  const write = (chunks: OllamaChunk[]) => {
    if (chunks.length === 0) return;
    if (!opts.stream) {
      collected.push(...chunks);
      return;
    }
    const data = Buffer.from(ndjson(chunks));
    meter.push(data);
    res.write(data);
  };

  const send = url.protocol === 'https:' ? httpsRequest : http.request;
  const upstream = send(url, {
    method: 'POST',
    headers,
    agent: url.protocol === 'https:' ? opts.agents.https : opts.agents.http,
    timeout: opts.idleTimeoutMs,
  });
  res.on('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    upstream.destroy();
  });
  upstream.on('timeout', () => upstream.destroy(new Error('provider idle timeout')));
  upstream.on('error', (err) => {
    if (clientGone) return finish({ code: 'client_aborted' });
    if (responded) {
      write(translator.end());
      return endStream('upstream_aborted');
    }
    const message = `cloud provider ${opts.provider.name} unreachable: ${scrubSecrets(err.message, secret)}`;
    const sent = sendRefusal(res, refusal('upstream_unreachable', message));
    finish({ code: 'upstream_unreachable', status: 502, responseBytes: sent.length });
  });
  upstream.on('response', (up) => {
    const status = up.statusCode ?? 502;
    if (status >= 400) {
      void readCapped(up, opts.maxErrorBytes).then((text) => {
        const message = `cloud provider ${opts.provider.name}: ${scrubSecrets(providerErrorText(text, status), secret)}`;
        const sent = sendRefusal(res, { code: 'upstream_error', message, status });
        finish({ code: 'upstream_error', status, responseBytes: sent.length });
      });
      return;
    }
    responded = true;
    if (opts.stream) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    }
    const parser = new SseParser();
    up.setEncoding('utf8');
    up.on('data', (text: string) => {
      try {
        for (const e of parser.push(text)) write(translator.event(e.event, e.data));
      } catch (err) {
        write([{ error: scrubSecrets((err as Error).message, secret) }]);
        upstream.destroy();
      }
    });
    up.on('error', () => {});
    up.on('close', () => {
      if (over) return;
      if (clientGone) return finish({ status, code: 'client_aborted' });
      for (const e of parser.end()) write(translator.event(e.event, e.data));
      write(translator.end());
      endStream(undefined, status);
    });
  });
  upstream.end(payload);

  function endStream(code: string | undefined, status = 200) {
    if (over) return;
    if (!opts.stream) {
      const error = collected.find((c): c is { error: string } => 'error' in c);
      if (error) {
        const sent = sendRefusal(res, { code: 'upstream_error', message: error.error, status: 502 });
        return finish({ status: 502, code: 'upstream_error', responseBytes: sent.length });
      }
      const data = Buffer.from(`${JSON.stringify(mergeChunks(collected, opts.model))}\n`);
      meter.push(data);
      res.writeHead(200, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': data.length,
      });
      res.end(data);
      return finish({ status, ...(code ? { code } : {}) });
    }
    res.end();
    finish({ status, ...(code ? { code } : {}) });
  }
}

/** One Ollama non-streamed answer from the chunks of a streamed one. */
export function mergeChunks(chunks: readonly OllamaChunk[], model: string): Record<string, unknown> {
  let content = '';
  const toolCalls: unknown[] = [];
  let final: Record<string, unknown> = {};
  for (const c of chunks) {
    if ('error' in c) continue;
    content += c.message.content;
    if (!c.done && c.message.tool_calls) toolCalls.push(...c.message.tool_calls);
    if (c.done) final = { ...c };
  }
  return {
    model,
    created_at: new Date().toISOString(),
    ...final,
    message: { role: 'assistant', content, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
    done: true,
  };
}

/** The text of a provider's error body: OpenAI `{"error":{"message"}}`, Anthropic `{"type":"error","error":{"message"}}`. */
export function providerErrorText(text: string, status: number): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string };
    const message = typeof parsed.error === 'string' ? parsed.error : parsed.error?.message;
    if (typeof message === 'string' && message !== '') return `${message} (status ${status})`;
  } catch {
    // not JSON
  }
  return upstreamErrorText(text, status);
}

/**
 * The webhook listener: its own port (never the loopback UI's), POST /telegram, /discord, /slack for
 * the enabled channels, raw bodies up to 64 KiB, a global rate limit (a flood cannot make the operator
 * verify signatures without end), no other route. Authentication is per platform, in each adapter.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http } from '../node-http.ts';
import type { ChannelAdapter, WebhookReply } from './adapter.ts';

const MAX_BODY = 64 * 1024;

export interface ListenerOptions {
  adapters: readonly ChannelAdapter[];
  host: string;
  port: number;
  /** Requests per second over all routes (burst twice that). */
  ratePerSecond?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

export class WebhookListener {
  readonly #routes: Map<string, ChannelAdapter>;
  readonly #opts: ListenerOptions;
  readonly #server: Server;
  #tokens: number;
  #last: number;

  constructor(opts: ListenerOptions) {
    this.#opts = opts;
    this.#routes = new Map(opts.adapters.map((a) => [`/${a.platform}`, a]));
    this.#tokens = 2 * (opts.ratePerSecond ?? 50);
    this.#last = (opts.now ?? Date.now)();
    this.#server = http.createServer({ requestTimeout: 15_000, headersTimeout: 10_000 }, (req, res) => {
      this.#serve(req, res).catch((err: unknown) => {
        opts.onError?.(err);
        if (!res.headersSent) send(res, { status: 500, json: { error: 'internal error' } });
        else res.destroy();
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => resolve());
    });
    return (this.#server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #take(): boolean {
    const rate = this.#opts.ratePerSecond ?? 50;
    const now = (this.#opts.now ?? Date.now)();
    this.#tokens = Math.min(2 * rate, this.#tokens + ((now - this.#last) / 1000) * rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const adapter = this.#routes.get((req.url ?? '').split('?')[0] ?? '');
    if (!adapter || req.method !== 'POST') return send(res, { status: 404, json: { error: 'not found' } });
    if (!this.#take()) return send(res, { status: 429, json: { error: 'rate limited' } });
    const body = await readBody(req);
    if (!body) return send(res, { status: 413, json: { error: `body larger than ${MAX_BODY} bytes` } });
    const reply = await adapter.handle({
      headers: req.headers,
      body,
      ...(req.socket.remoteAddress ? { sourceIp: req.socket.remoteAddress } : {}),
    });
    send(res, reply);
  }
}

function send(res: ServerResponse, reply: WebhookReply): void {
  const body = reply.json === undefined ? '' : JSON.stringify(reply.json);
  res.writeHead(reply.status, {
    ...(body ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

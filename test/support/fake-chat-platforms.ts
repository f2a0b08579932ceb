/**
 * Local stand-ins for three chat platforms, each both sides of its real HTTP API on 127.0.0.1:
 *
 * - the API the bot calls (Telegram `POST /bot<token>/<method>` with `{ok, result}` answers; Discord
 *   `POST /api/v10/channels/{id}/messages` and `/users/@me/channels` with `Authorization: Bot <token>`;
 *   Slack `POST /api/chat.postMessage|chat.postEphemeral` with `Authorization: Bearer <token>`), which
 *   checks the token, records each call, and can answer 429 with the platform's own retry hint or fail;
 * - the webhook the platform sends (Telegram updates with `X-Telegram-Bot-Api-Secret-Token`; Discord
 *   interactions signed with Ed25519 over timestamp + body; Slack form posts signed with the v0 HMAC),
 *   including ways to forge, replay and backdate them.
 */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PlatformCall {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface WebhookAnswer {
  status: number;
  text: string;
  json: unknown;
}

abstract class FakePlatform {
  readonly calls: PlatformCall[] = [];
  url = '';
  /** Answers to give before normal ones: a status (and optional JSON body / headers). */
  readonly failures: Array<{ status: number; body?: unknown; headers?: Record<string, string> }> = [];
  #server?: Server;

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#serve(req, res));
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Calls to a path ending in `suffix`. */
  callsTo(suffix: string): PlatformCall[] {
    return this.calls.filter((c) => c.path.endsWith(suffix));
  }

  protected abstract authorized(req: IncomingMessage): boolean;
  protected abstract answer(path: string, body: Record<string, unknown>): unknown;
  protected unauthorized(res: ServerResponse): void {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ok: false,
        error_code: 401,
        description: 'Unauthorized',
        message: '401: Unauthorized',
      }),
    );
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!this.authorized(req)) return this.unauthorized(res);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    this.calls.push({ path: req.url ?? '', headers: { ...req.headers }, body });
    const failure = this.failures.shift();
    if (failure) {
      res.writeHead(failure.status, { 'content-type': 'application/json', ...failure.headers });
      res.end(JSON.stringify(failure.body ?? {}));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.answer(req.url ?? '', body)));
  }
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<WebhookAnswer> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

// ------------------------------------------------------------------------------------------ Telegram

export class FakeTelegram extends FakePlatform {
  readonly token: string;
  readonly secret: string;
  #updateId = 1000;
  #messageId = 1;

  constructor(token: string, secret: string) {
    super();
    this.token = token;
    this.secret = secret;
  }

  protected authorized(req: IncomingMessage): boolean {
    return (req.url ?? '').startsWith(`/bot${this.token}/`);
  }

  protected override unauthorized(res: ServerResponse): void {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error_code: 404, description: 'Not Found' }));
  }

  protected answer(path: string, body: Record<string, unknown>): unknown {
    if (path.endsWith('/sendMessage')) {
      return {
        ok: true,
        result: { message_id: this.#messageId++, chat: { id: Number(body.chat_id) }, text: body.text },
      };
    }
    return { ok: true, result: true };
  }

  /** A 429 as Telegram sends it. */
  rateLimit(seconds: number): void {
    this.failures.push({
      status: 429,
      body: {
        ok: false,
        error_code: 429,
        description: `Too Many Requests: retry after ${seconds}`,
        parameters: { retry_after: seconds },
      },
    });
  }

  nextUpdateId(): number {
    return ++this.#updateId;
  }

  /** Sends an update to the bot's webhook, as Telegram does (the secret header unless told otherwise). */
  async deliver(
    webhook: string,
    update: Record<string, unknown>,
    secret: string | null = this.secret,
  ): Promise<WebhookAnswer> {
    const body = JSON.stringify({ update_id: this.nextUpdateId(), ...update });
    return await this.deliverRaw(webhook, body, secret);
  }

  async deliverRaw(
    webhook: string,
    body: string,
    secret: string | null = this.secret,
  ): Promise<WebhookAnswer> {
    return await post(
      webhook,
      {
        'content-type': 'application/json',
        ...(secret !== null ? { 'x-telegram-bot-api-secret-token': secret } : {}),
      },
      body,
    );
  }

  static user(id: number, username: string) {
    return { id, is_bot: false, first_name: username, username };
  }

  static pressed(from: ReturnType<typeof FakeTelegram.user>, chatId: number, data: string) {
    return {
      callback_query: {
        id: `cb-${Math.random().toString(36).slice(2)}`,
        from,
        chat_instance: '1',
        data,
        message: { message_id: 1, date: 0, chat: { id: chatId, type: 'group' } },
      },
    };
  }

  static typed(from: ReturnType<typeof FakeTelegram.user>, text: string, chatType = 'private') {
    return {
      message: {
        message_id: 7,
        date: Math.floor(Date.now() / 1000),
        from,
        chat: { id: from.id, type: chatType },
        text,
      },
    };
  }
}

// ------------------------------------------------------------------------------------------ Discord

export class FakeDiscord extends FakePlatform {
  readonly token: string;
  readonly publicKeyHex: string;
  readonly #privateKey: KeyObject;
  #id = BigInt('1200000000000000000');

  constructor(token: string) {
    super();
    this.token = token;
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    this.#privateKey = privateKey;
    this.publicKeyHex = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
      'hex',
    );
  }

  protected authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bot ${this.token}`;
  }

  protected answer(path: string, body: Record<string, unknown>): unknown {
    if (path.endsWith('/users/@me/channels')) return { id: `9${String(body.recipient_id)}`, type: 1 };
    return {
      id: String(this.#id++),
      channel_id: path.split('/')[4],
      content: body.content,
      components: body.components,
    };
  }

  rateLimit(seconds: number): void {
    this.failures.push({
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: seconds, global: false },
      headers: { 'retry-after': String(Math.ceil(seconds)) },
    });
  }

  nextId(): string {
    return String(this.#id++);
  }

  /** Signs and sends an interaction, as Discord does; `key`/`timestamp` let a test forge or backdate it. */
  async deliver(
    webhook: string,
    interaction: Record<string, unknown>,
    opts: { timestamp?: number; key?: KeyObject; tamper?: (body: string) => string } = {},
  ): Promise<WebhookAnswer> {
    const body = JSON.stringify({
      id: this.nextId(),
      application_id: '42',
      version: 1,
      token: 'interaction-token',
      ...interaction,
    });
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    return await this.deliverSigned(webhook, body, timestamp, opts.key ?? this.#privateKey, opts.tamper);
  }

  async deliverSigned(
    webhook: string,
    body: string,
    timestamp: string,
    key: KeyObject = this.#privateKey,
    tamper?: (b: string) => string,
  ): Promise<WebhookAnswer> {
    const signature = sign(null, Buffer.from(timestamp + body), key).toString('hex');
    return await post(
      webhook,
      {
        'content-type': 'application/json',
        'x-signature-ed25519': signature,
        'x-signature-timestamp': timestamp,
      },
      tamper ? tamper(body) : body,
    );
  }

  static button(userId: string, username: string, channelId: string, customId: string) {
    return {
      type: 3,
      channel_id: channelId,
      guild_id: '77',
      member: { user: { id: userId, username } },
      data: { custom_id: customId, component_type: 2 },
    };
  }

  static command(userId: string, username: string, name: string, options: unknown[] = []) {
    return {
      type: 2,
      channel_id: '1',
      user: { id: userId, username },
      data: { id: '5', name, type: 1, options },
    };
  }
}

// ------------------------------------------------------------------------------------------ Slack

export class FakeSlack extends FakePlatform {
  readonly token: string;
  readonly signingSecret: string;

  constructor(token: string, signingSecret: string) {
    super();
    this.token = token;
    this.signingSecret = signingSecret;
  }

  protected authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  protected override unauthorized(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error: 'invalid_auth' }));
  }

  protected answer(path: string, body: Record<string, unknown>): unknown {
    if (path.endsWith('/chat.postEphemeral')) return { ok: true, message_ts: '1700000000.000200' };
    return { ok: true, channel: body.channel, ts: '1700000000.000100', message: { text: body.text } };
  }

  rateLimit(seconds: number): void {
    this.failures.push({
      status: 429,
      body: { ok: false, error: 'ratelimited' },
      headers: { 'retry-after': String(seconds) },
    });
  }

  /** Signs and sends a form body, as Slack does; `timestamp`/`secret` let a test backdate or forge it. */
  async deliver(
    webhook: string,
    form: Record<string, string>,
    opts: { timestamp?: number; secret?: string } = {},
  ): Promise<WebhookAnswer & { headers: Record<string, string>; body: string }> {
    const body = new URLSearchParams(form).toString();
    const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const headers = this.signatureHeaders(body, timestamp, opts.secret);
    return { ...(await post(webhook, headers, body)), headers, body };
  }

  signatureHeaders(body: string, timestamp: string, secret = this.signingSecret): Record<string, string> {
    const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
    return {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': signature,
    };
  }

  async resend(webhook: string, headers: Record<string, string>, body: string): Promise<WebhookAnswer> {
    return await post(webhook, headers, body);
  }

  static pressed(teamId: string, userId: string, username: string, channelId: string, value: string) {
    return {
      payload: JSON.stringify({
        type: 'block_actions',
        user: { id: userId, username, team_id: teamId },
        team: { id: teamId },
        channel: { id: channelId },
        response_url: 'https://hooks.slack.invalid/actions/1',
        actions: [{ action_id: 'closedpaw_approve', block_id: 'b', type: 'button', value }],
      }),
    };
  }

  static command(teamId: string, userId: string, username: string, text: string) {
    return {
      command: '/closedpaw',
      text,
      team_id: teamId,
      user_id: userId,
      user_name: username,
      channel_id: 'D1',
      response_url: 'https://hooks.slack.invalid/commands/1',
    };
  }
}

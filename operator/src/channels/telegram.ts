/**
 * Telegram (Bot API over HTTPS): approvals as `sendMessage` with an inline keyboard (`callback_data`
 * `cp1:a|d:<ref>`); button presses and `/pair`, `/task` as webhook updates, authenticated by the
 * `X-Telegram-Bot-Api-Secret-Token` header (the secret given to `setWebhook`) and refused when replayed
 * (update_id only grows). Answers ride in the webhook response (`{"method": "answerCallbackQuery" …}`),
 * as the Bot API allows. Buttons count only in the configured chat; `/pair` only in a private chat.
 */
import type { SecretValue } from '../vault/secret.ts';
import {
  type AdapterContext,
  type ChannelAdapter,
  ok,
  parseCommand,
  parseJson,
  refuse,
  type WebhookReply,
  type WebhookRequest,
} from './adapter.ts';
import { callPlatform, type Outbox, type RetryPolicy } from './http.ts';
import { noticeText } from './message.ts';
import { MonotonicIds } from './replay.ts';
import { verifyTelegram } from './signatures.ts';
import { type ApprovalNotice, buttonData, type ChatAccount, parseButtonData } from './types.ts';

export interface TelegramSettings {
  apiUrl: string;
  chatId: string;
  botToken: SecretValue;
  webhookSecret: SecretValue;
  /** https base URL Telegram calls (setWebhook); unset: the webhook is registered by hand. */
  publicUrl?: string;
  retry?: RetryPolicy;
}

export class TelegramChannel implements ChannelAdapter {
  readonly platform = 'telegram' as const;
  readonly #s: TelegramSettings;
  readonly #ctx: AdapterContext;
  readonly #outbox: Outbox;
  readonly #updates = new MonotonicIds();

  constructor(settings: TelegramSettings, ctx: AdapterContext, outbox: Outbox) {
    this.#s = settings;
    this.#ctx = ctx;
    this.#outbox = outbox;
  }

  async start(): Promise<void> {
    if (!this.#s.publicUrl) return;
    await this.#call('setWebhook', {
      url: `${this.#s.publicUrl}/telegram`,
      secret_token: this.#s.webhookSecret.reveal(),
      allowed_updates: ['message', 'callback_query'],
      drop_pending_updates: true,
    });
  }

  async handle(req: WebhookRequest): Promise<WebhookReply> {
    const check = verifyTelegram({
      secretToken: this.#s.webhookSecret.reveal(),
      header: req.headers['x-telegram-bot-api-secret-token'],
    });
    if (!check.ok) return refuse(this.#ctx, check.problem, req);
    const update = parseJson(req.body);
    if (!update || typeof update.update_id !== 'number') return ok();
    if (!this.#updates.accept(update.update_id)) {
      this.#ctx.rejected('replayed', req.sourceIp);
      return ok(); // a 200, so Telegram does not deliver it again
    }
    const callback = update.callback_query as Record<string, unknown> | undefined;
    if (callback) return await this.#button(callback);
    const message = update.message as Record<string, unknown> | undefined;
    if (message) return await this.#message(message);
    return ok();
  }

  async #button(callback: Record<string, unknown>): Promise<WebhookReply> {
    const sender = account(callback.from);
    const chat = ((callback.message as Record<string, unknown> | undefined)?.chat ?? {}) as { id?: unknown };
    const pressed = parseButtonData(callback.data);
    if (!sender || !pressed || String(chat.id) !== this.#s.chatId) return ok();
    const reply = await this.#ctx.act(sender, { kind: 'decide', ...pressed });
    if (!reply) return ok();
    return ok({
      method: 'answerCallbackQuery',
      callback_query_id: String(callback.id),
      text: reply.text.slice(0, 200),
      show_alert: true,
    });
  }

  async #message(message: Record<string, unknown>): Promise<WebhookReply> {
    const sender = account(message.from);
    const chat = (message.chat ?? {}) as { id?: unknown; type?: unknown };
    const command = parseCommand(message.text);
    if (!sender || !command || chat.type !== 'private') return ok();
    const reply = await this.#ctx.act(sender, command);
    return reply ? ok({ method: 'sendMessage', chat_id: chat.id, text: reply.text }) : ok();
  }

  async notify(n: ApprovalNotice): Promise<void> {
    await this.#outbox.enqueue(async () => {
      await this.#call('sendMessage', {
        chat_id: this.#s.chatId,
        text: noticeText(n, this.#ctx.now()),
        reply_markup: {
          inline_keyboard: [
            [
              { text: 'Approve', callback_data: buttonData('Approved', n.ref) },
              { text: 'Deny', callback_data: buttonData('Denied', n.ref) },
            ],
          ],
        },
      });
    });
  }

  async tell(to: ChatAccount, text: string): Promise<void> {
    await this.#outbox.enqueue(async () => {
      await this.#call('sendMessage', { chat_id: to.id, text });
    });
  }

  /** `<api>/bot<token>/<method>`: the token is in the path, so the URL is never logged or shown. */
  async #call(method: string, body: unknown): Promise<unknown> {
    const url = new URL(`${this.#s.apiUrl}/bot${this.#s.botToken.reveal()}/${method}`);
    const res = await callPlatform(`telegram ${method}`, url, { body }, this.#s.retry);
    const json = res.json as { ok?: unknown; description?: unknown } | undefined;
    if (json?.ok !== true) throw new Error(`telegram ${method}: ${String(json?.description ?? 'not ok')}`);
    return json;
  }
}

function account(from: unknown): ChatAccount | undefined {
  const f = from as { id?: unknown; username?: unknown; is_bot?: unknown } | undefined;
  if (typeof f?.id !== 'number' || f.is_bot === true) return undefined;
  return {
    platform: 'telegram',
    id: String(f.id),
    ...(typeof f.username === 'string' ? { name: `@${f.username}` } : {}),
  };
}

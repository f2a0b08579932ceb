/**
 * Discord (HTTP interactions): approvals as channel messages with button components (`custom_id`
 * `cp1:a|d:<ref>`); button presses and the `/pair` and `/task` slash commands as interactions signed with
 * the application's Ed25519 key (`X-Signature-Ed25519` over `X-Signature-Timestamp` + body), refused
 * when stale or replayed (interaction id). Answers are ephemeral (flags 64); for a sender nobody paired
 * the interaction is only acknowledged (type 6), so nothing is shown.
 */
import type { KeyObject } from 'node:crypto';
import type { SecretValue } from '../vault/secret.ts';
import {
  type AdapterContext,
  type ChannelAdapter,
  ok,
  parseJson,
  refuse,
  unauthorized,
  type WebhookReply,
  type WebhookRequest,
} from './adapter.ts';
import { callPlatform, type Outbox, type RetryPolicy } from './http.ts';
import { noticeText } from './message.ts';
import { ReplayGuard } from './replay.ts';
import { verifyDiscord } from './signatures.ts';
import {
  type ApprovalNotice,
  buttonData,
  type ChannelReply,
  type ChatAccount,
  parseButtonData,
} from './types.ts';

export interface DiscordSettings {
  apiUrl: string;
  channelId: string;
  botToken: SecretValue;
  publicKey: KeyObject;
  retry?: RetryPolicy;
}

const PONG = 1;
const MESSAGE = 4;
const DEFERRED_UPDATE = 6;
const EPHEMERAL = 64;

export class DiscordChannel implements ChannelAdapter {
  readonly platform = 'discord' as const;
  readonly #s: DiscordSettings;
  readonly #ctx: AdapterContext;
  readonly #outbox: Outbox;
  readonly #seen = new ReplayGuard();

  constructor(settings: DiscordSettings, ctx: AdapterContext, outbox: Outbox) {
    this.#s = settings;
    this.#ctx = ctx;
    this.#outbox = outbox;
  }

  async handle(req: WebhookRequest): Promise<WebhookReply> {
    const now = this.#ctx.now();
    const check = verifyDiscord({
      publicKey: this.#s.publicKey,
      timestamp: req.headers['x-signature-timestamp'],
      signature: req.headers['x-signature-ed25519'],
      body: req.body,
      nowSeconds: Math.floor(now.getTime() / 1000),
    });
    if (!check.ok) return refuse(this.#ctx, check.problem, req);
    const interaction = parseJson(req.body);
    if (!interaction) return unauthorized;
    if (interaction.type === 1) return ok({ type: PONG });
    if (typeof interaction.id !== 'string' || !this.#seen.accept(interaction.id, now.getTime())) {
      return refuse(this.#ctx, 'replayed', req);
    }
    const sender = account(interaction);
    const data = (interaction.data ?? {}) as Record<string, unknown>;
    if (!sender) return ok({ type: DEFERRED_UPDATE });
    let reply: ChannelReply;
    if (interaction.type === 2 && data.name === 'pair') {
      reply = await this.#ctx.act(sender, { kind: 'pair' });
    } else if (interaction.type === 2 && data.name === 'task') {
      const option = ((data.options as Array<{ name?: unknown; value?: unknown }> | undefined) ?? []).find(
        (o) => o.name === 'prompt',
      );
      reply = await this.#ctx.act(sender, {
        kind: 'intake',
        prompt: typeof option?.value === 'string' ? option.value : '',
      });
    } else if (interaction.type === 3 && interaction.channel_id === this.#s.channelId) {
      const pressed = parseButtonData(data.custom_id);
      if (pressed) reply = await this.#ctx.act(sender, { kind: 'decide', ...pressed });
    }
    return reply
      ? ok({
          type: MESSAGE,
          data: { content: reply.text.slice(0, 1900), flags: EPHEMERAL, allowed_mentions: { parse: [] } },
        })
      : ok({ type: DEFERRED_UPDATE });
  }

  async notify(n: ApprovalNotice): Promise<void> {
    await this.#outbox.enqueue(async () => {
      await this.#call(`/channels/${this.#s.channelId}/messages`, {
        content: noticeText(n, this.#ctx.now()),
        allowed_mentions: { parse: [] },
        components: [
          {
            type: 1,
            components: [
              { type: 2, style: 3, label: 'Approve', custom_id: buttonData('Approved', n.ref) },
              { type: 2, style: 4, label: 'Deny', custom_id: buttonData('Denied', n.ref) },
            ],
          },
        ],
      });
    });
  }

  async tell(to: ChatAccount, text: string): Promise<void> {
    await this.#outbox.enqueue(async () => {
      const dm = (await this.#call('/users/@me/channels', { recipient_id: to.id })) as { id?: unknown };
      if (typeof dm?.id !== 'string') throw new Error('discord: no DM channel id');
      await this.#call(`/channels/${dm.id}/messages`, {
        content: text.slice(0, 1900),
        allowed_mentions: { parse: [] },
      });
    });
  }

  async #call(path: string, body: unknown): Promise<unknown> {
    const res = await callPlatform(
      `discord POST ${path.replace(/\d{5,}/g, ':id')}`,
      new URL(`${this.#s.apiUrl}${path}`),
      {
        headers: {
          authorization: `Bot ${this.#s.botToken.reveal()}`,
          'user-agent': 'DiscordBot (closedpaw, 0.1)',
        },
        body,
      },
      this.#s.retry,
    );
    return res.json;
  }
}

function account(interaction: Record<string, unknown>): ChatAccount | undefined {
  const member = interaction.member as { user?: unknown } | undefined;
  const user = (member?.user ?? interaction.user) as
    | { id?: unknown; username?: unknown; bot?: unknown }
    | undefined;
  if (typeof user?.id !== 'string' || user.bot === true) return undefined;
  return {
    platform: 'discord',
    id: user.id,
    ...(typeof user.username === 'string' ? { name: user.username } : {}),
  };
}

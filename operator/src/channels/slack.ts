/**
 * Slack (Web API + interactivity): approvals as `chat.postMessage` with Block Kit buttons (value
 * `cp1:a|d:<ref>`); button presses (`block_actions`, form field `payload`) and the `/closedpaw pair` and
 * `/closedpaw task …` slash command as requests signed with the app's signing secret (`X-Slack-Signature`
 * v0 HMAC over `v0:<X-Slack-Request-Timestamp>:<body>`, 5-minute window), refused when replayed (the
 * signature is remembered for the window). Answers are ephemeral; a sender nobody paired sees nothing.
 */
import type { SecretValue } from '../vault/secret.ts';
import {
  type AdapterContext,
  type ChannelAdapter,
  ok,
  refuse,
  type WebhookReply,
  type WebhookRequest,
} from './adapter.ts';
import { callPlatform, type Outbox, PlatformError, type RetryPolicy } from './http.ts';
import { noticeText } from './message.ts';
import { ReplayGuard } from './replay.ts';
import { verifySlack } from './signatures.ts';
import {
  type ApprovalNotice,
  buttonData,
  type ChannelAction,
  type ChatAccount,
  parseButtonData,
} from './types.ts';

export interface SlackSettings {
  apiUrl: string;
  channelId: string;
  botToken: SecretValue;
  signingSecret: SecretValue;
  retry?: RetryPolicy;
}

export class SlackChannel implements ChannelAdapter {
  readonly platform = 'slack' as const;
  readonly #s: SlackSettings;
  readonly #ctx: AdapterContext;
  readonly #outbox: Outbox;
  readonly #seen = new ReplayGuard();

  constructor(settings: SlackSettings, ctx: AdapterContext, outbox: Outbox) {
    this.#s = settings;
    this.#ctx = ctx;
    this.#outbox = outbox;
  }

  async handle(req: WebhookRequest): Promise<WebhookReply> {
    const now = this.#ctx.now();
    const signature = req.headers['x-slack-signature'];
    const check = verifySlack({
      signingSecret: this.#s.signingSecret.reveal(),
      timestamp: req.headers['x-slack-request-timestamp'],
      signature,
      body: req.body,
      nowSeconds: Math.floor(now.getTime() / 1000),
    });
    if (!check.ok) return refuse(this.#ctx, check.problem, req);
    if (!this.#seen.accept(String(signature), now.getTime())) return refuse(this.#ctx, 'replayed', req);
    const form = new URLSearchParams(req.body.toString('utf8'));
    const payload = form.get('payload');
    if (payload !== null) return await this.#interaction(payload);
    if (form.get('command') !== null) return await this.#command(form);
    return ok();
  }

  async #interaction(text: string): Promise<WebhookReply> {
    let p: Record<string, unknown>;
    try {
      p = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return ok();
    }
    const user = (p.user ?? {}) as { id?: unknown; username?: unknown; team_id?: unknown };
    const team = (p.team ?? {}) as { id?: unknown };
    const channel = (p.channel ?? {}) as { id?: unknown };
    const sender = account(user.id, user.team_id ?? team.id, user.username);
    const action = ((p.actions as Array<{ value?: unknown }> | undefined) ?? [])[0];
    const pressed = parseButtonData(action?.value);
    if (p.type !== 'block_actions' || !sender || !pressed || channel.id !== this.#s.channelId) return ok();
    const reply = await this.#ctx.act(sender, { kind: 'decide', ...pressed });
    if (reply) {
      // Interactions answer with a bare 200; the sender sees the outcome as an ephemeral message.
      void this.#outbox
        .enqueue(async () => {
          await this.#call('chat.postEphemeral', {
            channel: this.#s.channelId,
            user: user.id,
            text: reply.text,
          });
        })
        .catch(() => {});
    }
    return ok();
  }

  async #command(form: URLSearchParams): Promise<WebhookReply> {
    const sender = account(form.get('user_id'), form.get('team_id'), form.get('user_name'));
    const [word = '', ...rest] = (form.get('text') ?? '').trim().split(/\s+/);
    const action: ChannelAction | undefined =
      word === 'pair'
        ? { kind: 'pair' }
        : word === 'task'
          ? { kind: 'intake', prompt: rest.join(' ') }
          : undefined;
    if (!sender || !action)
      return ok({ response_type: 'ephemeral', text: 'Usage: /closedpaw pair | /closedpaw task <prompt>' });
    const reply = await this.#ctx.act(sender, action);
    return reply ? ok({ response_type: 'ephemeral', text: reply.text }) : ok();
  }

  async notify(n: ApprovalNotice): Promise<void> {
    const text = noticeText(n, this.#ctx.now());
    await this.#outbox.enqueue(async () => {
      await this.#call('chat.postMessage', {
        channel: this.#s.channelId,
        text,
        blocks: [
          { type: 'section', text: { type: 'plain_text', text, emoji: false } },
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                action_id: 'closedpaw_approve',
                style: 'primary',
                text: { type: 'plain_text', text: 'Approve' },
                value: buttonData('Approved', n.ref),
              },
              {
                type: 'button',
                action_id: 'closedpaw_deny',
                style: 'danger',
                text: { type: 'plain_text', text: 'Deny' },
                value: buttonData('Denied', n.ref),
              },
            ],
          },
        ],
      });
    });
  }

  async tell(to: ChatAccount, text: string): Promise<void> {
    const user = to.id.split(':')[1] ?? to.id;
    await this.#outbox.enqueue(async () => {
      await this.#call('chat.postMessage', { channel: user, text });
    });
  }

  async #call(method: string, body: unknown): Promise<unknown> {
    const res = await callPlatform(
      `slack ${method}`,
      new URL(`${this.#s.apiUrl}/${method}`),
      {
        headers: { authorization: `Bearer ${this.#s.botToken.reveal()}` },
        body,
      },
      this.#s.retry,
    );
    const json = res.json as { ok?: unknown; error?: unknown } | undefined;
    if (json?.ok !== true) throw new PlatformError(`slack ${method}: ${String(json?.error ?? 'not ok')}`);
    return json;
  }
}

function account(user: unknown, team: unknown, name: unknown): ChatAccount | undefined {
  if (typeof user !== 'string' || user === '' || typeof team !== 'string' || team === '') return undefined;
  return { platform: 'slack', id: `${team}:${user}`, ...(typeof name === 'string' ? { name } : {}) };
}

/**
 * Channel settings from the operator's environment (pure; a bad value names the variable). Channels are
 * off unless CLOSEDPAW_CHANNELS lists some. Secrets are not here: they are vault entries (VAULT_ENTRIES).
 *
 *   CLOSEDPAW_CHANNELS              telegram,discord,slack
 *   CLOSEDPAW_CHANNELS_ADDR         the webhook listener, host:port (default 0.0.0.0:7781; not the UI's port)
 *   CLOSEDPAW_CHANNELS_PUBLIC_URL   the https URL the platforms reach the listener at (Telegram setWebhook)
 *   CLOSEDPAW_CHANNEL_USERS         Kubernetes users who may pair = whom the operator may impersonate (RBAC)
 *   CLOSEDPAW_TELEGRAM_CHAT_ID, CLOSEDPAW_TELEGRAM_API_URL (https://api.telegram.org)
 *   CLOSEDPAW_DISCORD_CHANNEL_ID, CLOSEDPAW_DISCORD_PUBLIC_KEY (hex), CLOSEDPAW_DISCORD_API_URL (https://discord.com/api/v10)
 *   CLOSEDPAW_SLACK_CHANNEL_ID, CLOSEDPAW_SLACK_API_URL (https://slack.com/api)
 *   CLOSEDPAW_CHANNEL_INTAKE_NAMESPACE (unset: no intake), CLOSEDPAW_CHANNEL_INTAKE_USERS, CLOSEDPAW_CHANNEL_INTAKE_MODEL
 */
import { PLATFORMS, type Platform } from './types.ts';

export const VAULT_ENTRIES = {
  telegram: { botToken: 'telegram-bot-token', webhookSecret: 'telegram-webhook-secret' },
  discord: { botToken: 'discord-bot-token' },
  slack: { botToken: 'slack-bot-token', signingSecret: 'slack-signing-secret' },
} as const;

export interface ChannelSettings {
  platforms: Platform[];
  listen: { host: string; port: number };
  publicUrl?: string;
  users: string[];
  telegram?: { apiUrl: string; chatId: string };
  discord?: { apiUrl: string; channelId: string; publicKey: string };
  slack?: { apiUrl: string; channelId: string };
  intake?: { namespace: string; users: string[]; model: string };
}

export class ChannelConfigError extends Error {
  override name = 'ChannelConfigError';
}

type Env = Record<string, string | undefined>;
const fail = (variable: string, message: string): never => {
  throw new ChannelConfigError(`${variable}: ${message}`);
};

export function parseChannelSettings(env: Env): ChannelSettings | undefined {
  const platforms = names(env.CLOSEDPAW_CHANNELS);
  if (platforms.length === 0) return undefined;
  for (const p of platforms) {
    if (!PLATFORMS.includes(p as Platform))
      fail('CLOSEDPAW_CHANNELS', `unknown channel ${JSON.stringify(p)} (telegram, discord, slack)`);
  }
  const users = names(env.CLOSEDPAW_CHANNEL_USERS);
  if (users.length === 0) {
    fail(
      'CLOSEDPAW_CHANNEL_USERS',
      'list the Kubernetes users who may pair and decide through chat (the operator may impersonate only them)',
    );
  }
  const has = (p: Platform) => platforms.includes(p);
  const required = (variable: string) => env[variable] || fail(variable, 'required for this channel');
  const intakeNs = env.CLOSEDPAW_CHANNEL_INTAKE_NAMESPACE;
  return {
    platforms: platforms as Platform[],
    listen: listenAddr(env.CLOSEDPAW_CHANNELS_ADDR ?? '0.0.0.0:7781'),
    ...(env.CLOSEDPAW_CHANNELS_PUBLIC_URL
      ? { publicUrl: apiUrl('CLOSEDPAW_CHANNELS_PUBLIC_URL', env.CLOSEDPAW_CHANNELS_PUBLIC_URL) }
      : {}),
    users,
    ...(has('telegram')
      ? {
          telegram: {
            apiUrl: apiUrl(
              'CLOSEDPAW_TELEGRAM_API_URL',
              env.CLOSEDPAW_TELEGRAM_API_URL ?? 'https://api.telegram.org',
            ),
            chatId: chatId(
              'CLOSEDPAW_TELEGRAM_CHAT_ID',
              required('CLOSEDPAW_TELEGRAM_CHAT_ID'),
              /^-?\d{1,20}$/,
            ),
          },
        }
      : {}),
    ...(has('discord')
      ? {
          discord: {
            apiUrl: apiUrl(
              'CLOSEDPAW_DISCORD_API_URL',
              env.CLOSEDPAW_DISCORD_API_URL ?? 'https://discord.com/api/v10',
            ),
            channelId: chatId(
              'CLOSEDPAW_DISCORD_CHANNEL_ID',
              required('CLOSEDPAW_DISCORD_CHANNEL_ID'),
              /^\d{5,20}$/,
            ),
            publicKey: chatId(
              'CLOSEDPAW_DISCORD_PUBLIC_KEY',
              required('CLOSEDPAW_DISCORD_PUBLIC_KEY'),
              /^[0-9a-fA-F]{64}$/,
            ),
          },
        }
      : {}),
    ...(has('slack')
      ? {
          slack: {
            apiUrl: apiUrl('CLOSEDPAW_SLACK_API_URL', env.CLOSEDPAW_SLACK_API_URL ?? 'https://slack.com/api'),
            channelId: chatId(
              'CLOSEDPAW_SLACK_CHANNEL_ID',
              required('CLOSEDPAW_SLACK_CHANNEL_ID'),
              /^[A-Z0-9]{5,20}$/,
            ),
          },
        }
      : {}),
    ...(intakeNs
      ? {
          intake: {
            namespace: intakeNs,
            users: names(env.CLOSEDPAW_CHANNEL_INTAKE_USERS),
            model: env.CLOSEDPAW_CHANNEL_INTAKE_MODEL ?? 'llama3.2:3b',
          },
        }
      : {}),
  };
}

function names(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function chatId(variable: string, value: string, pattern: RegExp): string {
  return pattern.test(value)
    ? value
    : fail(variable, `${JSON.stringify(value)} does not look like an id (${pattern})`);
}

function listenAddr(addr: string): { host: string; port: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[2]) > 65535)
    return fail('CLOSEDPAW_CHANNELS_ADDR', `expected host:port, got ${JSON.stringify(addr)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** https, or http to loopback (a local fake in tests). */
function apiUrl(variable: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return fail(variable, `${JSON.stringify(value)} is not a URL`);
  }
  const loopback = /^127\./.test(u.hostname) || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback))
    fail(variable, `${value} must be https://`);
  if (u.username || u.password || u.search || u.hash)
    fail(variable, `${value} must not carry credentials, a query or a fragment`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

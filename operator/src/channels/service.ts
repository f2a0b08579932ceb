/**
 * The channels inside the operator (leader only): secrets from the vault, the pairing store, the
 * shared core, one adapter per enabled platform, the webhook listener on its own port, the notifier
 * (a scan of the approval cache every few seconds) and the pairing-confirmation watcher. A platform
 * outage only fills (and bounds) that platform's outbox: nothing here blocks the controllers.
 */

import type { AgentTask, Approval } from '../api/types.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AuditSink } from '../audit/sink.ts';
import type { CloudSettings } from '../gateway/providers/catalog.ts';
import type { KubeConnection } from '../k8s/rest.ts';
import { RestClient } from '../k8s/rest.ts';
import { Informer, type KubeObject } from '../runtime/informer.ts';
import type { SecretValue } from '../vault/secret.ts';
import type { AdapterContext, ChannelAdapter } from './adapter.ts';
import { PairingConfirmations } from './confirmations.ts';
import { apiMessage, ChannelCore, type IntakeSettings } from './core.ts';
import { DiscordChannel } from './discord.ts';
import { Outbox, type RetryPolicy } from './http.ts';
import { WebhookListener } from './listener.ts';
import { ApprovalNotifier } from './notifier.ts';
import { PairingCodes, type PairingPersistence, PairingStore } from './pairing.ts';
import { PAIRING_POLICY_NAME, PAIRINGS_PATH } from './pairing-resource.ts';
import { type ChannelSettings, VAULT_ENTRIES } from './settings.ts';
import { discordPublicKey } from './signatures.ts';
import { SlackChannel } from './slack.ts';
import { TelegramChannel } from './telegram.ts';
import type { Platform } from './types.ts';

export interface ChannelsLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /** A pino logger has it; the pairing informer then logs through it. */
  child?(bindings: object): unknown;
}

export interface ChannelsWiring {
  settings: ChannelSettings;
  /** Bot tokens and signing secrets (the vault). */
  secrets: { get(name: string): Promise<SecretValue> };
  pairingPersistence: PairingPersistence;
  kubeConfig: KubeConnection;
  /** ClusterClient.decideApproval: impersonates the given user (and only them). */
  decideApproval(
    namespace: string,
    name: string,
    approver: { user: string },
    decision: { verdict: 'Approved' | 'Denied'; reason?: string },
  ): Promise<unknown>;
  approvals: { list(): Approval[]; get(key: string): Approval | undefined };
  tasks: { get(key: string): AgentTask | undefined };
  audit?: Pick<AuditSink, 'append'>;
  logger: ChannelsLogger;
  ttlSeconds: number;
  /** The operator's cloud models: chat shows a task's risk as the operator rates it. */
  cloud?: CloudSettings;
  now?: () => Date;
  scanIntervalMs?: number;
  retry?: RetryPolicy;
}

export interface RunningChannels {
  port: number;
  core: ChannelCore;
  adapters: ChannelAdapter[];
  notifier: ApprovalNotifier;
  /** Whether pairing confirmations are accepted (the admission policy is installed). */
  pairingEnabled: boolean;
  /** Resolves once every queued platform call has finished (tests). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether the API server enforces `spec.user == requester` on ChannelPairings (policy and binding exist). */
export async function pairingPolicyInstalled(rest: Pick<RestClient, 'request'>): Promise<boolean> {
  const base = '/apis/admissionregistration.k8s.io/v1';
  try {
    await rest.request(`${base}/validatingadmissionpolicies/${PAIRING_POLICY_NAME}`);
    await rest.request(`${base}/validatingadmissionpolicybindings/${PAIRING_POLICY_NAME}`);
    return true;
  } catch {
    return false;
  }
}

export async function startChannels(w: ChannelsWiring): Promise<RunningChannels> {
  const now = w.now ?? (() => new Date());
  const log = w.logger;
  const audit = (event: AuditEventInput) => {
    try {
      w.audit?.append(event);
    } catch (err) {
      log.error({ err: (err as Error).message, event: event.type }, 'channels: audit append failed');
    }
  };
  const rest = new RestClient(w.kubeConfig);
  const pairings = new PairingStore(w.pairingPersistence);
  await pairings.load();
  const codes = new PairingCodes();
  const core = new ChannelCore({
    pairings,
    codes,
    approvals: w.approvals,
    tasks: w.tasks,
    decide: (ns, name, user, decision) => w.decideApproval(ns, name, { user }, decision),
    audit,
    now,
    ttlSeconds: w.ttlSeconds,
    ...(w.cloud ? { cloud: w.cloud } : {}),
    ...(w.settings.intake ? { intake: intakeSettings(w.settings.intake, rest) } : {}),
  });
  const context = (platform: Platform): AdapterContext => {
    // At most 60 audit records a minute per platform for rejected requests: forgers cannot flood the log.
    let minute = Number.NaN;
    let audited = 0;
    return {
      act: (sender, action) => core.act(sender, action),
      rejected: (problem, sourceIp) => {
        const current = Math.floor(now().getTime() / 60_000);
        if (current !== minute) [minute, audited] = [current, 0];
        if (audited >= 60) return;
        audited++;
        audit({
          type: 'channel.rejected',
          platform,
          problem,
          ...(sourceIp ? { sourceIp: sourceIp.slice(0, 64) } : {}),
        });
      },
      now,
    };
  };
  const outboxes: Outbox[] = [];
  const outbox = () => {
    const o = new Outbox();
    outboxes.push(o);
    return o;
  };
  const secret = async (name: string) =>
    await w.secrets.get(name).catch((err: Error) => {
      throw new Error(`channels: ${err.message} (store it with: closedpaw vault set ${name})`);
    });
  const retry = w.retry ? { retry: w.retry } : {};
  const adapters: ChannelAdapter[] = [];
  const s = w.settings;
  if (s.telegram) {
    adapters.push(
      new TelegramChannel(
        {
          ...s.telegram,
          botToken: await secret(VAULT_ENTRIES.telegram.botToken),
          webhookSecret: await secret(VAULT_ENTRIES.telegram.webhookSecret),
          ...(s.publicUrl ? { publicUrl: s.publicUrl } : {}),
          ...retry,
        },
        context('telegram'),
        outbox(),
      ),
    );
  }
  if (s.discord) {
    adapters.push(
      new DiscordChannel(
        {
          apiUrl: s.discord.apiUrl,
          channelId: s.discord.channelId,
          publicKey: discordPublicKey(s.discord.publicKey),
          botToken: await secret(VAULT_ENTRIES.discord.botToken),
          ...retry,
        },
        context('discord'),
        outbox(),
      ),
    );
  }
  if (s.slack) {
    adapters.push(
      new SlackChannel(
        {
          ...s.slack,
          botToken: await secret(VAULT_ENTRIES.slack.botToken),
          signingSecret: await secret(VAULT_ENTRIES.slack.signingSecret),
          ...retry,
        },
        context('slack'),
        outbox(),
      ),
    );
  }

  const listener = new WebhookListener({
    adapters,
    host: s.listen.host,
    port: s.listen.port,
    onError: (err) => log.error({ err: (err as Error).message }, 'channels: webhook request failed'),
  });
  const port = await listener.listen();
  log.info({ listen: `${s.listen.host}:${port}`, channels: s.platforms }, 'channels: webhook listener up');
  for (const a of adapters) {
    void a
      .start?.()
      .catch((err: Error) =>
        log.error({ channel: a.platform, err: err.message }, 'channels: webhook registration failed'),
      );
  }

  const notifier = new ApprovalNotifier({
    approvals: w.approvals,
    tasks: w.tasks,
    adapters,
    refs: core.refs,
    audit,
    now,
    ttlSeconds: w.ttlSeconds,
    ...(w.cloud ? { cloud: w.cloud } : {}),
    onError: (err, platform) =>
      log.warn({ channel: platform, err: (err as Error).message }, 'channels: notification failed'),
  });
  const timer = setInterval(() => notifier.scan(), w.scanIntervalMs ?? 2000);
  timer.unref();
  notifier.scan();

  let informer: Informer<KubeObject> | undefined;
  const stop = async () => {
    clearInterval(timer);
    informer?.stop();
    await listener.close();
  };
  let pairingEnabled = false;
  try {
    pairingEnabled = await pairingPolicyInstalled(rest);
    informer = pairingEnabled ? await watchPairings() : undefined;
  } catch (err) {
    await stop();
    throw err;
  }
  if (!pairingEnabled) {
    log.error(
      { policy: PAIRING_POLICY_NAME },
      'channels: the ChannelPairing admission policy is not installed (or not readable): pairing confirmations are off; existing pairings still work',
    );
  }

  async function watchPairings(): Promise<Informer<KubeObject>> {
    const confirmations = new PairingConfirmations({
      rest,
      codes,
      pairings,
      adapters,
      pairableUsers: s.users,
      audit,
      now,
      onError: (err) => log.error({ err: apiMessage(err) }, 'channels: pairing confirmation failed'),
    });
    const watch = new Informer<KubeObject>('channelpairings', {
      kubeConfig: w.kubeConfig,
      path: PAIRINGS_PATH,
      ...(typeof log.child === 'function' ? { logger: log as never } : {}),
    });
    watch.on('add', (obj) => void confirmations.handle(obj));
    watch.on('update', (obj) => void confirmations.handle(obj));
    await watch.start();
    return watch;
  }

  return {
    port,
    core,
    adapters,
    notifier,
    pairingEnabled,
    idle: async () => {
      await Promise.all(outboxes.map((o) => o.idle()));
    },
    stop,
  };
}

/** The AgentTask a chat message asks for: no tools, and always approval: required. */
export function intakeTask(model: string, prompt: string) {
  return {
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'AgentTask',
    metadata: { generateName: 'chat-', labels: { 'closedpaw.dev/source': 'channel' } },
    // Chat intake is at least high risk: approval: required makes it critical, so a human approves it.
    spec: { prompt: prompt.slice(0, 32768), model, tools: [], approval: 'required' },
  };
}

/** Task intake: an AgentTask created as the paired user (the API server checks their RBAC), always approval: required. */
function intakeSettings(settings: NonNullable<ChannelSettings['intake']>, rest: RestClient): IntakeSettings {
  return {
    ...settings,
    async create(user, prompt) {
      const created = await rest.request<{ metadata?: { name?: string } }>(
        `/apis/closedpaw.dev/v1alpha1/namespaces/${encodeURIComponent(settings.namespace)}/agenttasks`,
        {
          method: 'POST',
          headers: { 'Impersonate-User': user },
          body: intakeTask(settings.model, prompt),
        },
      );
      return created.metadata?.name ?? '?';
    },
  };
}

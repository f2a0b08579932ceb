/**
 * Operator configuration from environment variables, validated by zod.
 * A bad value stops start-up with a message naming the variable.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ChannelConfigError, type ChannelSettings, parseChannelSettings } from './channels/settings.ts';
import { CloudConfigError, type CloudSettings, parseCloudSettings } from './gateway/providers/catalog.ts';
import { stateDirOf, vaultLocations } from './vault/locations.ts';

const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');
const port = z.coerce.number().int().min(1).max(65535);
const selector = z
  .string()
  .regex(/^[A-Za-z0-9./_-]+=[A-Za-z0-9._-]+(,[A-Za-z0-9./_-]+=[A-Za-z0-9._-]+)*$/, 'expected k=v[,k=v...]')
  .transform((s) => Object.fromEntries(s.split(',').map((pair) => pair.split('=') as [string, string])));
const ipv4 = z.ipv4();
const nameList = z
  .string()
  .regex(/^[A-Za-z0-9:@._-]+(,[A-Za-z0-9:@._-]+)*$/, 'expected a comma-separated list of names')
  .transform((s) => s.split(','));

export const envSchema = z.object({
  CLOSEDPAW_OLLAMA_URL: z.url().default('http://127.0.0.1:11434'),
  CLOSEDPAW_GATEWAY_ADDR: z
    .string()
    .regex(/^[0-9.]+:\d+$|^\[[0-9a-f:]+\]:\d+$|^off$/, 'expected host:port or off')
    .default('127.0.0.1:11435'),
  CLOSEDPAW_GATEWAY_URL: z.url().optional(),
  CLOSEDPAW_GATEWAY_SERVICE: z.string().min(1).default('closedpaw-gateway'),
  CLOSEDPAW_GATEWAY_NAMESPACE: z.string().min(1).optional(),
  CLOSEDPAW_GATEWAY_POD_SELECTOR: selector.default({ 'app.kubernetes.io/name': 'closedpaw' }),
  CLOSEDPAW_GATEWAY_IP: ipv4.optional(),
  CLOSEDPAW_GATEWAY_PORT: port.optional(),
  CLOSEDPAW_GATEWAY_KEY_FILE: z.string().min(1).optional(),
  CLOSEDPAW_ALLOW_DNS: boolean.default(false),
  CLOSEDPAW_SANDBOX_HANDLERS: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\*?(,[A-Za-z0-9._-]+\*?)*$/, 'expected handler names, e.g. runsc,kata*')
    .default('runsc,kata*')
    .transform((s) => s.split(',')),
  CLOSEDPAW_ISOLATION_PROBES: z
    .string()
    .regex(
      /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}(,\d{1,3}(\.\d{1,3}){3}:\d{1,5})*$/,
      'expected IPv4:port[,IPv4:port...] — addresses the pod policy denies (e.g. the API server ClusterIP)',
    )
    .optional()
    .transform((s) => (s ? s.split(',') : undefined)),
  CLOSEDPAW_RUNNER_IMAGE: z.string().min(1).default('closedpaw/runner:0.1.0'),
  CLOSEDPAW_RUNNER_UID: z.coerce.number().int().min(1).max(2147483647).default(65532),
  CLOSEDPAW_RESULT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
  CLOSEDPAW_WATCH_NAMESPACE: z.string().optional(),
  CLOSEDPAW_WORKERS: z.coerce.number().int().min(1).max(64).default(8),
  CLOSEDPAW_LEADER_ELECTION: boolean.default(true),
  CLOSEDPAW_LEASE_NAMESPACE: z.string().min(1).default('closedpaw-system'),
  CLOSEDPAW_LEASE_NAME: z.string().min(1).max(253).default('closedpaw-operator'),
  CLOSEDPAW_POD_NAME: z.string().optional(),
  CLOSEDPAW_LEASE_DURATION_SECONDS: z.coerce.number().int().min(2).max(300).default(15),
  CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS: z.coerce.number().int().min(1).max(299).default(10),
  CLOSEDPAW_LEASE_RETRY_PERIOD_SECONDS: z.coerce.number().int().min(1).max(60).default(2),
  CLOSEDPAW_HTTP_ADDR: z
    .string()
    .regex(/^[0-9.]+:\d+$|^\[[0-9a-f:]+\]:\d+$/, 'expected host:port')
    .default('127.0.0.1:8080'),
  CLOSEDPAW_APPROVAL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86400)
    .default(1800),
  CLOSEDPAW_APPROVER_USERS: nameList.optional(),
  CLOSEDPAW_APPROVER_GROUPS: nameList.optional(),
  CLOSEDPAW_UI_ADDR: z
    .string()
    .regex(
      /^(127\.0\.0\.1|\[::1\]):\d+$|^off$/,
      'the approval UI binds to loopback only: 127.0.0.1:PORT, [::1]:PORT or off',
    )
    .default('127.0.0.1:7780'),
  CLOSEDPAW_UI_APPROVER: z.string().min(1).max(253).optional(),
  CLOSEDPAW_UI_APPROVER_GROUPS: nameList.optional(),
  CLOSEDPAW_UI_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  CLOSEDPAW_UI_TOKEN_FILE: z.string().min(1).optional(),
  CLOSEDPAW_UI_STATE_DIR: z.string().min(1).optional(),
  CLOSEDPAW_STATE_DIR: z.string().min(1).optional(),
  CLOSEDPAW_VAULT_DIR: z.string().min(1).optional(),
  CLOSEDPAW_AUDIT: z.enum(['on', 'off']).default('on'),
  CLOSEDPAW_AUDIT_DIR: z.string().min(1).optional(),
  CLOSEDPAW_AUDIT_KEYS_DIR: z.string().min(1).optional(),
  CLOSEDPAW_AUDIT_CHECKPOINT_DIR: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof envSchema>;

/** Where sandbox pods may connect: the gateway's pods (namespace + selector) or one fixed address. */
export interface GatewayEgress {
  port: number;
  namespace: string;
  podSelector: Record<string, string>;
  ip?: string;
}

export interface GatewayConfig {
  /** Where the gateway listens; undefined when CLOSEDPAW_GATEWAY_ADDR=off. */
  listen?: { host: string; port: number };
  /** The URL pods use; undefined: the ClusterIP of `service` is looked up at start. */
  url?: string;
  service: { namespace: string; name: string };
  egress: GatewayEgress;
  /** The token signing key (created on first start, so tokens survive a restart). */
  keyFile: string;
}

export interface OperatorConfig {
  /** Ollama, as the gateway reaches it (pods never do). */
  ollamaUrl: string;
  gateway: GatewayConfig;
  allowDns: boolean;
  /** RuntimeClass handlers that count as a sandbox (exact names, or prefixes ending in `*`). */
  sandboxHandlers: string[];
  runnerImage: string;
  runnerUid: number;
  /** Addresses a sandbox pod must find unreachable before its runner starts; undefined: the API server's ClusterIP. */
  isolationProbes?: string[];
  resultMaxBytes: number;
  watchNamespace?: string;
  workers: number;
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  /** controller-runtime's defaults: 15 s lease, 10 s renew deadline, 2 s retry. */
  lease: { durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  identity: string;
  httpHost: string;
  httpPort: number;
  approvalTtlSeconds: number;
  /** Who may decide approvals; empty means anyone RBAC lets patch them. */
  approvers: { users: string[]; groups: string[] };
  /** The local approval UI; undefined when CLOSEDPAW_UI_ADDR=off. */
  ui?: {
    host: string;
    port: number;
    approver?: string;
    approverGroups?: string[];
    token?: string;
    /** A file holding the token, re-read when it changes (rotation without restart). */
    tokenFile?: string;
    /** Where a generated token is kept (mode 0600, `<dir>/ui-token`). */
    stateDir?: string;
  };
  /** Where the operator keeps what it must not lose: audit log, generated keys, gateway key, UI token. */
  stateDir: string;
  /** Encrypted provider keys and bot secrets (`closedpaw vault`), sealed with the audit keys. */
  vaultDir: string;
  /** Cloud models the gateway may serve (CLOSEDPAW_CLOUD_*); undefined: local models only. */
  cloud?: CloudSettings;
  /** Approval channels (CLOSEDPAW_CHANNELS, CLOSEDPAW_CHANNEL_*); undefined: none. */
  channels?: ChannelSettings;
  /**
   * The sealed audit log: `<dir>/audit.log`, keys from a (Secret-mounted) dir — generated there when it holds
   * none and `generateKeys` — and checkpoints published to a second dir. Undefined only with CLOSEDPAW_AUDIT=off.
   */
  audit?: { logPath: string; keysDir: string; generateKeys: boolean; checkpointDir: string };
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): OperatorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const state = stateDirOf(env);
  if (e.CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS >= e.CLOSEDPAW_LEASE_DURATION_SECONDS) {
    throw new ConfigError(
      'invalid configuration:\n  CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS must be less than CLOSEDPAW_LEASE_DURATION_SECONDS',
    );
  }
  const [httpHost, httpPort] = splitHostPort(e.CLOSEDPAW_HTTP_ADDR);
  return consistent({
    ollamaUrl: e.CLOSEDPAW_OLLAMA_URL,
    gateway: gatewayConfig(e, state),
    allowDns: e.CLOSEDPAW_ALLOW_DNS,
    sandboxHandlers: e.CLOSEDPAW_SANDBOX_HANDLERS,
    runnerImage: e.CLOSEDPAW_RUNNER_IMAGE,
    ...(e.CLOSEDPAW_ISOLATION_PROBES ? { isolationProbes: e.CLOSEDPAW_ISOLATION_PROBES } : {}),
    runnerUid: e.CLOSEDPAW_RUNNER_UID,
    resultMaxBytes: e.CLOSEDPAW_RESULT_MAX_BYTES,
    ...(e.CLOSEDPAW_WATCH_NAMESPACE ? { watchNamespace: e.CLOSEDPAW_WATCH_NAMESPACE } : {}),
    workers: e.CLOSEDPAW_WORKERS,
    leaderElection: e.CLOSEDPAW_LEADER_ELECTION,
    leaseNamespace: e.CLOSEDPAW_LEASE_NAMESPACE,
    leaseName: e.CLOSEDPAW_LEASE_NAME,
    lease: {
      durationMs: e.CLOSEDPAW_LEASE_DURATION_SECONDS * 1000,
      renewDeadlineMs: e.CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS * 1000,
      retryPeriodMs: e.CLOSEDPAW_LEASE_RETRY_PERIOD_SECONDS * 1000,
    },
    identity: e.CLOSEDPAW_POD_NAME ?? `closedpaw-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    httpHost,
    httpPort,
    approvalTtlSeconds: e.CLOSEDPAW_APPROVAL_TTL_SECONDS,
    approvers: { users: e.CLOSEDPAW_APPROVER_USERS ?? [], groups: e.CLOSEDPAW_APPROVER_GROUPS ?? [] },
    ...(e.CLOSEDPAW_UI_ADDR === 'off' ? {} : { ui: uiConfig(e, state) }),
    stateDir: state,
    vaultDir: vaultLocations(env).vaultDir,
    ...optionalFeatures(env),
    ...(e.CLOSEDPAW_AUDIT === 'on' ? { audit: auditConfig(e, env, state) } : {}),
    logLevel: e.LOG_LEVEL,
  });
}

function gatewayConfig(e: Env, state: string): GatewayConfig {
  const listen = e.CLOSEDPAW_GATEWAY_ADDR === 'off' ? undefined : splitHostPort(e.CLOSEDPAW_GATEWAY_ADDR);
  const urlPort = e.CLOSEDPAW_GATEWAY_URL ? Number(new URL(e.CLOSEDPAW_GATEWAY_URL).port || 80) : undefined;
  // Port 0 (listen anywhere, tests) is settled once the gateway listens.
  const port = e.CLOSEDPAW_GATEWAY_PORT ?? urlPort ?? (listen ? listen[1] : 11435);
  const namespace = e.CLOSEDPAW_GATEWAY_NAMESPACE ?? e.CLOSEDPAW_LEASE_NAMESPACE;
  return {
    ...(listen ? { listen: { host: listen[0], port: listen[1] } } : {}),
    ...(e.CLOSEDPAW_GATEWAY_URL ? { url: e.CLOSEDPAW_GATEWAY_URL.replace(/\/+$/, '') } : {}),
    service: { namespace, name: e.CLOSEDPAW_GATEWAY_SERVICE },
    egress: {
      port,
      namespace,
      podSelector: e.CLOSEDPAW_GATEWAY_POD_SELECTOR,
      ...(e.CLOSEDPAW_GATEWAY_IP ? { ip: e.CLOSEDPAW_GATEWAY_IP } : {}),
    },
    keyFile: e.CLOSEDPAW_GATEWAY_KEY_FILE ?? join(state, 'gateway-key.jwk'),
  };
}

/** Settings that are each valid but do not go together. */
function consistent(config: OperatorConfig): OperatorConfig {
  const problems: string[] = [];
  if (config.cloud && !config.audit) {
    problems.push(
      'CLOSEDPAW_CLOUD_MODELS: cloud models need the audit log on (their keys are sealed with its keys)',
    );
  }
  if (config.channels && !config.audit) {
    problems.push(
      'CLOSEDPAW_CHANNELS: channels need the audit log on (their secrets are sealed with its keys)',
    );
  }
  if (config.channels && config.ui && config.channels.listen.port === config.ui.port) {
    problems.push('CLOSEDPAW_CHANNELS_ADDR: the webhook listener must not share the approval UI port');
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}

/** Cloud models and channels validate their own variables; a problem stops start-up naming the variable. */
function optionalFeatures(
  env: Record<string, string | undefined>,
): Pick<OperatorConfig, 'cloud' | 'channels'> {
  try {
    const cloud = parseCloudSettings(env);
    const channels = parseChannelSettings(env);
    return { ...(cloud ? { cloud } : {}), ...(channels ? { channels } : {}) };
  } catch (error) {
    if (error instanceof CloudConfigError || error instanceof ChannelConfigError) {
      throw new ConfigError(`invalid configuration:\n  ${error.message}`);
    }
    throw error;
  }
}

/** The audit log's places; the keyring is the vault's (vault/locations.ts), in one place for both. */
function auditConfig(
  e: Env,
  env: Record<string, string | undefined>,
  state: string,
): NonNullable<OperatorConfig['audit']> {
  const { keysDir, defaultKeys } = vaultLocations(env);
  const dir = e.CLOSEDPAW_AUDIT_DIR ?? join(state, 'audit');
  return {
    logPath: join(dir, 'audit.log'),
    keysDir,
    generateKeys: defaultKeys,
    checkpointDir: e.CLOSEDPAW_AUDIT_CHECKPOINT_DIR ?? join(state, 'checkpoints'),
  };
}

function uiConfig(e: Env, state: string): NonNullable<OperatorConfig['ui']> {
  if (e.CLOSEDPAW_UI_TOKEN && e.CLOSEDPAW_UI_TOKEN_FILE) {
    throw new ConfigError(
      'invalid configuration:\n  CLOSEDPAW_UI_TOKEN_FILE: set either CLOSEDPAW_UI_TOKEN or CLOSEDPAW_UI_TOKEN_FILE, not both',
    );
  }
  const [host, port] = splitHostPort(e.CLOSEDPAW_UI_ADDR);
  return {
    host,
    port,
    ...(e.CLOSEDPAW_UI_APPROVER ? { approver: e.CLOSEDPAW_UI_APPROVER } : {}),
    ...(e.CLOSEDPAW_UI_APPROVER_GROUPS ? { approverGroups: e.CLOSEDPAW_UI_APPROVER_GROUPS } : {}),
    ...(e.CLOSEDPAW_UI_TOKEN ? { token: e.CLOSEDPAW_UI_TOKEN } : {}),
    ...(e.CLOSEDPAW_UI_TOKEN_FILE ? { tokenFile: e.CLOSEDPAW_UI_TOKEN_FILE } : {}),
    stateDir: e.CLOSEDPAW_UI_STATE_DIR ?? state,
  };
}

function splitHostPort(addr: string): [string, number] {
  const at = addr.lastIndexOf(':');
  return [addr.slice(0, at).replace(/^\[|\]$/g, ''), Number(addr.slice(at + 1))];
}

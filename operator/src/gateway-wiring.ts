/**
 * Puts the model gateway into the operator process: its signing key, its listener, the URL sandbox
 * pods are given, and the per-task token each pod carries. The gateway itself (gateway/) knows
 * nothing of informers or config; this is where they meet.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AgentTask } from './api/types.ts';
import type { AuditSink } from './audit/index.ts';
import { exportRecords, type Keyring, loadKeyring } from './audit/index.ts';
import type { AuditGuard } from './audit-guard.ts';
import type { OperatorConfig } from './config.ts';
import { isTerminal } from './controllers/task-decisions.ts';
import {
  createGateway,
  createTokenVerifier,
  type Gateway,
  type GatewayKey,
  issueTaskToken,
  loadOrCreateGatewayKey,
  type ScreenFn,
} from './gateway/index.ts';
import { cachedVaultKeys } from './gateway/providers/index.ts';
import type { VaultReader } from './gateway/providers/keys.ts';
import { UsageReplay } from './gateway/usage-replay.ts';
import type { ClusterClient } from './k8s/client.ts';
import type { Logger } from './logger.ts';
import type { Informer } from './runtime/informer.ts';
import { Vault } from './vault/index.ts';

/** Where events go when the operator runs without an audit log (a warned, explicit choice). */
const DISCARD: AuditSink = { append() {}, async flush() {}, async close() {} };

export interface RunningGateway {
  gateway?: Gateway;
  /** The URL pods use, and the port their NetworkPolicy allows. */
  url: string;
  egressPort: number;
  issueToken(task: AgentTask): Promise<string>;
}

export interface GatewayWiring {
  config: OperatorConfig;
  client: ClusterClient;
  tasks: Pick<Informer<AgentTask>, 'get'>;
  guard: AuditGuard | undefined;
  /** Where calls are audited when there is no guard (tests). */
  sink?: AuditSink;
  logger: Logger;
  screen?: ScreenFn;
}

/** The key tokens are signed with, kept in a file so tokens outlive an operator restart. */
async function signingKey(config: OperatorConfig): Promise<GatewayKey> {
  await mkdir(dirname(config.gateway.keyFile), { recursive: true, mode: 0o700 });
  return await loadOrCreateGatewayKey(config.gateway.keyFile);
}

/** The gateway's address as pods see it: configured, the local listener, or its Service's ClusterIP. */
async function podUrl(wiring: GatewayWiring, listenPort: number | undefined): Promise<string> {
  const { gateway } = wiring.config;
  if (gateway.url) return gateway.url;
  if (gateway.listen && gateway.egress.ip)
    return `http://${gateway.egress.ip}:${listenPort ?? gateway.egress.port}`;
  const { namespace, name } = gateway.service;
  const service = await wiring.client.readService(namespace, name).catch((error: Error) => {
    throw new Error(
      `cannot find the gateway Service ${namespace}/${name} (${error.message}): set CLOSEDPAW_GATEWAY_URL, or CLOSEDPAW_GATEWAY_IP for a fixed address`,
    );
  });
  const ip = service.spec?.clusterIP;
  if (!ip || ip === 'None') throw new Error(`the gateway Service ${namespace}/${name} has no ClusterIP`);
  return `http://${ip}:${service.spec?.ports?.[0]?.port ?? gateway.egress.port}`;
}

/**
 * The vault as the gateway reads it: opened on first use (the audit key it is sealed with may only be
 * generated once this process leads), then kept.
 */
export function lazyVault(config: OperatorConfig): VaultReader & Pick<Vault, 'put'> {
  let opened: Promise<Vault> | undefined;
  const vault = async () => {
    if (!config.audit) throw new Error('the vault needs the audit keys: CLOSEDPAW_AUDIT is off');
    const keysDir = config.audit.keysDir;
    opened ??= loadKeyring(keysDir).then((keyring) => Vault.open(config.vaultDir, keyring));
    return await opened.catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
  };
  return {
    get: async (name) => await (await vault()).get(name),
    put: async (name, value) => await (await vault()).put(name, value),
  };
}

export async function startGateway(wiring: GatewayWiring): Promise<RunningGateway> {
  const { config, logger } = wiring;
  const key = await signingKey(config);
  let gateway: Gateway | undefined;
  let listenPort: number | undefined;
  if (config.gateway.listen) {
    gateway = createGateway({
      upstream: config.ollamaUrl,
      verifier: await createTokenVerifier(key.publicKey),
      taskState: ({ namespace, name, uid }) => {
        const task = wiring.tasks.get(`${namespace}/${name}`);
        if (!task || task.metadata.uid !== uid) return 'unknown';
        return isTerminal(task) ? 'finished' : 'active';
      },
      audit: wiring.guard ?? wiring.sink ?? DISCARD,
      ...(wiring.guard ? { auditHealthy: () => wiring.guard!.health().ok } : {}),
      ...(wiring.screen ? { screen: wiring.screen } : {}),
      ...(config.cloud
        ? { cloud: { settings: config.cloud, keys: cachedVaultKeys(lazyVault(config)) } }
        : {}),
      allowFlaggedToolOutput: ({ namespace, name, uid }) => {
        const task = wiring.tasks.get(`${namespace}/${name}`);
        return task?.metadata.uid === uid && task.spec.toolOutputScreening === 'warn';
      },
      onToolOutputFlagged: (task, finding) =>
        logger.warn({ task, reasons: finding.reasons }, 'a tool output was flagged: the run is stopped'),
      logger: logger.child({ component: 'gateway' }),
      version: '0.24.0',
    });
    const { host, port } = config.gateway.listen;
    listenPort = (await gateway.listen(host, port)).port;
    logger.info({ gateway: `${host}:${listenPort}`, upstream: config.ollamaUrl }, 'model gateway listening');
  }
  const url = await podUrl(wiring, listenPort);
  const egressPort = config.gateway.egress.port || listenPort || Number(new URL(url).port);
  return {
    ...(gateway ? { gateway } : {}),
    url,
    egressPort,
    issueToken: async (task) =>
      await issueTaskToken(
        key,
        { namespace: task.metadata.namespace!, name: task.metadata.name!, uid: task.metadata.uid! },
        { model: task.spec.model, budget: task.spec.budget, timeoutSeconds: task.spec.timeoutSeconds },
      ),
  };
}

/** Where the sealed log is, and the keys that read it. */
export interface AuditLogLocation {
  logPath: string;
  keyring: Keyring;
  checkpointDir?: string;
}

/**
 * Gives the gateway back what the tasks had spent, and which runs screening had stopped, from the sealed
 * log (verified as it is read). A log that does not verify throws: the audit open fails and the gateway
 * stays closed (fail closed), rather than hand tasks budgets they have already used.
 */
export async function restoreGatewayUsage(
  gateway: Pick<Gateway, 'restoreUsage'> | undefined,
  log: AuditLogLocation,
  logger: Logger,
): Promise<void> {
  if (!gateway) return;
  const replay = new UsageReplay();
  const report = await exportRecords({ ...log, onRecord: (r) => replay.add(r.event) });
  if (!report.ok) {
    throw new Error(
      `the audit log does not verify (${report.problem.code}: ${report.problem.message}), so the tasks' ` +
        'spent budgets cannot be read back from it; `closedpaw audit verify` says more',
    );
  }
  const spending = replay.spending();
  gateway.restoreUsage(spending);
  logger.info(
    { tasks: spending.length, records: report.records },
    'gateway budgets read back from the audit log',
  );
}

/**
 * Wires the operator: informers → work queue → AgentTask reconciler, behind a
 * leader Lease, with the ops HTTP listener. `startOperator` is used by main.ts
 * and by tests that run the operator in-process.
 */

import { readdir } from 'node:fs/promises';
import type { V1NetworkPolicy, V1Pod, V1RuntimeClass } from '@kubernetes/client-node';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from './api/meta.ts';
import type { AgentTask, Approval } from './api/types.ts';
import { type AuditSink, generateKey, loadKeyring, openAuditSink } from './audit/index.ts';
import { AuditGuard } from './audit-guard.ts';
import type { RunningChannels } from './channels/index.ts';
import type { OperatorConfig } from './config.ts';
import { agentTaskReconciler } from './controllers/agenttask.ts';
import { createApprovalGate } from './controllers/approval-gate.ts';
import { slimNetworkPolicy, slimPod } from './controllers/cache-transforms.ts';
import { sealedTaskAudit } from './controllers/sealed-task-audit.ts';
import { auditOnce, NO_AUDIT, type TaskAudit } from './controllers/task-audit.ts';
import { type AuditLogLocation, lazyVault, restoreGatewayUsage, startGateway } from './gateway-wiring.ts';
import { isolationProbes } from './isolation-probes.ts';
import { ClusterClient } from './k8s/client.ts';
import type { KubeConnection } from './k8s/rest.ts';
import type { Logger } from './logger.ts';
import { createDomainMetrics, type DomainMetrics } from './metrics.ts';
import { screenTask } from './policy/task-screening.ts';
import { preflight } from './preflight.ts';
import { Controller } from './runtime/controller.ts';
import { Informer, type KubeObject } from './runtime/informer.ts';
import { LeaderElector } from './runtime/leader.ts';
import { Manager } from './runtime/manager.ts';
import { createRuntimeMetrics } from './runtime/metrics.ts';
import { MANAGED_BY } from './sandbox/names.ts';
import { screen } from './screening/index.ts';
import { createOpsServer } from './server/ops.ts';

export interface RunningOperator {
  registry: Registry;
  /** The ops listener's actual port (useful when configured as :0). */
  httpPort: number;
  /** The approval UI, `http://127.0.0.1:PORT/#token=…`, when it runs. */
  uiUrl?: string;
  /** The model gateway's URL as sandbox pods reach it. */
  gatewayUrl: string;
  stop(): Promise<void>;
}

const MANAGED_SELECTOR = Object.entries(MANAGED_BY)
  .map(([k, v]) => `${k}=${v}`)
  .join(',');

function resourcePath(config: OperatorConfig, group: string, version: string, plural: string): string {
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return config.watchNamespace
    ? `${prefix}/namespaces/${config.watchNamespace}/${plural}`
    : `${prefix}/${plural}`;
}

/** The AgentTask key of a child object: its controller owner, when that is an AgentTask. */
function ownerTaskKeys(obj: KubeObject): string[] {
  const owner = obj.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === AGENT_TASK.kind);
  return owner ? [`${obj.metadata?.namespace}/${owner.name}`] : [];
}

export interface OperatorHooks {
  /** Overrides the task audit from config (tests). */
  audit?: TaskAudit;
  /** Overrides the audit store from config: tasks and the gateway record into this sink (tests). */
  auditSink?: AuditSink;
  /** Called when the leader Lease is lost; main.ts exits so a fresh process re-acquires it. */
  onLostLease?: () => void;
  /** Sees every API write the operator makes, in order (tests). */
  onApiWrite?: (verb: string, resource: string, target: string) => void;
}

/** The sealed audit store behind a fail-closed guard; opened only once this process leads. */
function sealedAuditGuard(
  settings: NonNullable<OperatorConfig['audit']>,
  logger: Logger,
  domain: DomainMetrics,
  /** Reads the log once it is open and before the guard lets anything through; a throw fails the open. */
  onOpened: (log: AuditLogLocation) => Promise<void>,
) {
  const log = logger.child({ component: 'audit' });
  return new AuditGuard({
    open: async (extra) => {
      if (settings.generateKeys) await ensureAuditKey(settings.keysDir, log);
      const location = {
        logPath: settings.logPath,
        keyring: await loadKeyring(settings.keysDir),
        ...(settings.checkpointDir ? { checkpointDir: settings.checkpointDir } : {}),
      };
      const sink = await openAuditSink({ ...location, logger: log, ...extra });
      try {
        await onOpened(location);
      } catch (error) {
        await sink.close().catch(() => {});
        throw error;
      }
      return sink;
    },
    logger: log,
    onCheckpoint: (seq) => domain.auditCheckpointSize.set(seq),
  });
}

/** With no key configured, the operator makes one in its state directory (once; it must be kept). */
async function ensureAuditKey(dir: string, logger: Logger): Promise<void> {
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.some((name) => name.endsWith('.json'))) return;
  const key = await generateKey(dir);
  logger.warn(
    { kid: key.kid, dir },
    'generated an audit key: back this directory up; without it the log cannot be verified or read',
  );
}

/**
 * Approval channels (Telegram, Discord, Slack), when configured: leader only. A channel that cannot start
 * is logged and left off — it never stops the operator.
 */
async function startApprovalChannels(
  config: OperatorConfig,
  deps: {
    kubeConfig: KubeConnection;
    client: ClusterClient;
    approvals: Informer<Approval & KubeObject>;
    tasks: Informer<AgentTask & KubeObject>;
    sink: AuditSink | undefined;
    logger: Logger;
  },
): Promise<RunningChannels | undefined> {
  if (!config.channels) return undefined;
  const { startChannels, vaultPairings } = await import('./channels/index.ts');
  const vault = lazyVault(config);
  return await startChannels({
    settings: config.channels,
    secrets: vault,
    pairingPersistence: vaultPairings(vault),
    kubeConfig: deps.kubeConfig,
    decideApproval: (namespace, name, approver, decision) =>
      deps.client.decideApproval(namespace, name, approver, decision),
    approvals: deps.approvals,
    tasks: deps.tasks,
    ...(deps.sink ? { audit: deps.sink } : {}),
    logger: deps.logger.child({ component: 'channels' }),
    ttlSeconds: config.approvalTtlSeconds,
    ...(config.cloud ? { cloud: config.cloud } : {}),
  }).catch((error: unknown) => {
    deps.logger.error({ err: (error as Error).message }, 'approval channels failed to start: they stay off');
    return undefined;
  });
}

/** The local approval UI; it decides as the configured human (impersonation), never as the operator. */
async function startApprovalUi(
  settings: NonNullable<OperatorConfig['ui']>,
  deps: {
    approvals: Informer<Approval & KubeObject>;
    tasks: Informer<AgentTask & KubeObject>;
    client: ClusterClient;
    logger: Logger;
    sink: AuditGuard | undefined;
    ttlSeconds: number;
    cloud: OperatorConfig['cloud'];
    kubeConfig: KubeConnection;
    /** The sealed log the task view reads its audit trails from (undefined: no trail). */
    audit: OperatorConfig['audit'];
    /** Approval channels are on: the UI confirms chat pairing codes too. */
    channels: boolean;
  },
) {
  // Loaded only when the UI runs: it brings its own routes, schemas and static serving.
  const { createAccessReview, createTaskSources, NO_ACCESS, resolveTokenSource, startUiServer, UI_DIST_DIR } =
    await import('./server/ui/index.ts');
  const { approver } = settings;
  const groups = settings.approverGroups ?? [];
  // Pairing codes are confirmed as the approver, never as the operator.
  const pairing =
    approver && deps.channels
      ? (await import('./channels/pairing-request.ts')).pairingAs(deps.kubeConfig, { user: approver, groups })
      : undefined;
  return await startUiServer({
    ...(pairing ? { pair: pairing } : {}),
    ...createTaskSources({ kubeConfig: deps.kubeConfig, audit: deps.audit, tasks: deps.tasks }),
    approvals: deps.approvals,
    tasks: deps.tasks,
    decide: (namespace, name, decision) =>
      approver
        ? deps.client.decideApproval(namespace, name, { user: approver, groups }, decision)
        : Promise.reject(new Error('CLOSEDPAW_UI_APPROVER is not set: the UI is read-only')),
    ...(approver ? { approver, approverGroups: groups } : {}),
    access: approver
      ? createAccessReview({
          user: approver,
          groups,
          canI: (who, attributes) => deps.client.canI(who, attributes),
        })
      : NO_ACCESS,
    ttlSeconds: deps.ttlSeconds,
    ...(deps.cloud ? { cloud: deps.cloud } : {}),
    token: resolveTokenSource(
      {
        ...(settings.token ? { token: settings.token } : {}),
        ...(settings.tokenFile ? { tokenFile: settings.tokenFile } : {}),
        ...(settings.stateDir ? { stateDir: settings.stateDir } : {}),
      },
      (problem) =>
        problem
          ? deps.logger.error({ problem }, 'the UI token file is unusable: the UI refuses every request')
          : deps.logger.info('the UI token changed: the old token no longer works'),
    ),
    host: settings.host,
    port: settings.port,
    staticDir: UI_DIST_DIR,
    logger: deps.logger.child({ component: 'ui' }),
    onLogin: (ok, remote) => {
      try {
        deps.sink?.append(
          ok
            ? {
                type: 'ui.login_succeeded',
                actor: { kind: 'user', name: approver ?? 'unknown' },
                method: 'token',
                sourceIp: remote,
              }
            : {
                type: 'ui.login_failed',
                username: approver ?? 'unknown',
                reason: 'bad_credentials',
                sourceIp: remote,
              },
        );
      } catch (error) {
        deps.logger.error({ err: (error as Error).message }, 'audit append failed');
      }
    },
  });
}

/** One informer per kind the operator reads; children are filtered to what it manages. */
function createInformers(config: OperatorConfig, kubeConfig: KubeConnection, logger: Logger) {
  const informer = <T extends KubeObject>(
    name: string,
    path: string,
    labelSelector?: string,
    transform?: (obj: KubeObject) => KubeObject,
  ) =>
    new Informer<T>(name, {
      kubeConfig,
      path,
      resyncMs: 10 * 60_000,
      staleAfterMs: 5 * 60_000,
      logger,
      ...(labelSelector ? { labelSelector } : {}),
      ...(transform ? { transform } : {}),
    });
  const tasks = informer<AgentTask & KubeObject>(
    'agenttasks',
    resourcePath(config, GROUP, VERSION, AGENT_TASK.plural),
  );
  const approvals = informer<Approval & KubeObject>(
    'approvals',
    resourcePath(config, GROUP, VERSION, APPROVAL.plural),
  );
  const pods = informer<V1Pod & KubeObject>(
    'pods',
    resourcePath(config, '', 'v1', 'pods'),
    MANAGED_SELECTOR,
    slimPod,
  );
  const policies = informer<V1NetworkPolicy & KubeObject>(
    'networkpolicies',
    resourcePath(config, 'networking.k8s.io', 'v1', 'networkpolicies'),
    MANAGED_SELECTOR,
    slimNetworkPolicy,
  );
  const runtimeClasses = informer<V1RuntimeClass & KubeObject>(
    'runtimeclasses',
    '/apis/node.k8s.io/v1/runtimeclasses',
  );
  // Namespaces: only their metadata, and only the watched one when the operator is scoped to one.
  const namespaces = new Informer<KubeObject>('namespaces', {
    kubeConfig,
    path: '/api/v1/namespaces',
    resyncMs: 10 * 60_000,
    staleAfterMs: 5 * 60_000,
    logger,
    ...(config.watchNamespace ? { fieldSelector: `metadata.name=${config.watchNamespace}` } : {}),
    transform: (obj) =>
      ({ apiVersion: obj.apiVersion, kind: obj.kind, metadata: obj.metadata }) as KubeObject,
  });

  return { tasks, approvals, pods, policies, runtimeClasses, namespaces };
}

export async function startOperator(
  config: OperatorConfig,
  kubeConfig: KubeConnection,
  logger: Logger,
  hooks: OperatorHooks = {},
): Promise<RunningOperator> {
  await preflight(config, kubeConfig);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runtimeMetrics = createRuntimeMetrics(registry);
  const domain = createDomainMetrics(registry);
  const overridden = hooks.audit ?? hooks.auditSink;
  // The gateway's budgets come back from the log before it lets a call through (the gateway exists by
  // the time this process leads and the log opens).
  const restoreBudgets = (log: AuditLogLocation) => restoreGatewayUsage(gateway.gateway, log, logger);
  const guard =
    config.audit && !overridden ? sealedAuditGuard(config.audit, logger, domain, restoreBudgets) : undefined;
  if (!guard && !overridden) {
    logger.warn(
      'CLOSEDPAW_AUDIT=off: audit events are NOT recorded (an explicit choice; remove it to record them)',
    );
  }
  if (guard)
    logger.info(
      { log: config.audit?.logPath, state: config.stateDir },
      'audit on: the sealed log opens once this process leads',
    );
  const sink: AuditSink | undefined = guard ?? hooks.auditSink;
  const audit = auditOnce(
    hooks.audit ?? (sink ? sealedTaskAudit(sink, logger, domain.auditFailures) : NO_AUDIT),
  );
  const client = new ClusterClient(kubeConfig, {
    writes: domain.apiWrites,
    ...(hooks.onApiWrite ? { onWrite: hooks.onApiWrite } : {}),
  });

  const { tasks, approvals, pods, policies, runtimeClasses, namespaces } = createInformers(
    config,
    kubeConfig,
    logger,
  );
  const gateway = await startGateway({
    config,
    client,
    tasks,
    guard,
    ...(hooks.auditSink ? { sink: hooks.auditSink } : {}),
    logger,
    screen: (text) => screen(text, { where: 'tool_output' }),
  });
  // Pods are told the gateway's URL, and their NetworkPolicy allows exactly its port.
  const sandboxConfig: OperatorConfig = {
    ...config,
    gateway: { ...config.gateway, egress: { ...config.gateway.egress, port: gateway.egressPort } },
  };

  const now = () => new Date();
  const reconcile = agentTaskReconciler({
    client,
    tasks,
    pods,
    policies,
    runtimeClasses,
    config: sandboxConfig,
    pod: {
      runnerImage: config.runnerImage,
      runnerUid: config.runnerUid,
      gatewayUrl: gateway.url,
      isolationProbes: await isolationProbes(config, client),
    },
    issueToken: gateway.issueToken,
    namespaceTerminating: (namespace) => Boolean(namespaces.get(namespace)?.metadata?.deletionTimestamp),
    screen: screenTask,
    audit,
    ...(guard ? { auditHealth: () => guard.health(), auditBarrier: () => guard.flush() } : {}),
    approvals: createApprovalGate({
      client,
      approvals,
      audit,
      ...(guard ? { barrier: () => guard.flush() } : {}),
      ttlSeconds: config.approvalTtlSeconds,
      approvers: config.approvers,
      now,
    }),
    onPhase: (phase) => domain.taskPhaseTransitions.inc({ phase }),
    requeue: (key, afterMs) => controller.queue.addAfter(key, afterMs),
    now,
  });
  const controller = new Controller({
    name: 'agenttask',
    reconcile,
    hooks: reconcile,
    workers: config.workers,
    metrics: runtimeMetrics.controller,
    logger,
  });
  controller.watch(tasks, (task) =>
    reconcile.isOwnWrite(task) ? [] : [`${task.metadata.namespace}/${task.metadata.name}`],
  );
  controller.watch(pods, ownerTaskKeys);
  controller.watch(policies, ownerTaskKeys);
  controller.watch(approvals, ownerTaskKeys);
  controller.watch(runtimeClasses, () =>
    tasks
      .list()
      .filter((t) => !t.status?.phase || t.status.phase === 'Pending')
      .map((t) => `${t.metadata.namespace}/${t.metadata.name}`),
  );

  const manager = new Manager();
  // A namespace being deleted: every task in it tears its sandbox down now (see agenttask.ts).
  controller.watch(namespaces, (ns) =>
    ns.metadata?.deletionTimestamp
      ? policies
          .list()
          .filter((p) => p.metadata?.namespace === ns.metadata?.name)
          .flatMap(ownerTaskKeys)
      : [],
  );
  for (const i of [tasks, approvals, pods, policies, runtimeClasses, namespaces])
    manager.addInformer(i as Informer<KubeObject>);
  manager.addController(controller);

  const readyz = () => {
    const check = manager.readyz();
    const health = guard?.health() ?? { ok: true as const };
    return health.ok ? check : { ...check, ok: false, detail: `${check.detail}; ${health.message}` };
  };
  const [host, port] = [config.httpHost, config.httpPort];
  const ops = createOpsServer({ registry, healthz: () => manager.healthz(), readyz });
  const httpPort = await ops.listen(host, port);
  logger.info({ http: `${host}:${httpPort}` }, 'ops listener up: /metrics /healthz /readyz');

  /** Leading: the audit log opens first (it must never have two writers), then the controllers and channels run. */
  let channels: RunningChannels | undefined;
  const lead = async () => {
    await guard?.start();
    await manager.start();
    channels = await startApprovalChannels(config, { kubeConfig, client, approvals, tasks, sink, logger });
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector({
      kubeConfig,
      namespace: config.leaseNamespace,
      name: config.leaseName,
      identity: config.identity,
      leaseDurationMs: config.lease.durationMs,
      renewDeadlineMs: config.lease.renewDeadlineMs,
      retryPeriodMs: config.lease.retryPeriodMs,
      logger: logger.child({ component: 'leader' }),
      leaderGauge: runtimeMetrics.leader,
      onStartedLeading: lead,
      onStoppedLeading: () => {
        logger.error('lost the leader lease (or could not start leading): stopping the controllers');
        void Promise.resolve(channels?.stop())
          .then(() => manager.stop())
          .then(() => guard?.close());
        hooks.onLostLease?.();
      },
    });
    void elector.run();
  } else {
    await lead();
  }

  const ui = config.ui
    ? await startApprovalUi(config.ui, {
        approvals,
        tasks,
        client,
        logger,
        sink: guard,
        ttlSeconds: config.approvalTtlSeconds,
        cloud: config.cloud,
        kubeConfig,
        audit: guard ? config.audit : undefined,
        channels: config.channels !== undefined,
      })
    : undefined;

  return {
    registry,
    httpPort,
    gatewayUrl: gateway.url,
    ...(ui ? { uiUrl: ui.url } : {}),
    async stop() {
      await ui?.close();
      await channels?.stop();
      await manager.stop();
      await elector?.stop();
      await gateway.gateway?.close();
      await ops.close();
      await guard?.close();
    },
  };
}

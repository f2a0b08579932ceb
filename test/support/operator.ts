/** Runs the operator in-process against the test cluster, scoped to one namespace. */

import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, NodeV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import type { AgentTask, Approval } from '../../operator/src/api/types.ts';
import { loadConfig, type OperatorConfig } from '../../operator/src/config.ts';
import { createLogger, type Logger } from '../../operator/src/logger.ts';
import { type OperatorHooks, type RunningOperator, startOperator } from '../../operator/src/operator.ts';
import { kubeConfig } from './kube.ts';
import { operatorKubeConfig } from './operator-identity.ts';

/** The operator's config in tests: one namespace, its own state directory (audit on, as by default). */
export function testConfig(namespace: string, env: Record<string, string> = {}): OperatorConfig {
  return loadConfig({
    CLOSEDPAW_STATE_DIR: mkdtempSync(join(tmpdir(), 'closedpaw-operator-state-')),
    CLOSEDPAW_WATCH_NAMESPACE: namespace,
    CLOSEDPAW_LEADER_ELECTION: 'false',
    CLOSEDPAW_HTTP_ADDR: '127.0.0.1:0',
    CLOSEDPAW_UI_ADDR: 'off',
    CLOSEDPAW_GATEWAY_ADDR: '127.0.0.1:0',
    CLOSEDPAW_GATEWAY_IP: '127.0.0.1',
    LOG_LEVEL: process.env.CLOSEDPAW_TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
}

/**
 * Starts the operator in-process, as the chart's service account on the cluster `admin` points at (the
 * chart's own RBAC decides what it may do; `admin` is used only to install that identity).
 */
export async function runOperator(
  admin: KubeConfig,
  namespace: string,
  env: Record<string, string> = {},
  hooks: OperatorHooks = {},
  logger?: Logger,
): Promise<RunningOperator> {
  const config = testConfig(namespace, env);
  const identity = await operatorKubeConfig(admin);
  const operator = await startOperator(config, identity, logger ?? createLogger(config.logLevel), hooks);
  return {
    ...operator,
    async stop() {
      await operator.stop();
      await rm(config.stateDir, { recursive: true, force: true });
    },
  };
}

/** A JSON logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

/** Creates a RuntimeClass if it is missing (they are cluster-scoped and shared by test files). */
export async function ensureRuntimeClass(
  kubeConfig: KubeConfig,
  name: string,
  handler: string,
): Promise<void> {
  const node = kubeConfig.makeApiClient(NodeV1Api);
  await node
    .createRuntimeClass({ body: { metadata: { name }, handler } })
    .catch((error: { code?: number }) => {
      if (error.code !== 409) throw error;
    });
}

export class Tasks {
  private readonly custom: CustomObjectsApi;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.namespace = namespace;
  }

  private path(plural: string) {
    return { group: GROUP, version: VERSION, namespace: this.namespace, plural };
  }

  async create(name: string, spec: Partial<AgentTask['spec']>): Promise<AgentTask> {
    const body = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: AGENT_TASK.kind,
      metadata: { name },
      spec: { prompt: 'Summarize the workspace.', model: 'llama3.2:3b', ...spec },
    };
    return (await this.custom.createNamespacedCustomObject({
      ...this.path(AGENT_TASK.plural),
      body,
    })) as AgentTask;
  }

  async get(name: string): Promise<AgentTask | undefined> {
    return (await this.custom
      .getNamespacedCustomObject({ ...this.path(AGENT_TASK.plural), name })
      .catch((error: { code?: number }) => {
        if (error.code === 404) return undefined;
        throw error;
      })) as AgentTask | undefined;
  }

  async delete(name: string): Promise<void> {
    await this.custom.deleteNamespacedCustomObject({ ...this.path(AGENT_TASK.plural), name });
  }

  async listApprovals(): Promise<Approval[]> {
    const list = (await this.custom.listNamespacedCustomObject(this.path(APPROVAL.plural))) as {
      items: Approval[];
    };
    return list.items;
  }

  /** Polls until `predicate` holds for the task (or its absence); fails with the last state seen. */
  async waitFor(
    name: string,
    what: string,
    predicate: (task: AgentTask | undefined) => boolean,
    timeoutMs = 60_000,
  ): Promise<AgentTask | undefined> {
    const deadline = Date.now() + timeoutMs;
    let last: AgentTask | undefined;
    while (Date.now() < deadline) {
      last = await this.get(name);
      if (predicate(last)) return last;
      await sleep(100);
    }
    throw new Error(
      `task ${name}: timed out waiting for ${what}; last status: ${JSON.stringify(last?.status)}`,
    );
  }

  async waitForPhase(name: string, phase: string, timeoutMs?: number): Promise<AgentTask> {
    return (await this.waitFor(name, `phase ${phase}`, (t) => t?.status?.phase === phase, timeoutMs))!;
  }
}

export { waitFor as waitUntil } from '../../hack/cluster/processes.ts';

/** Whether the pod exists: false only on a 404; any other error fails the test instead of passing for "absent". */
export const podExists = (namespace: string, name: string) =>
  kubeConfig()
    .makeApiClient(CoreV1Api)
    .readNamespacedPod({ namespace, name })
    .then(
      () => true,
      (error: { code?: number }) => {
        if (error.code === 404) return false;
        throw error;
      },
    );

export async function readApproval(namespace: string, name: string): Promise<Approval> {
  const custom = kubeConfig().makeApiClient(CustomObjectsApi);
  return (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: APPROVAL.plural,
    namespace,
    name,
  })) as Approval;
}

/**
 * The UI server with the task view's sources, wired the way operator.ts wires its own UI
 * (`createTaskSources` + startUiServer), next to an operator that runs with its UI off: the
 * test chooses the operator's state directory, and this UI reads the sealed audit log from
 * it, read-only, and pod logs as the operator's identity.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { AGENT_TASK, APPROVAL, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import type { AgentTask, Approval } from '../../operator/src/api/types.ts';
import { loadConfig } from '../../operator/src/config.ts';
import { ClusterClient } from '../../operator/src/k8s/client.ts';
import { createLogger } from '../../operator/src/logger.ts';
import { Informer, type KubeObject } from '../../operator/src/runtime/informer.ts';
import {
  createAccessReview,
  createTaskSources,
  startUiServer,
  UI_DIST_DIR,
} from '../../operator/src/server/ui/index.ts';
import { operatorKubeConfig } from '../support/operator-identity.ts';
import { ADMIN, grantApprover } from './support.ts';

export interface TaskUi {
  url: string;
  stop(): Promise<void>;
}

export async function startTaskUi(
  admin: KubeConfig,
  opts: { namespace: string; stateDir: string; port: number; token: string },
): Promise<TaskUi> {
  const { namespace } = opts;
  await grantApprover(namespace, ADMIN);
  const identity = await operatorKubeConfig(admin);
  // The same paths the operator derives from its state directory.
  const config = loadConfig({ CLOSEDPAW_STATE_DIR: opts.stateDir, CLOSEDPAW_UI_ADDR: 'off' });
  const logger = createLogger(process.env.CLOSEDPAW_TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent');
  const path = (plural: string) => `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`;
  const tasks = new Informer<AgentTask & KubeObject>('ui-agenttasks', {
    kubeConfig: identity,
    path: path(AGENT_TASK.plural),
    logger,
  });
  const approvals = new Informer<Approval & KubeObject>('ui-approvals', {
    kubeConfig: identity,
    path: path(APPROVAL.plural),
    logger,
  });
  await Promise.all([tasks.start(), approvals.start()]);
  const client = new ClusterClient(identity);
  const server = await startUiServer({
    approvals,
    tasks,
    decide: (ns, name, decision) => client.decideApproval(ns, name, { user: ADMIN, groups: [] }, decision),
    approver: ADMIN,
    access: createAccessReview({ user: ADMIN, canI: (who, attributes) => client.canI(who, attributes) }),
    ttlSeconds: config.approvalTtlSeconds,
    token: opts.token,
    host: '127.0.0.1',
    port: opts.port,
    staticDir: UI_DIST_DIR,
    logger,
    ...createTaskSources({ kubeConfig: identity, audit: config.audit, tasks }),
  });
  return {
    url: server.url,
    async stop() {
      await server.close();
      tasks.stop();
      approvals.stop();
    },
  };
}

/**
 * The demo `npm run dev` sets up on a cluster: CRDs and policies, a restricted namespace with the samples, the
 * `gvisor` RuntimeClass, and the operator running as the chart's service account (its RBAC, the UI approver it
 * may impersonate). The API server admits Approvals only from that identity, so the operator must not run with
 * the admin's credentials.
 */
import { resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig, type OperatorConfig } from '../operator/src/config.ts';
import { installCrds, kubectl } from './cluster/controlplane.ts';
import { installOperatorIdentity, type UiApprover } from './cluster/operator-identity.ts';

export const DEMO_NAMESPACE = 'closedpaw-demo';
const EXAMPLES = resolve(import.meta.dirname, '../examples');
/** How long the operator's service-account token lasts: a dev session longer than this needs a restart. */
const OPERATOR_TOKEN_DURATION = '24h';

const DEMO_SETUP = `apiVersion: v1
kind: Namespace
metadata:
  name: ${DEMO_NAMESPACE}
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: gvisor
handler: runsc
`;

/** Installs what the demo needs with the admin kubeconfig; returns the operator's own kubeconfig. */
export async function prepareDemo(kubeconfig: string, approver: UiApprover): Promise<KubeConfig> {
  await installCrds({ kubeconfig });
  await kubectl({ kubeconfig }, ['apply', '-f', '-'], DEMO_SETUP);
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  return await installOperatorIdentity(admin, approver, OPERATOR_TOKEN_DURATION);
}

export interface DemoSettings {
  stateDir: string;
  approver: UiApprover;
  ollamaUrl: string;
  /** Where task pods reach the gateway: the node's bridge address on the real node, else loopback. */
  gatewayHost: string;
  runnerImage?: string;
}

/** The operator's configuration for the demo; the environment may still set anything the demo does not. */
export function demoOperatorConfig(s: DemoSettings, env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  return loadConfig({
    ...env,
    CLOSEDPAW_STATE_DIR: s.stateDir,
    CLOSEDPAW_LEADER_ELECTION: 'false',
    CLOSEDPAW_HTTP_ADDR: env.CLOSEDPAW_HTTP_ADDR ?? '127.0.0.1:0',
    CLOSEDPAW_UI_APPROVER: s.approver.user,
    ...(s.approver.groups.length > 0 ? { CLOSEDPAW_UI_APPROVER_GROUPS: s.approver.groups.join(',') } : {}),
    CLOSEDPAW_OLLAMA_URL: env.CLOSEDPAW_OLLAMA_URL ?? s.ollamaUrl,
    CLOSEDPAW_GATEWAY_ADDR: `${s.gatewayHost}:0`,
    CLOSEDPAW_GATEWAY_IP: s.gatewayHost,
    ...(s.runnerImage ? { CLOSEDPAW_RUNNER_IMAGE: s.runnerImage } : {}),
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
  });
}

/** Applies the samples (examples/) into the demo namespace. */
export async function applySamples(kubeconfig: string): Promise<void> {
  await kubectl({ kubeconfig }, ['apply', '-n', DEMO_NAMESPACE, '-f', EXAMPLES]);
}

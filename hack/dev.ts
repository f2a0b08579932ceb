/**
 * `npm run dev`: try ClosedPaw locally. Uses $KUBECONFIG when it points at a
 * reachable cluster, else the embedded local control plane (started here and
 * stopped on Ctrl-C). Installs the CRDs and the approval policy, starts the
 * operator with its approval UI, applies the samples, prints what to do next.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { generateKey } from '../operator/src/audit/index.ts';
import { loadConfig } from '../operator/src/config.ts';
import { createLogger } from '../operator/src/logger.ts';
import { startOperator } from '../operator/src/operator.ts';
import { ensureBinaries } from './cluster/binaries.ts';
import { installCrds, kubectl, runningCluster, startCluster, stopCluster } from './cluster/controlplane.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLUSTER_DIR = resolve(process.env.CLOSEDPAW_CLUSTER_DIR ?? join(ROOT, '.closedpaw/cluster'));
const DEMO_NAMESPACE = 'closedpaw-demo';
const ADMIN_USER = 'closedpaw-admin';

async function reachable(path: string | undefined): Promise<boolean> {
  if (!path) return false;
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
    await kc.makeApiClient(VersionApi).getCode();
    return true;
  } catch {
    return false;
  }
}

/** The cluster to use, and whether this process started it (and so must stop it). */
async function cluster(): Promise<{ kubeconfig: string; ownedDir?: string }> {
  await ensureBinaries();
  const configured = process.env.KUBECONFIG;
  if (configured && (await reachable(configured))) {
    console.log(`using the cluster in KUBECONFIG=${configured}`);
    return { kubeconfig: configured };
  }
  const running = await runningCluster(CLUSTER_DIR);
  if (running) {
    console.log(`using the running local control plane (${running.server})`);
    return { kubeconfig: running.kubeconfig };
  }
  console.log('starting the embedded local control plane (etcd + kube-apiserver + kube-controller-manager)…');
  const started = await startCluster(CLUSTER_DIR);
  return { kubeconfig: started.kubeconfig, ownedDir: CLUSTER_DIR };
}

const approverBinding = (user: string) => `---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: closedpaw-ui-approver
  namespace: ${DEMO_NAMESPACE}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: closedpaw-approver
subjects:
  - kind: User
    apiGroup: rbac.authorization.k8s.io
    name: ${user}
`;

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

async function prepare(kubeconfig: string, approver: string): Promise<void> {
  await installCrds({ kubeconfig });
  await kubectl({ kubeconfig }, ['apply', '-f', '-'], DEMO_SETUP + approverBinding(approver));
}

/** A local sealed audit log under .closedpaw/audit, with a key generated on first use. */
async function auditSettings(): Promise<Record<string, string>> {
  const dir = join(ROOT, '.closedpaw/audit');
  const keys = join(dir, 'keys');
  const existing = await readdir(keys).catch(() => []);
  if (!existing.some((f) => f.endsWith('.json'))) await generateKey(keys);
  return {
    CLOSEDPAW_AUDIT_DIR: join(dir, 'log'),
    CLOSEDPAW_AUDIT_KEYS_DIR: keys,
    CLOSEDPAW_AUDIT_CHECKPOINT_DIR: join(dir, 'published'),
  };
}

async function main(): Promise<void> {
  const { kubeconfig, ownedDir } = await cluster();
  const approver = process.env.CLOSEDPAW_UI_APPROVER ?? ADMIN_USER;
  await prepare(kubeconfig, approver);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  const audit = await auditSettings();
  const config = loadConfig({
    ...process.env,
    ...audit,
    CLOSEDPAW_LEADER_ELECTION: 'false',
    CLOSEDPAW_HTTP_ADDR: process.env.CLOSEDPAW_HTTP_ADDR ?? '127.0.0.1:0',
    CLOSEDPAW_UI_APPROVER: approver,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const operator = await startOperator(config, kubeConfig, createLogger(config.logLevel));
  await kubectl({ kubeconfig }, ['apply', '-n', DEMO_NAMESPACE, '-f', join(ROOT, 'examples')]);

  console.log(`
ClosedPaw is running.
  export KUBECONFIG=${kubeconfig}
  hack/bin/kubectl get agenttasks,approvals -n ${DEMO_NAMESPACE}     # the samples
  hack/bin/kubectl describe agenttask clean-build-cache -n ${DEMO_NAMESPACE}
  npx closedpaw approvals -n ${DEMO_NAMESPACE}                        # approve from the CLI:
  npx closedpaw approve <approval-name> -n ${DEMO_NAMESPACE} --reason "looked at it"
  ${operator.uiUrl ? `approval UI: ${operator.uiUrl}` : 'approval UI: not built (npm run ui:build)'}
  metrics: http://127.0.0.1:${operator.httpPort}/metrics
  audit:   npx closedpaw audit verify --log .closedpaw/audit/log/audit.log --keys .closedpaw/audit/keys --checkpoints .closedpaw/audit/published
The embedded control plane has no node or container runtime: pods are created (hardened, in gVisor
RuntimeClass, behind their NetworkPolicy) but stay Pending. On kind or k3s with gVisor they run.
Ctrl-C stops everything.`);

  const shutdown = async () => {
    await operator.stop();
    if (ownedDir) await stopCluster(ownedDir);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

await main();

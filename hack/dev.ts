/**
 * `npm run dev`: try ClosedPaw locally. Checks the machine and builds what it serves (control plane,
 * Ollama + SmolLM2, the operator, the runner bundle, the UI), starts a real Ollama, and uses — in this
 * order — $KUBECONFIG when it points at a reachable cluster other than the real node, the real node when
 * `npm run node:up` runs one (pods really run in gVisor and the samples get a real answer), else the embedded
 * control plane (pods are created but cannot run: it has no node). Sets up the demo (hack/demo.ts), starts
 * the operator as the chart's service account with its approval UI and gateway, applies the samples, prints
 * what to do next. Ctrl-C stops what it started.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { createLogger } from '../operator/src/logger.ts';
import { startOperator } from '../operator/src/operator.ts';
import { ensureBinaries } from './cluster/binaries.ts';
import { runningCluster, startCluster, stopCluster } from './cluster/controlplane.ts';
import { applySamples, DEMO_NAMESPACE, demoOperatorConfig, prepareDemo } from './demo.ts';
import { NETWORK, nodeDir } from './node/layout.ts';
import { runningNode } from './node/node.ts';
import { ensureOllamaBuilt, runningOllama, startOllama, stopOllama } from './ollama/server.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLUSTER_DIR = resolve(process.env.CLOSEDPAW_CLUSTER_DIR ?? join(ROOT, '.closedpaw/cluster'));
const OLLAMA_DIR = resolve(process.env.CLOSEDPAW_OLLAMA_DIR ?? join(ROOT, '.closedpaw/ollama'));
const STATE_DIR = resolve(process.env.CLOSEDPAW_STATE_DIR ?? join(ROOT, '.closedpaw/state'));
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

/** Runs a command with its output on our stderr; rejects naming it when it fails. */
function step(what: string, command: string, args: string[]): Promise<void> {
  return new Promise((resolveStep, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveStep() : reject(new Error(`${what} failed (exit ${code})`)),
    );
  });
}

/** The cluster to use: where it came from, and whether this process started it (and so must stop it). */
async function cluster(): Promise<{
  kubeconfig: string;
  kind: 'configured' | 'node' | 'embedded';
  ownedDir?: string;
  runnerImage?: string;
}> {
  await ensureBinaries();
  const configured = process.env.KUBECONFIG;
  const node = await runningNode(nodeDir()).catch(() => undefined);
  // KUBECONFIG naming the real node's own kubeconfig still means the node: its pods need its imported images.
  if (node && (!configured || resolve(configured) === resolve(node.kubeconfig))) {
    console.log(`using the real node (kubelet + containerd + gVisor, ${node.server}): pods really run`);
    const runnerImage = node.images.runner?.pinned;
    return { kubeconfig: node.kubeconfig, kind: 'node', ...(runnerImage ? { runnerImage } : {}) };
  }
  if (configured && (await reachable(configured))) {
    console.log(`using the cluster in KUBECONFIG=${configured}`);
    return { kubeconfig: configured, kind: 'configured' };
  }
  const running = await runningCluster(CLUSTER_DIR);
  if (running) {
    console.log(`using the running local control plane (${running.server})`);
    return { kubeconfig: running.kubeconfig, kind: 'embedded' };
  }
  console.log('starting the embedded local control plane (etcd + kube-apiserver + kube-controller-manager)…');
  const started = await startCluster(CLUSTER_DIR);
  return { kubeconfig: started.kubeconfig, kind: 'embedded', ownedDir: CLUSTER_DIR };
}

/** A real Ollama serving the test model: the one `npm run ollama:up` left running, or a new one. */
async function ollama(): Promise<{ url: string; model: string; owned: boolean }> {
  const artifacts = await ensureOllamaBuilt();
  const running = await runningOllama(OLLAMA_DIR, artifacts);
  if (running) return { url: running.url, model: running.model, owned: false };
  console.log('starting Ollama v0.24.0 with smollm2:135m…');
  const started = await startOllama(OLLAMA_DIR, { artifacts });
  return { url: started.url, model: started.model, owned: true };
}

async function main(): Promise<void> {
  await step('checking the machine (hack/prerequisites.ts)', process.execPath, [
    join(ROOT, 'hack/prerequisites.ts'),
  ]);
  console.log('building the operator, the runner bundle and the UI…');
  await step('npm run build', 'npm', ['run', '-s', 'build']);
  await step('npm run ui:build', 'npm', ['run', '-s', 'ui:build']);
  const model = await ollama();
  const { kubeconfig, kind, ownedDir, runnerImage } = await cluster();
  const approver = {
    user: process.env.CLOSEDPAW_UI_APPROVER ?? ADMIN_USER,
    groups: (process.env.CLOSEDPAW_UI_APPROVER_GROUPS ?? '').split(',').filter(Boolean),
  };
  const operatorKubeConfig = await prepareDemo(kubeconfig, approver);
  // On the real node, pods reach the gateway on the node's bridge address; elsewhere no pod runs.
  const gatewayHost = kind === 'node' ? NETWORK.nodeIp : '127.0.0.1';
  const config = demoOperatorConfig({
    stateDir: STATE_DIR,
    approver,
    ollamaUrl: model.url,
    gatewayHost,
    ...(runnerImage ? { runnerImage } : {}),
  });
  const operator = await startOperator(config, operatorKubeConfig, createLogger(config.logLevel));
  await applySamples(kubeconfig);

  console.log(`
ClosedPaw is running.
  export KUBECONFIG=${kubeconfig}
  hack/bin/kubectl get agenttasks,approvals -n ${DEMO_NAMESPACE}     # the samples
  hack/bin/kubectl describe agenttask clean-build-cache -n ${DEMO_NAMESPACE}
  npx closedpaw approvals -n ${DEMO_NAMESPACE}                        # approve from the CLI:
  npx closedpaw approve <approval-name> -n ${DEMO_NAMESPACE} --reason "looked at it"
  ${operator.uiUrl ? `approval UI: ${operator.uiUrl}` : 'approval UI: not built (npm run ui:build)'}
  metrics: http://127.0.0.1:${operator.httpPort}/metrics
  model:   ${model.model} at ${model.url} (through the gateway at ${operator.gatewayUrl})
  audit:   npx closedpaw audit verify --log ${config.audit?.logPath} --keys ${config.audit?.keysDir} --checkpoints ${config.audit?.checkpointDir}
${
  kind === 'embedded'
    ? `The embedded control plane has no node: pods are created (hardened, RuntimeClass gvisor, behind their
NetworkPolicy) but stay Pending. For pods that really run, start a real node first (npm run node:up, as root).`
    : 'Pods run on the cluster; tasks that need no approval get a real answer from the model.'
}
Ctrl-C stops what this started.`);

  const shutdown = async () => {
    await operator.stop();
    if (ownedDir) await stopCluster(ownedDir);
    if (model.owned) await stopOllama(OLLAMA_DIR);
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

await main();

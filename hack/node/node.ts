/**
 * A real single-node cluster on this machine: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, containerd with gVisor (runsc) as
 * its only runtime, the kubelet, kube-proxy and kube-router (NetworkPolicy).
 * Everything it writes lives in one state directory, except the machine-wide
 * state listed in layout.ts, which `stopNode` removes again.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { adminGet, kubectl } from '../cluster/controlplane.ts';
import { writeKubeconfig } from '../cluster/kubeconfig.ts';
import { freePort, isAlive, runCommand, startUntilReady } from '../cluster/processes.ts';
import { type BuiltImage, buildImages, defaultInputs, importImages, pinnedRef } from '../images/build.ts';
import type { ImageName } from '../images/images.ts';
import {
  cniConfig,
  containerdConfig,
  KUBE_ROUTER_RBAC,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
  kubeRouterArgs,
  RUNTIME_CLASSES,
  registryHostsToml,
  runscToml,
} from './config.ts';
import { nodeApiServerArgs } from './flags.ts';
import { createBridge, createNodeCgroups, snapshot } from './host.ts';
import { type Layout, layout, NETWORK, NODE_NAME } from './layout.ts';
import { createNodePki, type NodePki } from './pki.ts';
import { checkPrerequisites } from './prerequisites.ts';
import {
  type Baseline,
  BIN,
  COMPONENTS,
  type Component,
  HACK,
  logPath,
  type NodeState,
  readState,
  saveState,
} from './state.ts';
import { stopNode } from './teardown.ts';

export { BIN, COMPONENTS, type NodeState, stopNode };

async function nodeReady(state: NodeState): Promise<boolean> {
  const out = await kubectl(state, [
    'get',
    'node',
    NODE_NAME,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  ]).catch(() => '');
  return out.trim() === 'True';
}

/** The running node in `dir`, or undefined when there is none or it is broken. */
export async function runningNode(dir: string): Promise<NodeState | undefined> {
  const state = await readState(dir);
  if (!state) return undefined;
  const alive = COMPONENTS.every((c) => state.pids[c] !== undefined && isAlive(state.pids[c]));
  return alive && (await nodeReady(state)) ? state : undefined;
}

async function startComponent(
  state: NodeState,
  component: Component,
  command: string,
  args: string[],
  ready: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  const started = Date.now();
  await startUntilReady({
    name: component,
    command,
    args,
    log: logPath(layout(state.dir), component),
    ready,
    timeoutMs,
    record: async (pid) => {
      state.pids[component] = pid;
      await saveState(state);
    },
  });
  state.timings[component] = Date.now() - started;
}

async function writeConfigs(l: Layout, pki: NodePki, server: string, pauseImage: string): Promise<void> {
  for (const dir of [l.logs, l.containerdRoot, l.containerdState, l.runscRoot, l.runscLogs, l.cniConfDir]) {
    await mkdir(dir, { recursive: true });
  }
  for (const dir of [l.cniIpamDir, l.kubeletRoot, l.podLogs]) await mkdir(dir, { recursive: true });
  const as = (cert: string, key: string) => ({ ...pki, adminCert: cert, adminKey: key });
  await writeKubeconfig(l.kubeconfig, server, pki);
  await writeKubeconfig(l.kubeletKubeconfig, server, as(pki.kubeletClientCert, pki.kubeletClientKey));
  await writeKubeconfig(l.kubeProxyKubeconfig, server, as(pki.kubeProxyCert, pki.kubeProxyKey));
  await writeKubeconfig(l.kubeRouterKubeconfig, server, as(pki.kubeRouterCert, pki.kubeRouterKey));
  await writeFile(l.containerdConfig, containerdConfig(l, pauseImage, join(HACK, 'bin')));
  await mkdir(join(l.containerdRegistryHosts, '_default'), { recursive: true });
  await writeFile(join(l.containerdRegistryHosts, '_default/hosts.toml'), registryHostsToml());
  await writeFile(l.runscConfig, runscToml(l, resolve(BIN.runsc), process.env.CLOSEDPAW_RUNSC_DEBUG === '1'));
  await writeFile(join(l.cniConfDir, '10-closedpaw.conflist'), cniConfig(l));
  await writeFile(l.kubeletConfig, kubeletConfig(l, pki.caCert, pki.nodeServingCert, pki.nodeServingKey));
  await writeFile(l.kubeProxyConfig, kubeProxyConfig(l));
}

async function startControlPlane(state: NodeState, l: Layout, pki: NodePki): Promise<void> {
  const peerUrl = `http://127.0.0.1:${await freePort()}`;
  await startComponent(
    state,
    'etcd',
    BIN.kube,
    [
      'etcd',
      '--name=closedpaw-node',
      `--data-dir=${l.etcd}`,
      `--listen-client-urls=${state.etcdUrl}`,
      `--advertise-client-urls=${state.etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=closedpaw-node=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    async () => (await fetch(`${state.etcdUrl}/health`)).ok,
  );
  await startComponent(
    state,
    'kube-apiserver',
    BIN.kube,
    ['kube-apiserver', ...nodeApiServerArgs(state, pki)],
    async () => (await adminGet(`${state.server}/readyz`, pki)) === 200,
  );
  const common = [
    `--kubeconfig=${state.kubeconfig}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--profiling=false',
  ];
  await startComponent(
    state,
    'kube-controller-manager',
    BIN.kube,
    [
      'kube-controller-manager',
      ...common,
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=false',
      '--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle-controller',
      `--cluster-cidr=${NETWORK.podCidr}`,
      `--service-cluster-ip-range=${NETWORK.serviceCidr}`,
    ],
    async () => true,
  );
  await startComponent(state, 'kube-scheduler', BIN.kube, ['kube-scheduler', ...common], async () => true);
  await kubectl(state, ['apply', '-f', '-'], `${RUNTIME_CLASSES}---\n${KUBE_ROUTER_RBAC}`);
}

async function iptablesChainExists(table: string, chain: string): Promise<boolean> {
  return (await runCommand('iptables', ['-t', table, '-S', chain])).code === 0;
}

async function startContainerd(state: NodeState, l: Layout, images: BuiltImage[]): Promise<void> {
  await startComponent(
    state,
    'containerd',
    BIN.containerd,
    [`--config=${l.containerdConfig}`, '--log-level=warn'],
    async () => (await runCommand(BIN.ctr, ['--address', l.containerdSocket, 'version'])).code === 0,
  );
  const importStarted = Date.now();
  await importImages(BIN.ctr, l.containerdSocket, images);
  state.timings['image-import'] = Date.now() - importStarted;
}

async function startNodeAgents(state: NodeState, l: Layout): Promise<void> {
  await startComponent(
    state,
    'kubelet',
    BIN.kube,
    ['kubelet', ...kubeletArgs(l)],
    () => nodeReady(state),
    120_000,
  );
  await Promise.all([
    startComponent(
      state,
      'kube-proxy',
      BIN.kube,
      ['kube-proxy', `--config=${l.kubeProxyConfig}`, '--v=1'],
      () => iptablesChainExists('nat', 'KUBE-SERVICES'),
    ),
    startComponent(state, 'kube-router', BIN.kubeRouter, kubeRouterArgs(l), () =>
      iptablesChainExists('filter', 'KUBE-ROUTER-FORWARD'),
    ),
  ]);
}

/** Runs hack/node/build-node.sh (a no-op plus re-linking when the cached binaries match the pins). */
export async function ensureNodeBinaries(): Promise<void> {
  const result = await runCommand('bash', [join(import.meta.dirname, 'build-node.sh')]);
  process.stderr.write(result.stderr);
  if (result.code !== 0)
    throw new Error(`hack/node/build-node.sh failed (exit ${result.code}); see its output above`);
}

/** The runner bundle to bake in: dist/runner.js once it exists, else the stand-in next to the image builder. */
export function runnerBundle(): { path: string; standIn: boolean } {
  const built = resolve(HACK, '../dist/runner.js');
  const chosen = process.env.CLOSEDPAW_RUNNER_BUNDLE ?? (existsSync(built) ? built : undefined);
  return chosen
    ? { path: resolve(chosen), standIn: false }
    : { path: join(HACK, 'images/stand-in-runner.mjs'), standIn: true };
}

export const NODE_IMAGES: ImageName[] = ['pause', 'probe', 'runner'];

/** Starts a fresh node in `dir` (removing any previous one first). */
export async function startNode(dir: string): Promise<NodeState> {
  await checkPrerequisites();
  await stopNode(dir);
  const l = layout(dir);
  const t0 = Date.now();
  await ensureNodeBinaries();
  const buildMs = Date.now() - t0;
  const bundle = runnerBundle();
  await mkdir(l.pki, { recursive: true });
  const before = await snapshot();
  const baseline: Baseline = {
    outsidePaths: before.outsidePaths,
    sysctls: before.sysctls,
    nftTables: before.nftTables,
    ipsets: before.ipsets,
    links: before.links,
  };
  await writeFile(l.baseline, JSON.stringify(baseline, null, 2));
  const upStarted = Date.now();
  let imagesMs = 0;
  const [images, pki] = await Promise.all([
    buildImages(NODE_IMAGES, defaultInputs({ runnerBundle: bundle.path })).then((built) => {
      imagesMs = Date.now() - upStarted;
      return built;
    }),
    createNodePki(l.pki),
  ]);
  const state: NodeState = {
    dir,
    kubeconfig: l.kubeconfig,
    server: `https://${NETWORK.nodeIp}:${NETWORK.apiServerPort}`,
    etcdUrl: `http://127.0.0.1:${await freePort()}`,
    nodeName: NODE_NAME,
    containerdSocket: l.containerdSocket,
    pids: {},
    images: Object.fromEntries(
      images.map((i) => [
        i.name,
        { ref: i.ref, digest: i.digest, pinned: pinnedRef(i), compressedBytes: i.compressedBytes },
      ]),
    ),
    runnerStandIn: bundle.standIn,
    timings: { 'build-check': buildMs, images: imagesMs },
  };
  const pause = images.find((i) => i.name === 'pause')!;
  await writeConfigs(l, pki, state.server, pause.ref);
  await writeFile(l.images, `${JSON.stringify(state.images, null, 2)}\n`);
  try {
    await createBridge();
    await createNodeCgroups();
    // containerd and its images do not need the API server: start both at once.
    await Promise.all([startControlPlane(state, l, pki), startContainerd(state, l, images)]);
    await startNodeAgents(state, l);
  } catch (error) {
    await stopNode(dir).catch(() => undefined);
    throw error;
  }
  state.timings.up = Date.now() - upStarted;
  await saveState(state);
  return state;
}

/** Deletes every pod (no grace) and waits briefly for the kubelet to tear the sandboxes down. */

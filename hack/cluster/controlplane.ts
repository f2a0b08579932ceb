/**
 * A real single-node control plane on loopback: etcd, kube-apiserver and
 * kube-controller-manager (garbage collection, namespace deletion, default
 * service accounts), started as detached processes whose pids live in
 * `<dir>/state.json` so a later command can reuse or stop them.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { binaries, ensureBinaries } from './binaries.ts';
import { createPki, type Pki, pkiPaths } from './certs.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { freePort, isAlive, runCommand, startUntilReady, stopProcess } from './processes.ts';

const CRD_DIR = join(import.meta.dirname, '../../crds');
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager'] as const;
type Component = (typeof COMPONENTS)[number];

export interface ClusterState {
  dir: string;
  kubeconfig: string;
  server: string;
  etcdUrl: string;
  apiServerPort: number;
  pids: Partial<Record<Component, number>>;
}

const statePath = (dir: string) => join(dir, 'state.json');
const logPath = (dir: string, component: Component) => join(dir, 'logs', `${component}.log`);

async function readState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(dir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

const saveState = (state: ClusterState) =>
  writeFile(statePath(state.dir), `${JSON.stringify(state, null, 2)}\n`);

/**
 * The admin TLS material, read once per Pki object (readiness is polled every 100 ms). Not per path: a
 * `down` then `up` in one process makes a new CA at the same path, and stale material would never connect.
 */
const adminTls = new WeakMap<Pki, { ca: Buffer; cert: Buffer; key: Buffer }>();
function adminTlsFor(pki: Pki) {
  let tls = adminTls.get(pki);
  if (!tls) {
    tls = {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    };
    adminTls.set(pki, tls);
  }
  return tls;
}

/** GET with the admin client certificate; resolves with the status code. */
export function adminGet(url: string, pki: Pki): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ...adminTlsFor(pki), timeout: 2000 });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function isHealthy(state: ClusterState): Promise<boolean> {
  const pidsAlive = COMPONENTS.every((c) => state.pids[c] !== undefined && isAlive(state.pids[c]));
  if (!pidsAlive) return false;
  return (await adminGet(`${state.server}/readyz`, pkiPaths(join(state.dir, 'pki'))).catch(() => 0)) === 200;
}

/** Starts `component` and waits for `ready`; on failure the error carries the component's log tail. */
async function startComponent(
  state: ClusterState,
  component: Component,
  args: string[],
  ready: () => Promise<boolean>,
  timeoutMs = 90_000,
): Promise<void> {
  await startUntilReady({
    name: component,
    command: binaries.kube,
    args: [component, ...args],
    log: logPath(state.dir, component),
    ready,
    timeoutMs,
    record: async (pid) => {
      state.pids[component] = pid;
      await saveState(state);
    },
  });
}

async function startEtcd(state: ClusterState): Promise<void> {
  const peerPort = await freePort();
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  await startComponent(
    state,
    'etcd',
    [
      '--name=closedpaw',
      `--data-dir=${join(state.dir, 'etcd')}`,
      `--listen-client-urls=${state.etcdUrl}`,
      `--advertise-client-urls=${state.etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=closedpaw=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    async () => (await fetch(`${state.etcdUrl}/health`)).ok,
  );
}

export function apiServerArgs(state: ClusterState, pki: Pki): string[] {
  return [
    `--etcd-servers=${state.etcdUrl}`,
    `--secure-port=${state.apiServerPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--cert-dir=${join(state.dir, 'pki')}`,
    '--authorization-mode=RBAC',
    // Children may set blockOwnerDeletion only with update on their owner's finalizers (what real
    // clusters enforce, and what the operator's RBAC must allow).
    '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
    `--service-account-issuer=https://127.0.0.1:${state.apiServerPort}`,
    `--service-account-key-file=${pki.saPub}`,
    `--service-account-signing-key-file=${pki.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=false',
    '--enable-priority-and-fairness=false',
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

async function startApiServer(state: ClusterState, pki: Pki): Promise<void> {
  await startComponent(
    state,
    'kube-apiserver',
    apiServerArgs(state, pki),
    async () => (await adminGet(`${state.server}/readyz`, pki)) === 200,
  );
}

async function startControllerManager(state: ClusterState, pki: Pki): Promise<void> {
  await startComponent(
    state,
    'kube-controller-manager',
    [
      `--kubeconfig=${state.kubeconfig}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${pki.saKey}`,
      `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=false',
      '--secure-port=0',
      '--profiling=false',
    ],
    async () => {
      const log = await readFile(logPath(state.dir, 'kube-controller-manager'), 'utf8');
      return log.includes('Started controller') || log.includes('Starting controller');
    },
  );
}

/** kubectl with the cluster's admin kubeconfig; `input` goes to its stdin. Rejects on failure. */
export async function kubectl(
  state: Pick<ClusterState, 'kubeconfig'>,
  args: string[],
  input?: string,
): Promise<string> {
  const env = { ...process.env, KUBECONFIG: state.kubeconfig };
  const result = await runCommand(binaries.kubectl, args, { env, ...(input !== undefined ? { input } : {}) });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Applies crds/ (the CRDs and the API-server policies) and waits until the CRDs are Established. */
export async function installCrds(state: Pick<ClusterState, 'kubeconfig'>): Promise<void> {
  await kubectl(state, ['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  const crds = (await readdir(CRD_DIR))
    .filter((f) => f.endsWith('.closedpaw.dev.yaml'))
    .map((f) => `crd/${f.slice(0, -5)}`);
  await kubectl(state, ['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
}

/** Returns the running cluster in `dir`, or undefined when there is none (or it is broken). */
export async function runningCluster(dir: string): Promise<ClusterState | undefined> {
  const state = await readState(dir);
  return state && (await isHealthy(state)) ? state : undefined;
}

/** Starts a fresh control plane in `dir` (wiping leftovers), installs the CRDs. */
export async function startCluster(dir: string): Promise<ClusterState> {
  await ensureBinaries();
  await stopCluster(dir);
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'pki'), { recursive: true });
  const pki = await createPki(join(dir, 'pki'));
  const apiServerPort = await freePort();
  const state: ClusterState = {
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    server: `https://127.0.0.1:${apiServerPort}`,
    etcdUrl: `http://127.0.0.1:${await freePort()}`,
    apiServerPort,
    pids: {},
  };
  await writeKubeconfig(state.kubeconfig, state.server, pki);
  try {
    await startEtcd(state);
    await startApiServer(state, pki);
    await startControllerManager(state, pki);
    await installCrds(state);
  } catch (error) {
    await stopCluster(dir);
    throw error;
  }
  return state;
}

/** Stops the processes recorded in `dir` and removes its state. */
export async function stopCluster(dir: string): Promise<void> {
  const state = await readState(dir);
  const pids = state ? [...COMPONENTS].reverse().map((c) => state.pids[c]) : [];
  for (const pid of pids) if (pid !== undefined) await stopProcess(pid);
  await rm(dir, { recursive: true, force: true });
}

/** Stops only kube-apiserver (etcd keeps running), for restart-survival tests. */
export async function stopApiServer(state: ClusterState): Promise<void> {
  const pid = state.pids['kube-apiserver'];
  if (pid !== undefined) await stopProcess(pid);
}

/** Starts kube-apiserver again on the same port with the same certificates. */
export async function resumeApiServer(state: ClusterState): Promise<void> {
  await startApiServer(state, pkiPaths(join(state.dir, 'pki')));
}

export async function restartApiServer(state: ClusterState): Promise<void> {
  await stopApiServer(state);
  await resumeApiServer(state);
}

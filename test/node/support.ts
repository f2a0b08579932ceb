/**
 * Helpers for the real-node tests (npm run test:node): kubectl against the
 * node cluster, hardened pods shaped like the operator's sandbox pod, waiting
 * on pod phases, and a decoy "outside" host in a network namespace of our own.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { runCommand } from '../../hack/cluster/processes.ts';
import { cacheRoot } from '../../hack/images/build.ts';
import { compileStatic } from '../../hack/images/images.ts';
import { nodeDir } from '../../hack/node/layout.ts';
import { BIN, type NodeState, runningNode } from '../../hack/node/node.ts';
import { agentTaskSpecSchema } from '../../operator/src/api/agenttask.ts';
import type { AgentTask } from '../../operator/src/api/types.ts';
import { buildPod } from '../../operator/src/sandbox/pod.ts';

export const NONROOT = 65532;

export async function nodeState(): Promise<NodeState> {
  const state = await runningNode(nodeDir());
  if (!state) throw new Error(`no running node in ${nodeDir()}: run npm run node:up (as root) first`);
  return state;
}

export async function kubectl(state: NodeState, args: string[], input?: string): Promise<string> {
  const env = { ...process.env, KUBECONFIG: state.kubeconfig };
  const result = await runCommand(BIN.kubectl, args, { env, ...(input !== undefined ? { input } : {}) });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

export const apply = (state: NodeState, objects: object[]) =>
  kubectl(state, ['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));

/** A fresh namespace enforcing the restricted Pod Security Standard (as the chart's task namespaces do). */
export async function testNamespace(state: NodeState, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await apply(state, [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
  ]);
  // Pods need the namespace's default ServiceAccount (made by the controller-manager).
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (
      (await kubectl(state, ['get', 'sa', 'default', '-n', name, '--ignore-not-found', '-o', 'name'])).trim()
    ) {
      return name;
    }
    await sleep(100);
  }
  throw new Error(`namespace ${name} got no default ServiceAccount in 30 s`);
}

export async function deleteNamespace(state: NodeState, name: string): Promise<void> {
  await kubectl(state, ['delete', 'namespace', name, '--wait=false', '--ignore-not-found']).catch(
    () => undefined,
  );
}

export interface PodOptions {
  name: string;
  namespace: string;
  image: string;
  command: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  runtimeClassName?: string;
  activeDeadlineSeconds?: number;
  workspaceSizeLimit?: string;
  /** cpu/memory limits (= requests, as the operator sets them); small by default. */
  cpu?: string;
  memory?: string;
  /** Init containers run before the agent container (e.g. the isolation check). */
  initContainers?: { name: string; command: string[] }[];
}

/**
 * The operator's sandbox pod, built by operator/src/sandbox/pod.ts itself, with only what a node test must
 * change: its image, command and init containers, RuntimeClass, labels and annotations, deadline, limits and
 * workspace size; no owner (there is no task object: the garbage collector would delete the pod). Everything the
 * hardening consists of (securityContexts, no token, no service links, volumes, mounts) stays the operator's.
 */
export function hardenedPod(o: PodOptions): object {
  const spec = agentTaskSpecSchema.parse({
    prompt: 'node test',
    model: 'none',
    timeoutSeconds: o.activeDeadlineSeconds ?? 120,
    resources: { cpu: o.cpu ?? '200m', memory: o.memory ?? '256Mi', ephemeralStorage: '64Mi' },
  });
  const task = { metadata: { name: o.name, namespace: o.namespace, uid: 'node-test' }, spec } as AgentTask;
  const config = {
    runnerImage: o.image,
    runnerUid: NONROOT,
    gatewayUrl: 'http://127.0.0.1:1',
    isolationProbes: ['127.0.0.1:1'],
  };
  const pod = buildPod(task, config);
  const [init] = pod.spec!.initContainers!;
  const [agent] = pod.spec!.containers;
  pod.metadata = {
    name: o.name,
    namespace: o.namespace,
    labels: { 'app.kubernetes.io/managed-by': 'closedpaw-node-test', ...o.labels },
    annotations: o.annotations ?? {},
  };
  pod.spec!.runtimeClassName = o.runtimeClassName ?? 'gvisor'; // tests also name classes a task may not
  pod.spec!.terminationGracePeriodSeconds = 2;
  pod.spec!.initContainers = (o.initContainers ?? []).map((c) => ({
    ...init!,
    name: c.name,
    command: c.command,
  }));
  pod.spec!.containers = [{ ...agent!, name: 'agent', command: o.command }];
  const workspace = pod.spec!.volumes!.find((v) => v.name === 'workspace')!;
  workspace.emptyDir = { sizeLimit: o.workspaceSizeLimit ?? '32Mi' };
  return pod;
}

export interface PodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  podIP?: string;
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
}
export interface ContainerStatus {
  name: string;
  containerID?: string;
  started?: boolean;
  state?: {
    waiting?: { reason?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
}

export async function podStatus(state: NodeState, namespace: string, name: string): Promise<PodStatus> {
  const out = await kubectl(state, ['get', 'pod', name, '-n', namespace, '-o', 'json']);
  return (JSON.parse(out) as { status: PodStatus }).status;
}

/** Polls until `done(status)`; returns the status (throws with the last one after `timeoutMs`). */
export async function waitForPod(
  state: NodeState,
  namespace: string,
  name: string,
  done: (status: PodStatus) => boolean,
  timeoutMs = 90_000,
): Promise<PodStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: PodStatus = {};
  while (Date.now() < deadline) {
    last = await podStatus(state, namespace, name);
    if (done(last)) return last;
    await sleep(200);
  }
  throw new Error(
    `pod ${namespace}/${name} did not get there in ${timeoutMs / 1000}s; last status ${JSON.stringify(last)}`,
  );
}

export const finished = (s: PodStatus) => s.phase === 'Succeeded' || s.phase === 'Failed';
export const running = (s: PodStatus) => s.phase === 'Running' && Boolean(s.podIP);

export const podLogs = (state: NodeState, namespace: string, name: string, container = 'agent') =>
  kubectl(state, ['logs', name, '-n', namespace, '-c', container]);

export async function events(state: NodeState, namespace: string, name: string): Promise<string> {
  return kubectl(state, [
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
}

/** The static probe program on the host (for the decoy listener). */
export const hostProbe = () => compileStatic('probe', `${cacheRoot()}/images`);

/**
 * A decoy "outside the cluster" host: network namespace cpaw-decoy with a veth
 * pair (198.18.0.1 host side, 198.18.0.2 inside, RFC 2544 benchmark range),
 * listening on 198.18.0.2:8080. Only this machine holds these addresses.
 */
export class Decoy {
  static readonly ns = 'cpaw-decoy';
  static readonly hostSide = 'cpawd0';
  static readonly address = '198.18.0.2';
  static readonly port = 8080;
  private listener: ChildProcess | undefined;

  async start(): Promise<void> {
    await this.stop();
    const ip = (...args: string[]) => sh('ip', args);
    await ip('netns', 'add', Decoy.ns);
    await ip('link', 'add', Decoy.hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', Decoy.ns);
    await ip('addr', 'add', '198.18.0.1/30', 'dev', Decoy.hostSide);
    await ip('link', 'set', Decoy.hostSide, 'up');
    await ip('-n', Decoy.ns, 'addr', 'add', `${Decoy.address}/30`, 'dev', 'eth0');
    await ip('-n', Decoy.ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', Decoy.ns, 'link', 'set', 'lo', 'up');
    await ip('-n', Decoy.ns, 'route', 'add', 'default', 'via', '198.18.0.1');
    const probe = await hostProbe();
    this.listener = spawn('ip', ['netns', 'exec', Decoy.ns, probe, 'serve', String(Decoy.port), 'decoy'], {
      stdio: 'ignore',
    });
    // Never probe an address that would leave the machine: the route must go to our veth.
    const route = await sh('ip', ['route', 'get', Decoy.address]);
    if (!route.includes(`dev ${Decoy.hostSide}`)) {
      throw new Error(
        `refusing to probe ${Decoy.address}: its route is not the decoy veth (${route.trim()})`,
      );
    }
  }

  async stop(): Promise<void> {
    if (this.listener?.pid) this.listener.kill('SIGKILL');
    this.listener = undefined;
    await runCommand('ip', ['link', 'del', Decoy.hostSide]).catch(() => undefined);
    await runCommand('ip', ['netns', 'del', Decoy.ns]).catch(() => undefined);
  }
}

async function sh(command: string, args: string[]): Promise<string> {
  const result = await runCommand(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** What probe `connect` said about each HOST:PORT: 'open' or 'blocked'. */
export function connectResults(log: string): Map<string, 'open' | 'blocked'> {
  const results = new Map<string, 'open' | 'blocked'>();
  for (const match of log.matchAll(/^connect (\S+) (open|blocked)/gm)) {
    results.set(match[1]!, match[2] as 'open' | 'blocked');
  }
  return results;
}

export const hostKernelRelease = async () => (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();

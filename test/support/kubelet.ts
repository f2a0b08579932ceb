/**
 * A test kubelet: there is no container runtime on this machine, so tests
 * play the node. It registers a real Node (heartbeat Lease included), binds
 * the operator's pods to it as a scheduler would, reports their status through
 * `pods/status`, finishes graceful deletions, and serves
 * `/containerLogs/{ns}/{pod}/{container}` over HTTPS — the endpoint the real
 * kube-apiserver proxies `kubectl logs` to. What each pod "does" is scripted
 * by the test through `behave`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { runCommand } from '../../hack/cluster/processes.ts';

export type PodScript =
  | { kind: 'run' }
  /** Run the container's real command in gVisor (`runsc --rootless do`), on the host's node binary. */
  | { kind: 'gvisor' }
  | { kind: 'succeed'; log: string }
  | { kind: 'fail'; exitCode: number; message?: string; log?: string }
  | { kind: 'deadline' }
  /** Never runs: unschedulable (no node binding) or stuck waiting with a container reason. */
  | { kind: 'pending'; reason: 'Unschedulable' | 'ImagePullBackOff' | 'ContainerCreating'; message?: string };

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class TestKubelet {
  readonly nodeName: string;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly logs = new Map<string, string>();
  private readonly handled = new Map<string, string>();
  private server: Server | undefined;
  private watchAbort: AbortController | undefined;
  private stopped = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private certDir = '';
  /** Decides what a new pod does; the default keeps it running. */
  behave: (pod: V1Pod) => PodScript = () => ({ kind: 'run' });
  /** Pods (ns/name) whose graceful deletion the kubelet does not finish yet: they stay Terminating. */
  readonly holdDeletion = new Set<string>();
  /** Answers the next N log reads of a pod (ns/name) with this HTTP status instead of the log. */
  readonly failLogReads = new Map<string, { status: number; times: number }>();
  /** Pods the kubelet has seen, by ns/name, with the uid it saw. */
  readonly seen = new Map<string, V1Pod>();

  private readonly kubeConfig: KubeConfig;

  private readonly namespace: string;

  /** A node that gets the operator's pods of one namespace (tests run side by side, each with its own). */
  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.kubeConfig = kubeConfig;
    this.namespace = namespace;
    this.nodeName = `node-${namespace}`;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  async start(): Promise<void> {
    const port = await this.serveLogs();
    await this.registerNode(port);
    this.heartbeat = setInterval(() => void this.renewLease().catch(() => undefined), 10_000);
    await this.watchPods();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    this.watchAbort?.abort();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.core.deleteNode({ name: this.nodeName }).catch(() => undefined);
    await rm(this.certDir, { recursive: true, force: true });
  }

  /** Finishes a running pod now with `script` (e.g. to end a pod the test kept running). */
  async finish(namespace: string, name: string, script: PodScript): Promise<void> {
    const pod = await this.core.readNamespacedPod({ namespace, name });
    await this.apply(pod, script);
  }

  private async serveLogs(): Promise<number> {
    this.certDir = await mkdtemp(join(tmpdir(), 'closedpaw-kubelet-'));
    const key = join(this.certDir, 'tls.key');
    const cert = join(this.certDir, 'tls.crt');
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=test-kubelet',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    this.server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const match = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      const podKey = match ? `${match[1]}/${match[2]}` : '';
      const failure = this.failLogReads.get(podKey);
      if (failure && failure.times > 0) {
        failure.times--;
        res.writeHead(failure.status).end('injected failure');
        return;
      }
      const log = match ? this.logs.get(podKey) : undefined;
      if (req.method !== 'GET' || log === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      const limit = Number(url.searchParams.get('limitBytes') ?? 'Infinity');
      const body = Buffer.from(log, 'utf8');
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(body.subarray(0, Math.min(limit, body.length)));
    });
    return await new Promise((resolve) => {
      this.server!.listen(0, '127.0.0.1', () => {
        const address = this.server!.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  }

  private async registerNode(port: number): Promise<void> {
    await this.core.createNode({
      body: { metadata: { name: this.nodeName, labels: { 'kubernetes.io/hostname': this.nodeName } } },
    });
    const now = new Date();
    await this.core.patchNodeStatus(
      {
        name: this.nodeName,
        body: {
          status: {
            addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
            daemonEndpoints: { kubeletEndpoint: { Port: port } },
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'KubeletReady',
                message: 'test kubelet',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
            capacity: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
            allocatable: { cpu: '64', memory: '256Gi', pods: '5000', 'ephemeral-storage': '1Ti' },
          },
        },
      },
      mergePatch,
    );
    await this.renewLease();
  }

  private async renewLease(): Promise<void> {
    const body = {
      metadata: { name: this.nodeName, namespace: 'kube-node-lease' },
      // MicroTime needs microseconds; client-node would send milliseconds.
      spec: {
        holderIdentity: this.nodeName,
        leaseDurationSeconds: 40,
        renewTime: new Date().toISOString().replace('Z', '000Z') as never,
      },
    };
    await this.coordination
      .replaceNamespacedLease({ name: this.nodeName, namespace: 'kube-node-lease', body })
      .catch(() => this.coordination.createNamespacedLease({ namespace: 'kube-node-lease', body }));
  }

  /**
   * Lists, then watches from the list's resourceVersion; whenever the watch ends (client-node ends
   * silent ones after 30 s) it starts over with a list, so no pod created in between is missed.
   */
  private async watchPods(): Promise<void> {
    const selector = 'app.kubernetes.io/managed-by=closedpaw';
    const onPod = (pod: V1Pod) =>
      void this.handle(pod).catch((error: { code?: number }) => {
        if (error.code !== 404) console.error('test kubelet:', error);
      });
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: selector });
    for (const pod of list.items) onPod(pod);
    const watch = new Watch(this.kubeConfig);
    this.watchAbort = await watch.watch(
      `/api/v1/namespaces/${this.namespace}/pods`,
      { labelSelector: selector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, pod: V1Pod) => {
        if (type === 'ADDED' || type === 'MODIFIED') onPod(pod);
      },
      () => {
        // client-node aborts its own controller when a watch ends: only our stop() means stop.
        if (!this.stopped) void this.rewatch();
      },
    );
  }

  /** Starts the watch again, retrying while the API server is away (an outage test stops it). */
  private async rewatch(): Promise<void> {
    for (let delay = 100; !this.stopped; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.watchPods();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async handle(pod: V1Pod): Promise<void> {
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    const uid = pod.metadata!.uid!;
    this.seen.set(key, pod);
    if (pod.metadata?.deletionTimestamp) {
      if (this.holdDeletion.has(key)) return;
      await this.core.deleteNamespacedPod({
        name: pod.metadata.name!,
        namespace: pod.metadata.namespace!,
        body: { gracePeriodSeconds: 0, preconditions: { uid } },
      });
      return;
    }
    if (this.handled.get(key) === uid) return;
    this.handled.set(key, uid);
    const script = this.behave(pod);
    if (script.kind === 'pending' && script.reason === 'Unschedulable') {
      await this.apply(pod, script);
      return;
    }
    if (!pod.spec?.nodeName) {
      await this.core.createNamespacedPodBinding({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: {
          metadata: { name: pod.metadata!.name! },
          target: { apiVersion: 'v1', kind: 'Node', name: this.nodeName },
        },
      });
    }
    await this.apply(pod, script);
  }

  /** Finishes the graceful deletion of a pod that was held Terminating. */
  async releaseDeletion(namespace: string, name: string): Promise<void> {
    this.holdDeletion.delete(`${namespace}/${name}`);
    const pod = await this.core.readNamespacedPod({ namespace, name });
    await this.handle(pod);
  }

  private async apply(pod: V1Pod, script: PodScript): Promise<void> {
    if (script.kind === 'gvisor') {
      await this.apply(pod, { kind: 'run' });
      await this.apply(pod, await runInGvisor(pod));
      return;
    }
    const { name, namespace } = pod.metadata as { name: string; namespace: string };
    const now = new Date();
    const container = pod.spec!.containers[0]!;
    const base = { name: container.name, image: container.image!, imageID: '', restartCount: 0 };
    const running = { ...base, ready: true, started: true, state: { running: { startedAt: now } } };
    const terminated = (exitCode: number, reason: string, message?: string) => ({
      ...base,
      ready: false,
      started: false,
      state: {
        terminated: { exitCode, reason, startedAt: now, finishedAt: now, ...(message ? { message } : {}) },
      },
    });
    let status: Record<string, unknown>;
    switch (script.kind) {
      case 'run':
        status = {
          phase: 'Running',
          startTime: now,
          hostIP: '127.0.0.1',
          podIP: '10.244.0.10',
          containerStatuses: [running],
        };
        break;
      case 'succeed':
        this.logs.set(`${namespace}/${name}`, script.log);
        status = { phase: 'Succeeded', startTime: now, containerStatuses: [terminated(0, 'Completed')] };
        break;
      case 'fail':
        this.logs.set(`${namespace}/${name}`, script.log ?? '');
        status = {
          phase: 'Failed',
          startTime: now,
          containerStatuses: [terminated(script.exitCode, 'Error', script.message)],
        };
        break;
      case 'pending':
        status =
          script.reason === 'Unschedulable'
            ? {
                phase: 'Pending',
                conditions: [
                  {
                    type: 'PodScheduled',
                    status: 'False',
                    reason: 'Unschedulable',
                    message: script.message ?? '0/1 nodes are available',
                    lastTransitionTime: now,
                  },
                ],
              }
            : {
                phase: 'Pending',
                containerStatuses: [
                  {
                    ...base,
                    ready: false,
                    started: false,
                    state: { waiting: { reason: script.reason, message: script.message ?? script.reason } },
                  },
                ],
              };
        break;
      case 'deadline':
        status = {
          phase: 'Failed',
          reason: 'DeadlineExceeded',
          message: `Pod was active on the node longer than the specified deadline`,
          startTime: now,
          containerStatuses: [terminated(137, 'DeadlineExceeded')],
        };
        break;
    }
    await this.core.patchNamespacedPodStatus({ name, namespace, body: { status } }, mergePatch);
  }
}

/**
 * `runsc do` writes into a tmpfs overlay, so the termination log the runner wrote stays in the sandbox:
 * its report is read from the same `failed` line the runner prints on stderr.
 */
function failureReport(stderr: string): string | undefined {
  for (const line of stderr.trim().split('\n').reverse()) {
    try {
      const step = JSON.parse(line) as { event?: string; reason?: string; message?: string };
      if (step.event === 'failed') return JSON.stringify({ reason: step.reason, message: step.message });
    } catch {
      // not a step line
    }
  }
  return undefined;
}

/** The runner bundle as `npm run build` writes it: what the runner image holds at /opt/closedpaw/runner.js. */
export const RUNNER_BUNDLE = join(import.meta.dirname, '../../dist/runner.js');

/**
 * What a gVisor node would do with the pod: its one container's command runs
 * under `runsc --rootless` with the container's env. The downward-API files
 * (task spec, gateway token) are written from the pod's annotations, /workspace
 * is a temp dir, the runner bundle comes from dist/, and the termination log is
 * read back as the kubelet would. Host networking lets it reach the test's
 * gateway on loopback (NetworkPolicy enforcement needs a CNI: see test/node).
 */
async function runInGvisor(pod: V1Pod): Promise<PodScript> {
  const container = pod.spec!.containers[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-gvisor-'));
  try {
    const workspace = join(dir, 'workspace');
    await mkdir(workspace);
    const annotations = pod.metadata?.annotations ?? {};
    const files: Record<string, string> = {
      '/etc/closedpaw/task.json': join(dir, 'task.json'),
      '/etc/closedpaw/token': join(dir, 'token'),
      '/opt/closedpaw/runner.js': RUNNER_BUNDLE,
      '/workspace': workspace,
    };
    await writeFile(files['/etc/closedpaw/task.json']!, annotations['closedpaw.dev/task-spec'] ?? '{}');
    await writeFile(files['/etc/closedpaw/token']!, annotations['closedpaw.dev/gateway-token'] ?? '');
    const terminationLog = join(dir, 'termination-log');
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', CLOSEDPAW_TERMINATION_LOG: terminationLog };
    for (const { name, value } of container.env ?? []) env[name] = files[value ?? ''] ?? value ?? '';
    const [command, ...args] = container.command ?? [];
    const binary = command === 'node' ? process.execPath : command!;
    const run = await runCommand(
      'runsc',
      ['--rootless', '--network=host', 'do', binary, ...args.map((a) => files[a] ?? a)],
      { env, cwd: workspace },
    );
    const [code, output] = [run.code, run.stdout + run.stderr];
    const message =
      (await readFile(terminationLog, 'utf8').catch(() => undefined)) ?? failureReport(run.stderr);
    return code === 0
      ? { kind: 'succeed', log: run.stdout }
      : {
          kind: 'fail',
          exitCode: code,
          log: output,
          ...(message ? { message } : { message: output.slice(-500) }),
        };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

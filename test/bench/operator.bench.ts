/**
 * Operator benchmarks against a real control plane of its own, with the operator as a separate process
 * (so its RSS is its own), measured in the same run against the floor: a bare client in its own process
 * doing the same writes (policy, pod, status; test/bench/floor-client.ts). Latency and throughput are
 * also printed as ratios to the floor, so a noisy machine still gives comparable numbers.
 *
 *   create_to_pod_ms_p50/p99 (+ floor_…, create_to_pod_p50_vs_floor)   sequential, operator and floor alternating
 *   burst500_all_pods_s (+ floor_…, burst_vs_floor)
 *   api_writes_per_task (until every pod exists and its task records it), api_writes_repeated
 *   reconciles_per_task, approve_to_pod_ms_p50
 *   operator_rss_mb_idle, operator_rss_mb_1000_tasks (+ anonymous and file-backed parts, heap figures; each
 *   also _settled: once V8's memory reducer has run), and
 *   node_floor_rss_mb: a bare Node process with the same flags, an HTTP listener and a TLS client (ratio)
 *   teardown_1000_tasks_s (+ floor_teardown_1000_pods_s: 1,000 bare pods + policies, teardown_vs_floor)
 *   per-task costs outside the API (screening, token signing, the audit barrier)
 *
 * CLOSEDPAW_BENCH_HEAP_SNAPSHOT=1 also writes heap snapshots of the operator (idle, 1,000 tasks, after the
 * teardown) and prints their summary (test/bench/heap-summary.ts). Writing one costs the operator memory, so
 * the RSS figures after the first snapshot are then not comparable with a run without them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { startCluster, stopCluster } from '../../hack/cluster/controlplane.ts';
import { createTestNamespace } from '../support/kube.ts';
import { ensureRuntimeClass } from '../support/operator.ts';
import { operatorKubeConfig } from '../support/operator-identity.ts';
import {
  operatorNodeFlags,
  type ResidentMemory,
  startOperatorProcess,
  sumMetric,
} from '../support/operator-process.ts';
import { summariseHeapSnapshot } from './heap-summary.ts';
import { nodeFloorMemory } from './node-floor.ts';
import { percentile, report } from './report.ts';
import { measureTaskCosts } from './task-costs.ts';

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const log = (message: string) => process.stderr.write(`  ${message}\n`);
const ratio = (value: number, floor: number) => value / floor;

/** RSS, and the part of it that is the operator's own (anonymous) rather than mapped files. */
function reportMemory(when: string, memory: ResidentMemory): void {
  report(`operator_rss_mb_${when}`, memory.rssMb, 'MB');
  report(`operator_anon_mb_${when}`, memory.anonMb, 'MB');
  report(`operator_file_mb_${when}`, memory.fileMb, 'MB');
}
/**
 * Resident memory once it has settled: V8's memory reducer shrinks the heap some seconds after activity
 * stops, so a figure read just after a burst is a transient. Sampled every second until RSS has not fallen
 * for 8 samples in a row (at most 60 s).
 */
async function settledMemory(read: () => Promise<ResidentMemory>): Promise<ResidentMemory> {
  let last = await read();
  let lowest = last.rssMb;
  for (let flat = 0, i = 0; flat < 8 && i < 60; i++) {
    await sleep(1000);
    last = await read();
    if (last.rssMb < lowest - 0.25) flat = 0;
    else flat++;
    lowest = Math.min(lowest, last.rssMb);
  }
  return last;
}

const GROUP = { group: 'closedpaw.dev', version: 'v1alpha1', plural: 'agenttasks' };
const BURST = 500;
const SEQUENTIAL = 40;

/** Every pod ADDED anywhere in the cluster, by namespace/name, with the time it was seen. */
class PodWatch {
  readonly seen = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private abort: AbortController | undefined;

  async start(kc: KubeConfig): Promise<void> {
    this.abort = await new Watch(kc).watch(
      '/api/v1/pods',
      {},
      (type: string, pod: V1Pod) => {
        const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
        if (type !== 'ADDED' || this.seen.has(key)) return;
        this.seen.set(key, performance.now());
        for (const wake of this.waiters.splice(0)) wake();
      },
      () => undefined,
    );
  }

  async waitFor(keys: string[], timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!keys.every((k) => this.seen.has(k))) {
      if (Date.now() > deadline)
        throw new Error(`only ${keys.filter((k) => this.seen.has(k)).length}/${keys.length} pods appeared`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  stop(): void {
    this.abort?.abort();
  }
}

function taskBody(name: string, tools: string[] = []) {
  return {
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'AgentTask',
    metadata: { name },
    spec: { prompt: `Benchmark task ${name}.`, model: 'llama3.2:3b', tools },
  };
}

async function createAll(custom: CustomObjectsApi, namespace: string, names: string[], concurrency = 32) {
  const queue = [...names];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        await custom.createNamespacedCustomObject({ ...GROUP, namespace, body: taskBody(name) });
      }
    }),
  );
}

/** The floor client as a child process, driven over IPC. */
class Floor {
  readonly child: ChildProcess;
  private replies: Array<(m: { ok?: string; error?: string }) => void> = [];

  constructor(kubeconfig: string) {
    this.child = spawn(process.execPath, [join(import.meta.dirname, 'floor-client.ts')], {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: { ok?: string; error?: string }) => this.replies.shift()?.(m));
  }

  private async ask(message: object | undefined): Promise<void> {
    const reply = await new Promise<{ ok?: string; error?: string }>((resolve) => {
      this.replies.push(resolve);
      if (message) this.child.send(message);
    });
    if (reply.error) throw new Error(`floor client: ${reply.error}`);
  }

  ready = () => this.ask(undefined);
  watch = (namespace: string) => this.ask({ cmd: 'watch', namespace });
  populate = (namespace: string, n: number) => this.ask({ cmd: 'populate', namespace, n });
  stop(): void {
    if (this.child.exitCode === null) this.child.kill();
  }
}

/** Deletes a namespace and resolves with the seconds until the API server has removed it. */
async function timeNamespaceDeletion(core: CoreV1Api, name: string, timeoutMs = 600_000): Promise<number> {
  const start = performance.now();
  await core.deleteNamespace({ name });
  while (performance.now() - start < timeoutMs) {
    const gone = await core.readNamespace({ name }).then(
      () => false,
      (error: { code?: number }) => error.code === 404,
    );
    if (gone) return (performance.now() - start) / 1000;
    await sleep(100);
  }
  throw new Error(`namespace ${name} still exists after ${timeoutMs} ms`);
}

interface TaskListing {
  items: Array<{
    metadata: { name: string };
    status?: { podName?: string; conditions?: Array<{ type: string; message?: string }> };
  }>;
}

/**
 * Waits until every task named records its pod, and returns the operator's writes counted at a moment
 * when they stood still across the listing, with the pending reports that listing shows (a pod still
 * pending after pendingReportAfterMs is reported once more, with its reason).
 */
async function settledWrites(
  custom: CustomObjectsApi,
  namespace: string,
  names: Set<string>,
  writes: () => Promise<number>,
): Promise<{ writes: number; pendingReports: number }> {
  for (let i = 0; i < 600; i++) {
    const before = await writes();
    const list = (await custom.listNamespacedCustomObject({ ...GROUP, namespace })) as TaskListing;
    const after = await writes();
    const burst = list.items.filter((t) => names.has(t.metadata.name));
    if (before === after && burst.length === names.size && burst.every((t) => t.status?.podName)) {
      const pendingReports = burst.filter((t) =>
        t.status?.conditions?.some((c) => c.type === 'SandboxReady' && c.message?.includes('is pending')),
      ).length;
      return { writes: after, pendingReports };
    }
    await sleep(100);
  }
  throw new Error('tasks never recorded their pods');
}

async function heapSnapshot(pid: number, dir: string, label: string): Promise<void> {
  const before = new Set(await readdir(dir));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    const file = (await readdir(dir)).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (file) {
      // Written in pieces: wait until its size stops changing.
      for (let size = -1, now = 0; size !== now; await sleep(1000)) {
        size = now;
        now = (await stat(join(dir, file))).size;
      }
      const summary = await summariseHeapSnapshot(join(dir, file));
      log(`heap snapshot (${label}): ${join(dir, file)}\n${summary}`);
      return;
    }
  }
  log(`heap snapshot (${label}) did not appear`);
}

async function main(): Promise<void> {
  const costs = await measureTaskCosts();
  for (const [metric, value] of Object.entries(costs))
    report(metric, value, metric.endsWith('ms') ? 'ms' : 'count');

  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-bench-'));
  const cluster = await startCluster(dir);
  process.env.KUBECONFIG = cluster.kubeconfig;
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await createTestNamespace('bench');
  const floorNs = await createTestNamespace('floor');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  const identity = join(dir, 'operator-identity.kubeconfig');
  await writeFile(identity, (await operatorKubeConfig(kc)).exportConfig(), { mode: 0o600 });

  const snapshots = process.env.CLOSEDPAW_BENCH_HEAP_SNAPSHOT === '1' ? join(dir, 'heap') : undefined;
  if (snapshots) await mkdir(snapshots);
  const operator = await startOperatorProcess(
    { CLOSEDPAW_WATCH_NAMESPACE: ns, CLOSEDPAW_LEADER_ELECTION: 'false' },
    snapshots ? { extraNodeFlags: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`] } : {},
  );
  const floor = new Floor(identity);
  const pods = new PodWatch();
  try {
    await floor.ready();
    await floor.watch(floorNs);
    await operator.waitReady();
    await pods.start(kc);
    await sleep(3000);
    reportMemory('idle', await operator.memory());
    reportMemory('idle_settled', await settledMemory(operator.memory));
    report(
      'operator_heap_used_mb_idle',
      sumMetric(await operator.metrics(), 'nodejs_heap_size_used_bytes') / 1048576,
      'MB',
    );
    const nodeFloor = await nodeFloorMemory(cluster.server, operatorNodeFlags());
    report('node_floor_rss_mb', nodeFloor.rssMb, 'MB');
    report('node_floor_anon_mb', nodeFloor.anonMb, 'MB');
    report('operator_rss_idle_vs_node_floor', ratio((await operator.memory()).rssMb, nodeFloor.rssMb), 'x');
    if (snapshots) await heapSnapshot(operator.pid, snapshots, 'idle');

    log('single tasks, one at a time, operator and floor alternating');
    const latencies: number[] = [];
    const floorLatencies: number[] = [];
    const one = async (namespace: string, name: string, into: number[]) => {
      const started = performance.now();
      await createAll(custom, namespace, [name], 1);
      await pods.waitFor([`${namespace}/${name}-agent`]);
      into.push(pods.seen.get(`${namespace}/${name}-agent`)! - started);
    };
    for (let i = 0; i < SEQUENTIAL; i++) {
      const order: Array<[string, number[]]> = [
        [ns, latencies],
        [floorNs, floorLatencies],
      ];
      if (i % 2 === 1) order.reverse();
      for (const [namespace, into] of order) await one(namespace, `single-${i}`, into);
    }
    const p50 = percentile(latencies, 50);
    const floorP50 = percentile(floorLatencies, 50);
    report('create_to_pod_ms_p50', p50, 'ms');
    report('create_to_pod_ms_p99', percentile(latencies, 99), 'ms');
    report('floor_create_to_pod_ms_p50', floorP50, 'ms');
    report('floor_create_to_pod_ms_p99', percentile(floorLatencies, 99), 'ms');
    report('create_to_pod_p50_vs_floor', ratio(p50, floorP50), 'x');

    log(`burst of ${BURST}: floor, then operator`);
    const burst = Array.from({ length: BURST }, (_, i) => `burst-${i}`);
    const floorCpu = await cpuSeconds(floor.child.pid!);
    const floorStart = performance.now();
    await createAll(custom, floorNs, burst);
    await pods.waitFor(burst.map((n) => `${floorNs}/${n}-agent`));
    const floorBurst = (performance.now() - floorStart) / 1000;
    report('floor_cpu_s_burst', (await cpuSeconds(floor.child.pid!)) - floorCpu, 's');
    await sleep(2000);

    const metricsBefore = await operator.metrics();
    const writesBefore = sumMetric(metricsBefore, 'closedpaw_api_writes_total');
    const reconcilesBefore = sumMetric(metricsBefore, 'controller_runtime_reconcile_total');
    const operatorCpu = await cpuSeconds(operator.pid);
    const burstStart = performance.now();
    await createAll(custom, ns, burst);
    await pods.waitFor(burst.map((n) => `${ns}/${n}-agent`));
    const opBurst = (performance.now() - burstStart) / 1000;
    report('operator_cpu_s_burst', (await cpuSeconds(operator.pid)) - operatorCpu, 's');
    report(`burst${BURST}_all_pods_s`, opBurst, 's');
    report(`floor_burst${BURST}_all_pods_s`, floorBurst, 's');
    report('burst_vs_floor', ratio(opBurst, floorBurst), 'x');
    const settled = await settledWrites(custom, ns, new Set(burst), async () =>
      sumMetric(await operator.metrics(), 'closedpaw_api_writes_total'),
    );
    const { pendingReports } = settled;
    const writes = settled.writes - writesBefore;
    const metricsAfter = await operator.metrics();
    // Policy, pod, status (Pending, podName): 3 per task; a pending report is a legitimate 4th.
    const toPod = (writes - pendingReports) / BURST;
    report('api_writes_per_task', toPod, 'writes');
    report('api_writes_repeated', writes - pendingReports - 3 * BURST, 'writes');
    report('api_writes_pending_reports', pendingReports, 'writes');
    report(
      'reconciles_per_task',
      (sumMetric(metricsAfter, 'controller_runtime_reconcile_total') - reconcilesBefore) / BURST,
      'reconciles',
    );
    const breakdown = metricsAfter.split('\n').filter((l) => l.startsWith('closedpaw_api_writes_total{'));
    log(
      `writes so far by kind: ${breakdown.map((l) => l.replace('closedpaw_api_writes_total', '')).join(', ')}`,
    );

    log('approvals');
    const approveLatencies: number[] = [];
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    for (let i = 0; i < 20; i++) {
      const name = `critical-${i}`;
      await custom.createNamespacedCustomObject({ ...GROUP, namespace: ns, body: taskBody(name, ['shell']) });
      let approval: string | undefined;
      while (!approval) {
        const task = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: ns, name })) as {
          status?: { phase?: string; approvalRef?: { name: string } };
        };
        if (task.status?.phase === 'AwaitingApproval') approval = task.status.approvalRef?.name;
        else await sleep(20);
      }
      const decided = performance.now();
      await custom.patchNamespacedCustomObject(
        {
          ...GROUP,
          plural: 'approvals',
          namespace: ns,
          name: approval,
          body: { spec: { decision: { verdict: 'Approved', decidedBy: 'closedpaw-admin' } } },
        },
        mergePatch,
      );
      await pods.waitFor([`${ns}/${name}-agent`]);
      approveLatencies.push(pods.seen.get(`${ns}/${name}-agent`)! - decided);
    }
    report('approve_to_pod_ms_p50', percentile(approveLatencies, 50), 'ms');

    log('up to 1,000 tasks');
    const more = Array.from({ length: 1000 - SEQUENTIAL - BURST - 20 }, (_, i) => `more-${i}`);
    await createAll(custom, ns, more);
    await pods.waitFor(more.map((n) => `${ns}/${n}-agent`));
    await sleep(3000);
    reportMemory('1000_tasks', await operator.memory());
    reportMemory('1000_tasks_settled', await settledMemory(operator.memory));
    const metrics = await operator.metrics();
    report(
      'operator_heap_used_mb_1000_tasks',
      sumMetric(metrics, 'nodejs_heap_size_used_bytes') / 1048576,
      'MB',
    );
    report(
      'operator_heap_total_mb_1000_tasks',
      sumMetric(metrics, 'nodejs_heap_size_total_bytes') / 1048576,
      'MB',
    );
    if (snapshots) await heapSnapshot(operator.pid, snapshots, '1,000 tasks');

    log('teardown: 1,000 bare pods + policies (floor), then the namespace of 1,000 tasks');
    const bareNs = await createTestNamespace('teardown-floor');
    await floor.populate(bareNs, 1000);
    await sleep(2000);
    const floorTeardown = await timeNamespaceDeletion(core, bareNs);
    const teardownCpu = await cpuSeconds(operator.pid);
    const teardown = await timeNamespaceDeletion(core, ns);
    report('operator_cpu_s_teardown', (await cpuSeconds(operator.pid)) - teardownCpu, 's');
    report('teardown_1000_tasks_s', teardown, 's');
    report('floor_teardown_1000_pods_s', floorTeardown, 's');
    report('teardown_vs_floor', ratio(teardown, floorTeardown), 'x');
    report('operator_rss_mb_after_teardown', await operator.rssMb(), 'MB');
    // What the operator still holds once every task is gone: a leak shows here as heap above idle.
    report(
      'operator_heap_used_mb_after_teardown',
      sumMetric(await operator.metrics(), 'nodejs_heap_size_used_bytes') / 1048576,
      'MB',
    );
    if (snapshots) await heapSnapshot(operator.pid, snapshots, 'after teardown');
  } finally {
    pods.stop();
    floor.stop();
    await operator.kill();
    await stopCluster(dir);
  }
}

await main();

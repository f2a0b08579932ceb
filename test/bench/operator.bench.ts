/**
 * Operator benchmarks against a real control plane of its own, with the
 * operator as a separate process (so its RSS is its own):
 * create_to_pod_ms_p50/p99, burst500_all_pods_s, api_writes_per_task,
 * approve_to_pod_ms_p50, operator_rss_mb_idle, operator_rss_mb_1000_tasks.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
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
import { startOperatorProcess, sumMetric } from '../support/operator-process.ts';
import { percentile, report } from './report.ts';

const log = (message: string) => process.stderr.write(`  ${message}\n`);

class PodWatch {
  readonly seen = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private abort: AbortController | undefined;

  async start(kc: KubeConfig, namespace: string): Promise<void> {
    this.abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (type: string, pod: V1Pod) => {
        if (type !== 'ADDED' || this.seen.has(pod.metadata!.name!)) return;
        this.seen.set(pod.metadata!.name!, performance.now());
        for (const wake of this.waiters.splice(0)) wake();
      },
      () => undefined,
    );
  }

  async waitFor(names: string[], timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!names.every((n) => this.seen.has(n))) {
      if (Date.now() > deadline)
        throw new Error(`only ${names.filter((n) => this.seen.has(n)).length}/${names.length} pods appeared`);
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
        await custom.createNamespacedCustomObject({
          group: 'closedpaw.dev',
          version: 'v1alpha1',
          namespace,
          plural: 'agenttasks',
          body: taskBody(name),
        });
      }
    }),
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-bench-'));
  const cluster = await startCluster(dir);
  process.env.KUBECONFIG = cluster.kubeconfig;
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ns = await createTestNamespace('bench');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  const operator = await startOperatorProcess({
    CLOSEDPAW_WATCH_NAMESPACE: ns,
    CLOSEDPAW_LEADER_ELECTION: 'false',
  });
  const pods = new PodWatch();
  try {
    await operator.waitReady();
    await pods.start(kc, ns);
    await sleep(3000);
    report('operator_rss_mb_idle', await operator.rssMb(), 'MB');

    log('single tasks, one at a time');
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const name = `single-${i}`;
      const started = performance.now();
      await createAll(custom, ns, [name], 1);
      await pods.waitFor([`${name}-agent`]);
      latencies.push(pods.seen.get(`${name}-agent`)! - started);
    }
    report('create_to_pod_ms_p50', percentile(latencies, 50), 'ms');
    report('create_to_pod_ms_p99', percentile(latencies, 99), 'ms');

    log('burst of 500');
    const writesBefore = sumMetric(await operator.metrics(), 'closedpaw_api_writes_total');
    const burst = Array.from({ length: 500 }, (_, i) => `burst-${i}`);
    const burstStart = performance.now();
    await createAll(custom, ns, burst);
    await pods.waitFor(burst.map((n) => `${n}-agent`));
    report('burst500_all_pods_s', (performance.now() - burstStart) / 1000, 's');
    await sleep(2000);
    const writes = sumMetric(await operator.metrics(), 'closedpaw_api_writes_total') - writesBefore;
    report('api_writes_per_task', writes / burst.length, 'writes');
    const breakdown = (await operator.metrics())
      .split('\n')
      .filter((l) => l.startsWith('closedpaw_api_writes_total{'));
    log(
      `writes so far by kind: ${breakdown.map((l) => l.replace('closedpaw_api_writes_total', '')).join(', ')}`,
    );

    log('approvals');
    const approveLatencies: number[] = [];
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    for (let i = 0; i < 20; i++) {
      const name = `critical-${i}`;
      await custom.createNamespacedCustomObject({
        group: 'closedpaw.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'agenttasks',
        body: taskBody(name, ['shell']),
      });
      let approval: string | undefined;
      while (!approval) {
        const task = (await custom.getNamespacedCustomObject({
          group: 'closedpaw.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'agenttasks',
          name,
        })) as { status?: { phase?: string; approvalRef?: { name: string } } };
        if (task.status?.phase === 'AwaitingApproval') approval = task.status.approvalRef?.name;
        else await sleep(20);
      }
      const decided = performance.now();
      await custom.patchNamespacedCustomObject(
        {
          group: 'closedpaw.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'approvals',
          name: approval,
          body: { spec: { decision: { verdict: 'Approved', decidedBy: 'closedpaw-admin' } } },
        },
        mergePatch,
      );
      await pods.waitFor([`${name}-agent`]);
      approveLatencies.push(pods.seen.get(`${name}-agent`)! - decided);
    }
    report('approve_to_pod_ms_p50', percentile(approveLatencies, 50), 'ms');

    log('up to 1,000 tasks');
    const more = Array.from({ length: 1000 - 560 }, (_, i) => `more-${i}`);
    await createAll(custom, ns, more);
    await pods.waitFor(more.map((n) => `${n}-agent`));
    await sleep(3000);
    report('operator_rss_mb_1000_tasks', await operator.rssMb(), 'MB');
    const metrics = await operator.metrics();
    log(
      `heap used ${(sumMetric(metrics, 'nodejs_heap_size_used_bytes') / 1048576).toFixed(1)} MB of ${(sumMetric(metrics, 'nodejs_heap_size_total_bytes') / 1048576).toFixed(1)} MB`,
    );
  } finally {
    pods.stop();
    await operator.kill();
    await stopCluster(dir);
  }
}

await main();

/**
 * Restart chaos: while 100 tasks reconcile, the operator process is SIGKILLed
 * at random moments (≥ 5 times) and restarted. Every task must end with
 * exactly one Pod and one NetworkPolicy — none lost, none duplicated — and no
 * pod may ever exist without its policy (checked the moment each pod appears).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, NetworkingV1Api, type V1Pod } from '@kubernetes/client-node';
import { Informer, type KubeObject } from '../operator/src/runtime/informer.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, Tasks, waitUntil } from './support/operator.ts';
import { type OperatorProcess, startOperatorProcess } from './support/operator-process.ts';

const TASKS = 100;
const KILLS = 6;
/** Kill times come from this seed (printed, and settable with CLOSEDPAW_CHAOS_SEED to replay a run). */
const SEED = Number(process.env.CLOSEDPAW_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** mulberry32: a small seeded PRNG, enough to replay kill times. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const networking = kc.makeApiClient(NetworkingV1Api);
let ns = '';
let kubelet: TestKubelet;
let operator: OperatorProcess | undefined;
let pods: Informer<V1Pod & KubeObject> | undefined;
const podUids = new Map<string, Set<string>>();
const podsWithoutPolicy: string[] = [];
/** The policy check of each pod as it first appears; awaited before the verdict. */
const policyChecks: Promise<void>[] = [];

const operatorEnv = () => ({
  CLOSEDPAW_WATCH_NAMESPACE: ns,
  CLOSEDPAW_LEADER_ELECTION: 'true',
  CLOSEDPAW_LEASE_NAMESPACE: 'closedpaw-system',
  CLOSEDPAW_LEASE_NAME: `chaos-${ns}`,
  CLOSEDPAW_LEASE_DURATION_SECONDS: '4',
  CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS: '3',
  CLOSEDPAW_LEASE_RETRY_PERIOD_SECONDS: '1',
  CLOSEDPAW_WORKERS: '4',
});

before(async () => {
  ns = await createTestNamespace('chaos');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  // The operator's own informer machinery (re-list on gaps) so no pod goes unseen by the checks.
  pods = new Informer<V1Pod & KubeObject>('chaos-pods', {
    kubeConfig: kc,
    path: `/api/v1/namespaces/${ns}/pods`,
    freeze: false,
  });
  const seen = (pod: V1Pod) => {
    const name = pod.metadata!.name!;
    const uids = podUids.get(name) ?? new Set<string>();
    const first = uids.size === 0;
    uids.add(pod.metadata!.uid!);
    podUids.set(name, uids);
    if (first) {
      policyChecks.push(
        networking.readNamespacedNetworkPolicy({ namespace: ns, name }).then(
          () => undefined,
          (error: { code?: number }) => {
            if (error.code !== 404) throw error;
            podsWithoutPolicy.push(name);
          },
        ),
      );
    }
  };
  pods.on('add', seen);
  pods.on('update', seen);
  await pods.start();
});

after(async () => {
  pods?.stop();
  await operator?.kill('SIGKILL');
  await kubelet?.stop();
  await deleteNamespace(ns);
});

test(`${TASKS} tasks survive ${KILLS} SIGKILLs of the operator: one pod and one policy each, never a pod without its policy`, async (t) => {
  t.diagnostic(`chaos seed ${SEED} (replay with CLOSEDPAW_CHAOS_SEED=${SEED})`);
  const random = seeded(SEED);
  const tasks = new Tasks(kc, ns);
  operator = await startOperatorProcess(operatorEnv());
  const creating = (async () => {
    for (let i = 0; i < TASKS; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => tasks.create(`chaos-${i + j}`, {})));
    }
  })();
  for (let kill = 0; kill < KILLS; kill++) {
    await sleep(200 + random() * 1200);
    await operator.kill('SIGKILL');
    operator = await startOperatorProcess(operatorEnv());
  }
  await creating;
  // Like a Deployment: an operator that exits (e.g. it lost its lease on this busy machine) is restarted.
  let restarts = 0;
  const supervisor = setInterval(() => {
    if (operator && operator.child.exitCode !== null) {
      restarts++;
      void startOperatorProcess(operatorEnv()).then((next) => {
        operator = next;
      });
      operator = undefined;
    }
  }, 200);
  after(() => clearInterval(supervisor));

  const names = Array.from({ length: TASKS }, (_, i) => `chaos-${i}`);
  await waitUntil(
    'every task Running',
    async () => {
      const list = await Promise.all(names.map((n) => tasks.get(n)));
      return list.every((t) => t?.status?.phase === 'Running');
    },
    120_000,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message} (${restarts} supervisor restarts)\n--- operator output ---\n${operator?.output()}`,
    );
  });

  const podList = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: 'app.kubernetes.io/managed-by=closedpaw',
  });
  const policies = await networking.listNamespacedNetworkPolicy({ namespace: ns });
  const perTask = (items: Array<{ metadata?: { labels?: Record<string, string> } }>) => {
    const counts = new Map<string, number>();
    for (const item of items) {
      const task = item.metadata?.labels?.['closedpaw.dev/task'] ?? '?';
      counts.set(task, (counts.get(task) ?? 0) + 1);
    }
    return counts;
  };
  const podCounts = perTask(podList.items);
  const policyCounts = perTask(policies.items);
  for (const name of names) {
    assert.equal(podCounts.get(name), 1, `${name}: exactly one pod`);
    assert.equal(policyCounts.get(name), 1, `${name}: exactly one policy`);
    assert.equal(podUids.get(`${name}-agent`)?.size, 1, `${name}: its pod was created once, never replaced`);
  }
  assert.equal(podList.items.length, TASKS);
  assert.equal(policies.items.length, TASKS);
  await Promise.all(policyChecks);
  assert.deepEqual(podsWithoutPolicy, [], 'pods that appeared before their NetworkPolicy');
});

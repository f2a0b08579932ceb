/**
 * The floor the operator is measured against: a bare client, in its own process, that does exactly the
 * operator's writes for a task — NetworkPolicy, then Pod, then one status patch — and nothing else (no
 * caches, no state machine, no audit, no signing, no screening). It watches AgentTasks in one namespace
 * and handles each ADDED task with `workers` tasks in flight, as the operator's workers would.
 *
 * Driven by its parent over IPC:
 *   {cmd: 'watch', namespace}        → {ok: 'watching'}   (starts handling tasks created there)
 *   {cmd: 'populate', namespace, n}  → {ok: 'populated'}  (n bare pods + n policies, no finalizer, no owner)
 *   {cmd: 'stop'}                    → exits
 * Bodies come from the operator's own builders, so the API server does the same work for both.
 */

import type { AgentTask } from '../../operator/src/api/types.ts';
import { loadKubeConnection } from '../../operator/src/k8s/kubeconfig.ts';
import { RestClient } from '../../operator/src/k8s/rest.ts';
import { FINALIZER } from '../../operator/src/sandbox/names.ts';
import { buildNetworkPolicy } from '../../operator/src/sandbox/network-policy.ts';
import { buildPod, type PodConfig } from '../../operator/src/sandbox/pod.ts';

const connection = loadKubeConnection();
if (!connection) throw new Error('floor client: set KUBECONFIG');
const rest = new RestClient(connection);
const workers = Number(process.env.FLOOR_WORKERS ?? 8);
const gatewayPort = Number(process.env.FLOOR_GATEWAY_PORT ?? 11435);
const podConfig: PodConfig = {
  runnerImage: process.env.CLOSEDPAW_RUNNER_IMAGE ?? 'ghcr.io/closedpaw/runner:dev',
  runnerUid: 65532,
  gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
  isolationProbes: (process.env.FLOOR_ISOLATION_PROBES ?? '10.0.0.1:443').split(','),
};
const policyConfig = {
  gateway: { egress: { ip: '127.0.0.1', port: gatewayPort, namespace: '', podSelector: {} } },
  allowDns: false,
};
/** A gateway token of the operator's size (an EdDSA compact JWS); signing it is operator work, not floor. */
const TOKEN = `eyJhbGciOiJFZERTQSIsInR5cCI6ImNsb3NlZHBhdy10YXNrK2p3dCJ9.${'x'.repeat(420)}.${'y'.repeat(86)}`;

const policiesPath = (ns: string) => `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`;
const podsPath = (ns: string) => `/api/v1/namespaces/${ns}/pods`;
const statusPath = (ns: string, name: string) =>
  `/apis/closedpaw.dev/v1alpha1/namespaces/${ns}/agenttasks/${name}/status`;
const query = { fieldManager: 'closedpaw-floor' };

/** The status the operator writes when the pod is created (same shape and size). */
function pendingStatus(task: AgentTask) {
  const podName = `${task.metadata.name}-agent`;
  const now = new Date().toISOString();
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastTransitionTime: now,
    observedGeneration: task.metadata.generation,
  });
  return {
    status: {
      phase: 'Pending',
      risk: { level: 'low', reasons: ['no tool writes or executes; no approval required'] },
      podName,
      startTime: now,
      observedGeneration: task.metadata.generation,
      conditions: [
        condition(
          'RuntimeClassAvailable',
          'True',
          'RuntimeClassFound',
          'RuntimeClass gvisor uses handler runsc',
        ),
        condition(
          'SandboxCreated',
          'True',
          'PodCreated',
          `pod ${podName} created behind NetworkPolicy ${podName}`,
        ),
        condition('SandboxReady', 'False', 'PodPending', `pod ${podName} was just created`),
      ],
    },
  };
}

let lastTask: AgentTask | undefined;
async function handle(task: AgentTask): Promise<void> {
  lastTask = task;
  const ns = task.metadata.namespace!;
  await rest.request(policiesPath(ns), {
    method: 'POST',
    body: buildNetworkPolicy(task, policyConfig),
    query,
  });
  await rest.request(podsPath(ns), { method: 'POST', body: buildPod(task, podConfig, TOKEN), query });
  await rest.request(statusPath(ns, task.metadata.name!), {
    method: 'PATCH',
    body: pendingStatus(task),
    contentType: 'application/merge-patch+json',
    query,
  });
}

/** Tasks waiting for a worker, and the workers' wake-ups. */
const backlog: AgentTask[] = [];
const idle: Array<() => void> = [];
async function worker(): Promise<void> {
  for (;;) {
    const task = backlog.shift();
    if (!task) {
      await new Promise<void>((resolve) => idle.push(resolve));
      continue;
    }
    await handle(task).catch((error: unknown) => {
      process.stderr.write(`floor: ${task.metadata.name}: ${(error as Error).message}\n`);
    });
  }
}

async function watch(namespace: string): Promise<void> {
  const path = `/apis/closedpaw.dev/v1alpha1/namespaces/${namespace}/agenttasks`;
  let list: { metadata: { resourceVersion: string } } | undefined;
  for (let attempt = 0; !list; attempt++) {
    // Right after the control plane starts, a CRD's storage may still be initialising (503).
    list = await rest.request<{ metadata: { resourceVersion: string } }>(path).catch((error: unknown) => {
      if (attempt > 100) throw error;
      return new Promise<undefined>((resolve) => setTimeout(resolve, 100));
    });
  }
  const res = await rest.open(path, {
    query: { watch: 'true', resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 },
  });
  res.setEncoding('utf8');
  let buf = '';
  res.on('data', (chunk: string) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line) as { type: string; object: AgentTask };
      if (event.type !== 'ADDED') continue;
      backlog.push(event.object);
      idle.shift()?.();
    }
  });
}

/** n bare pods and n policies (what a namespace teardown has to delete, without tasks or finalizers). */
async function populate(namespace: string, n: number): Promise<void> {
  const template = lastTask;
  if (!template)
    throw new Error('populate needs a task handled first (its spec, with defaults, is the template)');
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = next++; i < n; i = next++) {
        const task: AgentTask = {
          ...template,
          metadata: {
            name: `bare-${i}`,
            namespace,
            uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
          },
          spec: { ...template.spec, prompt: `Benchmark task bare-${i}.` },
        };
        const policy = buildNetworkPolicy(task, policyConfig);
        policy.metadata!.ownerReferences = undefined;
        policy.metadata!.finalizers = (policy.metadata!.finalizers ?? []).filter((f) => f !== FINALIZER);
        const pod = buildPod(task, podConfig, TOKEN);
        pod.metadata!.ownerReferences = undefined;
        await rest.request(policiesPath(namespace), { method: 'POST', body: policy, query });
        await rest.request(podsPath(namespace), { method: 'POST', body: pod, query });
      }
    }),
  );
}

for (let i = 0; i < workers; i++) void worker();
process.on('message', (message: { cmd: string; namespace?: string; n?: number }) => {
  const reply = (ok: string) => process.send?.({ ok });
  const fail = (error: unknown) => process.send?.({ error: (error as Error).message });
  switch (message.cmd) {
    case 'watch':
      watch(message.namespace!).then(() => reply('watching'), fail);
      return;
    case 'populate':
      populate(message.namespace!, message.n!).then(() => reply('populated'), fail);
      return;
    case 'stop':
      process.exit(0);
  }
});
process.send?.({ ok: 'ready' });

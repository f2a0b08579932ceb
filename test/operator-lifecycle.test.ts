/**
 * The operator end to end against the real API server (PodSecurity `restricted`
 * enforced on the namespace), with the test kubelet playing the node.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
  NodeV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { RESULT_SUMMARY_MAX_CHARS } from '../operator/src/api/agenttask.ts';
import { frameResult } from '../operator/src/api/result-frame.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks, waitUntil } from './support/operator.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const networking = kc.makeApiClient(NetworkingV1Api);
let ns = '';
let tasks: Tasks;
let operator: RunningOperator;
let kubelet: TestKubelet;
/** The operator's API writes in the order it made them: "create pods ns/name". */
const writes: string[] = [];
/** What each task's pod does, by task name; tasks not listed keep running. */
const scripts = new Map<string, Parameters<TestKubelet['finish']>[2]>();

before(async () => {
  ns = await createTestNamespace('lifecycle');
  tasks = new Tasks(kc, ns);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = (pod) => {
    if (pod.metadata?.namespace !== ns) return { kind: 'run' };
    const task = pod.metadata?.labels?.['closedpaw.dev/task'] ?? '';
    return scripts.get(task) ?? { kind: 'run' };
  };
  await kubelet.start();
  operator = await runOperator(
    kc,
    ns,
    { CLOSEDPAW_GATEWAY_IP: '10.1.2.3', CLOSEDPAW_GATEWAY_PORT: '11435' },
    { onApiWrite: (verb, resource, target) => writes.push(`${verb} ${resource} ${target}`) },
  );
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
});

/** client-node returns class instances; compare their plain JSON. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

const readPod = (name: string) =>
  core.readNamespacedPod({ namespace: ns, name }).catch((error: { code?: number }) => {
    if (error.code === 404) return undefined;
    throw error;
  });
const readPolicy = (name: string) =>
  networking.readNamespacedNetworkPolicy({ namespace: ns, name }).catch((error: { code?: number }) => {
    if (error.code === 404) return undefined;
    throw error;
  });

describe('a task runs to completion', () => {
  test('success: a 10 KiB result survives intact (digest and size match), summary bounded', async () => {
    const result = randomBytes(7680).toString('base64');
    scripts.set('big-result', { kind: 'succeed', log: `runner starting\n${frameResult(result)}` });
    await tasks.create('big-result', { tools: ['fs.read'] });
    const done = await tasks.waitForPhase('big-result', 'Succeeded');
    const status = done.status!;
    assert.equal(status.result?.bytes, Buffer.byteLength(result));
    assert.ok(status.result!.bytes > 4096, 'larger than the kubelet termination-message cap');
    assert.equal(status.result?.sha256, createHash('sha256').update(result).digest('hex'));
    assert.equal(status.result?.summary, result.slice(0, RESULT_SUMMARY_MAX_CHARS));
    assert.equal(status.risk?.level, 'low');
    assert.ok(status.completionTime && status.startTime);
    assert.equal(status.observedGeneration, done.metadata.generation);
    const complete = status.conditions?.find((c) => c.type === 'Complete');
    assert.equal(complete?.status, 'True');
    assert.equal(complete?.observedGeneration, done.metadata.generation);
  });

  test('a secret-shaped string in the result never reaches status: redacted, flagged, digest of the real bytes', async () => {
    const token = 'ghp_0123456789abcdefghijABCDEFGHIJ012345';
    const result = `Done. I found GH=${token} in the workspace config.`;
    scripts.set('leaky', { kind: 'succeed', log: frameResult(result) });
    await tasks.create('leaky', { tools: ['fs.read'] });
    const done = await tasks.waitForPhase('leaky', 'Succeeded');
    const status = done.status!;
    assert.equal(status.result?.summary, 'Done. I found GH=[REDACTED:github-token] in the workspace config.');
    assert.equal(status.result?.sha256, createHash('sha256').update(result).digest('hex'));
    const flagged = status.conditions?.find((c) => c.type === 'OutputFlagged');
    assert.equal(flagged?.status, 'True');
    assert.equal(flagged?.reason, 'SecretRedacted');
    assert.doesNotMatch(JSON.stringify(done), new RegExp(token), 'nowhere in the task object');
    // Events are written off the critical path: the one for the end may follow the status by a moment.
    const events = async () =>
      (await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=leaky' })).items;
    await waitUntil('the task’s Events', async () => (await events()).some((e) => e.reason === 'Succeeded'));
    assert.doesNotMatch(JSON.stringify(await events()), new RegExp(token), 'nor in its Events');
  });

  test('a corrupted result frame fails the task instead of storing a wrong digest', async () => {
    const frame = frameResult('the real answer').replace(/sha256=[a-f0-9]{64}/, `sha256=${'0'.repeat(64)}`);
    scripts.set('corrupt', { kind: 'succeed', log: frame });
    await tasks.create('corrupt', {});
    const done = await tasks.waitForPhase('corrupt', 'Failed');
    const failed = done.status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'ResultCorrupt');
    assert.equal(done.status?.result, undefined);
  });

  test('failure: a non-zero exit ends in Failed with the exit code in the message', async () => {
    scripts.set('crash', { kind: 'fail', exitCode: 3, message: 'model not found' });
    await tasks.create('crash', {});
    const done = await tasks.waitForPhase('crash', 'Failed');
    const failed = done.status?.conditions?.find((c) => c.type === 'Failed');
    assert.equal(failed?.reason, 'AgentFailed');
    assert.match(failed?.message ?? '', /exit code 3/);
    assert.match(failed?.message ?? '', /model not found/);
  });

  test('timeout: a pod past activeDeadlineSeconds ends in TimedOut', async () => {
    scripts.set('slow', { kind: 'deadline' });
    await tasks.create('slow', { timeoutSeconds: 5 });
    const done = await tasks.waitForPhase('slow', 'TimedOut');
    assert.equal(done.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'DeadlineExceeded');
  });

  test('ttlSecondsAfterFinished deletes the finished task, and its children go with it', async () => {
    scripts.set('short-lived', { kind: 'succeed', log: frameResult('ok') });
    await tasks.create('short-lived', { ttlSecondsAfterFinished: 1 });
    await tasks.waitForPhase('short-lived', 'Succeeded');
    await tasks.waitFor('short-lived', 'deletion by TTL', (t) => t === undefined, 30_000);
    await waitUntil(
      'pod and policy garbage-collected',
      async () => !(await readPod('short-lived-agent')) && !(await readPolicy('short-lived-agent')),
    );
  });
});

describe('fail closed without a sandbox runtime', () => {
  test('no RuntimeClass → no pod, reason RuntimeClassNotFound, an Event; the pod appears once it exists', async () => {
    const node = kc.makeApiClient(NodeV1Api);
    await node.deleteRuntimeClass({ name: 'kata-qemu' }).catch(() => undefined);
    await tasks.create('needs-kata', { runtimeClassName: 'kata-qemu' });
    const pending = await tasks.waitFor('needs-kata', 'RuntimeClassNotFound', (t) =>
      Boolean(t?.status?.conditions?.some((c) => c.reason === 'RuntimeClassNotFound')),
    );
    assert.equal(pending?.status?.phase, 'Pending');
    assert.equal(await readPod('needs-kata-agent'), undefined, 'no pod without the runtime');
    assert.equal(await readPolicy('needs-kata-agent'), undefined);
    await waitUntil('a Warning Event', async () =>
      (
        await core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.name=needs-kata' })
      ).items.some((e) => e.reason === 'RuntimeClassNotFound' && e.type === 'Warning'),
    );
    try {
      await ensureRuntimeClass(kc, 'kata-qemu', 'kata-qemu');
      await tasks.waitForPhase('needs-kata', 'Running');
      assert.equal((await readPod('needs-kata-agent'))?.spec?.runtimeClassName, 'kata-qemu');
    } finally {
      await node.deleteRuntimeClass({ name: 'kata-qemu' }).catch(() => undefined);
    }
  });

  test('a RuntimeClass whose handler is not a sandbox (kata-qemu → runc) gets no pod: RuntimeClassNotSandboxed', async () => {
    const node = kc.makeApiClient(NodeV1Api);
    await waitUntil('kata-qemu gone', async () =>
      node.readRuntimeClass({ name: 'kata-qemu' }).then(
        () => false,
        (error: { code?: number }) => {
          if (error.code === 404) return true;
          throw error;
        },
      ),
    );
    await ensureRuntimeClass(kc, 'kata-qemu', 'runc');
    try {
      await tasks.create('runc-underneath', { runtimeClassName: 'kata-qemu' });
      const refused = await tasks.waitFor('runc-underneath', 'RuntimeClassNotSandboxed', (t) =>
        Boolean(t?.status?.conditions?.some((c) => c.reason === 'RuntimeClassNotSandboxed')),
      );
      assert.equal(refused?.status?.phase, 'Pending');
      assert.match(
        refused?.status?.conditions?.find((c) => c.type === 'RuntimeClassAvailable')?.message ?? '',
        /handler "runc", which is not a sandbox/,
      );
      assert.equal(await readPod('runc-underneath-agent'), undefined, 'no pod on runc');
      assert.equal(await readPolicy('runc-underneath-agent'), undefined);
    } finally {
      await node.deleteRuntimeClass({ name: 'kata-qemu' }).catch(() => undefined);
    }
  });
});

describe('the children', () => {
  let pod: V1Pod;

  before(async () => {
    await tasks.create('inspect', {
      tools: ['fs.read', 'fs.list'],
      timeoutSeconds: 120,
      resources: { cpu: '250m', memory: '256Mi', ephemeralStorage: '64Mi' },
    });
    await tasks.waitForPhase('inspect', 'Running');
    pod = (await readPod('inspect-agent'))!;
  });

  test('the NetworkPolicy selects only this pod, denies ingress, allows egress only to the gateway', async () => {
    const task = (await tasks.get('inspect'))!;
    const policy = (await readPolicy('inspect-agent'))!;
    assert.deepEqual(plain(policy.spec?.podSelector), {
      matchLabels: { 'closedpaw.dev/task': 'inspect', 'closedpaw.dev/task-uid': task.metadata.uid },
    });
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(policy.spec?.ingress ?? [], []);
    assert.deepEqual(plain(policy.spec?.egress), [
      { to: [{ ipBlock: { cidr: '10.1.2.3/32' } }], ports: [{ protocol: 'TCP', port: 11435 }] },
    ]);
    const owner = policy.metadata?.ownerReferences?.[0];
    assert.equal(owner?.uid, task.metadata.uid);
    assert.equal(owner?.controller, true);
    const policyCreate = writes.indexOf(`create networkpolicies ${ns}/inspect-agent`);
    const podCreate = writes.indexOf(`create pods ${ns}/inspect-agent`);
    assert.ok(policyCreate >= 0 && podCreate >= 0, `both creates seen in ${JSON.stringify(writes)}`);
    assert.ok(policyCreate < podCreate, 'the operator created the policy before the pod');
  });

  test('the pod is hardened field by field', () => {
    const spec = pod.spec!;
    assert.equal(spec.runtimeClassName, 'gvisor');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.enableServiceLinks, false);
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.activeDeadlineSeconds, 120);
    assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC);
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.ok((spec.securityContext?.runAsUser ?? 0) > 0);
    assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(spec.containers.length, 1);
    const container = spec.containers[0]!;
    const sc = container.securityContext!;
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.privileged, false);
    assert.deepEqual(plain(sc.capabilities), { drop: ['ALL'] });
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(container.ports, undefined, 'no ports');
    const limits = { cpu: '250m', memory: '256Mi', 'ephemeral-storage': '64Mi' };
    assert.deepEqual(plain(container.resources?.limits), limits);
    assert.deepEqual(plain(container.resources?.requests), limits);
    const mounts = Object.fromEntries((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    assert.deepEqual(Object.keys(mounts).sort(), ['/etc/closedpaw', '/workspace']);
    assert.equal(mounts['/etc/closedpaw']?.readOnly, true);
    const volumes = Object.fromEntries((spec.volumes ?? []).map((v) => [v.name, v]));
    assert.equal(volumes.workspace?.emptyDir?.sizeLimit, '64Mi');
    assert.ok(volumes.task?.downwardAPI, 'task spec comes from a read-only downward API volume');
    assert.ok(!(spec.volumes ?? []).some((v) => v.hostPath), 'no hostPath');
    assert.ok(
      (container.env ?? []).every((e) => !e.valueFrom && !/^eyJ[\w-]+\./.test(e.value ?? '')),
      'no secrets and no token in the env (the gateway token is a read-only file)',
    );
    assert.ok(
      !(spec.volumes ?? []).some((v) => v.secret || v.projected),
      'no secret or service-account volumes',
    );
    const taskSpec = JSON.parse(pod.metadata?.annotations?.['closedpaw.dev/task-spec'] ?? '{}');
    assert.equal(taskSpec.prompt, 'Summarize the workspace.');
  });

  test('the restricted PodSecurity level is really enforced here: a pod without the hardening is refused', async () => {
    const loose: V1Pod = {
      metadata: { name: 'loose' },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    };
    await assert.rejects(
      core.createNamespacedPod({ namespace: ns, body: loose }),
      (error: { body?: string }) => {
        const message = JSON.parse(String(error.body)).message as string;
        assert.match(message, /violates PodSecurity "restricted:latest"/);
        assert.match(message, /seccompProfile/);
        return true;
      },
    );
  });

  test('an edit after the pod started is not silently re-run', async () => {
    const podBefore = (await readPod('inspect-agent'))!;
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
      {
        group: 'closedpaw.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'agenttasks',
        name: 'inspect',
        body: { spec: { prompt: 'Now do something else.' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const task = await tasks.waitFor('inspect', 'SpecChangedAfterStart', (t) =>
      Boolean(
        t?.status?.conditions?.some((c) => c.type === 'SpecApplied' && c.reason === 'SpecChangedAfterStart'),
      ),
    );
    assert.equal(task?.status?.phase, 'Running');
    const podAfter = (await readPod('inspect-agent'))!;
    assert.equal(podAfter.metadata?.uid, podBefore.metadata?.uid, 'the same pod, not a new one');
  });

  test('deleting a running task removes its pod and its policy', async () => {
    await tasks.delete('inspect');
    await tasks.waitFor('inspect', 'deletion', (t) => t === undefined, 30_000);
    await waitUntil(
      'pod and policy gone',
      async () => !(await readPod('inspect-agent')) && !(await readPolicy('inspect-agent')),
    );
  });
});

describe('observability', () => {
  test('/metrics carries the controller-runtime names and ours; /healthz and /readyz answer', async () => {
    const base = `http://127.0.0.1:${operator.httpPort}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'controller_runtime_reconcile_total{controller="agenttask",result="success"}',
      'controller_runtime_reconcile_time_seconds_bucket{',
      'workqueue_depth{name="agenttask"}',
      'workqueue_adds_total{name="agenttask"}',
      'workqueue_retries_total{name="agenttask"}',
      'closedpaw_api_writes_total{verb="create",resource="pods"}',
      'closedpaw_task_phase_transitions_total{phase="Succeeded"}',
    ]) {
      assert.ok(metrics.includes(name), `missing ${name}`);
    }
    const successes =
      /controller_runtime_reconcile_total\{controller="agenttask",result="success"\} (\d+)/.exec(metrics);
    assert.ok(Number(successes?.[1]) > 0, 'reconciles were counted');
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
  });
});

describe('critical tasks wait for a human', () => {
  test('a shell task is rated critical, waits in AwaitingApproval with an Approval, and has no pod', async () => {
    await tasks.create('risky', { tools: ['shell'] });
    const waiting = await tasks.waitForPhase('risky', 'AwaitingApproval');
    assert.equal(waiting.status?.risk?.level, 'critical');
    assert.match(waiting.status?.risk?.reasons.join(' ') ?? '', /shell/);
    const approvalName = waiting.status?.approvalRef?.name;
    assert.ok(approvalName);
    const approval = (await tasks.listApprovals()).find((a) => a.metadata.name === approvalName);
    assert.equal(approval?.spec.taskRef.uid, waiting.metadata.uid);
    assert.equal(approval?.status?.state, 'Pending');
    assert.equal(await readPod('risky-agent'), undefined);
  });
});

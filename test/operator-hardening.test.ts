/**
 * States a user reaches by ordinary use, against the real API server with the operator under the
 * chart's own RBAC: re-creating a task under the same name while its old pod terminates, refused
 * creates, transient log errors, pods that never run, edited policies, and RuntimeClasses that are
 * not sandboxes. Each test failed on the operator before the hardening issue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, NetworkingV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { frameResult } from '../operator/src/api/result-frame.ts';
import type { AgentTask } from '../operator/src/api/types.ts';
import type { TaskAudit } from '../operator/src/controllers/task-audit.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, podExists, runOperator, Tasks, waitUntil } from './support/operator.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const networking = kc.makeApiClient(NetworkingV1Api);
let ns = '';
let tasks: Tasks;
let operator: RunningOperator;
let kubelet: TestKubelet;
const scripts = new Map<string, Parameters<TestKubelet['finish']>[2]>();
/** Every audit fact the operator recorded, as "fact uid". */
const facts: string[] = [];

const recordingAudit: TaskAudit = {
  admitted: (t) => void facts.push(`admitted ${t.metadata.uid}`),
  screened: (t) => void facts.push(`screened ${t.metadata.uid}`),
  riskRated: (t) => void facts.push(`risk ${t.metadata.uid}`),
  approvalRequested: (t) => void facts.push(`approval.requested ${t.metadata.uid}`),
  approvalDecided: (t) => void facts.push(`approval.decided ${t.metadata.uid}`),
  podCreated: (t) => void facts.push(`pod.created ${t.metadata.uid}`),
  finished: (t, phase) => void facts.push(`finished ${t.metadata.uid} ${phase}`),
  deleted: (r) => void facts.push(`deleted ${r.uid}`),
};
const count = (fact: string) => facts.filter((f) => f === fact).length;

before(async () => {
  ns = await createTestNamespace('hardening');
  tasks = new Tasks(kc, ns);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = (pod) =>
    scripts.get(pod.metadata?.labels?.['closedpaw.dev/task'] ?? '') ?? { kind: 'run' };
  await kubelet.start();
  operator = await runOperator(kc, ns, {}, { audit: recordingAudit });
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
});

const condition = (task: AgentTask | undefined, type: string) =>
  task?.status?.conditions?.find((c) => c.type === type);

async function events(name: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return list.items.map((e) => `${e.type}/${e.reason}: ${e.message}`);
}

describe('delete and re-create under the same name', () => {
  test('the new task waits (Blocked) while the old pod terminates, then runs with its own pod and policy', async () => {
    await tasks.create('again', { tools: ['fs.read'] });
    const first = await tasks.waitForPhase('again', 'Running');
    kubelet.holdDeletion.add(`${ns}/again-agent`);
    const replaced = await kubectl(['delete', 'agenttask', 'again', '-n', ns, '--wait=false']);
    assert.equal(replaced.code, 0, replaced.stderr);
    await waitUntil('the old pod is terminating', async () => {
      const pod = await core.readNamespacedPod({ namespace: ns, name: 'again-agent' });
      return Boolean(pod.metadata?.deletionTimestamp);
    });
    await tasks.create('again', { tools: ['fs.read'], prompt: 'Second time.' });
    const blocked = await tasks.waitFor(
      'again',
      'Blocked',
      (t) => condition(t, 'Blocked')?.status === 'True',
    );
    assert.equal(condition(blocked, 'Blocked')?.reason, 'PreviousSandboxTerminating');
    assert.equal(blocked?.status?.phase, 'Pending');
    await waitUntil('a Warning Event', async () =>
      (await events('again')).some((e) => e.startsWith('Warning/PreviousSandboxTerminating')),
    );

    await kubelet.releaseDeletion(ns, 'again-agent');
    const second = await tasks.waitForPhase('again', 'Running', 30_000);
    assert.notEqual(second.metadata.uid, first.metadata.uid);
    assert.equal(condition(second, 'Blocked')?.status, 'False', 'the block is cleared');
    const pod = await core.readNamespacedPod({ namespace: ns, name: 'again-agent' });
    assert.equal(pod.metadata?.ownerReferences?.[0]?.uid, second.metadata.uid);
    const policy = await networking.readNamespacedNetworkPolicy({ namespace: ns, name: 'again-agent' });
    assert.equal(policy.metadata?.ownerReferences?.[0]?.uid, second.metadata.uid);
    assert.equal(count(`admitted ${second.metadata.uid}`), 1, 'admitted once, not per retry');
    assert.equal(count(`risk ${second.metadata.uid}`), 1, 'risk rated once, not per retry');
    assert.equal(count(`deleted ${first.metadata.uid}`), 1, "the old task's teardown is audited once");
  });
});

describe('failures are visible', () => {
  test('a pod refused by a ResourceQuota: condition with the API message, a Warning Event, retried until it fits', async () => {
    const quota = { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } };
    await core.createNamespacedResourceQuota({ namespace: ns, body: quota });
    await waitUntil('the quota is in force', async () => {
      const q = await core.readNamespacedResourceQuota({ namespace: ns, name: 'no-pods' });
      return q.status?.hard?.pods === '0';
    });
    await tasks.create('quota', { tools: ['fs.read'] });
    const refused = await tasks.waitFor(
      'quota',
      'PodRejected',
      (t) => condition(t, 'SandboxCreated')?.reason === 'PodRejected',
    );
    assert.equal(condition(refused, 'SandboxCreated')?.status, 'False');
    assert.match(condition(refused, 'SandboxCreated')?.message ?? '', /exceeded quota: no-pods/);
    await waitUntil('a Warning Event', async () =>
      (await events('quota')).some((e) => e.startsWith('Warning/PodRejected')),
    );
    assert.equal(await podExists(ns, 'quota-agent'), false);
    assert.equal(count(`pod.created ${refused?.metadata.uid}`), 0);

    await core.deleteNamespacedResourceQuota({ namespace: ns, name: 'no-pods' });
    const running = await tasks.waitForPhase('quota', 'Running', 60_000);
    assert.equal(condition(running, 'SandboxCreated')?.status, 'True');
    assert.equal(count(`pod.created ${running.metadata.uid}`), 1);
  });

  test('a transient error reading the result log is retried; the task still succeeds', async () => {
    scripts.set('flaky-log', { kind: 'succeed', log: frameResult('all good') });
    kubelet.failLogReads.set(`${ns}/flaky-log-agent`, { status: 500, times: 2 });
    await tasks.create('flaky-log', {});
    const done = await tasks.waitForPhase('flaky-log', 'Succeeded', 60_000);
    assert.equal(done.status?.result?.summary, 'all good');
    assert.equal(kubelet.failLogReads.get(`${ns}/flaky-log-agent`)?.times, 0, 'both failures were hit');
  });

  test('a log that is gone (404) fails the task at once with ResultUnreadable', async () => {
    scripts.set('no-log', { kind: 'succeed', log: frameResult('lost') });
    kubelet.failLogReads.set(`${ns}/no-log-agent`, { status: 404, times: 100 });
    await tasks.create('no-log', {});
    const done = await tasks.waitForPhase('no-log', 'Failed', 60_000);
    assert.equal(condition(done, 'Failed')?.reason, 'ResultUnreadable');
  });
});

describe('phases say what is true', () => {
  test('a pod that cannot be scheduled shows as Pending with the reason, never Running', async () => {
    scripts.set('nowhere', {
      kind: 'pending',
      reason: 'Unschedulable',
      message: '0/1 nodes are available: 1 Insufficient cpu.',
    });
    await tasks.create('nowhere', {});
    const pending = await tasks.waitFor(
      'nowhere',
      'the pod reason',
      (t) => condition(t, 'SandboxReady')?.reason === 'Unschedulable',
    );
    assert.equal(pending?.status?.phase, 'Pending');
    assert.match(condition(pending, 'SandboxReady')?.message ?? '', /Insufficient cpu/);
    await waitUntil('a Warning Event', async () =>
      (await events('nowhere')).some((e) => e.startsWith('Warning/Unschedulable')),
    );
  });

  test('an image that cannot be pulled shows as Pending with ImagePullBackOff', async () => {
    scripts.set('no-image', {
      kind: 'pending',
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image',
    });
    await tasks.create('no-image', {});
    const pending = await tasks.waitFor(
      'no-image',
      'the pod reason',
      (t) => condition(t, 'SandboxReady')?.reason === 'ImagePullBackOff',
    );
    assert.equal(pending?.status?.phase, 'Pending');
  });
});

describe('the sandbox stays as built', () => {
  test('an edited NetworkPolicy is put back', async () => {
    await tasks.create('guarded', {});
    await tasks.waitForPhase('guarded', 'Running');
    const widened = await networking.patchNamespacedNetworkPolicy(
      {
        namespace: ns,
        name: 'guarded-agent',
        body: { spec: { egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.equal(widened.spec?.egress?.[0]?.to?.[0]?.ipBlock?.cidr, '0.0.0.0/0');
    await waitUntil('the policy restored', async () => {
      const policy = await networking.readNamespacedNetworkPolicy({ namespace: ns, name: 'guarded-agent' });
      return (
        policy.spec?.egress?.length === 1 && policy.spec.egress[0]?.to?.[0]?.ipBlock?.cidr === '127.0.0.1/32'
      );
    });
    await waitUntil('a Warning Event', async () =>
      (await events('guarded')).some((e) => e.startsWith('Warning/NetworkPolicyRestored')),
    );
  });
});

describe('deleting a namespace', () => {
  test('sandboxes are torn down early, and a policy outlives its pod even then', async () => {
    const doomed = await createTestNamespace('doomed');
    const doomedKubelet = new TestKubelet(kc, doomed);
    await doomedKubelet.start();
    const writes: string[] = [];
    const op = await runOperator(
      kc,
      doomed,
      {},
      { onApiWrite: (verb, resource, target) => void writes.push(`${verb} ${resource} ${target}`) },
    );
    try {
      const t = new Tasks(kc, doomed);
      const names = ['t0', 't1', 't2', 't3'];
      for (const name of names) await t.create(name, {});
      for (const name of names) await t.waitForPhase(name, 'Running');
      doomedKubelet.holdDeletion.add(`${doomed}/t0-agent`);
      await core.deleteNamespace({ name: doomed });
      await waitUntil('the other sandboxes released', async () =>
        ['t1', 't2', 't3'].every((n) => writes.includes(`patch networkpolicies ${doomed}/${n}-agent`)),
      );
      const held = await networking.readNamespacedNetworkPolicy({ namespace: doomed, name: 't0-agent' });
      assert.ok(
        held.metadata?.finalizers?.includes('closedpaw.dev/sandbox-teardown'),
        'the terminating pod keeps its policy',
      );
      for (const n of ['t1', 't2', 't3']) {
        const deleted = writes.indexOf(`delete pods ${doomed}/${n}-agent`);
        const released = writes.indexOf(`patch networkpolicies ${doomed}/${n}-agent`);
        assert.ok(
          deleted >= 0 && deleted < released,
          `${n}: the pod was deleted before its policy was released`,
        );
      }
      await doomedKubelet.releaseDeletion(doomed, 't0-agent');
      await waitUntil(
        'the namespace gone',
        async () =>
          core.readNamespace({ name: doomed }).then(
            () => false,
            (error: { code?: number }) => {
              if (error.code === 404) return true;
              throw error;
            },
          ),
        90_000,
      );
    } finally {
      await op.stop();
      await doomedKubelet.stop();
      await deleteNamespace(doomed).catch(() => undefined);
    }
  });
});

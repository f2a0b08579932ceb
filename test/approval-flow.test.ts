/**
 * The operator's side of approvals against the real API server: a critical
 * task waits with no pod; a decision written through the API (as the admin
 * user here; the UI and CLI tests cover the other paths) lets it run or ends
 * it; expiry is a denial; an edit voids an approval that was not yet acted on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, podExists, runOperator, Tasks, waitUntil } from './support/operator.ts';

const kc = kubeConfig();
const ADMIN = 'closedpaw-admin';
let ns = '';
let tasks: Tasks;
let operator: RunningOperator | undefined;
let kubelet: TestKubelet;

before(async () => {
  ns = await createTestNamespace('approval-flow');
  tasks = new Tasks(kc, ns);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  operator = await runOperator(kc, ns);
});

after(async () => {
  await operator?.stop();
  await kubelet.stop();
  await deleteNamespace(ns);
});

/** How many reconciles the operator finished: grows once it has looked at a change. */
async function reconciles(op: RunningOperator): Promise<number> {
  const metric = await op.registry.getSingleMetric('controller_runtime_reconcile_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

async function decide(approval: string, verdict: 'Approved' | 'Denied', reason: string) {
  const result = await kubectl([
    'patch',
    'approval',
    approval,
    '-n',
    ns,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { decision: { verdict, decidedBy: ADMIN, reason } } }),
  ]);
  assert.equal(result.code, 0, result.stderr);
}

async function awaitingApproval(name: string): Promise<string> {
  const task = await tasks.waitForPhase(name, 'AwaitingApproval');
  assert.equal(await podExists(ns, `${name}-agent`), false, 'no pod while the approval is pending');
  return task.status!.approvalRef!.name;
}

describe('decisions', () => {
  test('Approved → the pod is created, and the approval records who decided', async () => {
    await tasks.create('approve-me', { tools: ['shell'] });
    const approval = await awaitingApproval('approve-me');
    await decide(approval, 'Approved', 'checked the prompt');
    const running = await tasks.waitForPhase('approve-me', 'Running');
    assert.equal(running.status?.conditions?.find((c) => c.type === 'Approved')?.status, 'True');
    assert.ok(await podExists(ns, 'approve-me-agent'));
    const state = (await tasks.listApprovals()).find((a) => a.metadata.name === approval)?.status;
    assert.equal(state?.state, 'Approved');
    assert.equal(state?.decidedBy, ADMIN);
    assert.ok(state?.decidedAt);
  });

  test('Denied → the task ends Denied and no pod ever exists', async () => {
    await tasks.create('deny-me', { approval: 'required' });
    const approval = await awaitingApproval('deny-me');
    await decide(approval, 'Denied', 'not today');
    const denied = await tasks.waitForPhase('deny-me', 'Denied');
    assert.match(
      denied.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? '',
      /denied by closedpaw-admin: not today/,
    );
    assert.equal(await podExists(ns, 'deny-me-agent'), false);
  });

  test('an edit after approval voids it: the old approval is superseded, a new one is pending, no pod', async () => {
    await tasks.create('edit-me', { tools: ['fs.write'] });
    const first = await awaitingApproval('edit-me');
    await operator!.stop(); // the human approves while the operator is away, then the task changes
    operator = undefined;
    await decide(first, 'Approved', 'fine as written');
    const edit = await kubectl([
      'patch',
      'agenttask',
      'edit-me',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"prompt":"Also delete /workspace/important."}}',
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    operator = await runOperator(kc, ns);
    const task = await tasks.waitFor('edit-me', 'a new approval', (t) =>
      Boolean(t?.status?.approvalRef && t.status.approvalRef.name !== first),
    );
    assert.equal(task?.status?.phase, 'AwaitingApproval');
    await waitUntil('the old approval superseded', async () =>
      (await tasks.listApprovals()).some(
        (a) => a.metadata.name === first && a.status?.state === 'Superseded',
      ),
    );
    const second = (await tasks.listApprovals()).find(
      (a) => a.metadata.name === task?.status?.approvalRef?.name,
    );
    assert.equal(second?.status?.state, 'Pending');
    assert.notEqual(
      second?.spec.taskDigest,
      (await tasks.listApprovals()).find((a) => a.metadata.name === first)?.spec.taskDigest,
    );
    assert.equal(await podExists(ns, 'edit-me-agent'), false);
  });
});

describe('expiry', () => {
  let expiryNs = '';
  let shortLived: RunningOperator;

  before(async () => {
    expiryNs = await createTestNamespace('approval-expiry');
    shortLived = await runOperator(kc, expiryNs, { CLOSEDPAW_APPROVAL_TTL_SECONDS: '2' });
  });
  after(async () => {
    await shortLived.stop();
    await deleteNamespace(expiryNs);
  });

  test('no decision before expiresAt counts as a denial: phase Expired, no pod', async () => {
    const expiring = new Tasks(kc, expiryNs);
    await expiring.create('forgotten', { tools: ['shell'] });
    const task = await expiring.waitForPhase('forgotten', 'Expired', 30_000);
    assert.equal(task.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'ApprovalExpired');
    const approval = (await expiring.listApprovals())[0];
    assert.equal(approval?.status?.state, 'Expired');
    const seen = await reconciles(shortLived);
    const late = await kubectl([
      'patch',
      'approval',
      approval!.metadata.name!,
      '-n',
      expiryNs,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { decision: { verdict: 'Approved', decidedBy: ADMIN } } }),
    ]);
    assert.equal(late.code, 0, 'the API accepts a late decision, but it changes nothing');
    await waitUntil(
      'the operator reconciled after the late decision',
      async () => (await reconciles(shortLived)) > seen,
    );
    assert.equal((await expiring.get('forgotten'))?.status?.phase, 'Expired');
    assert.equal(await podExists(expiryNs, 'forgotten-agent'), false);
  });
});

describe('no dead states', () => {
  const patchPrompt = async (name: string, prompt: string) => {
    const edit = await kubectl([
      'patch',
      'agenttask',
      name,
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { prompt } }),
    ]);
    assert.equal(edit.code, 0, edit.stderr);
  };
  const waitingOn = async (name: string, notThis?: string) =>
    (await tasks.waitFor(name, 'an approval to wait on', (t) => {
      const ref = t?.status?.approvalRef?.name;
      return t?.status?.phase === 'AwaitingApproval' && Boolean(ref) && ref !== notThis;
    }))!.status!.approvalRef!;

  test('spec A → B → A: the superseded approval of A is not reused; a fresh one is asked and honoured', async () => {
    await tasks.create('aba', { tools: ['shell'], prompt: 'Version A.' });
    const a1 = (await waitingOn('aba')).name;
    await patchPrompt('aba', 'Version B.');
    const b = (await waitingOn('aba', a1)).name;
    await patchPrompt('aba', 'Version A.');
    const a3 = (await waitingOn('aba', b)).name;
    assert.notEqual(a3, a1, 'a new approval, not the superseded one');
    const states = new Map((await tasks.listApprovals()).map((a) => [a.metadata.name, a.status?.state]));
    assert.equal(states.get(a1), 'Superseded');
    await waitUntil('B superseded', async () =>
      (await tasks.listApprovals()).some((a) => a.metadata.name === b && a.status?.state === 'Superseded'),
    );
    await decide(a3, 'Approved', 'version A again, fine');
    await tasks.waitForPhase('aba', 'Running');
  });

  test('an Approval deleted by someone is asked again with the same deadline: deletion buys no time', async () => {
    await tasks.create('deleted-approval', { tools: ['shell'] });
    const first = await waitingOn('deleted-approval');
    assert.ok(first.expiresAt, 'the task records its deadline');
    const removed = await kubectl(['delete', 'approval', first.name, '-n', ns]);
    assert.equal(removed.code, 0, removed.stderr);
    await waitUntil('a new approval with the recorded deadline', async () => {
      const again = (await tasks.listApprovals()).find(
        (a) => a.spec.taskRef.name === 'deleted-approval' && a.metadata.deletionTimestamp === undefined,
      );
      return again !== undefined && Date.parse(again.spec.expiresAt) === Date.parse(first.expiresAt!);
    });
    const task = await tasks.get('deleted-approval');
    assert.equal(task?.status?.phase, 'AwaitingApproval');
    assert.equal(await podExists(ns, 'deleted-approval-agent'), false);
  });

  test('approver settings changed across a restart: the old approval is superseded and a new one asked', async () => {
    await operator?.stop();
    operator = await runOperator(kc, ns, { CLOSEDPAW_APPROVER_USERS: 'alice' });
    await tasks.create('new-approvers', { tools: ['shell'] });
    const old = (await waitingOn('new-approvers')).name;
    assert.deepEqual((await tasks.listApprovals()).find((a) => a.metadata.name === old)?.spec.approvers, {
      users: ['alice'],
    });
    await operator.stop();
    operator = await runOperator(kc, ns, { CLOSEDPAW_APPROVER_USERS: 'bob' });
    const fresh = (await waitingOn('new-approvers', old)).name;
    const approvals = await tasks.listApprovals();
    assert.deepEqual(approvals.find((a) => a.metadata.name === fresh)?.spec.approvers, { users: ['bob'] });
    await waitUntil('the old approval superseded', async () =>
      (await tasks.listApprovals()).some((a) => a.metadata.name === old && a.status?.state === 'Superseded'),
    );
    await operator.stop();
    operator = await runOperator(kc, ns);
  });
});

describe('silence is a denial even when the Approval is deleted', () => {
  let silentNs = '';
  let shortLived: RunningOperator;

  before(async () => {
    silentNs = await createTestNamespace('approval-silent');
    shortLived = await runOperator(kc, silentNs, { CLOSEDPAW_APPROVAL_TTL_SECONDS: '3' });
  });
  after(async () => {
    await shortLived.stop();
    await deleteNamespace(silentNs);
  });

  test('deleting the Approval again and again does not keep the task waiting past its deadline', async () => {
    const silent = new Tasks(kc, silentNs);
    await silent.create('silenced', { tools: ['shell'] });
    await silent.waitForPhase('silenced', 'AwaitingApproval');
    const deleter = setInterval(() => {
      void kubectl(['delete', 'approvals', '--all', '-n', silentNs, '--wait=false']);
    }, 300);
    try {
      const task = await silent.waitForPhase('silenced', 'Expired', 30_000);
      assert.equal(task.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'ApprovalExpired');
    } finally {
      clearInterval(deleter);
    }
    assert.equal(await podExists(silentNs, 'silenced-agent'), false);
  });
});

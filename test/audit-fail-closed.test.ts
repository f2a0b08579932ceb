/**
 * The audit log fails closed: when appends stop succeeding (the log's filesystem is full), the
 * operator creates no pods, says so on the task (Blocked AuditUnavailable) and in /readyz, settles no
 * approval (a human's decision waits, unacted on, until it can be recorded), and resumes by itself once
 * the log records again. The log lives on a tiny tmpfs this test mounts
 * (root only; reported as a skip otherwise) and fills.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCommand } from '../hack/cluster/processes.ts';
import { generateKey } from '../operator/src/audit/index.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, podExists, runOperator, Tasks, waitUntil } from './support/operator.ts';

const kc = kubeConfig();
let ns = '';
let dir = '';
let mounted = false;
let operator: RunningOperator | undefined;
let kubelet: TestKubelet;
const canMount = process.getuid?.() === 0;

before(async () => {
  if (!canMount) return;
  ns = await createTestNamespace('audit-full');
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-audit-full-'));
  await generateKey(join(dir, 'keys'));
  await mkdir(join(dir, 'log'));
  const mount = await runCommand('mount', [
    '-t',
    'tmpfs',
    '-o',
    'size=256k',
    'closedpaw-audit-test',
    join(dir, 'log'),
  ]);
  assert.equal(mount.code, 0, mount.stderr);
  mounted = true;
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  operator = await runOperator(kc, ns, {
    CLOSEDPAW_AUDIT_DIR: join(dir, 'log'),
    CLOSEDPAW_AUDIT_KEYS_DIR: join(dir, 'keys'),
    CLOSEDPAW_AUDIT_CHECKPOINT_DIR: join(dir, 'published'),
  });
});

after(async () => {
  if (!canMount) return;
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
  if (mounted) await runCommand('umount', [join(dir, 'log')]);
  await rm(dir, { recursive: true, force: true });
});

const readyz = async () => {
  const res = await fetch(`http://127.0.0.1:${operator!.httpPort}/readyz`);
  return { status: res.status, body: await res.text() };
};

test('a full audit log stops pod creation and settles no approval, shows why, and recovers on its own', {
  skip: !canMount && 'mounting a tmpfs needs root',
}, async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('before', {});
  await tasks.waitForPhase('before', 'Running');
  assert.equal((await readyz()).status, 200);
  await tasks.create('critical', { tools: ['shell'] });
  const approval = (await tasks.waitForPhase('critical', 'AwaitingApproval')).status!.approvalRef!.name;

  const filler = join(dir, 'log', 'filler');
  await writeFile(filler, Buffer.alloc(512 * 1024)).catch((error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'ENOSPC'); // the tmpfs is full now
  });
  // The log's last page may still have room for a few records: new tasks go on until one cannot be
  // recorded. From then on, no pod.
  let blockedName = '';
  for (let i = 0; i < 40 && !blockedName; i++) {
    const name = `during-${i}`;
    await tasks.create(name, {});
    const seen = await tasks.waitFor(
      name,
      'Running or Blocked',
      (t) =>
        t?.status?.phase === 'Running' ||
        t?.status?.conditions?.some((c) => c.type === 'Blocked' && c.reason === 'AuditUnavailable') === true,
    );
    if (seen?.status?.phase !== 'Running') blockedName = name;
  }
  assert.ok(blockedName, 'a task was blocked once the log could not record');
  const blocked = await tasks.get(blockedName);
  assert.match(
    blocked?.status?.conditions?.find((c) => c.type === 'Blocked')?.message ?? '',
    /audit log unavailable/,
  );
  assert.equal(await podExists(ns, `${blockedName}-agent`), false, 'no pod while the log cannot record');
  const notReady = await readyz();
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /audit log unavailable/);
  await tasks.create('while-full', {});
  await tasks.waitFor(
    'while-full',
    'Blocked',
    (t) => t?.status?.conditions?.some((c) => c.reason === 'AuditUnavailable') === true,
  );
  assert.equal(await podExists(ns, 'while-full-agent'), false);

  // A human approves while nothing can be recorded: the decision stays in the spec, unsettled, no pod.
  const decided = await kubectl([
    ...['patch', 'approval', approval, '-n', ns, '--type=merge', '-p'],
    JSON.stringify({
      spec: { decision: { verdict: 'Approved', decidedBy: 'closedpaw-admin', reason: 'ok' } },
    }),
  ]);
  assert.equal(decided.code, 0, decided.stderr);
  await tasks.waitFor(
    'critical',
    'Blocked',
    (t) => t?.status?.conditions?.some((c) => c.reason === 'AuditUnavailable') === true,
  );
  const unsettled = (await tasks.listApprovals()).find((a) => a.metadata.name === approval);
  assert.equal(unsettled?.spec.decision?.verdict, 'Approved');
  assert.notEqual(unsettled?.status?.state, 'Approved', 'an approval is not settled while the log is down');
  assert.equal(await podExists(ns, 'critical-agent'), false);

  await rm(filler);
  await tasks.waitForPhase(blockedName, 'Running', 60_000);
  await tasks.waitForPhase('while-full', 'Running', 60_000);
  await tasks.waitForPhase('critical', 'Running', 60_000);
  const settled = (await tasks.listApprovals()).find((a) => a.metadata.name === approval);
  assert.equal(settled?.status?.state, 'Approved');
  assert.equal(settled?.status?.decidedBy, 'closedpaw-admin');
  await waitUntil('ready again', async () => (await readyz()).status === 200);
});

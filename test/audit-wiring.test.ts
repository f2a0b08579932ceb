/**
 * The operator's actions land in the sealed audit log, and the log verifies:
 * a low-risk task that runs and a critical one that is denied, read back with
 * `closedpaw audit verify` and `export` after the operator stops.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { frameResult } from '../operator/src/api/result-frame.ts';
import { generateKey } from '../operator/src/audit/index.ts';
import { runAuditCli } from '../operator/src/cli/audit.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from './support/operator.ts';

const kc = kubeConfig();
let ns = '';
let dir = '';
let operator: RunningOperator | undefined;
let kubelet: TestKubelet;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAuditCli(args, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

before(async () => {
  ns = await createTestNamespace('audit');
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-audit-e2e-'));
  await generateKey(join(dir, 'keys'));
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = (pod) =>
    pod.metadata?.namespace === ns
      ? { kind: 'succeed', log: frameResult('audited answer') }
      : { kind: 'run' };
  await kubelet.start();
  operator = await runOperator(kc, ns, {
    CLOSEDPAW_AUDIT_DIR: join(dir, 'log'),
    CLOSEDPAW_AUDIT_KEYS_DIR: join(dir, 'keys'),
    CLOSEDPAW_AUDIT_CHECKPOINT_DIR: join(dir, 'published'),
  });
});

after(async () => {
  await operator?.stop();
  await kubelet.stop();
  await deleteNamespace(ns);
  await rm(dir, { recursive: true, force: true });
});

test('task and approval actions are sealed in the audit log, which verifies', async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('audited', {});
  await tasks.waitForPhase('audited', 'Succeeded');
  await tasks.create('refused', { tools: ['shell'] });
  const waiting = await tasks.waitForPhase('refused', 'AwaitingApproval');
  const patch = await kubectl([
    'patch',
    'approval',
    waiting.status!.approvalRef!.name,
    '-n',
    ns,
    '--type=merge',
    '-p',
    '{"spec":{"decision":{"verdict":"Denied","decidedBy":"closedpaw-admin","reason":"no shell today"}}}',
  ]);
  assert.equal(patch.code, 0, patch.stderr);
  await tasks.waitForPhase('refused', 'Denied');
  await operator!.stop(); // closes the sink: everything flushed and checkpointed
  operator = undefined;

  const files = [
    '--log',
    join(dir, 'log/audit.log'),
    '--keys',
    join(dir, 'keys'),
    '--checkpoints',
    join(dir, 'published'),
  ];
  const verify = await cli(['verify', ...files]);
  assert.equal(verify.code, 0, verify.err + verify.out);
  assert.match(verify.out, /OK/);

  const exported = await cli(['export', ...files, '--since', '2000-01-01T00:00:00Z', '--format', 'jsonl']);
  assert.equal(exported.code, 0, exported.err);
  const events = exported.out
    .trim()
    .split('\n')
    .map(
      (line) => JSON.parse(line) as { type: string; task?: { name: string }; decidedBy?: { name: string } },
    );
  const typesFor = (task: string) => events.filter((e) => e.task?.name === task).map((e) => e.type);
  assert.deepEqual(typesFor('audited'), [
    'task.admitted',
    'task.risk_rated',
    'pod.created',
    'pod.finished',
    'task.result_recorded',
  ]);
  assert.deepEqual(typesFor('refused'), [
    'task.admitted',
    'task.risk_rated',
    'approval.requested',
    'approval.decided',
  ]);
  assert.equal(events.find((e) => e.type === 'approval.decided')?.decidedBy?.name, 'closedpaw-admin');
});

/**
 * `closedpaw run` end to end: the real bin, the user's kubeconfig (closedpaw-admin), the real API server,
 * the operator, and a test kubelet that plays the node (its pod logs carry the runner's step lines and
 * result frame, as a real runner writes them). Success, failure, the approval path, Ctrl-C without a
 * terminal, and the one-line errors for no cluster and no RBAC.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { frameResult } from '../../operator/src/api/result-frame.ts';
import { runRunCli } from '../../operator/src/cli/run.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks, waitUntil } from '../support/operator.ts';
import { cli, startCli } from './support.ts';

const kc = kubeConfig();
let ns = '';
let tasks: Tasks;
let kubelet: TestKubelet;
let operator: RunningOperator | undefined;
let scratch = '';

const SHA = 'c'.repeat(64);
const STEPS = [
  JSON.stringify({ event: 'model', step: 1, ms: 640, toolCalls: 1, promptTokens: 210, completionTokens: 18 }),
  JSON.stringify({ event: 'tool', step: 2, tool: 'fs.list', argsSha256: SHA, bytes: 96, ms: 2, ok: true }),
  JSON.stringify({ event: 'model', step: 3, ms: 910, toolCalls: 0 }),
  JSON.stringify({ event: 'finished', steps: 3, bytes: 17 }),
];

before(async () => {
  ns = await createTestNamespace('cli-run');
  tasks = new Tasks(kc, ns);
  scratch = await mkdtemp(join(tmpdir(), 'closedpaw-cli-run-'));
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = (pod) => {
    const task = pod.metadata?.labels?.['closedpaw.dev/task'] ?? '';
    if (task.startsWith('fail')) {
      const failed = { event: 'failed', reason: 'BudgetExceeded', message: 'tokens: 100412 of 100000 spent' };
      return {
        kind: 'fail',
        exitCode: 1,
        message: JSON.stringify({ reason: failed.reason, message: failed.message }),
        log: `${STEPS[0]}\n${JSON.stringify(failed)}\n`,
      };
    }
    if (task.startsWith('keep')) return { kind: 'run' };
    return { kind: 'succeed', log: `${STEPS.join('\n')}\n${frameResult('The answer is 42.')}` };
  };
  await kubelet.start();
  operator = await runOperator(kc, ns);
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
  await rm(scratch, { recursive: true, force: true });
});

describe('closedpaw run', () => {
  test('success: follows the task to its end, shows the runner steps, prints the result, exits 0', async () => {
    const r = await cli([
      'run',
      'List the workspace.',
      '--model',
      'llama3.2:3b',
      '--tools',
      'fs.list',
      '--name',
      'ok-one',
      '-n',
      ns,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'The answer is 42.\n');
    assert.match(r.stderr, new RegExp(`agenttask ${ns}/ok-one created`));
    assert.match(r.stderr, /ok-one · (Pending|Running|Succeeded) · risk low/);
    assert.match(r.stderr, /step 1 {2}model {4}640 ms, 1 tool call, 210\+18 tokens/);
    assert.match(r.stderr, /step 2 {2}fs\.list {2}ok, 96 B, 2 ms/);
    assert.match(r.stderr, /finished after 3 steps/);
    assert.match(r.stderr, /ok-one succeeded/);
    const task = await tasks.get('ok-one');
    assert.equal(task?.status?.phase, 'Succeeded');
    assert.equal(task?.metadata.labels?.['app.kubernetes.io/created-by'], 'closedpaw-cli');
  });

  const formats: [string, (text: string) => unknown][] = [
    ['json', JSON.parse],
    ['yaml', parse],
  ];
  for (const [format, read] of formats) {
    test(`-o ${format} prints the final task object instead of the result`, async () => {
      const name = `ok-${format}`;
      const r = await cli([
        'run',
        'Again.',
        '--model',
        'llama3.2:3b',
        '--name',
        name,
        '-n',
        ns,
        '-o',
        format,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const task = read(r.stdout) as {
        metadata: { name: string };
        status: { phase: string; result: { summary: string } };
      };
      assert.equal(task.metadata.name, name);
      assert.equal(task.status.phase, 'Succeeded');
      assert.equal(task.status.result.summary, 'The answer is 42.');
      if (format === 'yaml') assert.throws(() => JSON.parse(r.stdout), 'YAML, not JSON');
    });
  }
  test('failure: prints the failure reason with what it means, exits 1', async () => {
    const r = await cli([
      'run',
      'Spend too much.',
      '--model',
      'llama3.2:3b',
      '--name',
      'fail-budget',
      '-n',
      ns,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /runner failed: BudgetExceeded: tokens: 100412 of 100000 spent/);
    assert.match(r.stderr, /fail-budget Failed: BudgetExceeded — The task spent its budget/);
    assert.match(r.stderr, new RegExp(`kubectl describe agenttask fail-budget -n ${ns}`));
  });

  test('waiting for approval: says exactly how to approve; approving with that command lets it finish', async () => {
    const run = startCli([
      'run',
      'Clean the build cache.',
      '--model',
      'llama3.2:3b',
      '--tools',
      'shell',
      '--name',
      'ok-approve',
      '-n',
      ns,
    ]);
    const [, command] = await run.waitForStderr(/approve: {2}(closedpaw approve \S+ -n \S+)\n/);
    assert.match(run.stderr(), /ok-approve · AwaitingApproval · risk critical · waiting for a human/);
    assert.match(run.stderr(), /or in the approval UI: closedpaw ui/);
    const approvalName = command!.split(' ')[2]!;
    assert.equal((await tasks.get('ok-approve'))?.status?.approvalRef?.name, approvalName);
    const approve = await cli([...command!.split(' ').slice(1), '--yes', '--reason', 'checked']);
    assert.equal(approve.code, 0, approve.stderr);
    assert.equal(await run.exited, 0, run.stderr());
    assert.equal(run.stdout(), 'The answer is 42.\n');
  });

  test('--detach prints the generated name and returns at once', async () => {
    const r = await cli(['run', 'Later.', '--model', 'llama3.2:3b', '--detach', '-n', ns]);
    assert.equal(r.code, 0, r.stderr);
    const name = r.stdout.trim();
    assert.match(name, /^run-[a-z0-9]{5}$/);
    assert.ok(await tasks.get(name));
  });

  test('Ctrl-C without a terminal: stops following, leaves the task and says how to delete it (exit 130)', async () => {
    const run = startCli([
      'run',
      'Keep going.',
      '--model',
      'llama3.2:3b',
      '--name',
      'keep-running',
      '-n',
      ns,
    ]);
    await run.waitForStderr(/keep-running · Running/);
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130);
    assert.match(run.stderr(), new RegExp(`task ${ns}/keep-running goes on \\(Running\\)`));
    assert.match(run.stderr(), new RegExp(`kubectl delete agenttask keep-running -n ${ns}`));
    assert.equal((await tasks.get('keep-running'))?.status?.phase, 'Running');
  });

  test('Ctrl-C on a terminal asks whether to delete the task; yes deletes it (exit 130)', async () => {
    let interrupt: (() => void) | undefined;
    const questions: string[] = [];
    let err = '';
    const running = runRunCli(
      ['Keep going.', '--model', 'llama3.2:3b', '--name', 'keep-asked', '-n', ns],
      {
        stdout: () => undefined,
        stderr: (s) => (err += s),
        interactive: true,
        confirm: async (question) => {
          questions.push(question);
          return true;
        },
      },
      {
        kubeConfig: kc,
        onInterrupt: (handler) => {
          interrupt = handler;
          return () => undefined;
        },
      },
    );
    await tasks.waitForPhase('keep-asked', 'Running');
    await waitUntil(
      'the CLI to follow the running task',
      async () => /keep-asked · Running/.test(err),
      30_000,
    );
    interrupt!();
    assert.equal(await running, 130);
    assert.deepEqual(questions, ['\nDelete task keep-asked? [y/N] ']);
    assert.match(err, new RegExp(`deleted task ${ns}/keep-asked`));
    await waitUntil('the task to be gone', async () => (await tasks.get('keep-asked')) === undefined, 30_000);
  });

  test('bad input: a typo in a tool name is a one-line usage error (exit 2) and nothing is created', async () => {
    const r = await cli(['run', 'x', '--model', 'm', '--tools', 'fs.raed', '--name', 'never-made', '-n', ns]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /did you mean fs\.read\?/);
    assert.equal(await tasks.get('never-made'), undefined);
  });

  test('no cluster: one line naming the kubeconfig to fix (exit 1)', async () => {
    const r = await cli(['run', 'x', '--model', 'm'], { KUBECONFIG: join(scratch, 'missing') });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /no kubeconfig at .*missing \(KUBECONFIG\): point KUBECONFIG at your cluster's kubeconfig/,
    );
  });

  test('no RBAC: one line quoting the API server and saying which permission to ask for (exit 1)', async () => {
    const sa = `nobody-${ns.slice(-6)}`;
    assert.equal((await kubectl(['create', 'serviceaccount', sa, '-n', ns])).code, 0);
    const token = await kubectl(['create', 'token', sa, '-n', ns, '--duration=10m']);
    assert.equal(token.code, 0, token.stderr);
    const cluster = kc.getCurrentCluster()!;
    const nobody = new KubeConfig();
    nobody.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'nobody', token: token.stdout.trim() }],
      contexts: [{ name: 'nobody', cluster: cluster.name, user: 'nobody', namespace: ns }],
      currentContext: 'nobody',
    });
    const file = join(scratch, 'nobody.kubeconfig');
    await writeFile(file, nobody.exportConfig(), { mode: 0o600 });
    const r = await cli(['run', 'x', '--model', 'm'], { KUBECONFIG: file });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /Error from server \(Forbidden\): .*cannot create resource "agenttasks"/);
    assert.match(
      r.stderr,
      new RegExp(`ask your cluster admin for RBAC to create agenttasks in namespace ${ns}`),
    );
  });
});

/**
 * `closedpaw run` without a cluster: flags → AgentTask (validated with the CRD's zod schema), the
 * one-line usage errors, and what the terminal shows (progress, steps, approval, outcome).
 */
import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { parseStepLine } from '../api/agent-protocol.ts';
import { PROMPT_MAX_CHARS } from '../api/agenttask.ts';
import type { AgentTask } from '../api/types.ts';
import { runRunCli } from './run.ts';
import { buildTask } from './run-task.ts';
import { approvalLines, outcomeOf, podState, progressLine, stepLine } from './run-view.ts';
import { testKubeConfig } from './testkit.ts';

const base = { prompt: 'Summarize the workspace.', namespace: 'team-a', model: 'llama3.2:3b' };

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
const PORT = await closedPort();

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runRunCli(
    argv,
    { stdout: (s) => (out += s), stderr: (s) => (err += s), interactive: false, env: {} },
    { kubeConfig: testKubeConfig(`https://127.0.0.1:${PORT}`, 'team-a'), onInterrupt: () => () => undefined },
  );
  return { code, out, err };
}

describe('closedpaw run: flags → AgentTask', () => {
  test('only what was chosen is sent; the API server fills in the CRD defaults', () => {
    const task = buildTask({ ...base, tools: 'fs.read, fs.list', timeout: '2m', runtime: 'kata-qemu' });
    assert.deepEqual(task.spec, {
      prompt: base.prompt,
      model: 'llama3.2:3b',
      tools: ['fs.read', 'fs.list'],
      runtimeClassName: 'kata-qemu',
      timeoutSeconds: 120,
    });
    assert.equal(task.metadata.generateName, 'run-');
    assert.equal(task.metadata.namespace, 'team-a');
    assert.equal(task.kind, 'AgentTask');
  });

  test('--name is used as is; the model can come from CLOSEDPAW_MODEL', () => {
    const task = buildTask(
      { ...base, model: undefined, name: 'my-task' },
      { CLOSEDPAW_MODEL: 'qwen2.5:0.5b' },
    );
    assert.equal(task.metadata.name, 'my-task');
    assert.equal(task.metadata.generateName, undefined);
    assert.equal(task.spec.model, 'qwen2.5:0.5b');
  });

  test('bad input is a usage error naming what to fix', () => {
    const cases: Array<[Partial<typeof base> & Record<string, string | undefined>, RegExp]> = [
      [
        { tools: 'fs.raed' },
        /--tools: unknown tool "fs\.raed" \(did you mean fs\.read\?\); the tools are fs\.read/,
      ],
      [{ tools: 'fs.read,fs.read' }, /fs\.read is listed twice/],
      [
        { prompt: 'x'.repeat(PROMPT_MAX_CHARS + 1) },
        /the prompt has 32769 characters; an AgentTask allows at most 32768/,
      ],
      [{ prompt: '' }, /the prompt is empty/],
      [{ runtime: 'runc' }, /--runtime: must be one of gvisor, kata-qemu \(there is no runc fallback\)/],
      [{ timeout: 'soon' }, /--timeout: "soon" is not a duration; use e\.g\. 90s/],
      [{ timeout: '25h' }, /--timeout: must be between 1s and 24h/],
      [{ model: 'no spaces allowed' }, /--model: "no spaces allowed" is not a model name/],
      [{ model: undefined }, /--model is required \(or set CLOSEDPAW_MODEL\)/],
      [{ approval: 'maybe' }, /--approval: /],
      [{ name: 'Bad_Name' }, /--name: "Bad_Name" is not a valid task name/],
    ];
    for (const [flags, message] of cases) {
      assert.throws(
        () => buildTask({ ...base, ...flags } as never),
        message,
        JSON.stringify(flags).slice(0, 80),
      );
    }
  });

  test('usage errors exit 2 with one line; nothing is sent to the cluster', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /missing the prompt/],
      [['a', 'b'], /one prompt only/],
      [['x', '--bogus'], /unknown option --bogus/],
      [['x', '--tool', 'fs.read'], /unknown option --tool \(did you mean --tools\?\)/],
      [['x', '--model', 'm', '--tools', 'fs.raed'], /unknown tool "fs\.raed"/],
      [['x', '--model', 'm', '-o', 'xml'], /-o: unknown format "xml"/],
      [['x', '--model', 'm', '--wait', '--detach'], /either --wait or --detach/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
      assert.match(r.err, /\(usage: closedpaw run --help\)/);
    }
  });

  test('--help exits 0 and names every option', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    for (const option of [
      '--tools',
      '--model',
      '--runtime',
      '--timeout',
      '--detach',
      '-o, --output',
      '-n, --namespace',
    ]) {
      assert.ok(r.out.includes(option), option);
    }
  });

  test('no cluster: exit 1 with one line that says what to check', async () => {
    const r = await run('hello', '--model', 'm');
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      new RegExp(
        `cannot reach the API server at https://127\\.0\\.0\\.1:${PORT} \\(ECONNREFUSED\\): is the cluster running`,
      ),
    );
    assert.equal(r.err.trim().split('\n').length, 1);
  });
});

const task = (status: AgentTask['status'], name = 'run-abcde'): AgentTask => ({
  apiVersion: 'closedpaw.dev/v1alpha1',
  kind: 'AgentTask',
  metadata: { name, namespace: 'team-a', uid: 'u1' },
  spec: buildTask(base).spec,
  ...(status ? { status } : {}),
});

const condition = (type: string, status: 'True' | 'False', reason: string, message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2025-01-01T00:00:00Z',
});

describe('closedpaw run: what the terminal shows', () => {
  test('step lines are parsed from the pod log; other lines are not steps', () => {
    const model =
      '{"event":"model","step":1,"ms":812,"toolCalls":2,"promptTokens":120,"completionTokens":30}';
    const tool = `{"event":"tool","step":2,"tool":"fs.read","argsSha256":"${'a'.repeat(64)}","bytes":2048,"ms":3,"ok":true}`;
    assert.equal(stepLine(parseStepLine(model)!), '  step 1  model    812 ms, 2 tool calls, 120+30 tokens');
    assert.equal(stepLine(parseStepLine(tool)!), '  step 2  fs.read  ok, 2.0 KiB, 3 ms');
    assert.equal(
      stepLine(parseStepLine('{"event":"failed","reason":"BudgetExceeded","message":"tokens"}')!),
      '  runner failed: BudgetExceeded: tokens',
    );
    for (const other of [
      '<<<closedpaw-result bytes=3 sha256=abc>>>',
      'aGVsbG8=',
      '{"event":"model"}',
      '{not json',
      '',
    ]) {
      assert.equal(parseStepLine(other), undefined, other);
    }
  });

  test('a step line cannot move the cursor: control characters are escaped', () => {
    const tool = `{"event":"tool","step":1,"tool":"fs.read","argsSha256":"${'a'.repeat(64)}","bytes":1,"ms":1,"ok":false,"error":"no\\u001b[2Jway"}`;
    assert.match(stepLine(parseStepLine(tool)!), /no\\u\{1B\}\[2Jway/);
  });

  test('the progress line: phase, risk, pod state, last step, elapsed time', () => {
    const pod: V1Pod = {
      status: {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'agent',
            image: 'x',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ContainerCreating' } },
          },
        ],
      },
    };
    assert.equal(
      progressLine({
        task: task({ phase: 'Pending', risk: { level: 'low', reasons: [] } }),
        pod,
        elapsedSeconds: 3.7,
      }),
      'run-abcde · Pending · risk low · pod ContainerCreating · 3s',
    );
    assert.equal(
      progressLine({
        task: task({ phase: 'Running', risk: { level: 'high', reasons: [] } }),
        pod: { status: { phase: 'Running' } },
        lastStep: { event: 'model', step: 4, ms: 1, toolCalls: 0 },
        elapsedSeconds: 12,
      }),
      'run-abcde · Running · risk high · pod Running · step 4 · 12s',
    );
    assert.equal(progressLine({ task: task(undefined), elapsedSeconds: 0 }), 'run-abcde · Submitted · 0s');
    assert.match(
      progressLine({
        task: task({
          phase: 'Pending',
          conditions: [condition('RuntimeClassAvailable', 'False', 'RuntimeClassNotFound')],
        }),
        elapsedSeconds: 1,
      }),
      /RuntimeClassNotFound/,
    );
    assert.equal(
      podState({
        status: {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
        },
      }),
      'Unschedulable',
    );
  });

  test('waiting for approval: the exact commands to approve or deny, and the UI', () => {
    const lines = approvalLines(
      task({
        phase: 'AwaitingApproval',
        risk: { level: 'critical', reasons: ['tool shell runs arbitrary commands'] },
        approvalRef: { name: 'run-abcde-3f2a', expiresAt: '2030-01-01T00:00:00Z' },
      }),
    );
    assert.ok(lines.includes('  approve:  closedpaw approve run-abcde-3f2a -n team-a'), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('closedpaw deny run-abcde-3f2a -n team-a')));
    assert.ok(lines.some((l) => l.includes('closedpaw ui')));
    assert.ok(lines.some((l) => l.includes('tool shell runs arbitrary commands')));
    assert.ok(lines.some((l) => l.includes('no decision by 2030-01-01T00:00:00Z is a denial')));
  });

  test('outcomes: the result on stdout and exit 0; a failure reason with its meaning and exit 1', () => {
    const ok = outcomeOf(
      task({
        phase: 'Succeeded',
        result: { summary: 'All good.', sha256: 'a'.repeat(64), bytes: 9 },
        conditions: [condition('Complete', 'True', 'Succeeded')],
      }),
    );
    assert.deepEqual([ok.code, ok.stdout], [0, 'All good.\n']);
    const cut = outcomeOf(
      task({ phase: 'Succeeded', result: { summary: 'abc', sha256: 'b'.repeat(64), bytes: 9000 } }),
    );
    assert.match(cut.stderr.join('\n'), /the result is 9000 bytes: shown are its first 3 characters/);
    const cases: Array<[AgentTask['status'], RegExp]> = [
      [
        {
          phase: 'Failed',
          conditions: [condition('Failed', 'True', 'BudgetExceeded', 'tokens: 100001 > 100000')],
        },
        /Failed: BudgetExceeded — The task spent its budget[\s\S]*tokens: 100001/,
      ],
      [
        { phase: 'TimedOut', conditions: [condition('Failed', 'True', 'DeadlineExceeded', 'ran past')] },
        /TimedOut: DeadlineExceeded — The task ran past timeoutSeconds/,
      ],
      [
        { phase: 'Denied', conditions: [condition('Failed', 'True', 'ApprovalDenied', 'by alice: no')] },
        /Denied: ApprovalDenied — A human denied the task/,
      ],
      [
        { phase: 'Expired', conditions: [condition('Approved', 'False', 'ApprovalExpired', 'nobody')] },
        /Expired: ApprovalExpired — Nobody decided/,
      ],
    ];
    for (const [status, message] of cases) {
      const outcome = outcomeOf(task(status));
      assert.equal(outcome.code, 1);
      assert.equal(outcome.stdout, '');
      assert.match(outcome.stderr.join('\n'), message);
      assert.match(outcome.stderr.join('\n'), /kubectl describe agenttask run-abcde -n team-a/);
    }
  });
});

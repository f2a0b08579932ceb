import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunnerStep } from '../../api/agent-protocol.ts';
import { frameResult } from '../../api/result-frame.ts';
import { KubeApiError } from '../../k8s/rest.ts';
import type { PodLogChunks, PodLogOptions, ReadPodLog } from './pod-log.ts';
import { type FollowedTask, readStepsOnce, StepFollower } from './step-follower.ts';
import { MAX_STEPS, type StepsStatus } from './steps.ts';

const SHA = 'b'.repeat(64);
const model: RunnerStep = {
  event: 'model',
  step: 1,
  ms: 5,
  promptTokens: 10,
  completionTokens: 2,
  toolCalls: 1,
};
const tool: RunnerStep = {
  event: 'tool',
  step: 1,
  tool: 'fs.read',
  argsSha256: SHA,
  bytes: 12,
  ms: 1,
  ok: true,
};
const finished: RunnerStep = { event: 'finished', steps: 2, bytes: 5 };
const line = (s: RunnerStep) => `${JSON.stringify(s)}\n`;

type Read = (opts: PodLogOptions) => Promise<PodLogChunks>;

/** A ReadPodLog that answers each call with the next scripted answer, and records the calls. */
function scripted(...answers: Read[]) {
  const calls: Array<{ namespace: string; name: string; follow: boolean; limitBytes: number }> = [];
  const read: ReadPodLog = async (namespace, name, opts) => {
    calls.push({ namespace, name, follow: opts.follow, limitBytes: opts.limitBytes });
    const next = answers.shift();
    if (!next) throw new KubeApiError(503, 'no more scripted answers');
    return await next(opts);
  };
  return { calls, read };
}

const text =
  (body: string): Read =>
  async () => [Buffer.from(body)];
const refuse =
  (code: number, message: string): Read =>
  async () => {
    throw new KubeApiError(code, message);
  };

/** Waits for a condition the code under test brings about (a safety net, not a timing assertion). */
async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    if (pred()) return;
    await sleep(1);
  }
  assert.fail(`never happened: ${what}`);
}

function follower(read: ReadPodLog, task: { current: FollowedTask | undefined }, limitBytes = 64 * 1024) {
  const delivered: Array<{ from: number; steps: RunnerStep[] }> = [];
  const statuses: StepsStatus[] = [];
  const f = new StepFollower({
    namespace: 'team-a',
    readPodLog: read,
    current: () => task.current,
    onSteps: (steps, from) => delivered.push({ from, steps }),
    onStatus: (s) => statuses.push(s),
    limitBytes,
    retryMs: { min: 1, max: 20 },
  });
  const steps = () => delivered.flatMap((d) => d.steps);
  return { f, delivered, statuses, steps, last: () => statuses.at(-1) };
}

describe('StepFollower', () => {
  test('waits for the pod, follows its log, re-reads after an early end without repeating a step', async () => {
    const live = new PassThrough();
    const { calls, read } = scripted(
      refuse(400, 'container "agent" in pod "job-agent" is waiting to start: ContainerCreating'),
      async () => live,
      text(line(model) + line(tool) + frameResult('done').toString() + line(finished)),
    );
    const task: { current: FollowedTask | undefined } = { current: { phase: 'AwaitingApproval' } };
    const { f, delivered, statuses, steps, last } = follower(read, task);
    const done = f.start();
    await until('waiting', () => last()?.state === 'waiting');
    assert.match(last()?.message ?? '', /human decision/);
    assert.equal(calls.length, 0, 'no read without a pod');

    task.current = { phase: 'Pending', podName: 'job-agent' };
    f.nudge();
    await until('the refusal shown', () => /waiting to start/.test(last()?.message ?? ''));
    assert.equal(last()?.state, 'waiting');

    task.current = { phase: 'Running', podName: 'job-agent' };
    await until('following', () => last()?.state === 'following');
    live.write(line(model).slice(0, 10));
    live.write(line(model).slice(10));
    await until('the first step', () => steps().length === 1);
    // The container ends before the runner's last step reached the followed stream; the cache says
    // Succeeded by the time the follower looks again: one more plain read, from the start.
    task.current = { phase: 'Succeeded', podName: 'job-agent' };
    live.end(line(tool));
    await done;
    assert.deepEqual(steps(), [model, tool, finished]);
    assert.deepEqual(
      delivered.map((d) => d.from),
      [0, 1, 2],
    );
    assert.deepEqual(
      calls.map((c) => c.follow),
      [true, true, false],
      'followed while running, one plain read once over',
    );
    assert.deepEqual(last(), { state: 'complete' });
    assert.ok(statuses.every((s) => s.state !== 'unavailable'));
  });

  test("the runner's last step completes the steps even before the task's phase says so", async () => {
    const { read } = scripted(text(line(model) + line(finished)));
    const { f, steps, last } = follower(read, { current: { phase: 'Running', podName: 'p' } });
    await f.start();
    assert.deepEqual(steps(), [model, finished]);
    assert.deepEqual(last(), { state: 'complete' });
  });

  test('a finished task whose pod is gone: unavailable, said plainly, no retries', async () => {
    const { calls, read } = scripted(refuse(404, 'pods "p" not found'));
    const { f, last } = follower(read, { current: { phase: 'Failed', podName: 'p' } });
    await f.start();
    assert.equal(calls.length, 1);
    assert.equal(last()?.state, 'unavailable');
    assert.match(last()?.message ?? '', /pod p is gone/);
  });

  test('a finished task is retried on transient errors, then given up', async () => {
    const { calls, read } = scripted(...Array.from({ length: 5 }, () => refuse(503, 'unavailable')));
    const { f, last } = follower(read, { current: { phase: 'Succeeded', podName: 'p' } });
    await f.start();
    assert.equal(calls.length, 5);
    assert.equal(last()?.state, 'unavailable');
    assert.match(last()?.message ?? '', /cannot read the pod log/);
  });

  test('a log that fills the read cap before the last step is marked truncated', async () => {
    const body = line(model) + 'x'.repeat(4096);
    const { read } = scripted(async (opts) => [Buffer.from(body).subarray(0, opts.limitBytes)]);
    const { f, steps, last } = follower(read, { current: { phase: 'Running', podName: 'p' } }, 1024);
    await f.start();
    assert.deepEqual(steps(), [model]);
    assert.deepEqual(last(), { state: 'complete', truncated: true });
  });

  test('a task without a pod that ended: complete, nothing read', async () => {
    const { calls, read } = scripted();
    const { f, last } = follower(read, { current: { phase: 'Denied' } });
    await f.start();
    assert.equal(calls.length, 0);
    assert.deepEqual(last(), { state: 'complete', message: 'the task ended without a pod' });
  });

  test('stop() ends a followed stream; nothing is delivered after it', async () => {
    const live = new PassThrough();
    const { read } = scripted(async (opts) => {
      opts.signal.addEventListener('abort', () => live.destroy());
      return live;
    });
    const { f, steps, last } = follower(read, { current: { phase: 'Running', podName: 'p' } });
    const done = f.start();
    await until('following', () => last()?.state === 'following');
    f.stop();
    await done;
    live.write(line(model));
    assert.deepEqual(steps(), []);
  });
});

describe('readStepsOnce', () => {
  const opts = () => ({ limitBytes: 1 << 20, signal: new AbortController().signal });

  test('steps of a finished task; the result frame never among them', async () => {
    const { calls, read } = scripted(text(line(model) + frameResult('secret result') + line(finished)));
    const res = await readStepsOnce(read, 'team-a', { phase: 'Succeeded', podName: 'p' }, opts());
    assert.deepEqual(res, { steps: [model, finished], status: { state: 'complete' } });
    assert.equal(calls[0]?.follow, false);
  });

  test('no pod yet / gone / too many steps', async () => {
    const none = await readStepsOnce(scripted().read, 'ns', { phase: 'Pending' }, opts());
    assert.equal(none.status.state, 'waiting');
    const gone = await readStepsOnce(
      scripted(refuse(404, 'gone')).read,
      'ns',
      { phase: 'Failed', podName: 'p' },
      opts(),
    );
    assert.equal(gone.status.state, 'unavailable');
    const many = line(model).repeat(MAX_STEPS + 3);
    const capped = await readStepsOnce(
      scripted(text(many)).read,
      'ns',
      { phase: 'Running', podName: 'p' },
      opts(),
    );
    assert.equal(capped.steps.length, MAX_STEPS);
    assert.deepEqual(capped.status, { state: 'following', omitted: 3 });
  });
});

/**
 * The whole path with a real sandbox and a scripted model: AgentTask → operator → hardened Pod →
 * the test kubelet runs the pod's own command (the runner bundle) in real gVisor (runsc) → the
 * runner talks to the model only through the operator's gateway, with the task's token → the
 * scripted Ollama answers with an exact tool-call sequence → result frame → status.result with a
 * matching digest. The same path with the real model is in agent-real-model.test.ts; this one pins
 * exact tool calls, refusals and failures, which a real model cannot be made to produce on demand.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type GvisorRig, startGvisorRig } from './support/gvisor-rig.ts';
import type { Tasks } from './support/operator.ts';
import type { ScriptedOllama } from './support/scripted-ollama.ts';

let rig: GvisorRig;
let ollama: ScriptedOllama;
let tasks: Tasks;

before(async () => {
  rig = await startGvisorRig('gvisor');
  ({ ollama, tasks } = rig);
});

after(() => rig?.stop());

const condition = (task: Awaited<ReturnType<Tasks['get']>>, type: string) =>
  task?.status?.conditions?.find((c) => c.type === type);

test('runsc is gVisor: the kernel the sandbox sees is gVisor, not the host', async () => {
  const { stdout } = await promisify(execFile)('runsc', ['--rootless', '--network=none', 'do', 'dmesg']);
  assert.match(stdout.split('\n')[0] ?? '', /Starting gVisor/);
});

describe('the agent runs in gVisor and reaches the model only through the gateway', () => {
  test('a tool call on a seeded workspace, then a >4 KiB answer that comes back intact', async () => {
    const answer = `The workspace holds notes.txt.\n${'x'.repeat(6000)}`;
    ollama.chat(
      { type: 'tool_calls', calls: [{ name: 'list_files', arguments: { path: '.' } }] },
      { type: 'text', content: answer },
    );
    await tasks.create('in-gvisor', {
      prompt: 'List the files in the workspace.',
      model: 'llama3.2:3b',
      tools: ['fs.list', 'fs.read'],
      inputs: [{ path: 'notes.txt', content: 'remember the milk' }],
    });
    const done = await tasks.waitForPhase('in-gvisor', 'Succeeded', 120_000);
    assert.equal(done.status?.result?.bytes, Buffer.byteLength(answer));
    assert.equal(done.status?.result?.sha256, createHash('sha256').update(answer).digest('hex'));

    const calls = ollama.requestsTo('/api/chat');
    assert.equal(calls.length, 2, 'one model call per step');
    for (const call of calls) {
      assert.equal(call.headers.authorization, undefined, 'the task token stops at the gateway');
      assert.equal((call.body as { model: string }).model, 'llama3.2:3b');
    }
    const second = calls[1]!.body as { messages: Array<{ role: string; content: string }> };
    const toolResult = second.messages.find((m) => m.role === 'tool')?.content ?? '';
    assert.match(toolResult, /notes\.txt/, 'the real fs.list output of the seeded workspace');
    assert.match(toolResult, /<<untrusted-data id=[0-9a-f]+/, 'tool output reaches the model spotlighted');
  });

  test('a tool the task does not allow is refused to the model, and the run still ends cleanly', async () => {
    ollama.chat(
      { type: 'tool_calls', calls: [{ name: 'run_shell', arguments: { command: 'id' } }] },
      { type: 'text', content: 'I may not run commands.' },
    );
    await tasks.create('no-shell', { prompt: 'Run id.', model: 'llama3.2:3b', tools: ['fs.read'] });
    const done = await tasks.waitForPhase('no-shell', 'Succeeded', 120_000);
    assert.equal(done.status?.result?.summary, 'I may not run commands.');
    const refusal = (
      ollama.requestsTo('/api/chat').at(-1)!.body as { messages: Array<{ role: string; content: string }> }
    ).messages.find((m) => m.role === 'tool')?.content;
    assert.match(refusal ?? '', /"run_shell" is not available to this task/);
  });

  test('the step budget ends the task Failed with StepLimitReached, from the runner through the pod', async () => {
    ollama.chat({ type: 'tool_calls', calls: [{ name: 'list_files', arguments: { path: '.' } }] });
    await tasks.create('overrun', {
      prompt: 'Keep listing.',
      model: 'llama3.2:3b',
      tools: ['fs.list'],
      budget: { modelCalls: 1, tokens: 100_000, bytes: 16 * 1024 * 1024 },
    });
    const done = await tasks.waitForPhase('overrun', 'Failed', 120_000);
    const failed = condition(done, 'Failed');
    assert.equal(failed?.reason, 'StepLimitReached', JSON.stringify(failed));
    assert.ok(failed?.message, 'a message saying what ran out');
  });

  test("a model Ollama does not have ends the task Failed with ModelError and Ollama's message", async () => {
    await tasks.create('wrong-model', { prompt: 'Hi.', model: 'not-there:1b', tools: [] });
    const done = await tasks.waitForPhase('wrong-model', 'Failed', 120_000);
    assert.equal(condition(done, 'Failed')?.reason, 'ModelError');
    assert.match(condition(done, 'Failed')?.message ?? '', /not-there:1b/);
  });
});

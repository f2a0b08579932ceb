/**
 * The whole path with a real sandbox: AgentTask → operator → hardened Pod →
 * the test kubelet runs the pod's own command in real gVisor (runsc) → it asks
 * the Ollama stand-in → prints a result frame → the operator reads the pod log
 * through the real API server's log proxy → status.result with a matching digest.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { OllamaStandIn } from './support/ollama.ts';
import { ensureRuntimeClass, runOperator, Tasks } from './support/operator.ts';

const kc = kubeConfig();
const ollama = new OllamaStandIn();
let ns = '';
let operator: RunningOperator;
let kubelet: TestKubelet;

before(async () => {
  ns = await createTestNamespace('gvisor');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  await ollama.start();
  ollama.answer = (r) => `The model ${r.model} read ${r.prompt.length} characters.\n${'x'.repeat(6000)}`;
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = (pod) => (pod.metadata?.namespace === ns ? { kind: 'gvisor' } : { kind: 'run' });
  await kubelet.start();
  operator = await runOperator(kc, ns, { CLOSEDPAW_OLLAMA_URL: ollama.url });
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await ollama.stop();
  await deleteNamespace(ns);
});

test('runsc is gVisor: the kernel the sandbox sees is gVisor, not the host', async () => {
  const { stdout } = await promisify(execFile)('runsc', ['--rootless', '--network=none', 'do', 'dmesg']);
  assert.match(stdout.split('\n')[0] ?? '', /Starting gVisor/);
});

test('a task runs in gVisor end to end and its >4 KiB result comes back intact', async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('in-gvisor', {
    prompt: 'Say something long.',
    model: 'llama3.2:3b',
    tools: ['fs.read'],
  });
  const done = await tasks.waitForPhase('in-gvisor', 'Succeeded', 120_000);
  const expected = `The model llama3.2:3b read 19 characters.\n${'x'.repeat(6000)}`;
  assert.deepEqual(ollama.requests.at(-1), {
    model: 'llama3.2:3b',
    prompt: 'Say something long.',
    stream: false,
  });
  assert.equal(done.status?.result?.bytes, Buffer.byteLength(expected));
  assert.equal(done.status?.result?.sha256, createHash('sha256').update(expected).digest('hex'));
  assert.equal(done.status?.result?.summary, expected.slice(0, 4096));
});

/**
 * A task's spent budget survives an operator restart: the gateway reads it back from the sealed audit log
 * before it lets a call through. Real control plane, real sealed log, the test kubelet keeps the task's pod
 * Running, a scripted Ollama answers, and the test calls the gateway with the token the operator gave the pod.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api } from '@kubernetes/client-node';
import { generateKey } from '../operator/src/audit/index.ts';
import { createLogger } from '../operator/src/logger.ts';
import { type RunningOperator, startOperator } from '../operator/src/operator.ts';
import { ANNOTATION_GATEWAY_TOKEN } from '../operator/src/sandbox/names.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, Tasks, testConfig } from './support/operator.ts';
import { operatorKubeConfig } from './support/operator-identity.ts';
import { ScriptedOllama } from './support/scripted-ollama.ts';

const kc = kubeConfig();
let ns = '';
let dir = '';
let kubelet: TestKubelet;
let ollama: ScriptedOllama;
let operator: RunningOperator | undefined;

/** The operator with one state directory across restarts (its gateway signing key included), as in a pod. */
const start = async () => {
  const config = testConfig(ns, {
    CLOSEDPAW_STATE_DIR: join(dir, 'state'),
    CLOSEDPAW_OLLAMA_URL: ollama.url,
    CLOSEDPAW_AUDIT_DIR: join(dir, 'log'),
    CLOSEDPAW_AUDIT_KEYS_DIR: join(dir, 'keys'),
  });
  return await startOperator(config, await operatorKubeConfig(kc), createLogger('warn'));
};

before(async () => {
  ns = await createTestNamespace('budget-restart');
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-budget-restart-'));
  await generateKey(join(dir, 'keys'));
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  ollama = await ScriptedOllama.start();
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = () => ({ kind: 'run' });
  await kubelet.start();
  operator = await start();
});

after(async () => {
  await operator?.stop();
  await kubelet.stop();
  await ollama.stop();
  await deleteNamespace(ns);
  await rm(dir, { recursive: true, force: true });
});

async function podToken(name: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < 200; i++) {
    const pod = await core.readNamespacedPod({ name, namespace: ns }).catch(() => undefined);
    const token = pod?.metadata?.annotations?.[ANNOTATION_GATEWAY_TOKEN];
    if (token && pod?.status?.phase === 'Running') return token;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pod ${name} never ran with a gateway token`);
}

async function chat(gatewayUrl: string, token: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gatewayUrl}/api/chat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'llama3.2:3b',
      messages: [{ role: 'user', content: 'hi' }],
      stream: false,
    }),
  });
  return { status: res.status, text: await res.text() };
}

test('a task that spent its model calls before a restart cannot call again after it', async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('thrifty', { budget: { modelCalls: 1, tokens: 100_000, bytes: 10_000_000 } });
  await tasks.waitForPhase('thrifty', 'Running');
  const token = await podToken('thrifty-agent');
  ollama.chat({ type: 'text', content: 'first and only answer' });
  const first = await chat(operator!.gatewayUrl, token);
  assert.equal(first.status, 200, first.text);
  const second = await chat(operator!.gatewayUrl, token);
  assert.equal(second.status, 429, second.text);
  assert.match(second.text, /budget_exceeded/);

  await operator!.stop();
  operator = undefined;
  operator = await start();
  ollama.chat({ type: 'text', content: 'an answer it must not get' });
  let after = await chat(operator.gatewayUrl, token);
  // Until the new process leads and its log is open, calls are refused as audit_unavailable.
  for (let i = 0; i < 100 && /audit_unavailable/.test(after.text); i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await chat(operator.gatewayUrl, token);
  }
  assert.equal(after.status, 429, after.text);
  assert.match(after.text, /budget_exceeded/);
  assert.match(after.text, /1 of 1 calls/);
  assert.equal(ollama.requestsTo('/api/chat').length, 1, 'only the first call reached the model');
});

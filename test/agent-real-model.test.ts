/**
 * The path a user takes, with nothing scripted: AgentTask → operator → hardened pod → the runner bundle in
 * gVisor (runsc) → the operator's model gateway → a real Ollama (v0.24.0, built from source by hack/ollama)
 * serving a real model (SmolLM2-135M) → status.result. The model is a protocol fixture: the test asserts
 * structure (a real tool call was made and answered, a non-empty answer with a matching digest), never wording.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { builtOllama, OLLAMA_MODEL, type RunningOllama, startOllama } from '../hack/ollama/server.ts';
import { RESULT_SUMMARY_MAX_CHARS } from '../operator/src/api/agenttask.ts';
import type { AuditEventInput, AuditSink } from '../operator/src/audit/index.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { TestKubelet } from './support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from './support/operator.ts';

const kc = kubeConfig();
const artifacts = await builtOllama();
/** npm test builds Ollama first (test/support/prerequisites.ts); a missing build is a failure, never a skip. */
if (!artifacts)
  throw new Error('Ollama is not built: run `bash hack/ollama/build.sh` (npm test does it first)');

let ollamaDir = '';
let ollama: RunningOllama;
let ns = '';
let operator: RunningOperator;
let kubelet: TestKubelet;
const recorded: AuditEventInput[] = [];
const sink: AuditSink = {
  append: (e) => void recorded.push(e),
  flush: async () => {},
  close: async () => {},
};

before(async () => {
  ollamaDir = await mkdtemp(join(tmpdir(), 'closedpaw-ollama-e2e-'));
  ollama = await startOllama(ollamaDir, { artifacts });
  ns = await createTestNamespace('real-model');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = () => ({ kind: 'gvisor' });
  await kubelet.start();
  operator = await runOperator(kc, ns, { CLOSEDPAW_OLLAMA_URL: ollama.url }, { auditSink: sink });
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await ollama?.stop();
  await deleteNamespace(ns);
  await rm(ollamaDir, { recursive: true, force: true });
});

test('a real model makes a real tool call on a seeded workspace and answers, through the gateway, in gVisor', async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('real', {
    prompt: 'Use the list_files tool to list the files in the workspace.',
    model: OLLAMA_MODEL,
    tools: ['fs.list'],
    inputs: [{ path: 'notes.txt', content: 'Buy milk.' }],
    timeoutSeconds: 300,
  });
  const done = await tasks.waitForPhase('real', 'Succeeded', 300_000);
  const result = done.status!.result!;
  assert.ok(result.bytes > 0, 'a non-empty answer');
  if (result.summary.length < RESULT_SUMMARY_MAX_CHARS) {
    // The whole answer is in the summary: its size and digest are those of these bytes.
    assert.equal(Buffer.byteLength(result.summary), result.bytes);
    assert.equal(
      result.sha256,
      createHash('sha256').update(result.summary).digest('hex'),
      'the digest matches',
    );
  } else {
    assert.ok(result.bytes >= Buffer.byteLength(result.summary), 'a cut summary is a prefix of the answer');
  }

  const calls = recorded.filter(
    (e): e is Extract<AuditEventInput, { type: 'model.call' }> =>
      e.type === 'model.call' && e.task.name === 'real' && e.verdict === 'allowed',
  );
  assert.ok(calls.length >= 2, `a tool call and the answer after it (${calls.length} model calls)`);
  assert.ok(calls.every((c) => c.model === OLLAMA_MODEL && c.endpoint === '/api/chat'));
  assert.ok(
    calls.every((c) => (c.promptTokens ?? 0) > 0 && (c.completionTokens ?? 0) > 0),
    'real token counts',
  );
});

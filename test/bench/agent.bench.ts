/**
 * A task end to end with the real model: apply → Succeeded (pod in gVisor, runner, gateway, Ollama, SmolLM2 making
 * a tool call and answering). Reports task_e2e_real_model_s (median of 3) and, in the same run, the bare model time
 * for the same two chat calls straight to Ollama (model_direct_s), so the ratio says what the sandbox path adds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { startCluster, stopCluster } from '../../hack/cluster/controlplane.ts';
import { ensureOllamaBuilt, OLLAMA_MODEL, startOllama } from '../../hack/ollama/server.ts';
import { createTestNamespace, kubeConfig } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from '../support/operator.ts';
import { percentile, report } from './report.ts';

const RUNS = 3;
const PROMPT = 'Use the list_files tool to list the files in the workspace.';
const log = (message: string) => process.stderr.write(`  ${message}\n`);

async function directModelSeconds(url: string): Promise<number> {
  const ollama = new Ollama({ host: url });
  const tools = [
    {
      type: 'function',
      function: {
        name: 'list_files',
        description: 'List the files in a directory of the workspace.',
        parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      },
    },
  ];
  const started = performance.now();
  const first = await ollama.chat({
    model: OLLAMA_MODEL,
    messages: [{ role: 'user', content: PROMPT }],
    tools,
  });
  await ollama.chat({
    model: OLLAMA_MODEL,
    messages: [{ role: 'user', content: PROMPT }, first.message, { role: 'tool', content: 'notes.txt' }],
    tools,
  });
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-bench-agent-'));
  const cluster = await startCluster(join(dir, 'cluster'));
  process.env.KUBECONFIG = cluster.kubeconfig;
  const artifacts = await ensureOllamaBuilt();
  const ollama = await startOllama(join(dir, 'ollama'), { artifacts });
  const kc = kubeConfig();
  const ns = await createTestNamespace('bench-agent');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  const kubelet = new TestKubelet(kc, ns);
  kubelet.behave = () => ({ kind: 'gvisor' });
  await kubelet.start();
  const operator = await runOperator(kc, ns, { CLOSEDPAW_OLLAMA_URL: ollama.url, LOG_LEVEL: 'silent' });
  try {
    const tasks = new Tasks(kc, ns);
    const endToEnd: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      direct.push(await directModelSeconds(ollama.url));
      const started = performance.now();
      await tasks.create(`real-${i}`, {
        prompt: PROMPT,
        model: OLLAMA_MODEL,
        tools: ['fs.list'],
        inputs: [{ path: 'notes.txt', content: 'Buy milk.' }],
        timeoutSeconds: 300,
      });
      await tasks.waitForPhase(`real-${i}`, 'Succeeded', 300_000);
      endToEnd.push((performance.now() - started) / 1000);
      log(
        `run ${i + 1}: ${endToEnd.at(-1)!.toFixed(1)} s end to end, ${direct.at(-1)!.toFixed(1)} s model alone`,
      );
    }
    const e2e = percentile(endToEnd, 50);
    const model = percentile(direct, 50);
    report('task_e2e_real_model_s', e2e, 's');
    report('model_direct_s', model, 's');
    report('task_e2e_vs_model_direct', e2e / model, 'ratio');
  } finally {
    await operator.stop();
    await kubelet.stop();
    await ollama.stop();
    await stopCluster(join(dir, 'cluster'));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * The rig for end-to-end runs in real gVisor with a scripted model: a fresh namespace, the `gvisor`
 * RuntimeClass, a scripted Ollama, the test kubelet running every pod's command under runsc, and the
 * operator (as its chart's service account) pointed at the scripted model.
 */
import type { RunningOperator } from '../../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './kube.ts';
import { TestKubelet } from './kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from './operator.ts';
import { ScriptedOllama } from './scripted-ollama.ts';

export interface GvisorRig {
  ns: string;
  ollama: ScriptedOllama;
  tasks: Tasks;
  stop(): Promise<void>;
}

export async function startGvisorRig(namePrefix: string): Promise<GvisorRig> {
  const kc = kubeConfig();
  const ns = await createTestNamespace(namePrefix);
  let ollama: ScriptedOllama | undefined;
  let kubelet: TestKubelet | undefined;
  let operator: RunningOperator | undefined;
  const stop = async () => {
    await operator?.stop();
    await kubelet?.stop();
    await ollama?.stop();
    await deleteNamespace(ns);
  };
  try {
    await ensureRuntimeClass(kc, 'gvisor', 'runsc');
    ollama = await ScriptedOllama.start({ models: ['llama3.2:3b'] });
    kubelet = new TestKubelet(kc, ns);
    kubelet.behave = () => ({ kind: 'gvisor' });
    await kubelet.start();
    operator = await runOperator(kc, ns, { CLOSEDPAW_OLLAMA_URL: ollama.url });
    return { ns, ollama, tasks: new Tasks(kc, ns), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The in-cluster Ollama's inputs: the hack/ollama build and a model store
 * (blobs/ + manifests/) holding the test model, made once by creating the model
 * in a throw-away local Ollama (hack/ollama startOllama) and cached by the
 * GGUF, the Modelfile and the Ollama version.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureOllamaBuilt, OLLAMA_VERSION, startOllama } from '../ollama/server.ts';

export async function ollamaWithTestModel(cacheDir: string): Promise<{ binary: string; models: string }> {
  const artifacts = await ensureOllamaBuilt();
  const modelfile = await readFile(join(import.meta.dirname, '../ollama/Modelfile'), 'utf8');
  const key = createHash('sha256')
    .update(`${OLLAMA_VERSION}\n${artifacts.gguf}\n${modelfile}`)
    .digest('hex')
    .slice(0, 12);
  const models = join(cacheDir, `ollama-models-${key}`);
  if (!existsSync(models)) {
    const work = await mkdtemp(join(cacheDir, 'ollama-create-'));
    try {
      const ollama = await startOllama(work, { artifacts });
      try {
        await rm(`${models}.tmp`, { recursive: true, force: true });
        await cp(join(work, 'models'), `${models}.tmp`, { recursive: true, dereference: true });
      } finally {
        await ollama.stop();
      }
      await rename(`${models}.tmp`, models);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return { binary: artifacts.bin, models };
}

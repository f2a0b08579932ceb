/**
 * `npm run ollama:up` / `ollama:down`: a real Ollama with a real model for development.
 * The last line `up` prints is `OLLAMA_HOST=http://127.0.0.1:<port>`.
 */
import { resolve } from 'node:path';
import { ensureOllamaBuilt, runningOllama, startOllama, stopOllama } from './server.ts';

export const DEFAULT_OLLAMA_DIR = resolve(import.meta.dirname, '../../.closedpaw/ollama');
const dir = resolve(process.env.CLOSEDPAW_OLLAMA_DIR ?? DEFAULT_OLLAMA_DIR);

async function up(): Promise<void> {
  const artifacts = await ensureOllamaBuilt();
  const running = await runningOllama(dir, artifacts);
  if (running) {
    console.log(`reusing the running Ollama (pid ${running.pid}) with model ${running.model}`);
    console.log(`OLLAMA_HOST=${running.url}`);
    return;
  }
  const started = await startOllama(dir, { artifacts });
  console.log(`Ollama up (pid ${started.pid}) with model ${started.model}; state and logs in ${dir}`);
  console.log(`OLLAMA_HOST=${started.url}`);
}

async function down(): Promise<void> {
  await stopOllama(dir);
  console.log(`Ollama stopped; removed ${dir}`);
}

const verb = process.argv[2];
try {
  if (verb === 'up') await up();
  else if (verb === 'down') await down();
  else throw new Error('usage: node hack/ollama/cli.ts up|down');
} catch (error) {
  console.error(`ollama ${verb}: ${(error as Error).message}`);
  process.exitCode = 1;
}

/** Locates the cached Ollama binary and model, building them first (hack/ollama/build.sh) when the pin changed. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const BUILD_SCRIPT = join(import.meta.dirname, 'build.sh');

export interface OllamaArtifacts {
  /** The ollama executable in the cache (not the hack/bin link). */
  bin: string;
  /** SmolLM2-135M-Instruct Q4_1 GGUF, checked against its pinned sha256. */
  gguf: string;
}

/** Reads build.sh's stdout (`OLLAMA_BIN=…`, `OLLAMA_GGUF=…`). */
export function parseBuildOutput(stdout: string): OllamaArtifacts {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) values.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const bin = values.get('OLLAMA_BIN');
  const gguf = values.get('OLLAMA_GGUF');
  if (!bin?.startsWith('/') || !gguf?.startsWith('/')) {
    throw new Error(
      `hack/ollama/build.sh printed no absolute OLLAMA_BIN/OLLAMA_GGUF paths: ${JSON.stringify(stdout)}`,
    );
  }
  return { bin, gguf };
}

function runBuild(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const build = spawn('bash', [BUILD_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    build.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    build.once('error', reject);
    build.once('close', (code) => resolve({ code: code ?? -1, stdout }));
  });
}

/** Builds Ollama and extracts the model when the cache lacks them (cold: ~11 min); then returns their paths. */
export async function ensureOllamaBuilt(): Promise<OllamaArtifacts> {
  const { code, stdout } = await runBuild([]);
  if (code !== 0) throw new Error(`hack/ollama/build.sh failed (exit ${code}); see its output above`);
  return parseBuildOutput(stdout);
}

/** The cached artifacts, or undefined when they are not built yet (never builds or downloads). */
export async function builtOllama(): Promise<OllamaArtifacts | undefined> {
  const { code, stdout } = await runBuild(['--check']);
  if (code === 3) return undefined;
  if (code !== 0) throw new Error(`hack/ollama/build.sh --check failed (exit ${code})`);
  return parseBuildOutput(stdout);
}

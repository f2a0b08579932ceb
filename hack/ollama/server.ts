/**
 * A real Ollama on loopback with a real model (SmolLM2-135M, created locally as
 * `smollm2:135m` from hack/ollama/Modelfile): `ollama serve` runs detached, its
 * pid and port live in `<dir>/state.json` so a later command can reuse or stop
 * it, and everything it writes stays in `<dir>`. It never pulls: the model is
 * created from the cached GGUF, and cloud features are off.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, logTail, runCommand, startDetached, waitFor } from '../cluster/processes.ts';
import { builtOllama, ensureOllamaBuilt, type OllamaArtifacts } from './binaries.ts';
import { groupPids, stopGroup } from './process-group.ts';

export { builtOllama, ensureOllamaBuilt, type OllamaArtifacts };

export const OLLAMA_VERSION = '0.24.0';
export const OLLAMA_MODEL = 'smollm2:135m';
const MODELFILE = join(import.meta.dirname, 'Modelfile');

export interface OllamaState {
  dir: string;
  url: string;
  port: number;
  pid: number;
  bin: string;
  model: string;
  /** sha256 of the Modelfile the model was created from: a changed Modelfile is re-created on reuse. */
  modelfileSha256: string;
}

export interface RunningOllama {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  model: string;
  /** The `ollama serve` process (also its process group). */
  pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Built artifacts to use; default: ensureOllamaBuilt() (builds on a cold cache). */
  artifacts?: OllamaArtifacts;
  /** Loopback port; default: a free one. */
  port?: number;
}

const statePath = (dir: string) => join(dir, 'state.json');
const logPath = (dir: string) => join(dir, 'serve.log');

/** The complete environment of `ollama serve` and `ollama create`: nothing inherited but PATH. */
export function ollamaEnv(
  dir: string,
  port: number,
  path = process.env.PATH ?? '/usr/bin:/bin',
): NodeJS.ProcessEnv {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid Ollama port ${port}`);
  return {
    PATH: path,
    HOME: join(dir, 'home'),
    TMPDIR: join(dir, 'tmp'),
    OLLAMA_HOST: `127.0.0.1:${port}`,
    OLLAMA_MODELS: join(dir, 'models'),
    OLLAMA_NO_CLOUD: '1',
    GIN_MODE: 'release',
  };
}

async function readState(dir: string): Promise<OllamaState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(dir), 'utf8')) as OllamaState;
  } catch {
    return undefined;
  }
}

const saveState = (state: OllamaState) =>
  writeFile(statePath(state.dir), `${JSON.stringify(state, null, 2)}\n`);

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return await response.json();
}

/** The version `/api/version` reports. */
export async function serverVersion(url: string): Promise<string> {
  const body = (await getJson(`${url}/api/version`)) as { version?: unknown };
  if (typeof body.version !== 'string') throw new Error(`${url}/api/version: no version in the answer`);
  return body.version;
}

async function hasModel(url: string, model: string): Promise<boolean> {
  const body = (await getJson(`${url}/api/tags`)) as { models?: { name?: string }[] };
  return (body.models ?? []).some((m) => m.name === model);
}

async function modelfileDigest(): Promise<string> {
  return createHash('sha256')
    .update(await readFile(MODELFILE))
    .digest('hex');
}

/** `ollama create` from hack/ollama/Modelfile, with the cached GGUF linked beside a copy of it. */
async function createModel(state: OllamaState, gguf: string): Promise<void> {
  const work = join(state.dir, 'modelfile');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'Modelfile'), await readFile(MODELFILE));
  await symlink(gguf, join(work, 'model.gguf'));
  const result = await runCommand(state.bin, ['create', state.model, '-f', join(work, 'Modelfile')], {
    env: ollamaEnv(state.dir, state.port),
    cwd: work,
  });
  if (result.code !== 0) {
    throw new Error(`ollama create ${state.model} failed: ${(result.stderr || result.stdout).trim()}`);
  }
  state.modelfileSha256 = await modelfileDigest();
  await saveState(state);
}

function handle(state: OllamaState): RunningOllama {
  return { url: state.url, model: state.model, pid: state.pid, stop: () => stopOllama(state.dir) };
}

async function isServing(state: OllamaState): Promise<boolean> {
  if ((await groupPids(state.pid, state.bin)).length === 0) return false;
  return (await serverVersion(state.url).catch(() => '')) === OLLAMA_VERSION;
}

/**
 * The Ollama recorded in `dir` when it is alive, runs the current build (when
 * `artifacts` are given) and has the model (re-created first if the Modelfile
 * changed since); undefined when there is none, it is outdated or broken.
 */
export async function runningOllama(
  dir: string,
  artifacts?: OllamaArtifacts,
): Promise<RunningOllama | undefined> {
  const state = await readState(dir);
  if (!state || !(await isServing(state))) return undefined;
  if (artifacts && (await realpath(artifacts.bin)) !== state.bin) return undefined;
  const current = await modelfileDigest();
  if (state.modelfileSha256 !== current || !(await hasModel(state.url, state.model))) {
    await createModel(state, (artifacts ?? (await ensureOllamaBuilt())).gguf);
  }
  return handle(state);
}

/** Waits for `/api/version`; fails fast when the process exits or reports another version. */
async function waitUntilServing(state: OllamaState): Promise<void> {
  let exited = false;
  let version = '';
  await waitFor(
    'ollama serve to answer /api/version',
    async () => {
      exited = (await groupPids(state.pid, state.bin)).length === 0;
      version = exited ? '' : await serverVersion(state.url);
      return true;
    },
    30_000,
    50,
  );
  if (exited) throw new Error('ollama serve exited');
  if (version !== OLLAMA_VERSION) {
    throw new Error(
      `${state.bin} reports version ${version}, expected ${OLLAMA_VERSION}: rebuild with hack/ollama/build.sh`,
    );
  }
}

/** Starts a fresh `ollama serve` in `dir` (wiping leftovers) and creates the model. */
export async function startOllama(dir: string, opts: StartOptions = {}): Promise<RunningOllama> {
  const artifacts = opts.artifacts ?? (await ensureOllamaBuilt());
  await stopOllama(dir);
  for (const sub of ['home', 'tmp', 'models']) await mkdir(join(dir, sub), { recursive: true });
  const port = opts.port ?? (await freePort());
  const bin = await realpath(artifacts.bin);
  const env = ollamaEnv(dir, port);
  const pid = await startDetached(bin, ['serve'], logPath(dir), env);
  const state: OllamaState = {
    dir,
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    bin,
    model: OLLAMA_MODEL,
    modelfileSha256: '',
  };
  await saveState(state);
  try {
    await waitUntilServing(state);
    await createModel(state, artifacts.gguf);
  } catch (error) {
    const tail = await logTail(logPath(dir));
    await stopOllama(dir);
    throw new Error(
      `Ollama did not start: ${(error as Error).message}\n--- ${logPath(dir)} (tail) ---\n${tail}`,
    );
  }
  return handle(state);
}

/** Stops the `ollama serve` recorded in `dir` with its runners, and removes `dir`. */
export async function stopOllama(dir: string): Promise<void> {
  const state = await readState(dir);
  if (state) await stopGroup(state.pid, state.bin);
  await rm(dir, { recursive: true, force: true });
}

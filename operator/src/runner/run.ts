/**
 * One run, from the environment to an exit code: read the task and the token,
 * open the workspace, write the inputs, run the agent loop, then print the
 * result frame (exit 0) or write the failure to the termination log (exit 1).
 * Every error ends here as a failure reason — never as a crash.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { POD_PATHS, RUNNER_ENV, type RunnerFailureReason } from '../api/agent-protocol.ts';
import type { AgentTaskSpec } from '../api/agenttask.ts';
import { frameResult } from '../api/result-frame.ts';
import { type AgentDeps, runAgent } from './agent-loop.ts';
import { createDeadline } from './deadline.ts';
import { RunFailure, toFailure, writeTerminationLog } from './failure.ts';
import { wallClockBudgetMs } from './limits.ts';
import { createModelClient } from './model-client.ts';
import { createCanary } from './prompt.ts';
import { createSpotlight } from './spotlight.ts';
import { createStepLog, type StepLog } from './step-log.ts';
import { readTaskFile } from './task.ts';
import { Workspace } from './tools/confine.ts';
import { FileTools } from './tools/fs.ts';
import { createToolBox } from './tools/registry.ts';
import { ToolError } from './tools/tool-error.ts';

export interface RunIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export interface RunSettings {
  taskFile: string;
  workspace: string;
  gatewayUrl: string | undefined;
  tokenFile: string | undefined;
  terminationLog: string;
}

export function settingsFrom(env: NodeJS.ProcessEnv): RunSettings {
  const value = (name: string) => (env[name] && env[name] !== '' ? env[name] : undefined);
  return {
    taskFile: value(RUNNER_ENV.taskFile) ?? POD_PATHS.taskFile,
    workspace: value(RUNNER_ENV.workspace) ?? POD_PATHS.workspace,
    gatewayUrl: value(RUNNER_ENV.gatewayUrl),
    tokenFile: value(RUNNER_ENV.tokenFile),
    terminationLog: value(RUNNER_ENV.terminationLog) ?? POD_PATHS.terminationLog,
  };
}

/** `runnerPath`: the runner's own file, which must not lie in the workspace the model can write to. */
export async function runFromEnv(env: NodeJS.ProcessEnv, io: RunIo, runnerPath?: string): Promise<number> {
  const settings = settingsFrom(env);
  const log = createStepLog(io.stderr);
  const cleanup: (() => void)[] = [];
  try {
    const result = await runAgent(prepare(settings, runnerPath, log, cleanup));
    io.stdout(frameResult(result.answer, result.flags));
    return 0;
  } catch (error) {
    const failed = toFailure(error);
    writeTerminationLog(settings.terminationLog, failed);
    log({ event: 'failed', reason: failed.reason, message: failed.message });
    return 1;
  } finally {
    for (const step of cleanup) step();
  }
}

/** Everything before the first model call: task, token, workspace, inputs, budget, tools, model client. */
function prepare(
  settings: RunSettings,
  runnerPath: string | undefined,
  log: StepLog,
  cleanup: (() => void)[],
): AgentDeps {
  const spec = deepFreeze(readTaskFile(settings.taskFile));
  const gatewayUrl = checkGatewayUrl(settings.gatewayUrl);
  const token = settings.tokenFile ? readToken(settings.tokenFile) : undefined;
  const workspace = openWorkspace(settings.workspace);
  checkOutsideWorkspace(workspace, settings, runnerPath);
  const deadline = createDeadline(wallClockBudgetMs(spec.timeoutSeconds), spec.timeoutSeconds);
  cleanup.push(deadline.clear);
  const files = new FileTools(workspace);
  writeInputs(files, spec);
  const spotlight = createSpotlight();
  const model = createModelClient({ gatewayUrl, signal: deadline.signal, ...(token ? { token } : {}) });
  cleanup.push(model.close);
  const tools = createToolBox(spec.tools, {
    files,
    workspace: workspace.root,
    spotlight,
    signal: deadline.signal,
    remainingMs: deadline.remainingMs,
  });
  return {
    spec,
    chat: model.chat,
    tools,
    spotlight,
    canary: createCanary(),
    log,
    signal: deadline.signal,
    workspace: workspace.configured,
  };
}

function checkGatewayUrl(url: string | undefined): string {
  if (url === undefined) {
    throw new RunFailure(
      'ModelUnreachable',
      `${RUNNER_ENV.gatewayUrl} is not set: the runner has no model gateway`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RunFailure('ModelUnreachable', `${RUNNER_ENV.gatewayUrl} is not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RunFailure('ModelUnreachable', `${RUNNER_ENV.gatewayUrl} must be an http or https URL`);
  }
  return url;
}

/** The gateway token: a compact JWS, so only URL-safe base64 and dots (nothing that could split a header). */
function readToken(path: string): string | undefined {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (error) {
    throw new RunFailure(
      'TaskFileInvalid',
      `cannot read the gateway token file ${path}: ${(error as Error).message}`,
    );
  }
  // Empty: no token issued (no gateway in front of Ollama); the runner sends none and the gateway, if any, decides.
  if (token === '') return undefined;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){0,4}$/.test(token) || token.length > 16384) {
    throw new RunFailure('TaskFileInvalid', `the gateway token file ${path} does not hold a compact JWS`);
  }
  return token;
}

function openWorkspace(dir: string): Workspace {
  try {
    return Workspace.open(dir);
  } catch (error) {
    throw new RunFailure('RunnerCrashed', `cannot use the workspace: ${(error as Error).message}`);
  }
}

/**
 * The runner, its task and its token must not be files the model can rewrite
 * (in the pod they are on the read-only root and a read-only volume; outside a
 * pod a careless CLOSEDPAW_WORKSPACE could put them in reach).
 */
function checkOutsideWorkspace(
  workspace: Workspace,
  settings: RunSettings,
  runnerPath: string | undefined,
): void {
  const files: [string, string | undefined, RunnerFailureReason][] = [
    ['the runner', runnerPath, 'RunnerCrashed'],
    ['the task file', settings.taskFile, 'TaskFileInvalid'],
    ['the gateway token file', settings.tokenFile, 'TaskFileInvalid'],
  ];
  for (const [what, path, reason] of files) {
    if (path === undefined) continue;
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      continue;
    }
    if (workspace.isInside(real, true)) {
      throw new RunFailure(
        reason,
        `${what} (${path}) lies inside the workspace ${workspace.configured}; refused`,
      );
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function writeInputs(files: FileTools, spec: AgentTaskSpec): void {
  for (const input of spec.inputs ?? []) {
    try {
      files.write(input.path, input.content);
    } catch (error) {
      const message = error instanceof ToolError ? error.message : String(error);
      throw new RunFailure('TaskFileInvalid', `the input ${input.path} cannot be written: ${message}`);
    }
  }
}

/** Spawning, probing and stopping the control-plane's child processes. */

import { type SpawnOptions, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a long-lived process in a session of its own (so its own process group) whose output goes to
 * `logFile`; `env` replaces the environment when given. Returns its pid.
 */
export async function startDetached(
  command: string,
  args: string[],
  logFile: string,
  env?: NodeJS.ProcessEnv,
): Promise<number> {
  const log = await open(logFile, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      ...(env ? { env } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`${command} did not start`);
    return child.pid;
  } finally {
    await log.close();
  }
}

/** Whether a process runs: a zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs = 5000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(20);
}

export async function logTail(logFile: string, lines = 25): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '(no log)');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Polls `probe` every `intervalMs` until it resolves true; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
  intervalMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion and collects its output; never rejects on a non-zero exit. stdin carries
 * `input` when given and is closed otherwise; a command that exits before reading it does not crash the
 * caller (EPIPE is ignored: the exit code tells what happened). Killed by a signal: code 128.
 */
export function runCommand(
  command: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    };
    if (opts.cwd) spawnOpts.cwd = opts.cwd;
    const child = spawn(command, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}

/**
 * Starts `command` detached, hands its pid to `record` (to be saved before waiting), and waits until
 * `ready`; a process that exits or never gets ready fails with the tail of its log.
 */
export async function startUntilReady(opts: {
  name: string;
  command: string;
  args: string[];
  log: string;
  ready: () => Promise<boolean>;
  record: (pid: number) => Promise<void>;
  timeoutMs: number;
}): Promise<void> {
  const { name, log } = opts;
  const pid = await startDetached(opts.command, opts.args, log);
  await opts.record(pid);
  try {
    await waitFor(
      name,
      async () => {
        if (!isAlive(pid)) throw new Error(`${name} exited`);
        return await opts.ready();
      },
      opts.timeoutMs,
    );
  } catch (error) {
    throw new Error(
      `${name} did not become ready: ${(error as Error).message}\n--- ${log} (tail) ---\n${await logTail(log)}`,
    );
  }
}

/** Helpers for the CLI's end-to-end tests: the real bin as a child process, with its output as it comes. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = resolve(ROOT, 'operator/bin/closedpaw');

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (128 + n for a signal). */
  exited: Promise<number>;
  /** Waits until stderr matches (fails with what was printed so far). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** Starts `closedpaw ARGS` as a user would (KUBECONFIG from `env`), without a terminal. */
export function startCli(args: string[], env: Record<string, string | undefined> = {}): CliRun {
  const child = spawn(BIN, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolveExit) => {
    child.once('exit', (code, signal) =>
      resolveExit(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1)),
    );
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForStderr(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let done = false;
      void exited.then(() => (done = true));
      while (Date.now() < deadline) {
        const match = pattern.exec(err);
        if (match) return match;
        if (done) break;
        await sleep(50);
      }
      throw new Error(`stderr never matched ${pattern}; stderr so far:\n${err}\nstdout:\n${out}`);
    },
  };
}

/** Runs `closedpaw ARGS` to its end. */
export async function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(args, env);
  // 'close' comes after the exit and after both pipes have ended: everything printed has been read.
  const closed = new Promise<void>((resolveClose) => run.child.once('close', () => resolveClose()));
  const code = await run.exited;
  await closed;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

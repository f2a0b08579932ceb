/**
 * The shell tool: `/bin/sh -c <command>` in the workspace, in its own process
 * group (and session), with a fixed environment, no stdin, a timeout after
 * which the whole group is killed (exit 124), and an output cap that keeps
 * the head and the tail. The group is killed when the command ends too, so
 * nothing it started in the background outlives the call.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { LIMITS, shellEnvironment } from '../limits.ts';

export interface ShellOptions {
  cwd: string;
  timeoutMs: number;
  outputMaxBytes?: number;
  /** Ends the command early (the run's wall-clock budget). */
  signal?: AbortSignal;
  drainMs?: number;
}

export interface ShellResult {
  /** The command's exit code; 124 after a timeout, 128+n after signal n. */
  exitCode: number;
  timedOut: boolean;
  /** Combined stdout and stderr, head and tail kept if over the cap. */
  output: string;
  /** Bytes the command printed in total (before the cap). */
  totalBytes: number;
}

export const TIMEOUT_EXIT_CODE = 124;

export function runShell(command: string, options: ShellOptions): Promise<ShellResult> {
  const output = new HeadTailBuffer(options.outputMaxBytes ?? LIMITS.shellOutputMaxBytes);
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: options.cwd,
    env: shellEnvironment(options.cwd),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killGroup = () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
  };
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));

  return new Promise<ShellResult>((resolve) => {
    let timedOut = false;
    const onTimeout = () => {
      timedOut = true;
      killGroup();
    };
    const timer = setTimeout(onTimeout, options.timeoutMs);
    const onAbort = () => onTimeout();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    let finished = false;
    const finish = (exitCode: number) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      killGroup();
      // Pipes close once every holder is dead; one that escaped the group must not hang the run.
      const drain = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, options.drainMs ?? LIMITS.shellDrainMs);
      let open = 2;
      const closed = () => {
        if (--open > 0) return;
        clearTimeout(drain);
        resolve({
          exitCode: timedOut ? TIMEOUT_EXIT_CODE : exitCode,
          timedOut,
          output: output.text(),
          totalBytes: output.total,
        });
      };
      for (const stream of [child.stdout, child.stderr]) {
        if (stream.closed) closed();
        else stream.once('close', closed);
      }
    };
    child.once('error', (error) => {
      output.push(Buffer.from(`cannot start the shell: ${error.message}\n`));
      finish(127);
    });
    child.once('exit', (code, signal) => finish(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

/** Keeps the first half and the last half of a byte stream within `max` bytes. */
export class HeadTailBuffer {
  private readonly headMax: number;
  private readonly tailMax: number;
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  total = 0;

  constructor(max: number) {
    this.headMax = Math.ceil(max / 2);
    this.tailMax = Math.floor(max / 2);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headMax) {
      const take = rest.subarray(0, this.headMax - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tailBytes > this.tailMax) {
      const first = this.tail[0] as Buffer;
      const excess = this.tailBytes - this.tailMax;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
      }
    }
  }

  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    const omitted = this.total - this.headBytes - this.tailBytes;
    if (omitted === 0) return head + Buffer.concat(this.tail).toString('utf8');
    return `${head}\n[… ${omitted} bytes of output omitted …]\n${Buffer.concat(this.tail).toString('utf8')}`;
  }
}

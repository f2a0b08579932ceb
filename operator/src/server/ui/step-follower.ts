/**
 * Follows one task's runner steps: waits for its pod, follows the pod log while
 * the task runs, re-reads it (skipping the steps already delivered) when the
 * stream ends early, and stops once the task is over and its log was read to the
 * end. Steps are delivered in order, each exactly once.
 */
import type { RunnerStep } from '../../api/agent-protocol.ts';
import { errorMessage, statusCode } from '../../k8s/errors.ts';
import type { PodLogChunks, ReadPodLog } from './pod-log.ts';
import { isFinalStep, MAX_STEPS, StepLineParser, type StepsResponse, type StepsStatus } from './steps.ts';
import { isTerminal } from './task-view.ts';

/** What the follower needs of the task, read fresh each round (from the informer cache). */
export interface FollowedTask {
  phase?: string;
  podName?: string;
}

export interface StepFollowerOptions {
  namespace: string;
  readPodLog: ReadPodLog;
  /** The task as it is now; undefined once it is gone. */
  current(): FollowedTask | undefined;
  onSteps(steps: RunnerStep[], from: number): void;
  onStatus(status: StepsStatus): void;
  /** Cap of one read of the log (bytes). */
  limitBytes: number;
  /** Wait between reads that found nothing new (doubling up to max; a nudge wakes it). */
  retryMs?: { min: number; max: number };
  /** Failed reads of a finished task's log before giving up (transient errors). */
  finishedAttempts?: number;
}

export const DEFAULT_STEP_LOG_LIMIT_BYTES = 512 * 1024;

function waitingMessage(task: FollowedTask): string {
  if (task.phase === 'AwaitingApproval') return 'waiting for a human decision: no pod yet';
  return 'no pod yet';
}

export class StepFollower {
  private readonly opts: StepFollowerOptions;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private delivered = 0;
  private omitted = 0;
  private lastStatus = '';
  private running: Promise<void> | undefined;

  constructor(opts: StepFollowerOptions) {
    this.opts = opts;
  }

  /** Starts following; resolves when the steps are complete, unavailable for good, or stopped. */
  start(): Promise<void> {
    this.running ??= this.loop().catch((error: unknown) => {
      if (!this.abort.signal.aborted) this.status({ state: 'unavailable', message: errorMessage(error) });
    });
    return this.running;
  }

  /** The task changed (a pod appeared, the phase moved): stop waiting and look again. */
  nudge(): void {
    this.wake?.();
  }

  stop(): void {
    this.abort.abort();
    this.wake?.();
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private status(status: StepsStatus): void {
    const full: StepsStatus = this.omitted > 0 ? { ...status, omitted: this.omitted } : status;
    const text = JSON.stringify(full);
    if (text === this.lastStatus || this.stopped) return;
    this.lastStatus = text;
    this.opts.onStatus(full);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref?.();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    const { min, max } = this.opts.retryMs ?? { min: 1000, max: 10_000 };
    let wait = min;
    let finishedFailures = 0;
    while (!this.stopped) {
      const task = this.opts.current();
      if (!task) return this.status({ state: 'unavailable', message: 'the task is gone' });
      const terminal = isTerminal(task.phase);
      if (!task.podName) {
        if (terminal) return this.status({ state: 'complete', message: 'the task ended without a pod' });
        this.status({ state: 'waiting', message: waitingMessage(task) });
        await this.sleep(max);
        continue;
      }
      try {
        const outcome = await this.read(task.podName, terminal);
        if (outcome.done) {
          return this.status({ state: 'complete', ...(outcome.truncated ? { truncated: true } : {}) });
        }
        wait = outcome.gotSteps ? min : Math.min(max, wait * 2);
      } catch (error) {
        if (this.stopped) return;
        const code = statusCode(error);
        if (terminal && (code === 404 || ++finishedFailures >= (this.opts.finishedAttempts ?? 5))) {
          return this.status({
            state: 'unavailable',
            message:
              code === 404
                ? `the pod ${task.podName} is gone: its log can no longer be read`
                : `cannot read the pod log: ${errorMessage(error)}`,
          });
        }
        this.status({
          state: terminal ? 'unavailable' : 'waiting',
          message: `pod ${task.podName}: ${errorMessage(error)}`,
        });
        wait = Math.min(max, wait * 2);
      }
      await this.sleep(wait);
    }
  }

  /**
   * One read of the log from its start. Done when the task was already over (the log is complete) or
   * the runner printed its last step; otherwise the caller waits and reads again.
   */
  private async read(
    podName: string,
    terminal: boolean,
  ): Promise<{ done: boolean; truncated: boolean; gotSteps: boolean }> {
    const { limitBytes } = this.opts;
    const stream = await this.opts.readPodLog(this.opts.namespace, podName, {
      follow: !terminal,
      limitBytes,
      signal: this.abort.signal,
    });
    if (!terminal) this.status({ state: 'following' });
    const parser = new StepLineParser();
    let index = 0;
    let bytes = 0;
    let final = false;
    let gotSteps = false;
    const deliver = (steps: RunnerStep[]) => {
      const fresh: RunnerStep[] = [];
      for (const step of steps) {
        index++;
        if (isFinalStep(step)) final = true;
        if (index <= this.delivered + this.omitted) continue;
        if (this.delivered >= MAX_STEPS) this.omitted++;
        else fresh.push(step);
      }
      if (fresh.length === 0) return;
      gotSteps = true;
      this.opts.onSteps(fresh, this.delivered);
      this.delivered += fresh.length;
    };
    for await (const chunk of stream) {
      if (this.stopped) return { done: true, truncated: false, gotSteps };
      bytes += chunk.length;
      deliver(parser.push(chunk));
    }
    deliver(parser.end());
    const truncated = bytes >= limitBytes && !final;
    return { done: terminal || final || truncated, truncated, gotSteps };
  }
}

/** One read of a task's steps as they are now (no following): for the JSON endpoint. */
export async function readStepsOnce(
  readPodLog: ReadPodLog,
  namespace: string,
  task: FollowedTask,
  opts: { limitBytes: number; signal: AbortSignal },
): Promise<StepsResponse> {
  const terminal = isTerminal(task.phase);
  if (!task.podName) {
    return {
      steps: [],
      status: terminal
        ? { state: 'complete', message: 'the task ended without a pod' }
        : { state: 'waiting', message: waitingMessage(task) },
    };
  }
  let stream: PodLogChunks;
  try {
    stream = await readPodLog(namespace, task.podName, { follow: false, ...opts });
  } catch (error) {
    const gone = statusCode(error) === 404 && terminal;
    return {
      steps: [],
      status: gone
        ? { state: 'unavailable', message: `the pod ${task.podName} is gone: its log can no longer be read` }
        : {
            state: terminal ? 'unavailable' : 'waiting',
            message: `pod ${task.podName}: ${errorMessage(error)}`,
          },
    };
  }
  const parser = new StepLineParser();
  const steps: RunnerStep[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    steps.push(...parser.push(chunk));
  }
  steps.push(...parser.end());
  const final = steps.some(isFinalStep);
  const kept = steps.slice(0, MAX_STEPS);
  const status: StepsStatus = {
    state: terminal || final ? 'complete' : 'following',
    ...(bytes >= opts.limitBytes && !final ? { truncated: true } : {}),
    ...(steps.length > kept.length ? { omitted: steps.length - kept.length } : {}),
  };
  return { steps: kept, status };
}

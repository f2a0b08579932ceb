/** The run's wall-clock budget as an AbortSignal whose reason is the WallClockExceeded failure. */
import { RunFailure } from './failure.ts';

export interface Deadline {
  signal: AbortSignal;
  remainingMs(): number;
  clear(): void;
}

export function createDeadline(budgetMs: number, timeoutSeconds: number): Deadline {
  const controller = new AbortController();
  const endsAt = performance.now() + budgetMs;
  const timer = setTimeout(() => {
    controller.abort(
      new RunFailure(
        'WallClockExceeded',
        `the run used up its wall-clock budget of ${(budgetMs / 1000).toFixed(1)} s (timeoutSeconds ${timeoutSeconds} minus a safety margin)`,
      ),
    );
  }, budgetMs);
  return {
    signal: controller.signal,
    remainingMs: () => Math.max(0, endsAt - performance.now()),
    clear: () => clearTimeout(timer),
  };
}

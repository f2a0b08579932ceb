/**
 * How a run ends badly: a `RunFailure` carries one of the contract's failure
 * reasons and a message for the user. The entry point writes it to the
 * termination log (`{"reason","message"}`) and exits 1.
 */
import { writeFileSync } from 'node:fs';
import { type RunnerFailure, type RunnerFailureReason, runnerFailureSchema } from '../api/agent-protocol.ts';

const MESSAGE_MAX_CHARS = 3072;

export class RunFailure extends Error {
  readonly reason: RunnerFailureReason;
  constructor(reason: RunnerFailureReason, message: string) {
    super(message);
    this.name = 'RunFailure';
    this.reason = reason;
  }
}

/** Any thrown value as a failure; what is not a RunFailure is a crash of the runner itself. */
export function toFailure(error: unknown): RunnerFailure {
  if (error instanceof RunFailure) return failure(error.reason, error.message);
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return failure('RunnerCrashed', `the runner crashed: ${text}`);
}

export function failure(reason: RunnerFailureReason, message: string): RunnerFailure {
  const bounded =
    message.length > MESSAGE_MAX_CHARS ? `${message.slice(0, MESSAGE_MAX_CHARS - 1)}…` : message;
  return runnerFailureSchema.parse({ reason, message: bounded });
}

/** Writes the failure for the operator; a missing or read-only termination log is not an error. */
export function writeTerminationLog(path: string, value: RunnerFailure): boolean {
  try {
    writeFileSync(path, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

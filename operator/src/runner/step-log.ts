/**
 * The runner's stderr: one JSON object per line per step (runnerStepSchema),
 * never raw content — tool arguments only as a sha256 digest, outputs only as
 * byte counts, errors only as short codes.
 */
import { createHash } from 'node:crypto';
import type { RunnerStep } from '../api/agent-protocol.ts';

export type StepLog = (step: RunnerStep) => void;

export function createStepLog(write: (line: string) => void): StepLog {
  return (step) => write(`${JSON.stringify(step)}\n`);
}

/** sha256 of the arguments as canonical JSON (keys sorted), so equal arguments give equal digests. */
export function argumentsDigest(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

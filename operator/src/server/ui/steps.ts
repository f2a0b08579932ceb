/**
 * Runner steps out of a pod log. The log mixes the runner's stderr (one JSON
 * step per line, `runnerStepSchema`) with its stdout (the result frame) and
 * anything else a process may print; only lines that validate as a step come
 * out, re-built from the schema's fields (unknown keys dropped), so no raw log
 * text and no part of the result frame ever reaches the UI. A line over the size
 * cap is dropped whole without being buffered. Pure, incremental over chunks.
 */
import { parseStepLine, type RunnerStep, STEP_LINE_MAX_BYTES } from '../../api/agent-protocol.ts';

/** Most steps one view keeps (the runner's own limits keep a run far below this). */
export const MAX_STEPS = 2000;

export type { RunnerStep };
export { parseStepLine, STEP_LINE_MAX_BYTES };

/** Where the step list of a task stands. */
export interface StepsStatus {
  /**
   * `waiting`: no pod log yet (no pod, or it has not started); `following`: the pod runs, steps come live;
   * `complete`: the log was read to its end; `unavailable`: it cannot be read (message says why).
   */
  state: 'waiting' | 'following' | 'complete' | 'unavailable';
  message?: string;
  /** The log reached the read cap before the runner's last step: later steps are not shown. */
  truncated?: boolean;
  /** Steps beyond MAX_STEPS that were not kept. */
  omitted?: number;
}

export interface StepsResponse {
  steps: RunnerStep[];
  status: StepsStatus;
}

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines and keeps the steps. Holds at most one partial line of at most
 * STEP_LINE_MAX_BYTES; a longer line is skipped up to its newline.
 */
export class StepLineParser {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line already over the cap: everything up to the next newline is dropped. */
  private skipping = false;
  /** Lines dropped for being over the cap. */
  oversized = 0;
  /** Non-empty lines that were not steps (the result frame, other output). */
  ignored = 0;

  /** The steps completed by this chunk. */
  push(chunk: Uint8Array | string): RunnerStep[] {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    const steps: RunnerStep[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NEWLINE, start); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
      this.take(buf.subarray(start, nl));
      this.line(steps);
      start = nl + 1;
    }
    this.take(buf.subarray(start));
    return steps;
  }

  /** The end of the log: a last line without a newline still counts. */
  end(): RunnerStep[] {
    const steps: RunnerStep[] = [];
    if (this.partialBytes > 0 || this.skipping) this.line(steps);
    return steps;
  }

  private take(piece: Buffer): void {
    if (this.skipping || piece.length === 0) return;
    if (this.partialBytes + piece.length > STEP_LINE_MAX_BYTES + 1) {
      this.partial = [];
      this.partialBytes = 0;
      this.skipping = true;
      return;
    }
    this.partial.push(Buffer.from(piece));
    this.partialBytes += piece.length;
  }

  private line(into: RunnerStep[]): void {
    if (this.skipping) {
      this.oversized++;
    } else if (this.partialBytes > 0) {
      const step = parseStepLine(Buffer.concat(this.partial, this.partialBytes).toString('utf8'));
      if (step) into.push(step);
      else this.ignored++;
    }
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
  }
}

/** All steps of a complete log text (tests, one-shot reads). */
export function parseSteps(log: string): RunnerStep[] {
  const parser = new StepLineParser();
  return [...parser.push(log), ...parser.end()];
}

/** The runner's last word, when it gave one: `finished` or `failed`. */
export const isFinalStep = (step: RunnerStep): boolean =>
  step.event === 'finished' || step.event === 'failed';

/**
 * Every cap the runner enforces, in one place. The model can ask for less
 * (a shorter shell timeout) but nothing it does can raise these.
 */
export const KIB = 1024;
export const MIB = 1024 * KIB;

export const LIMITS = {
  /** Largest file read_file returns. */
  readMaxBytes: 256 * KIB,
  /** Largest content one write_file call may write. */
  writeMaxBytes: 1 * MIB,
  /** Total bytes written by write_file (and the task's inputs) over the whole run. */
  writeTotalMaxBytes: 64 * MIB,
  /** Most entries list_files returns. */
  listMaxEntries: 1000,
  /** Longest path argument, in characters. */
  pathMaxChars: 4096,
  /** Shell timeout when the model asks for none, and the most it may ask for. */
  shellTimeoutSeconds: 30,
  /** Shell output the model sees: head and tail of the combined stdout + stderr. */
  shellOutputMaxBytes: 64 * KIB,
  /** Longest shell command, in characters. */
  shellCommandMaxChars: 16 * KIB,
  /** After a shell exits and its group is killed, how long to wait for its pipes to close. */
  shellDrainMs: 1000,
  /** Largest task file accepted. */
  taskFileMaxBytes: 2 * MIB,
  /** Largest model reply (content) accepted; the result frame must fit the operator's 1 MiB log cap. */
  modelReplyMaxBytes: 512 * KIB,
  /** Largest error body read from the gateway. */
  errorBodyMaxBytes: 64 * KIB,
  /** Same tool with the same arguments this many times ends the run. */
  repeatedCallLimit: 3,
  /** Malformed tool calls the model is told about before the run ends (the next one ends it). */
  malformedCallsTolerated: 1,
  /** Pause before the one retry of a failed model call. */
  modelRetryDelayMs: 500,
} as const;

export type Limits = typeof LIMITS;

/** The environment a shell command gets: nothing inherited. */
export function shellEnvironment(workspace: string): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workspace, TMPDIR: workspace, LANG: 'C.UTF-8' };
}

/**
 * The runner's own wall-clock budget: the pod deadline (timeoutSeconds) minus a
 * margin to report a clean failure before the kubelet kills the pod. The margin
 * is max(5 s, 10 %), but never more than half the deadline.
 */
export function wallClockBudgetMs(timeoutSeconds: number): number {
  const total = timeoutSeconds * 1000;
  const margin = Math.min(Math.max(5000, total * 0.1), total / 2);
  return Math.floor(total - margin);
}

/**
 * Per-task budgets, in memory, keyed by task uid. A call is checked before it is forwarded (against
 * what is already spent) and accounted after; a call that overruns mid-stream finishes, the next is
 * refused. Entries are forgotten once the task is no longer active, so the ledger holds at most the
 * active tasks (plus those finished since the last sweep). What was spent before this process started
 * comes back from the audit log (usage-replay.ts, restore()).
 */
import type { TaskTokenClaims } from '../api/agent-protocol.ts';
import { type Refusal, refusal } from './errors.ts';
import type { TaskIdentity } from './tokens.ts';
import type { RecordedSpending } from './usage-replay.ts';

export type Budget = TaskTokenClaims['budget'];

export interface Usage {
  /** Calls forwarded upstream (counted when forwarded). */
  modelCalls: number;
  /** prompt + completion tokens reported by the upstream (or estimated when a stream was cut). */
  tokens: number;
  /** Request + response bytes. */
  bytes: number;
  /** Calls forwarded and not finished yet. */
  inFlight: number;
  /** Estimated cost of the task's cloud-model calls, in micro-USD (0 for local models). */
  costMicroUsd?: number;
}

/** Refuses a call whose budget is already spent; `requestBytes` is the size of the call at hand. */
export function checkBudget(budget: Budget, usage: Usage, requestBytes: number): Refusal | undefined {
  if (usage.modelCalls >= budget.modelCalls) {
    return refusal(
      'budget_exceeded',
      `model call budget exhausted: ${usage.modelCalls} of ${budget.modelCalls} calls used`,
    );
  }
  if (usage.tokens >= budget.tokens) {
    return refusal(
      'budget_exceeded',
      `token budget exhausted: ${usage.tokens} of ${budget.tokens} tokens used (prompt + completion)`,
    );
  }
  if (usage.bytes + requestBytes > budget.bytes) {
    return refusal(
      'budget_exceeded',
      `byte budget exceeded: ${usage.bytes} bytes used + ${requestBytes} in this request > limit ${budget.bytes}`,
    );
  }
  return undefined;
}

export interface TaskEntry {
  task: TaskIdentity;
  budget: Budget;
  usage: Usage;
  /** sha256 digests of tool outputs already screened (and passed or allowed) for this task. */
  screened: Set<string>;
  /** Set once a flagged tool output stopped the run: every later call is refused with this message. */
  stopped?: string;
}

export interface LedgerOptions {
  /** Most screened-digest entries kept per task (oldest dropped first; default 4096). */
  maxScreenedPerTask?: number;
}

/** The budget of an entry restored from the log until the task's next call brings its token's. */
const NO_BUDGET_YET: Budget = { modelCalls: 0, tokens: 0, bytes: 0 };

export class UsageLedger {
  readonly #entries = new Map<string, TaskEntry>();
  readonly #maxScreened: number;

  constructor(opts: LedgerOptions = {}) {
    this.#maxScreened = opts.maxScreenedPerTask ?? 4096;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(uid: string): TaskEntry | undefined {
    return this.#entries.get(uid);
  }

  /** The task's entry, created on its first call. The budget is the one in the task's (latest) token. */
  open(task: TaskIdentity, budget: Budget): TaskEntry {
    const entry = this.#entries.get(task.uid) ?? this.#newEntry(task, budget);
    entry.budget = budget;
    return entry;
  }

  #newEntry(task: TaskIdentity, budget: Budget): TaskEntry {
    const entry: TaskEntry = {
      task: { ...task },
      budget,
      usage: { modelCalls: 0, tokens: 0, bytes: 0, inFlight: 0 },
      screened: new Set(),
    };
    this.#entries.set(task.uid, entry);
    return entry;
  }

  /** Counts a call as it is forwarded. */
  reserve(entry: TaskEntry, requestBytes: number): void {
    entry.usage.modelCalls++;
    entry.usage.bytes += requestBytes;
    entry.usage.inFlight++;
  }

  /** Accounts a forwarded call once it is over. */
  settle(entry: TaskEntry, spent: { tokens: number; responseBytes: number; costMicroUsd?: number }): void {
    entry.usage.tokens += spent.tokens;
    if (spent.costMicroUsd !== undefined) {
      entry.usage.costMicroUsd = (entry.usage.costMicroUsd ?? 0) + spent.costMicroUsd;
    }
    entry.usage.bytes += spent.responseBytes;
    entry.usage.inFlight = Math.max(0, entry.usage.inFlight - 1);
  }

  rememberScreened(entry: TaskEntry, digest: string): void {
    entry.screened.delete(digest);
    entry.screened.add(digest);
    while (entry.screened.size > this.#maxScreened) {
      const oldest = entry.screened.values().next().value;
      if (oldest === undefined) break;
      entry.screened.delete(oldest);
    }
  }

  forget(uid: string): void {
    this.#entries.delete(uid);
  }

  /**
   * Takes in what the audit log records each task has spent (after a restart, or when the log reopens):
   * each count becomes the larger of the two, so replaying the same log again changes nothing, and calls
   * this process counted that are not in the log yet still count. A task the ledger has not seen gets an
   * entry (its budget comes with its first call's token); sweep() drops those of tasks no longer active.
   */
  restore(spending: Iterable<RecordedSpending>): void {
    for (const { task, usage, stopped } of spending) {
      const entry = this.#entries.get(task.uid) ?? this.#newEntry(task, NO_BUDGET_YET);
      const now = entry.usage;
      now.modelCalls = Math.max(now.modelCalls, usage.modelCalls);
      now.tokens = Math.max(now.tokens, usage.tokens);
      now.bytes = Math.max(now.bytes, usage.bytes);
      if (usage.costMicroUsd !== undefined)
        now.costMicroUsd = Math.max(now.costMicroUsd ?? 0, usage.costMicroUsd);
      if (stopped !== undefined) entry.stopped ??= stopped;
    }
  }

  /** Forgets every task `isActive` no longer vouches for. Returns how many were dropped. */
  sweep(isActive: (task: TaskIdentity) => boolean): number {
    let dropped = 0;
    for (const [uid, entry] of this.#entries) {
      if (isActive(entry.task)) continue;
      this.#entries.delete(uid);
      dropped++;
    }
    return dropped;
  }
}

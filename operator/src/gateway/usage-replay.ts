/**
 * What each task has already spent at the gateway, and whether screening stopped its run, read back from
 * the sealed audit log: the ledger lives in memory, and without this an operator restart would hand every
 * running task a fresh budget. Pure: the caller feeds it the log's events in order.
 *
 * A forwarded call (`model.call`, verdict `allowed`) counts as the ledger counts it: one call, its request
 * and response bytes, its prompt and completion tokens as recorded, its cost. A refused call reached no
 * model and counts nothing. A `screening.flagged` event with action `stopped` stops the task's run again.
 */
import type { Usage } from './budgets.ts';
import { stopMessage } from './screening.ts';
import type { TaskIdentity } from './tokens.ts';

/** One task's spending as the log records it. */
export interface RecordedSpending {
  task: TaskIdentity;
  usage: Omit<Usage, 'inFlight'>;
  /** Why screening stopped the run, when it did. */
  stopped?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

function taskOf(event: Record<string, unknown>): TaskIdentity | undefined {
  const task = event.task;
  if (!isObject(task)) return undefined;
  const { namespace, name, uid } = task;
  if (typeof namespace !== 'string' || typeof name !== 'string' || typeof uid !== 'string' || !uid)
    return undefined;
  return { namespace, name, uid };
}

export class UsageReplay {
  readonly #byUid = new Map<string, RecordedSpending>();

  /** Takes one audit event (its JSON body); events that say nothing about spending are skipped. */
  add(event: Record<string, unknown>): void {
    const task = taskOf(event);
    if (!task) return;
    if (event.type === 'model.call' && event.verdict === 'allowed') {
      const usage = this.#spending(task).usage;
      usage.modelCalls++;
      usage.tokens += count(event.promptTokens) + count(event.completionTokens);
      usage.bytes += count(event.requestBytes) + count(event.responseBytes);
      const cost = count(event.costMicroUsd);
      if (cost > 0) usage.costMicroUsd = (usage.costMicroUsd ?? 0) + cost;
    } else if (event.type === 'screening.flagged' && event.action === 'stopped') {
      const reasons = Array.isArray(event.reasons) ? event.reasons.map(String) : [];
      this.#spending(task).stopped = stopMessage({
        where: 'tool_output',
        score: count(event.score),
        reasons,
        digest: typeof event.digest === 'string' ? event.digest : '',
      });
    }
  }

  spending(): RecordedSpending[] {
    return [...this.#byUid.values()];
  }

  #spending(task: TaskIdentity): RecordedSpending {
    let entry = this.#byUid.get(task.uid);
    if (!entry) {
      entry = { task, usage: { modelCalls: 0, tokens: 0, bytes: 0 } };
      this.#byUid.set(task.uid, entry);
    }
    return entry;
  }
}

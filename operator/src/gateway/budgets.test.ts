import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkBudget, UsageLedger } from './budgets.ts';

const budget = { modelCalls: 2, tokens: 50, bytes: 1000 };
const task = (i: number) => ({ namespace: 'team-a', name: `t-${i}`, uid: `uid-${i}` });

describe('UsageLedger', () => {
  test('reserve counts the call and its request bytes; settle adds tokens and response bytes', () => {
    const ledger = new UsageLedger();
    const entry = ledger.open(task(1), budget);
    ledger.reserve(entry, 100);
    assert.deepEqual(entry.usage, { modelCalls: 1, tokens: 0, bytes: 100, inFlight: 1 });
    ledger.settle(entry, { tokens: 30, responseBytes: 200 });
    assert.deepEqual(entry.usage, { modelCalls: 1, tokens: 30, bytes: 300, inFlight: 0 });
    assert.equal(ledger.open(task(1), budget), entry, 'the same task keeps its entry');
  });

  test('a call that overruns finishes; the next is refused', () => {
    const ledger = new UsageLedger();
    const entry = ledger.open(task(1), budget);
    assert.equal(checkBudget(budget, entry.usage, 10), undefined);
    ledger.reserve(entry, 10);
    ledger.settle(entry, { tokens: 80, responseBytes: 10 });
    assert.match(checkBudget(budget, entry.usage, 10)?.message ?? '', /token budget exhausted: 80 of 50/);
  });

  test('concurrent calls cannot both take the last call: reservation happens before forwarding', () => {
    const ledger = new UsageLedger();
    const entry = ledger.open(task(1), budget);
    ledger.reserve(entry, 1);
    ledger.reserve(entry, 1);
    assert.match(checkBudget(budget, entry.usage, 1)?.message ?? '', /2 of 2 calls/);
  });

  test('sweep forgets finished tasks, so the map does not grow without bound', () => {
    const ledger = new UsageLedger();
    const finished = new Set<string>();
    for (let round = 0; round < 50; round++) {
      for (let i = round * 100; i < round * 100 + 100; i++) ledger.open(task(i), budget);
      for (let i = round * 100; i < round * 100 + 100; i++) finished.add(`uid-${i}`);
      ledger.sweep((t) => !finished.has(t.uid));
      assert.equal(ledger.size, 0, `round ${round}`);
    }
    ledger.open(task(1_000_001), budget);
    assert.equal(
      ledger.sweep((t) => t.uid === 'uid-1000001'),
      0,
    );
    assert.equal(ledger.size, 1, 'an active task is kept');
  });

  test('remembers at most maxScreenedPerTask digests, dropping the oldest', () => {
    const ledger = new UsageLedger({ maxScreenedPerTask: 3 });
    const entry = ledger.open(task(1), budget);
    for (const d of ['a', 'b', 'c', 'd']) ledger.rememberScreened(entry, d);
    assert.deepEqual([...entry.screened], ['b', 'c', 'd']);
    ledger.rememberScreened(entry, 'b');
    ledger.rememberScreened(entry, 'e');
    assert.deepEqual([...entry.screened], ['d', 'b', 'e']);
  });
});

describe('UsageLedger.restore: what the audit log says was spent', () => {
  const spent = (calls: number, tokens: number, bytes: number, extra = {}) => ({
    task: task(1),
    usage: { modelCalls: calls, tokens, bytes },
    ...extra,
  });

  test('a task spent before a restart starts from that, and its budget still binds', () => {
    const ledger = new UsageLedger();
    ledger.restore([spent(2, 40, 500)]);
    const entry = ledger.open(task(1), budget);
    assert.deepEqual(entry.usage, { modelCalls: 2, tokens: 40, bytes: 500, inFlight: 0 });
    assert.equal(entry.budget, budget, 'the budget comes from the token of the call at hand');
    assert.match(checkBudget(budget, entry.usage, 1)?.message ?? '', /2 of 2 calls/);
  });

  test('each count is the larger of memory and log: replaying twice changes nothing, unlogged calls stay', () => {
    const ledger = new UsageLedger();
    const entry = ledger.open(task(1), budget);
    ledger.reserve(entry, 700);
    ledger.restore([spent(1, 10, 100)]);
    ledger.restore([spent(1, 10, 100)]);
    assert.deepEqual(entry.usage, { modelCalls: 1, tokens: 10, bytes: 700, inFlight: 1 });
  });

  test('a run screening stopped stays stopped; restored tasks that are no longer active are swept', () => {
    const ledger = new UsageLedger();
    ledger.restore([
      spent(1, 1, 1, { stopped: 'tool output flagged' }),
      { ...spent(0, 0, 0), task: task(2) },
    ]);
    assert.equal(ledger.get('uid-1')?.stopped, 'tool output flagged');
    assert.equal(
      ledger.sweep((t) => t.uid === 'uid-1'),
      1,
    );
    assert.equal(ledger.size, 1);
  });
});

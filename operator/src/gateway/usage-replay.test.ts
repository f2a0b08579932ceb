import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageReplay } from './usage-replay.ts';

const task = { namespace: 'team-a', name: 'summarise', uid: 'uid-1' };
const call = (fields: Record<string, unknown>) => ({
  type: 'model.call',
  task,
  model: 'm',
  endpoint: '/api/chat',
  ...fields,
});

test('forwarded calls count as the ledger counts them; refused calls and other events count nothing', () => {
  const cases: { name: string; events: Record<string, unknown>[]; usage?: object; stopped?: RegExp }[] = [
    {
      name: 'one forwarded call',
      events: [
        call({
          verdict: 'allowed',
          promptTokens: 10,
          completionTokens: 5,
          requestBytes: 100,
          responseBytes: 40,
        }),
      ],
      usage: { modelCalls: 1, tokens: 15, bytes: 140 },
    },
    {
      name: 'a forwarded call that failed upstream still counts',
      events: [call({ verdict: 'allowed', code: 'upstream_error', status: 502, requestBytes: 100 })],
      usage: { modelCalls: 1, tokens: 0, bytes: 100 },
    },
    {
      name: 'refused calls reached no model',
      events: [call({ verdict: 'refused', code: 'budget_exceeded', requestBytes: 100 })],
    },
    {
      name: 'cloud cost adds up',
      events: [call({ verdict: 'allowed', costMicroUsd: 7 }), call({ verdict: 'allowed', costMicroUsd: 5 })],
      usage: { modelCalls: 2, tokens: 0, bytes: 0, costMicroUsd: 12 },
    },
    {
      name: 'a stopped run',
      events: [
        {
          type: 'screening.flagged',
          task,
          where: 'tool_output',
          score: 0.97,
          reasons: ['instruction override'],
          digest: 'sha256:ab',
          action: 'stopped',
        },
      ],
      usage: { modelCalls: 0, tokens: 0, bytes: 0 },
      stopped: /score 0\.97\): instruction override; the run is stopped \(sha256:ab\)/,
    },
    {
      name: 'a flagged output that was allowed stops nothing',
      events: [{ type: 'screening.flagged', task, score: 0.9, reasons: ['x'], action: 'allowed' }],
    },
    {
      name: 'events without a task uid, and other kinds, are skipped',
      events: [
        call({ verdict: 'allowed', task: { namespace: 'a', name: 'b' } }),
        { type: 'task.admitted', task, verdict: 'allowed' },
        { type: 'model.call', verdict: 'allowed' },
      ],
    },
    {
      name: 'nonsense numbers count as zero',
      events: [
        call({ verdict: 'allowed', promptTokens: -5, completionTokens: 'many', requestBytes: Number.NaN }),
      ],
      usage: { modelCalls: 1, tokens: 0, bytes: 0 },
    },
  ];
  for (const c of cases) {
    const replay = new UsageReplay();
    for (const e of c.events) replay.add(e);
    const [spent, ...more] = replay.spending();
    assert.equal(more.length, 0, c.name);
    if (!c.usage) {
      assert.equal(spent, undefined, c.name);
      continue;
    }
    assert.deepEqual(spent?.task, task, c.name);
    assert.deepEqual(spent?.usage, c.usage, c.name);
    if (c.stopped) assert.match(spent?.stopped ?? '', c.stopped, c.name);
    else assert.equal(spent?.stopped, undefined, c.name);
  }
});

test('each task is counted on its own', () => {
  const replay = new UsageReplay();
  const other = { ...task, name: 'other', uid: 'uid-2' };
  replay.add(call({ verdict: 'allowed', requestBytes: 1 }));
  replay.add({ ...call({ verdict: 'allowed', requestBytes: 2 }), task: other });
  replay.add(call({ verdict: 'allowed', requestBytes: 4 }));
  assert.deepEqual(
    replay.spending().map((s) => [s.task.uid, s.usage.modelCalls, s.usage.bytes]),
    [
      ['uid-1', 2, 5],
      ['uid-2', 1, 2],
    ],
  );
});

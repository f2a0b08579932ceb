import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { REASON_TEXT } from '../../api/reasons.ts';
import type { AgentTask } from '../../api/types.ts';
import { conditionView, isTerminal, toTaskDetail, toTaskSummary } from './task-view.ts';
import { taskFixture } from './testkit.ts';

const SHA = 'd'.repeat(64);

function finishedTask(): AgentTask {
  const t = taskFixture('report', {
    tools: ['fs.read'],
    inputs: [{ path: 'notes/a.md', content: 'secret notes' }],
  });
  t.metadata.creationTimestamp = new Date('2030-01-01T10:00:00Z');
  t.metadata.generation = 1;
  t.status = {
    phase: 'Succeeded',
    observedGeneration: 1,
    risk: { level: 'low', reasons: [] },
    podName: 'report-agent',
    startTime: '2030-01-01T10:00:05Z',
    completionTime: '2030-01-01T10:01:00Z',
    result: { summary: 'All done.', sha256: SHA, bytes: 9 },
    conditions: [
      {
        type: 'SandboxCreated',
        status: 'True',
        reason: 'PodCreated',
        message: 'created',
        lastTransitionTime: '2030-01-01T10:00:01Z',
      },
      {
        type: 'Complete',
        status: 'True',
        reason: 'Succeeded',
        message: '',
        lastTransitionTime: '2030-01-01T10:01:00Z',
      },
    ],
  };
  return t;
}

describe('task views', () => {
  test('a list row: phase, the risk as rated, age, approval', () => {
    const t = finishedTask();
    t.status!.approvalRef = { name: 'report-abc' };
    assert.deepEqual(toTaskSummary(t), {
      key: 'team-a/report',
      namespace: 'team-a',
      name: 'report',
      uid: 'uid-report',
      phase: 'Succeeded',
      risk: 'low',
      createdAt: '2030-01-01T10:00:00.000Z',
      approvalName: 'report-abc',
    });
  });

  test('risk is unknown until the operator rated it; no phase before it wrote one', () => {
    const t = taskFixture('fresh');
    t.status = undefined;
    const row = toTaskSummary(t);
    assert.equal(row.risk, 'unknown');
    assert.equal('phase' in row, false);
  });

  test('the detail: spec summary without input contents, result with digest and size, conditions with meanings', () => {
    const d = toTaskDetail(finishedTask());
    assert.deepEqual(d.spec.inputs, ['notes/a.md']);
    assert.equal(JSON.stringify(d).includes('secret notes'), false, 'input contents are not shown');
    assert.deepEqual(d.status.result, { summary: 'All done.', sha256: SHA, bytes: 9 });
    assert.deepEqual(
      d.status.conditions.map((c) => [c.type, c.reason, c.meaning]),
      [
        ['SandboxCreated', 'PodCreated', REASON_TEXT.PodCreated],
        ['Complete', 'Succeeded', REASON_TEXT.Succeeded],
      ],
    );
    assert.equal(d.status.podName, 'report-agent');
    assert.equal(d.status.completionTime, '2030-01-01T10:01:00.000Z');
    assert.equal(d.spec.budget.modelCalls, 24);
    assert.equal(d.spec.invalid, undefined);
  });

  const conditionCases: Array<[string, Parameters<typeof conditionView>[0], string | undefined]> = [
    [
      'an operator reason',
      {
        type: 'Blocked',
        status: 'True',
        reason: 'AuditUnavailable',
        message: 'x',
        lastTransitionTime: '2030-01-01T00:00:00Z',
      },
      REASON_TEXT.AuditUnavailable,
    ],
    [
      'a runner reason',
      {
        type: 'Failed',
        status: 'True',
        reason: 'BudgetExceeded',
        message: 'x',
        lastTransitionTime: '2030-01-01T00:00:00Z',
      },
      REASON_TEXT.BudgetExceeded,
    ],
    [
      'a reason nobody defined',
      {
        type: 'Failed',
        status: 'True',
        reason: 'SomethingNew',
        message: 'x',
        lastTransitionTime: '2030-01-01T00:00:00Z',
      },
      undefined,
    ],
    [
      'an inherited key is no meaning',
      {
        type: 'Failed',
        status: 'True',
        reason: 'toString',
        message: 'x',
        lastTransitionTime: '2030-01-01T00:00:00Z',
      },
      undefined,
    ],
  ];
  for (const [name, c, meaning] of conditionCases) {
    test(`condition meaning: ${name}`, () => assert.equal(conditionView(c).meaning, meaning));
  }

  test('a stored spec that does not validate is shown best-effort, and flagged', () => {
    const t = finishedTask();
    (t.spec as { model: string }).model = '';
    const d = toTaskDetail(t);
    assert.match(d.spec.invalid ?? '', /model/);
  });

  test('terminal phases', () => {
    for (const p of ['Succeeded', 'Failed', 'TimedOut', 'Denied', 'Expired'])
      assert.equal(isTerminal(p), true, p);
    for (const p of ['Pending', 'AwaitingApproval', 'Running', undefined])
      assert.equal(isTerminal(p), false, String(p));
  });
});

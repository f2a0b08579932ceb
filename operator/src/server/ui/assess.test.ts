/** assessApproval / effectiveExpiry: when a human may decide, judged from the task as it is now. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentTask, Approval } from '../../api/types.ts';
import { specDigest } from '../../policy/digest.ts';
import { assessApproval, type BlockerCode, effectiveExpiry, recordedRiskIfDifferent } from './assess.ts';
import { approvalFixture, taskFixture } from './testkit.ts';

const TTL = 1800;
const created = new Date('2030-01-01T00:00:00.000Z');
const at = (seconds: number) => new Date(created.getTime() + seconds * 1000);

function pair(spec: Partial<Approval['spec']> = {}, status?: Approval['status']) {
  const task = taskFixture('t');
  const approval = approvalFixture(task, {
    spec: { expiresAt: at(TTL).toISOString(), ...spec },
    metadata: { creationTimestamp: created },
    ...(status ? { status } : {}),
  });
  return { task, approval };
}

describe('effectiveExpiry = min(spec.expiresAt, creation + TTL)', () => {
  const cases: Array<[string, Partial<Approval['metadata']>, string, string | undefined]> = [
    ['spec earlier than the cap', {}, at(60).toISOString(), at(60).toISOString()],
    ['spec later than the cap', {}, at(10 * TTL).toISOString(), at(TTL).toISOString()],
    [
      'creationTimestamp as a string (JSON)',
      { creationTimestamp: created.toISOString() as never },
      at(99_999).toISOString(),
      at(TTL).toISOString(),
    ],
    ['no creationTimestamp', { creationTimestamp: undefined }, at(60).toISOString(), undefined],
    ['garbage expiresAt', {}, 'not a time', undefined],
  ];
  for (const [name, metadata, expiresAt, expected] of cases) {
    test(name, () => {
      const { approval } = pair({ expiresAt });
      approval.metadata = { ...approval.metadata, ...metadata };
      assert.equal(effectiveExpiry(approval, TTL)?.toISOString(), expected);
    });
  }
});

describe('assessApproval', () => {
  type Arrange = (x: { task: AgentTask; approval: Approval }) => {
    task: AgentTask | undefined;
    approval: Approval;
  };
  const same: Arrange = (x) => x;
  const cases: Array<[string, Arrange, number, BlockerCode | undefined, RegExp?]> = [
    ['pending, own task, same digest, in time', same, 60, undefined],
    [
      'already decided',
      ({ task, approval }) => ({
        task,
        approval: {
          ...approval,
          spec: { ...approval.spec, decision: { verdict: 'Approved', decidedBy: 'bob' } },
        },
      }),
      60,
      'decided',
      /already decided: Approved by bob/,
    ],
    [
      'not pending',
      ({ task, approval }) => ({ task, approval: { ...approval, status: { state: 'Superseded' } } }),
      60,
      'not-pending',
      /is Superseded/,
    ],
    ['expired by spec.expiresAt', same, TTL, 'expired', /expired at 2030-01-01T00:30:00.000Z/],
    [
      'expired by the TTL cap although spec.expiresAt is far away',
      ({ task, approval }) => ({
        task,
        approval: { ...approval, spec: { ...approval.spec, expiresAt: at(86400).toISOString() } },
      }),
      TTL + 1,
      'expired',
    ],
    [
      'no creationTimestamp: expiry cannot be enforced',
      ({ task, approval }) => ({
        task,
        approval: { ...approval, metadata: { ...approval.metadata, creationTimestamp: undefined } },
      }),
      60,
      'bad-expiry',
    ],
    [
      'task missing',
      ({ approval }) => ({ task: undefined, approval }),
      60,
      'task-unreadable',
      /task t cannot be read/,
    ],
    [
      're-created task (other uid)',
      ({ approval }) => ({ task: taskFixture('t', {}, 'uid-new'), approval }),
      60,
      'task-mismatch',
      /not made for the current task t/,
    ],
    [
      'approval not owned by the task',
      ({ task, approval }) => ({
        task,
        approval: { ...approval, metadata: { ...approval.metadata, ownerReferences: undefined } },
      }),
      60,
      'task-mismatch',
      /owner none/,
    ],
    [
      'task with an invalid spec',
      ({ task, approval }) => ({ task: { ...task, spec: { ...task.spec, timeoutSeconds: -5 } }, approval }),
      60,
      'task-invalid',
    ],
    [
      'task edited after the request',
      ({ task, approval }) => ({ task: { ...task, spec: { ...task.spec, prompt: 'rm -rf /' } }, approval }),
      60,
      'task-changed',
      /changed after approval .* requests a new approval/,
    ],
  ];
  for (const [name, arrange, seconds, code, message] of cases) {
    test(name, () => {
      const { task, approval } = arrange(pair());
      const result = assessApproval(approval, task, { now: at(seconds), ttlSeconds: TTL });
      assert.equal(result.decidable, code === undefined);
      assert.equal(result.blocker?.code, code);
      if (message) assert.match(result.blocker?.message ?? '', message);
    });
  }

  test('what a decidable assessment carries: the current digest and the risk recomputed from the task', () => {
    const { task, approval } = pair({ risk: { level: 'low', reasons: ['forged'] } });
    const result = assessApproval(approval, task, { now: at(1), ttlSeconds: TTL });
    assert.equal(result.decidable, true);
    assert.equal(result.task?.digest, specDigest(task.spec));
    assert.equal(result.task?.risk.level, 'critical');
    assert.equal(result.expiresAt, at(TTL).toISOString());
  });

  test('taskProblem explains why the task is missing', () => {
    const { approval } = pair();
    const result = assessApproval(approval, undefined, {
      now: at(1),
      ttlSeconds: TTL,
      taskProblem: 'Forbidden: you may not get agenttasks',
    });
    assert.match(result.blocker?.message ?? '', /cannot be read: Forbidden: you may not get agenttasks/);
  });
});

describe('recordedRiskIfDifferent', () => {
  const recomputed = { level: 'critical' as const, reasons: ['a', 'b'] };
  const cases: Array<[string, Approval['spec']['risk'], boolean]> = [
    ['same', { level: 'critical', reasons: ['a', 'b'] }, false],
    ['subset of reasons', { level: 'critical', reasons: ['a'] }, false],
    ['lower level claimed', { level: 'low', reasons: ['a'] }, true],
    ['extra reason (e.g. screening)', { level: 'critical', reasons: ['a', 'screening: injection'] }, true],
  ];
  for (const [name, risk, shown] of cases) {
    test(name, () => {
      const { approval } = pair({ risk });
      assert.equal(recordedRiskIfDifferent(approval, recomputed) !== undefined, shown);
    });
  }
  test('without a recomputed risk the record is always shown (labelled)', () => {
    assert.ok(recordedRiskIfDifferent(pair().approval, undefined));
  });
});

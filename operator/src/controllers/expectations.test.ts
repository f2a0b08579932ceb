import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Expectations } from './expectations.ts';
import { auditOnce, type TaskAudit } from './task-audit.ts';

test('an expectation holds until observed or expired, and expired entries are dropped', () => {
  let now = 0;
  const e = new Expectations<string>(1000, () => now);
  e.expect('a', 'A');
  e.expect('b', 'B');
  assert.equal(e.get('a'), 'A');
  e.observed('a');
  assert.equal(e.has('a'), false);
  now = 999;
  assert.deepEqual(e.values(), ['B']);
  now = 1000;
  assert.deepEqual(e.values(), []);
  assert.equal(e.size, 0, 'nothing left behind');
});

function recorder() {
  const calls: string[] = [];
  const audit: TaskAudit = {
    admitted: (t) => void calls.push(`admitted ${t.metadata.uid}`),
    screened: (t, f) => void calls.push(`screened ${t.metadata.uid} ${f.where}`),
    riskRated: (t, r) => void calls.push(`risk ${t.metadata.uid} ${r.level}`),
    approvalRequested: (_t, a) => void calls.push(`requested ${a.metadata.name}`),
    approvalDecided: (_t, a, s) => void calls.push(`decided ${a.metadata.name} ${s}`),
    podCreated: (_t, p) => void calls.push(`pod ${p}`),
    finished: (t, phase) => void calls.push(`finished ${t.metadata.uid} ${phase}`),
    deleted: (r) => void calls.push(`deleted ${r.uid}`),
  };
  return { calls, audit };
}

const task = (uid: string) =>
  ({ metadata: { uid, name: 't', namespace: 'n' } }) as Parameters<TaskAudit['admitted']>[0];

test('each fact is audited once per task, however often a reconcile is retried', () => {
  const { calls, audit } = recorder();
  const once = auditOnce(audit);
  for (let i = 0; i < 3; i++) {
    once.admitted(task('u1'));
    once.riskRated(task('u1'), { level: 'low', reasons: [] });
    once.podCreated(task('u1'), 't-agent');
  }
  once.riskRated(task('u1'), { level: 'critical', reasons: ['shell'] }); // a new fact: the risk changed
  once.admitted(task('u2')); // another task (re-created under the same name)
  once.deleted({ namespace: 'n', name: 't', uid: 'u1' });
  once.deleted({ namespace: 'n', name: 't', uid: 'u1' });
  assert.deepEqual(calls, [
    'admitted u1',
    'risk u1 low',
    'pod t-agent',
    'risk u1 critical',
    'admitted u2',
    'deleted u1',
  ]);
});

test('the memory of facts is bounded', () => {
  const { audit } = recorder();
  const once = auditOnce(audit, 100);
  for (let i = 0; i < 1000; i++) once.admitted(task(`u${i}`));
  assert.ok(once.size() <= 100);
});

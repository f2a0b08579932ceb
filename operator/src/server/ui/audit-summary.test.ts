import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeAuditEvent } from './audit-summary.ts';

const task = { namespace: 'team-a', name: 'job', uid: 'u1' };
const operator = { kind: 'system', name: 'closedpaw-operator' };
const digest = `sha256:${'c'.repeat(64)}`;

const cases: Array<[unknown, string]> = [
  [
    { type: 'task.admitted', actor: operator, task, runtimeClass: 'gvisor' },
    'admitted by closedpaw-operator (runtime gvisor)',
  ],
  [
    {
      type: 'task.risk_rated',
      task,
      level: 'critical',
      reasons: ['tool shell requested', 'approval: required'],
    },
    'risk rated critical: tool shell requested; approval: required',
  ],
  [{ type: 'task.risk_rated', task, level: 'low', reasons: [] }, 'risk rated low'],
  [
    {
      type: 'screening.flagged',
      task,
      where: 'tool_output',
      score: 0.93,
      reasons: ['ignore previous'],
      action: 'stopped',
    },
    'screening flagged the tool output (score 0.93), stopped: ignore previous',
  ],
  [
    {
      type: 'approval.requested',
      task,
      approvalId: 'team-a/job-1',
      requestedBy: operator,
      expiresAt: '2030-01-01T00:00:00.000Z',
    },
    'approval team-a/job-1 requested by closedpaw-operator, expires 2030-01-01T00:00:00.000Z',
  ],
  [
    {
      type: 'approval.decided',
      task,
      approvalId: 'team-a/job-1',
      decidedBy: { kind: 'user', name: 'alice' },
      decision: 'approved',
      comment: 'fine',
    },
    'approved by alice (team-a/job-1): fine',
  ],
  [
    { type: 'approval.expired', task, approvalId: 'a', requestedBy: operator },
    'approval a expired without a decision (a denial)',
  ],
  [{ type: 'pod.created', task, pod: { namespace: 'team-a', name: 'job-agent' } }, 'pod job-agent created'],
  [
    {
      type: 'pod.finished',
      task,
      pod: { namespace: 'team-a', name: 'job-agent' },
      phase: 'Failed',
      exitCode: 3,
      reason: 'Failed: BudgetExceeded',
    },
    'pod job-agent finished: Failed, exit 3 (Failed: BudgetExceeded)',
  ],
  [{ type: 'task.result_recorded', task, digest, sizeBytes: 17 }, `result recorded: ${digest}, 17 bytes`],
  [{ type: 'task.deleted', task }, 'task deleted; its sandbox was torn down'],
  [
    {
      type: 'model.call',
      task,
      model: 'smollm2:135m',
      endpoint: '/api/chat',
      verdict: 'allowed',
      status: 200,
      promptTokens: 100,
      completionTokens: 20,
      ms: 812.4,
    },
    'model call allowed: /api/chat smollm2:135m, 100+20 tokens, 812 ms',
  ],
  [
    {
      type: 'model.call',
      task,
      model: 'm',
      endpoint: '/api/chat',
      verdict: 'refused',
      code: 'budget_exceeded',
    },
    'model call refused (budget_exceeded): /api/chat m',
  ],
  // Not in the catalogue, or missing fields: the type only, said so.
  [{ type: 'task.admitted', task }, 'task.admitted (fields not recognised)'],
  [{ type: 'something.else', task }, 'something.else (fields not recognised)'],
  [{ task }, 'unrecognised event'],
  [null, 'unrecognised event'],
];

for (const [event, expected] of cases) {
  test(`describeAuditEvent: ${expected}`, () => assert.equal(describeAuditEvent(event), expected));
}

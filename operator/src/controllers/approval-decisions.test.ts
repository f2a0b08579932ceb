/** The Approval state machine as a critical task sees it, state by state. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentTaskSpecSchema } from '../api/agenttask.ts';
import type { ApprovalSpec, ApprovalStatus } from '../api/approval.ts';
import type { AgentTask, Approval } from '../api/types.ts';
import { type ApprovalObservation, approvalName, deadlineOf, decideApproval } from './approval-decisions.ts';

const NOW = new Date('2026-12-01T12:00:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const TTL = 1800;
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

function task(generation = 1, status: AgentTask['status'] = {}): AgentTask {
  return {
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'AgentTask',
    metadata: { name: 't', namespace: 'ns', uid: 'uid-1', generation },
    spec: agentTaskSpecSchema.parse({ prompt: 'p', model: 'm', tools: ['shell'] }),
    status,
  };
}

function approval(
  over: {
    name?: string;
    digest?: string;
    owner?: string;
    status?: ApprovalStatus;
    created?: string;
  } & Partial<ApprovalSpec> = {},
): Approval {
  const { name = 'a1', digest = A, owner = 'uid-1', status, created = at(-60_000), ...spec } = over;
  return {
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'Approval',
    metadata: {
      name,
      namespace: 'ns',
      creationTimestamp: created as unknown as Date,
      resourceVersion: '7',
      ownerReferences: [
        { apiVersion: 'closedpaw.dev/v1alpha1', kind: 'AgentTask', name: 't', uid: owner, controller: true },
      ],
    },
    spec: {
      taskRef: { name: 't', uid: owner },
      taskDigest: digest,
      risk: { level: 'critical', reasons: ['shell'] },
      expiresAt: at(30 * 60_000),
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

function observe(over: Partial<ApprovalObservation> = {}): ApprovalObservation {
  return {
    task: task(),
    digest: A,
    approvers: undefined,
    approvals: [],
    recorded: undefined,
    ttlSeconds: TTL,
    now: NOW,
    ...over,
  };
}

const decided = (verdict: 'Approved' | 'Denied') => ({
  decision: { verdict, decidedBy: 'alice', reason: 'ok' },
});

type Row = [
  string,
  Partial<ApprovalObservation>,
  { next: string; verdict: string; supersede?: number; state?: string },
];

const rows: Row[] = [
  ['nothing yet: request', {}, { next: 'request', verdict: '-' }],
  [
    'created, no status yet: mark Pending',
    { approvals: [approval()] },
    { next: 'markPending', verdict: 'pending' },
  ],
  [
    'pending, no decision: wait',
    { approvals: [approval({ status: { state: 'Pending' } })] },
    { next: 'none', verdict: 'pending' },
  ],
  [
    'a decision before the deadline: settle Approved',
    { approvals: [approval({ status: { state: 'Pending' }, ...decided('Approved') })] },
    { next: 'settle', verdict: 'approved', state: 'Approved' },
  ],
  [
    'a denial: settle Denied',
    { approvals: [approval({ status: { state: 'Pending' }, ...decided('Denied') })] },
    { next: 'settle', verdict: 'denied', state: 'Denied' },
  ],
  [
    'silence past expiresAt: settle Expired (a denial)',
    { approvals: [approval({ status: { state: 'Pending' }, expiresAt: at(-1) })] },
    { next: 'settle', verdict: 'denied', state: 'Expired' },
  ],
  [
    'a decision seen only after the deadline does not count',
    { approvals: [approval({ status: { state: 'Pending' }, expiresAt: at(-1), ...decided('Approved') })] },
    { next: 'settle', verdict: 'denied', state: 'Expired' },
  ],
  [
    'a planted year-9999 expiry is capped at creation + TTL',
    {
      approvals: [
        approval({
          status: { state: 'Pending' },
          expiresAt: '9999-12-31T00:00:00Z',
          created: at(-(TTL + 1) * 1000),
        }),
      ],
    },
    { next: 'settle', verdict: 'denied', state: 'Expired' },
  ],
  [
    'already Approved: approved',
    { approvals: [approval({ status: { state: 'Approved', decidedBy: 'alice' } })] },
    { next: 'none', verdict: 'approved' },
  ],
  [
    'already Expired stays a denial',
    { approvals: [approval({ status: { state: 'Expired' } })] },
    { next: 'none', verdict: 'denied' },
  ],
  [
    'an Approval somebody else owns does not count (and is not superseded by us)',
    { approvals: [approval({ owner: 'uid-other', status: { state: 'Approved', decidedBy: 'mallory' } })] },
    { next: 'request', verdict: '-', supersede: 0 },
  ],
  [
    'spec changed: the old one is superseded, a new one requested',
    { digest: B, approvals: [approval({ status: { state: 'Pending' } })] },
    { next: 'request', verdict: '-', supersede: 1 },
  ],
  [
    'an approved old spec is superseded too',
    { digest: B, approvals: [approval({ status: { state: 'Approved', decidedBy: 'a' } })] },
    { next: 'request', verdict: '-', supersede: 1 },
  ],
  [
    'A→B→A: the superseded A approval is not reused; a fresh one is requested',
    {
      task: task(3),
      digest: A,
      approvals: [
        approval({ status: { state: 'Superseded' } }),
        approval({ name: 'b', digest: B, status: { state: 'Pending' } }),
      ],
    },
    { next: 'request', verdict: '-', supersede: 1 },
  ],
  [
    'approver settings changed across a restart: superseded, a new one requested',
    {
      approvers: { users: ['bob'] },
      approvals: [approval({ status: { state: 'Pending' }, approvers: { users: ['alice'] } })],
    },
    { next: 'request', verdict: '-', supersede: 1 },
  ],
  [
    'the Approval was deleted after the recorded deadline: expired, nothing requested',
    { recorded: { name: 'a1', digest: A, expiresAt: at(-1) } },
    { next: 'none', verdict: 'denied' },
  ],
];

describe('decideApproval', () => {
  for (const [name, over, expected] of rows) {
    test(name, () => {
      const d = decideApproval(observe(over));
      assert.equal(d.next, expected.next);
      const verdict = 'verdict' in d ? d.verdict.verdict : '-';
      assert.equal(verdict, expected.verdict);
      if (expected.supersede !== undefined) assert.equal(d.supersede.length, expected.supersede);
      if (expected.state) assert.equal(d.next === 'settle' ? d.settle.status.state : '-', expected.state);
    });
  }

  test('a deleted Approval is asked again with the deadline the task recorded, not a fresh TTL', () => {
    const d = decideApproval(observe({ recorded: { name: 'a1', digest: A, expiresAt: at(60_000) } }));
    assert.equal(d.next, 'request');
    assert.equal(d.next === 'request' ? d.expiresAt : '', at(60_000));
  });

  test('a recorded deadline for another digest does not apply', () => {
    const d = decideApproval(
      observe({ digest: B, recorded: { name: 'a1', digest: A, expiresAt: at(60_000) } }),
    );
    assert.equal(d.next === 'request' ? d.expiresAt : '', at(TTL * 1000));
  });

  test('names are deterministic per uid, generation, digest and approvers, and differ when any changes', () => {
    const base = approvalName(task(1), A, undefined);
    assert.equal(approvalName(task(1), A, undefined), base);
    assert.notEqual(approvalName(task(2), A, undefined), base);
    assert.notEqual(approvalName(task(1), B, undefined), base);
    assert.notEqual(approvalName(task(1), A, { users: ['x'] }), base);
    assert.match(base, /^t-[a-f0-9]{10}$/);
  });

  test('the deadline is the earliest of expiresAt, creation + TTL and the recorded one', () => {
    const a = approval({ expiresAt: at(10_000), created: at(0) });
    assert.equal(deadlineOf(a, undefined, TTL).toISOString(), at(10_000));
    assert.equal(deadlineOf(a, { name: 'a1', expiresAt: at(5000) }, TTL).toISOString(), at(5000));
    assert.equal(deadlineOf(a, undefined, 2).toISOString(), at(2000));
  });

  test('superseding says why', () => {
    const d = decideApproval(observe({ digest: B, approvals: [approval({ status: { state: 'Pending' } })] }));
    assert.equal(d.supersede[0]?.status.state, 'Superseded');
    assert.match(d.supersede[0]?.status.reason ?? '', /task spec changed/);
  });
});

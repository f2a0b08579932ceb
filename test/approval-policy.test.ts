/**
 * Approvals cannot be forged: the API server's ValidatingAdmissionPolicies
 * (crds/approval-decision-policy.yaml: who decides; crds/approval-integrity-policy.yaml:
 * who creates and owns) and the shipped RBAC (the chart's operator role, crds/approver-role.yaml)
 * decide, with identities taken from the request (kubectl --as impersonation stands for real users).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ClusterClient } from '../operator/src/k8s/client.ts';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';
import { OPERATOR_USER, operatorKubeConfig } from './support/operator-identity.ts';

let ns = '';
const digest = `sha256:${'c'.repeat(64)}`;

function approval(name: string, extra: Record<string, unknown> = {}) {
  return stringify({
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'Approval',
    metadata: { name },
    spec: {
      taskRef: { name: 'risky', uid: '6a1f0c2e-0000-4000-8000-000000000001' },
      taskDigest: digest,
      risk: { level: 'critical', reasons: ['tool shell requested'] },
      expiresAt: '2030-01-01T00:00:00Z',
      ...extra,
    },
  });
}

const decide = (name: string, as: string[], decision: Record<string, unknown>) =>
  kubectl([
    'patch',
    'approval',
    name,
    '-n',
    ns,
    ...as,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { decision } }),
  ]);

/** The shipped approver role (crds/approver-role.yaml), bound in the test namespace. */
const approverRbac = (namespace: string) =>
  stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'approvers', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'closedpaw-approver' },
    subjects: [
      { kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'User', name: 'dave', apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'User', name: 'mallory', apiGroup: 'rbac.authorization.k8s.io' },
    ],
  });

/** The operator creates Approvals (as the chart's service account): nobody else may. */
const AS_OPERATOR = `--as=${OPERATOR_USER}`;
const create = (name: string, extra: Record<string, unknown> = {}) =>
  kubectl(['create', '-n', ns, AS_OPERATOR, '-f', '-'], approval(name, extra));

/** Policies take a moment to become effective after they are created: wait until both bite. */
async function policiesEffective(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const decided = await kubectl(
      ['create', '--dry-run=server', '-n', ns, AS_OPERATOR, '-f', '-'],
      approval('probe', { decision: { verdict: 'Approved', decidedBy: OPERATOR_USER } }),
    );
    const planted = await kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-'], approval('probe'));
    if (
      /cannot be created with spec\.decision/.test(decided.stderr) &&
      /only the ClosedPaw operator/.test(planted.stderr)
    ) {
      return;
    }
    await sleep(100);
  }
  throw new Error('the ValidatingAdmissionPolicies never became effective');
}

before(async () => {
  ns = await createTestNamespace('vap');
  await operatorKubeConfig(); // the chart's service account, RBAC and integrity policy
  assert.equal((await kubectl(['apply', '-f', '-'], approverRbac(ns))).code, 0);
  await policiesEffective();
});

after(async () => {
  await deleteNamespace(ns);
});

describe('the API server decides who may decide', () => {
  test('a user may decide in their own name', async () => {
    const made = await create('own-name');
    assert.equal(made.code, 0, made.stderr);
    const ok = await decide('own-name', ['--as=alice'], {
      verdict: 'Approved',
      decidedBy: 'alice',
      reason: 'looked at it',
    });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a decision naming someone else is rejected', async () => {
    await create('impostor');
    const bad = await decide('impostor', ['--as=alice'], { verdict: 'Approved', decidedBy: 'bob' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /denied request: spec\.decision\.decidedBy must be your own user name alice/);
  });

  test('a user outside spec.approvers is rejected; a member of an approver group is accepted', async () => {
    await create('restricted', { approvers: { users: ['carol'], groups: ['sre'] } });
    const outsider = await decide('restricted', ['--as=alice'], { verdict: 'Approved', decidedBy: 'alice' });
    assert.notEqual(outsider.code, 0);
    assert.match(outsider.stderr, /user alice is not in spec\.approvers of this Approval/);
    const member = await decide('restricted', ['--as=dave', '--as-group=sre'], {
      verdict: 'Denied',
      decidedBy: 'dave',
    });
    assert.equal(member.code, 0, member.stderr);
  });

  test('a decision cannot be changed, even by the person who made it', async () => {
    await create('final');
    assert.equal((await decide('final', ['--as=alice'], { verdict: 'Denied', decidedBy: 'alice' })).code, 0);
    const flip = await decide('final', ['--as=alice'], { verdict: 'Approved', decidedBy: 'alice' });
    assert.notEqual(flip.code, 0);
    assert.match(flip.stderr, /spec\.decision is (final once set|immutable)/);
  });

  test('an Approval cannot be created already decided, not even by the operator', async () => {
    const forged = await create('forged', { decision: { verdict: 'Approved', decidedBy: OPERATOR_USER } });
    assert.notEqual(forged.code, 0);
    assert.match(forged.stderr, /cannot be created with spec\.decision already set/);
  });

  test("an agent pod's service account has no access to approvals", async () => {
    await create('agent-target');
    const agent = `--as=system:serviceaccount:${ns}:default`;
    const patch = await decide('agent-target', [agent], {
      verdict: 'Approved',
      decidedBy: `system:serviceaccount:${ns}:default`,
    });
    assert.notEqual(patch.code, 0);
    assert.match(
      patch.stderr,
      /forbidden: User "system:serviceaccount:[^"]+:default" cannot (get|patch) resource "approvals"/,
    );
    const made = await kubectl(['create', '-n', ns, agent, '-f', '-'], approval('agent-made'));
    assert.match(made.stderr, /cannot create resource "approvals"/);
  });

  test('an approver cannot write the status the operator owns', async () => {
    const status = await kubectl([
      'patch',
      'approval',
      'agent-target',
      '-n',
      ns,
      '--as=alice',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Approved","decidedBy":"alice"}}',
    ]);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /User "alice" cannot (get|patch) resource "approvals\/status"/);
  });
});

describe('Approvals cannot be planted or re-parented', () => {
  test('a user who may create approvals (here: cluster-admin) cannot plant one with a year-9999 expiry', async () => {
    const planted = await kubectl(
      ['create', '-n', ns, '-f', '-'],
      approval('planted', { expiresAt: '9999-12-31T00:00:00Z' }),
    );
    assert.notEqual(planted.code, 0);
    assert.match(planted.stderr, /only the ClosedPaw operator creates Approvals; closedpaw-admin may not/);
  });

  test('nobody but the operator writes status, not even cluster-admin', async () => {
    await create('status-target');
    const status = await kubectl([
      'patch',
      'approval',
      'status-target',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Approved","decidedBy":"closedpaw-admin"}}',
    ]);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /only the ClosedPaw operator writes Approval status/);
    const byOperator = await kubectl([
      'patch',
      'approval',
      'status-target',
      '-n',
      ns,
      AS_OPERATOR,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"state":"Pending"}}',
    ]);
    assert.equal(byOperator.code, 0, byOperator.stderr);
  });

  test('an approver cannot move an Approval to another task by editing its ownerReferences', async () => {
    await create('owned', {});
    const reparent = await kubectl([
      'patch',
      'approval',
      'owned',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({
        metadata: {
          ownerReferences: [
            {
              apiVersion: 'closedpaw.dev/v1alpha1',
              kind: 'AgentTask',
              name: 'other',
              uid: '6a1f0c2e-0000-4000-8000-000000000002',
              controller: true,
            },
          ],
        },
      }),
    ]);
    assert.notEqual(reparent.code, 0);
    assert.match(reparent.stderr, /ownerReferences of an Approval are set by the operator/);
  });
});

describe('the operator writes Approval status on what it read, or not at all', () => {
  test('a status write based on a stale read is refused (409): a human Approved is never overwritten by Expired', async () => {
    const client = new ClusterClient(await operatorKubeConfig());
    assert.equal((await create('stale-status')).code, 0);
    const seen = await client.readApproval(ns, 'stale-status');
    const decided = await decide('stale-status', ['--as=alice'], { verdict: 'Approved', decidedBy: 'alice' });
    assert.equal(decided.code, 0, decided.stderr);
    const expired = { state: 'Expired' as const, reason: 'no decision before expiresAt' };
    await assert.rejects(client.patchApprovalStatus(seen, expired), (error: { code?: number }) => {
      assert.equal(error.code, 409, String(error));
      return true;
    });
    const now = await client.readApproval(ns, 'stale-status');
    assert.equal(now.spec.decision?.verdict, 'Approved');
    assert.equal(now.status?.state, undefined, 'the stale write changed nothing');
    const recorded = await client.patchApprovalStatus(now, { state: 'Approved', decidedBy: 'alice' });
    assert.equal(recorded.status?.state, 'Approved', 'a write on the current version is taken');
  });
});

/**
 * Approvals cannot be forged: the API server's ValidatingAdmissionPolicy
 * (crds/approval-decision-policy.yaml) and RBAC decide, with identities taken
 * from the request (kubectl --as impersonation stands for real users).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';

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

const approverRbac = (namespace: string) =>
  stringify({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'approvers', namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'test-closedpaw-approver' },
    subjects: [
      { kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' },
      { kind: 'User', name: 'dave', apiGroup: 'rbac.authorization.k8s.io' },
    ],
  });

const approverRole = stringify({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name: 'test-closedpaw-approver' },
  rules: [
    { apiGroups: ['closedpaw.dev'], resources: ['approvals'], verbs: ['get', 'list', 'watch', 'patch'] },
  ],
});

before(async () => {
  ns = await createTestNamespace('vap');
  assert.equal((await kubectl(['apply', '-f', '-'], approverRole)).code, 0);
  assert.equal((await kubectl(['apply', '-f', '-'], approverRbac(ns))).code, 0);
  // A policy takes a moment to become effective after it is created: wait until it bites.
  for (let i = 0; i < 100; i++) {
    const probe = await kubectl(
      ['create', '--dry-run=server', '-n', ns, '-f', '-'],
      approval('probe', { decision: { verdict: 'Approved', decidedBy: 'closedpaw-admin' } }),
    );
    if (probe.code !== 0 && /cannot be created with spec\.decision/.test(probe.stderr)) return;
    await sleep(100);
  }
  throw new Error('the ValidatingAdmissionPolicy never became effective');
});

after(async () => {
  await deleteNamespace(ns);
});

describe('the API server decides who may decide', () => {
  test('a user may decide in their own name', async () => {
    assert.equal((await kubectl(['apply', '-n', ns, '-f', '-'], approval('own-name'))).code, 0);
    const ok = await decide('own-name', ['--as=alice'], {
      verdict: 'Approved',
      decidedBy: 'alice',
      reason: 'looked at it',
    });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('a decision naming someone else is rejected', async () => {
    await kubectl(['apply', '-n', ns, '-f', '-'], approval('impostor'));
    const bad = await decide('impostor', ['--as=alice'], { verdict: 'Approved', decidedBy: 'bob' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /denied request: spec\.decision\.decidedBy must be your own user name alice/);
  });

  test('a user outside spec.approvers is rejected; a member of an approver group is accepted', async () => {
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      approval('restricted', { approvers: { users: ['carol'], groups: ['sre'] } }),
    );
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
    await kubectl(['apply', '-n', ns, '-f', '-'], approval('final'));
    assert.equal((await decide('final', ['--as=alice'], { verdict: 'Denied', decidedBy: 'alice' })).code, 0);
    const flip = await decide('final', ['--as=alice'], { verdict: 'Approved', decidedBy: 'alice' });
    assert.notEqual(flip.code, 0);
    assert.match(flip.stderr, /spec\.decision is (final once set|immutable)/);
  });

  test('an Approval cannot be created already decided', async () => {
    const forged = await kubectl(
      ['create', '-n', ns, '-f', '-'],
      approval('forged', { decision: { verdict: 'Approved', decidedBy: 'closedpaw-admin' } }),
    );
    assert.notEqual(forged.code, 0);
    assert.match(forged.stderr, /cannot be created with spec\.decision already set/);
  });

  test("an agent pod's service account has no access to approvals", async () => {
    await kubectl(['apply', '-n', ns, '-f', '-'], approval('agent-target'));
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
    const create = await kubectl(['create', '-n', ns, agent, '-f', '-'], approval('agent-made'));
    assert.match(create.stderr, /cannot create resource "approvals"/);
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

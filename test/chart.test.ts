/**
 * The Helm chart: lints strictly, and what it renders is accepted by the real
 * API server (the operator pod under the restricted Pod Security Standard),
 * with least-privilege RBAC: the operator may impersonate exactly the one
 * configured human, and cannot write a decision as itself.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCommand } from '../hack/cluster/processes.ts';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';

const HELM = join(import.meta.dirname, '../hack/bin/helm');
const CHART = join(import.meta.dirname, '../charts/closedpaw');
let ns = '';
let release = '';
let rendered = '';
let operatorSa = '';

before(async () => {
  ns = await createTestNamespace('chart');
  release = `cp${ns.slice(-6)}`;
  operatorSa = `system:serviceaccount:${ns}:${release}-closedpaw`;
  const template = await runCommand(HELM, [
    'template',
    release,
    CHART,
    '-n',
    ns,
    '--kube-version',
    '1.36.3',
    '--set',
    'uiApprover=alice',
    '--set',
    'uiTokenSecret=ui-token',
  ]);
  assert.equal(template.code, 0, template.stderr);
  rendered = template.stdout;
});

after(async () => {
  // The release's own cluster-scoped objects; the policy and approver role are shared with the cluster and stay.
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`]);
  await deleteNamespace(ns);
});

const canI = async (...args: string[]) =>
  (await kubectl(['auth', 'can-i', `--as=${operatorSa}`, ...args])).stdout.trim();

test('helm lint --strict passes', async () => {
  const lint = await runCommand(HELM, ['lint', '--strict', CHART]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

test('the rendered chart is accepted by the API server, the operator pod included under restricted PodSecurity', async () => {
  const apply = await kubectl(['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'], rendered);
  assert.equal(apply.code, 0, apply.stderr);
  const pod = await kubectl(
    ['create', '--dry-run=server', '-n', ns, '-o', 'name', '-f', '-'],
    podFromDeployment(rendered),
  );
  assert.equal(pod.code, 0, pod.stderr);
});

test('the operator may impersonate exactly the configured human', async () => {
  assert.equal(await canI('impersonate', 'users/alice'), 'yes');
  assert.equal(await canI('impersonate', 'users/mallory'), 'no');
  assert.equal(await canI('impersonate', 'groups/system:masters'), 'no');
});

test('the operator cannot decide as itself, nor read secrets; it can do its job', async () => {
  assert.equal(await canI('patch', 'approvals.closedpaw.dev', '-n', ns), 'no');
  assert.equal(await canI('patch', 'approvals.closedpaw.dev', '--subresource=status', '-n', ns), 'yes');
  assert.equal(await canI('get', 'secrets', '-n', ns), 'no');
  assert.equal(await canI('create', 'pods', '-n', ns), 'yes');
  assert.equal(await canI('get', 'pods', '--subresource=log', '-n', ns), 'yes');
  assert.equal(await canI('create', 'networkpolicies', '-n', ns), 'yes');
  assert.equal(await canI('update', 'leases', '-n', ns), 'yes');
  assert.equal(await canI('update', 'leases', '-n', 'kube-system'), 'no');
});

/** The Deployment's pod template as a Pod, to put it through PodSecurity admission. */
function podFromDeployment(all: string): string {
  const deployment = all.split('\n---\n').find((doc) => /\nkind: Deployment\n/.test(`\n${doc}`)) ?? '';
  const spec = deployment.slice(deployment.indexOf('  template:\n'));
  const lines = spec
    .split('\n')
    .slice(1)
    .map((line) => line.slice(4));
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: operator-probe\n${lines.join('\n').replace(/^metadata:\n(\s{2}.*\n)*/, '')}`;
}

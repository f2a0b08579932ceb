/**
 * `closedpaw approvals | approve | deny` end to end: the real bin, the user's
 * own kubeconfig identity (closedpaw-admin), the real API server and its
 * admission policy, the running operator.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { runCommand } from '../../hack/cluster/processes.ts';
import { APPROVAL, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import { runApprovalsCli } from '../../operator/src/cli/approvals.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, podExists, readApproval, runOperator, Tasks } from '../support/operator.ts';
import { ADMIN, ROOT } from './support.ts';

const kc = kubeConfig();
const _core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const BIN = join(ROOT, 'operator/bin/closedpaw');

let ns = '';
let tasks: Tasks;
let kubelet: TestKubelet;
let operator: RunningOperator | undefined;

/** The installed CLI, as a user runs it (KUBECONFIG from the environment). */
const closedpaw = (...args: string[]) => runCommand(BIN, args);

async function awaitingApproval(t: Tasks, name: string): Promise<string> {
  return (await t.waitForPhase(name, 'AwaitingApproval')).status!.approvalRef!.name;
}

before(async () => {
  ns = await createTestNamespace('cli-approvals');
  tasks = new Tasks(kc, ns);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  operator = await runOperator(kc, ns);
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
});

describe('closedpaw approvals / approve / deny', () => {
  let approved = '';

  test('approvals: a table of what waits', async () => {
    await tasks.create('cli-approve', { tools: ['shell'] });
    approved = await awaitingApproval(tasks, 'cli-approve');
    const r = await closedpaw('approvals', '-n', ns);
    assert.equal(r.code, 0, r.stderr);
    const [header, ...rows] = r.stdout.trimEnd().split('\n');
    assert.match(header!, /^NAMESPACE\s+NAME\s+TASK\s+STATE\s+RISK\s+DECIDED-BY\s+EXPIRES$/);
    const row = rows.find((l) => l.includes(approved));
    assert.ok(row, r.stdout);
    assert.match(
      row!,
      new RegExp(`^${ns}\\s+${approved}\\s+cli-approve\\s+Pending\\s+critical\\s+-\\s+in \\d+m$`),
    );
  });

  test('approve → the pod is created, decided by the kubeconfig user (no impersonation)', async () => {
    const r = await closedpaw('approve', approved, '-n', ns, '--reason', 'reviewed in the terminal');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`approval ${ns}/${approved} approved as ${ADMIN} \\(task cli-approve, sha256:`),
    );
    await tasks.waitForPhase('cli-approve', 'Running');
    assert.ok(await podExists(ns, 'cli-approve-agent'));
    const a = await readApproval(ns, approved);
    assert.deepEqual(a.spec.decision, {
      verdict: 'Approved',
      decidedBy: ADMIN,
      reason: 'reviewed in the terminal',
    });
    assert.equal(a.status?.state, 'Approved');
    assert.equal(a.status?.decidedBy, ADMIN);
    const manager = a.metadata.managedFields?.find((f) => f.manager === 'closedpaw-cli');
    assert.ok(manager, 'the decision was written by the CLI field manager');
  });

  test('deny → task Denied, no pod', async () => {
    await tasks.create('cli-deny', { approval: 'required' });
    const name = await awaitingApproval(tasks, 'cli-deny');
    const r = await closedpaw('deny', name, '-n', ns, '--reason', 'not now');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`approval ${ns}/${name} denied as ${ADMIN}`));
    const denied = await tasks.waitForPhase('cli-deny', 'Denied');
    assert.match(
      denied.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? '',
      /denied by closedpaw-admin: not now/,
    );
    assert.equal(await podExists(ns, 'cli-deny-agent'), false);
  });

  test("changing a decision: the API server's refusal is printed, exit 1", async () => {
    const r = await closedpaw('deny', approved, '-n', ns, '--reason', 'changed my mind');
    assert.equal(r.code, 1);
    // The CRD's CEL rule or the admission policy, whichever the API server applies first.
    assert.match(
      r.stderr,
      /^closedpaw deny: Error from server \(\w+\): .*spec\.decision (is immutable|is final once set)/m,
    );
    assert.equal((await readApproval(ns, approved)).spec.decision?.verdict, 'Approved');
  });

  test('repeating the same decision is not reported as a new one', async () => {
    const r = await closedpaw('approve', approved, '-n', ns, '--reason', 'reviewed in the terminal');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already decided: Approved by closedpaw-admin/);
  });

  test('a missing approval: the server says so, exit 1', async () => {
    const r = await closedpaw('approve', 'no-such-approval', '-n', ns);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(NotFound\): .*"no-such-approval" not found/);
  });

  test('-A lists every namespace; without -n the context namespace is used', async () => {
    const all = await closedpaw('approvals', '-A');
    assert.equal(all.code, 0, all.stderr);
    assert.ok(all.stdout.includes(approved));
    // A kubeconfig whose context names the namespace.
    const scoped = new KubeConfig();
    scoped.loadFromString(kc.exportConfig());
    const context = scoped.getContextObject(scoped.getCurrentContext())!;
    scoped.contexts = scoped.contexts.map((c) => (c.name === context.name ? { ...c, namespace: ns } : c));
    let out = '';
    let err = '';
    const code = await runApprovalsCli(
      ['approvals'],
      { stdout: (s) => (out += s), stderr: (s) => (err += s) },
      scoped,
    );
    assert.equal(code, 0, err);
    assert.ok(out.includes(approved));
  });
});

describe('the admission policy applies to the CLI', () => {
  test('a user outside spec.approvers is refused by the API server, exit 1', async () => {
    // An Approval restricted to alice (as the operator writes one when CLOSEDPAW_APPROVER_USERS is set).
    const name = 'restricted-0123456789';
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: APPROVAL.plural,
      namespace: ns,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: APPROVAL.kind,
        metadata: { name },
        spec: {
          taskRef: { name: 'restricted', uid: '6a1f0c2e-0000-4000-8000-000000000002' },
          taskDigest: `sha256:${'d'.repeat(64)}`,
          risk: { level: 'critical', reasons: ['tool shell requested'] },
          expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
          approvers: { users: ['alice'] },
        },
      },
    });
    const r = await closedpaw('approve', name, '-n', ns);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /Error from server .*user closedpaw-admin is not in spec\.approvers of this Approval/,
    );
    assert.equal((await readApproval(ns, name)).spec.decision, undefined);
  });
});

/**
 * `closedpaw approvals | approve | deny` end to end: the real bin, the user's
 * own kubeconfig identity (closedpaw-admin), the real API server and its
 * admission policy, the running operator. Before a decision the CLI shows what
 * is decided, read from the task, and refuses when it cannot read it.
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
import { operatorKubeConfig } from '../support/operator-identity.ts';
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

  test('approve without a terminal and without --yes: usage error (exit 2), nothing decided', async () => {
    const r = await closedpaw('approve', approved, '-n', ns);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no terminal to ask on: run it in a terminal, or pass --yes/);
    assert.equal((await readApproval(ns, approved)).spec.decision, undefined);
  });

  test('approve → the summary of what is approved, then the pod, decided by the kubeconfig user (no impersonation)', async () => {
    const r = await closedpaw('approve', approved, '-n', ns, '--reason', 'reviewed in the terminal', '--yes');
    assert.equal(r.code, 0, r.stderr);
    const bound = (await readApproval(ns, approved)).spec.taskDigest;
    for (const line of [
      /^Prompt\s+"Summarize the workspace\."$/m,
      /^Tools\s+shell$/m,
      /^Runtime\s+gvisor$/m,
      /^Limits\s+cpu 500m, memory 512Mi, ephemeral storage 1Gi, timeout 600s$/m,
      /^Budget\s+24 model calls/m,
      /^Risk\s+critical \(recomputed from the task\)$/m,
      new RegExp(`^Digest\\s+${bound} \\(bound by the approval\\)$`, 'm'),
      /\(the task now: same\)$/m,
      /^Expires\s+\S+ \(in \d+m; no decision by then counts as a denial\)$/m,
    ]) {
      assert.match(r.stdout, line);
    }
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
    const r = await closedpaw('approve', approved, '-n', ns, '--reason', 'reviewed in the terminal', '--yes');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already decided: Approved by closedpaw-admin/);
  });

  test('a missing approval: the server says so, exit 1', async () => {
    const r = await closedpaw('approve', 'no-such-approval', '-n', ns, '--yes');
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

describe('the CLI refuses what it cannot show', () => {
  test('a user who may not read the task cannot approve it: exit 1, told what to ask for', async () => {
    await tasks.create('cli-unreadable', { tools: ['shell'] });
    const name = await awaitingApproval(tasks, 'cli-unreadable');
    // dave may read and patch approvals, but not read tasks.
    await custom.createNamespacedCustomObject({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural: 'roles',
      namespace: ns,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'approvals-only' },
        rules: [{ apiGroups: [GROUP], resources: [APPROVAL.plural], verbs: ['get', 'list', 'patch'] }],
      },
    });
    await custom.createNamespacedCustomObject({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      plural: 'rolebindings',
      namespace: ns,
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'dave-approvals-only' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'approvals-only' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'dave' }],
      },
    });
    const asDave = new KubeConfig();
    asDave.loadFromString(kc.exportConfig());
    asDave.users = asDave.users.map((u) => ({ ...u, impersonateUser: 'dave' }));
    let out = '';
    let err = '';
    const code = await runApprovalsCli(
      ['approve', name, '-n', ns, '--yes'],
      { stdout: (s) => (out += s), stderr: (s) => (err += s), interactive: false },
      asDave,
    );
    assert.equal(code, 1, out);
    assert.match(
      err,
      /task cli-unreadable cannot be read: you may not read it \(Error from server \(Forbidden\)/,
    );
    assert.match(err, /ask for "get agenttasks" in namespace/);
    assert.match(err, /Nothing was changed\./);
    assert.match(out, /cannot be shown: you may not read it/);
    assert.equal((await readApproval(ns, name)).spec.decision, undefined);
  });

  test("an approval that is not the task's own is refused before the API server sees it", async () => {
    // Only the operator's identity may create Approvals (admission policy): plant one as the operator
    // would by mistake, bound to another uid of the task's name (a deleted and re-created task).
    const name = 'forged-0123456789';
    const asOperator = (await operatorKubeConfig()).makeApiClient(CustomObjectsApi);
    await asOperator.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: APPROVAL.plural,
      namespace: ns,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: APPROVAL.kind,
        metadata: { name },
        spec: {
          taskRef: { name: 'cli-approve', uid: '6a1f0c2e-0000-4000-8000-000000000002' },
          taskDigest: `sha256:${'d'.repeat(64)}`,
          risk: { level: 'low', reasons: ['nothing to see here'] },
          expiresAt: new Date(Date.now() + 30 * 60_000).toISOString(),
        },
      },
    });
    const r = await closedpaw('approve', name, '-n', ns, '--yes');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /was not made for the current task cli-approve/);
    assert.match(r.stdout, /^Recorded\s+the approval records risk low \(a claim, not trusted\)$/m);
    assert.equal((await readApproval(ns, name)).spec.decision, undefined);
  });
});

describe('the admission policy applies to the CLI', () => {
  let restrictedNs = '';
  let restrictedOperator: RunningOperator | undefined;
  before(async () => {
    restrictedNs = await createTestNamespace('cli-restricted');
    // The operator writes spec.approvers.users [alice] into every approval it requests.
    restrictedOperator = await runOperator(kc, restrictedNs, { CLOSEDPAW_APPROVER_USERS: 'alice' });
  });
  after(async () => {
    await restrictedOperator?.stop();
    await deleteNamespace(restrictedNs);
  });

  test('a user outside spec.approvers is refused by the API server, exit 1', async () => {
    const restricted = new Tasks(kc, restrictedNs);
    await restricted.create('restricted', { tools: ['shell'] });
    const name = await awaitingApproval(restricted, 'restricted');
    assert.deepEqual((await readApproval(restrictedNs, name)).spec.approvers, { users: ['alice'] });
    const r = await closedpaw('approve', name, '-n', restrictedNs, '--yes');
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, /^Approvers\s+alice$/m);
    assert.match(
      r.stderr,
      /Error from server .*user closedpaw-admin is not in spec\.approvers of this Approval/,
    );
    assert.equal((await readApproval(restrictedNs, name)).spec.decision, undefined);
  });
});

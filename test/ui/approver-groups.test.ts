/**
 * The approval UI's identity end to end, against the real API server: the UI impersonates its approver
 * *with* CLOSEDPAW_UI_APPROVER_GROUPS, so an Approval restricted to a group (spec.approvers.groups) can be
 * decided by a user who is in that group only through impersonation (the admin's own certificate carries
 * system:masters, not that group), and is refused by the admission policy when the group is missing.
 * The access review (what the UI may list) asks the real API server about a user and groups.
 * The token comes from CLOSEDPAW_UI_TOKEN_FILE and is rotated without a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RestClient } from '../../operator/src/k8s/rest.ts';
import { createAccessReview } from '../../operator/src/server/ui/access.ts';
import { rotateTokenFile, writeTokenFile } from '../../operator/src/server/ui/token.ts';
import type { ApprovalView } from '../../operator/src/server/ui/view.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { ensureRuntimeClass, readApproval, Tasks, waitUntil } from '../support/operator.ts';
import { UI_APPROVER, UI_APPROVER_GROUPS } from '../support/operator-identity.ts';
import {
  freePort,
  grantApprover,
  newUiToken,
  type OperatorWithUi,
  startOperatorWithUi,
  uiRequest,
} from './support.ts';

const kc = kubeConfig();
// The operator runs as the chart's service account, which may impersonate exactly this user and groups.
const USER = UI_APPROVER;
const GROUP_NAME = UI_APPROVER_GROUPS[0]!;

interface Side {
  ns: string;
  tasks: Tasks;
  ui?: OperatorWithUi;
  port: number;
}

const approvals = async (side: Side, token: string) =>
  ((await uiRequest(side.port, token, 'GET', '/api/approvals')).body as { approvals: ApprovalView[] })
    .approvals;

async function pending(side: Side, task: string): Promise<string> {
  return (await side.tasks.waitForPhase(task, 'AwaitingApproval')).status!.approvalRef!.name;
}

describe('impersonated groups count for spec.approvers.groups', () => {
  let tokenDir = '';
  let tokenPath = '';
  const inGroup: Side = { ns: '', tasks: undefined as never, port: 0 };
  const noGroup: Side = { ns: '', tasks: undefined as never, port: 0 };
  const noGroupToken = newUiToken();

  before(async () => {
    await ensureRuntimeClass(kc, 'gvisor', 'runsc');
    tokenDir = await mkdtemp(join(tmpdir(), 'closedpaw-ui-token-'));
    tokenPath = join(tokenDir, 'ui-token');
    writeTokenFile(tokenPath);

    // The approver impersonated with the group; approvals name the group (CLOSEDPAW_APPROVER_GROUPS).
    inGroup.ns = await createTestNamespace('ui-groups');
    inGroup.tasks = new Tasks(kc, inGroup.ns);
    await grantApprover(inGroup.ns, { kind: 'Group', name: GROUP_NAME });
    inGroup.port = await freePort();
    inGroup.ui = await startOperatorWithUi(kc, inGroup.ns, {
      port: inGroup.port,
      approver: USER,
      grant: false,
      env: {
        CLOSEDPAW_UI_APPROVER_GROUPS: GROUP_NAME,
        CLOSEDPAW_APPROVER_GROUPS: GROUP_NAME,
        CLOSEDPAW_UI_TOKEN_FILE: tokenPath,
      },
    });

    // The approver without the group: RBAC lets the user read and patch, but approvals name the group.
    noGroup.ns = await createTestNamespace('ui-nogroup');
    noGroup.tasks = new Tasks(kc, noGroup.ns);
    await grantApprover(noGroup.ns, { kind: 'User', name: USER });
    noGroup.port = await freePort();
    noGroup.ui = await startOperatorWithUi(kc, noGroup.ns, {
      port: noGroup.port,
      approver: USER,
      grant: false,
      token: noGroupToken,
      env: { CLOSEDPAW_APPROVER_GROUPS: GROUP_NAME },
    });
  });

  after(async () => {
    await inGroup.ui?.stop();
    await noGroup.ui?.stop();
    await deleteNamespace(inGroup.ns);
    await deleteNamespace(noGroup.ns);
    await rm(tokenDir, { recursive: true, force: true });
  });

  test('with the group: listed, approved, accepted by the API server, counted by the operator', async () => {
    const token = new URL(inGroup.ui!.url).hash.replace('#token=', '');
    const who = await uiRequest(inGroup.port, decodeURIComponent(token), 'GET', '/api/whoami');
    assert.deepEqual(who.body, { approver: USER, groups: [GROUP_NAME], readOnly: false, pairing: false });

    await inGroup.tasks.create('grp-approve', { tools: ['shell'] });
    const name = await pending(inGroup, 'grp-approve');
    const approval = await readApproval(inGroup.ns, name);
    assert.deepEqual(approval.spec.approvers, { groups: [GROUP_NAME] });
    const view = (await approvals(inGroup, decodeURIComponent(token))).find((a) => a.name === name);
    assert.ok(view, 'the approval is listed: the approver may read it');
    assert.equal(view.decidable, true);

    const res = await uiRequest(
      inGroup.port,
      decodeURIComponent(token),
      'POST',
      `/api/approvals/${inGroup.ns}/${name}/decision`,
      { verdict: 'Approved', reason: 'on call this week', taskDigest: view.task!.digest },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // The operator counts it: it settles the approval as Approved (what follows is the sandbox's business).
    await waitUntil('the operator to settle the approval', async () => {
      return (await readApproval(inGroup.ns, name)).status?.state === 'Approved';
    });
    const decided = await readApproval(inGroup.ns, name);
    assert.deepEqual(decided.spec.decision, {
      verdict: 'Approved',
      decidedBy: USER,
      reason: 'on call this week',
    });
    assert.equal(decided.status?.decidedBy, USER);
  });

  test('without the group: the admission policy refuses, and the UI says so', async () => {
    await noGroup.tasks.create('grp-refused', { tools: ['shell'] });
    const name = await pending(noGroup, 'grp-refused');
    const view = (await approvals(noGroup, noGroupToken)).find((a) => a.name === name);
    assert.ok(view, 'the approver may read this namespace as a user');
    const res = await uiRequest(
      noGroup.port,
      noGroupToken,
      'POST',
      `/api/approvals/${noGroup.ns}/${name}/decision`,
      {
        verdict: 'Approved',
        taskDigest: view.task!.digest,
      },
    );
    assert.equal(res.status, 403, JSON.stringify(res.body));
    const refusal = res.body as { error: string; source: string };
    assert.equal(refusal.source, 'apiserver');
    assert.match(refusal.error, new RegExp(`user ${USER} is not in spec\\.approvers of this Approval`));
    assert.equal((await readApproval(noGroup.ns, name)).spec.decision, undefined);
    assert.equal((await noGroup.tasks.get('grp-refused'))?.status?.phase, 'AwaitingApproval');
  });

  test('the access review against the real API server: a group grants, the user alone or a stranger does not', async () => {
    // Subjects of this test only (the UI's own approver is granted cluster-wide by the chart).
    await grantApprover(inGroup.ns, { kind: 'Group', name: 'sar-test-readers' });
    const rest = new RestClient(kc);
    const post = (path: string, body: unknown) => rest.request(path, { method: 'POST', body });
    const review = (user: string, groups: string[] = []) => createAccessReview({ post, user, groups });
    assert.equal(await review('sar-test-carol', ['sar-test-readers']).canRead(inGroup.ns), true);
    assert.equal(await review('sar-test-carol').canRead(inGroup.ns), false);
    assert.equal(await review('sar-test-carol', ['sar-test-readers']).canRead(noGroup.ns), false);
    assert.equal(await review('sar-test-mallory').canRead(inGroup.ns), false);
  });

  test('rotating the token file: the old token stops at once, the new one works, no restart', async () => {
    const old = decodeURIComponent(new URL(inGroup.ui!.url).hash.replace('#token=', ''));
    assert.equal((await uiRequest(inGroup.port, old, 'GET', '/api/whoami')).status, 200);
    const fresh = rotateTokenFile(tokenPath);
    assert.equal((await uiRequest(inGroup.port, old, 'GET', '/api/whoami')).status, 401);
    assert.equal((await uiRequest(inGroup.port, fresh, 'GET', '/api/whoami')).status, 200);
  });
});

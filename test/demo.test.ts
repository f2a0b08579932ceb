/**
 * `npm run dev`'s wiring (hack/demo.ts) on the real API server: the operator runs as the chart's service
 * account, so the admission policy lets it create the critical sample's Approval, and it creates the plain
 * sample's pod; the approval UI it prints answers. Run with the admin's credentials instead, the operator
 * is refused every Approval and the critical sample never waits for a human.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { applySamples, DEMO_NAMESPACE, demoOperatorConfig, prepareDemo } from '../hack/demo.ts';
import { createLogger } from '../operator/src/logger.ts';
import { type RunningOperator, startOperator } from '../operator/src/operator.ts';
import { networkPolicyName, podName } from '../operator/src/sandbox/names.ts';
import { deleteNamespace, kubeConfig } from './support/kube.ts';
import { podExists, Tasks, waitUntil } from './support/operator.ts';
import { UI_APPROVER, UI_APPROVER_GROUPS } from './support/operator-identity.ts';

let operator: RunningOperator | undefined;
let stateDir = '';

/** The demo's namespace has a fixed name: one left by an earlier run on a reused cluster must be gone first. */
async function demoNamespaceGone(): Promise<boolean> {
  try {
    await kubeConfig().makeApiClient(CoreV1Api).readNamespace({ name: DEMO_NAMESPACE });
    return false;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return true;
    throw error;
  }
}

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'closedpaw-demo-state-'));
  if (!(await demoNamespaceGone())) {
    await deleteNamespace(DEMO_NAMESPACE);
    await waitUntil('the demo namespace of an earlier run is gone', demoNamespaceGone, 120_000);
  }
});

after(async () => {
  await operator?.stop();
  await deleteNamespace(DEMO_NAMESPACE);
  await rm(stateDir, { recursive: true, force: true });
});

test('the demo operator runs as the chart identity: the critical sample waits for an Approval, the plain one gets its pod', async () => {
  const adminFile = process.env.KUBECONFIG;
  assert.ok(adminFile, 'the global setup exports the test cluster as KUBECONFIG');
  const approver = { user: UI_APPROVER, groups: UI_APPROVER_GROUPS };
  const identity = await prepareDemo(adminFile, approver);
  assert.equal(
    identity.getCurrentUser()?.name,
    'operator',
    'the operator gets a service-account token, not the admin',
  );
  const config = demoOperatorConfig(
    { stateDir, approver, ollamaUrl: 'http://127.0.0.1:9', gatewayHost: '127.0.0.1' },
    { CLOSEDPAW_WATCH_NAMESPACE: DEMO_NAMESPACE, CLOSEDPAW_UI_ADDR: '127.0.0.1:0', LOG_LEVEL: 'silent' },
  );
  operator = await startOperator(config, identity, createLogger(config.logLevel));
  await applySamples(adminFile);

  const tasks = new Tasks(kubeConfig(), DEMO_NAMESPACE);
  const critical = await tasks.waitForPhase('clean-build-cache', 'AwaitingApproval', 60_000);
  assert.equal(critical.status?.risk?.level, 'critical');
  const approvals = await tasks.listApprovals();
  assert.deepEqual(
    approvals.map((a) => a.spec.taskRef.name),
    ['clean-build-cache'],
  );
  const plain = await tasks.waitFor(
    'summarize-notes',
    'its risk rating',
    (t) => t?.status?.risk !== undefined,
  );
  const pod = podName(plain!);
  await waitUntil('the plain sample has its pod', () => podExists(DEMO_NAMESPACE, pod));
  const policy = await kubeConfig()
    .makeApiClient(NetworkingV1Api)
    .readNamespacedNetworkPolicy({ namespace: DEMO_NAMESPACE, name: networkPolicyName(plain!) });
  assert.deepEqual(
    policy.spec?.egress?.flatMap((rule) => rule.ports?.map((p) => p.port)),
    [Number(new URL(operator.gatewayUrl).port)],
    'the pod may reach the port the gateway really listens on (the demo binds any free port)',
  );

  assert.ok(operator.uiUrl, 'the demo serves the approval UI');
  const page = await fetch(operator.uiUrl.split('#')[0] ?? '');
  assert.equal(page.status, 200, 'the UI is built and served');
  assert.match(await page.text(), /<div id="root">/);
});

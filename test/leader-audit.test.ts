/**
 * The sealed audit log opens only once the operator holds the leader Lease: a second replica that is up
 * but not leading has not touched its log (it must never be a second writer), and opens it when it takes
 * over from the first.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api } from '@kubernetes/client-node';
import type { RunningOperator } from '../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from './support/kube.ts';
import { runOperator, waitUntil } from './support/operator.ts';
import { OPERATOR_NAMESPACE } from './support/operator-identity.ts';

const kc = kubeConfig();
const leases = kc.makeApiClient(CoordinationV1Api);
let ns = '';
let dir = '';
const running: RunningOperator[] = [];

before(async () => {
  ns = await createTestNamespace('leader-audit');
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-leader-audit-'));
});

after(async () => {
  for (const operator of running) await operator.stop();
  await leases
    .deleteNamespacedLease({ name: `audit-${ns}`, namespace: OPERATOR_NAMESPACE })
    .catch(() => undefined);
  await deleteNamespace(ns);
  await rm(dir, { recursive: true, force: true });
});

/** A replica named `name`, with an audit log directory of its own. */
async function replica(
  name: string,
): Promise<{ operator: RunningOperator; auditDir: string; ready(): Promise<number> }> {
  const auditDir = join(dir, name);
  const operator = await runOperator(kc, ns, {
    CLOSEDPAW_POD_NAME: name,
    CLOSEDPAW_LEADER_ELECTION: 'true',
    CLOSEDPAW_LEASE_NAMESPACE: OPERATOR_NAMESPACE,
    CLOSEDPAW_LEASE_NAME: `audit-${ns}`,
    // Generous: a leader that misses its renewals on a loaded machine would hand over mid-test. stop()
    // releases the Lease, so the hand-over at the end does not wait for it to expire.
    CLOSEDPAW_LEASE_DURATION_SECONDS: '30',
    CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS: '20',
    CLOSEDPAW_LEASE_RETRY_PERIOD_SECONDS: '1',
    CLOSEDPAW_AUDIT: 'on',
    CLOSEDPAW_AUDIT_DIR: auditDir,
  });
  running.push(operator);
  const ready = async () => (await fetch(`http://127.0.0.1:${operator.httpPort}/readyz`)).status;
  return { operator, auditDir, ready };
}

const holder = async () =>
  (await leases.readNamespacedLease({ name: `audit-${ns}`, namespace: OPERATOR_NAMESPACE })).spec
    ?.holderIdentity;
const entries = (path: string) => readdir(path).catch(() => [] as string[]);

test('a replica that does not lead has not opened its audit log; it opens it on taking over', async () => {
  const first = await replica('first');
  await waitUntil('first leads', async () => (await holder()) === 'first');
  await waitUntil('first opened its log', async () => (await entries(first.auditDir)).length > 0);
  await waitUntil('first ready', async () => (await first.ready()) === 200);

  const second = await replica('second');
  // Up, trying for the Lease every second, and not leading: several tries, and still nothing on disk.
  await sleep(3_000);
  assert.equal(await holder(), 'first');
  assert.notEqual(await second.ready(), 200, 'a replica that does not lead is not ready');
  assert.deepEqual(await entries(second.auditDir), [], 'no audit log opened without the Lease');

  await first.operator.stop();
  running.splice(running.indexOf(first.operator), 1);
  await waitUntil('second leads', async () => (await holder()) === 'second', 30_000);
  await waitUntil('second opened its log', async () => (await entries(second.auditDir)).length > 0, 30_000);
  await waitUntil('second ready', async () => (await second.ready()) === 200, 30_000);
});

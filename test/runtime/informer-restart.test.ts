/**
 * The informer survives a kube-apiserver restart without missing objects.
 *
 * To leave the shared API server alone (other test files run concurrently), this test
 * starts its own kube-apiserver on the shared etcd (an HA-style second replica, same PKI)
 * and restarts that one with `restartApiServer`. Objects are created and deleted through
 * the shared API server while the informer's API server is down.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { pkiPaths } from '../../hack/cluster/certs.ts';
import { type ClusterState, restartApiServer } from '../../hack/cluster/controlplane.ts';
import { writeKubeconfig } from '../../hack/cluster/kubeconfig.ts';
import { freePort, isAlive, stopProcess } from '../../hack/cluster/processes.ts';
import { Informer, type InformerEvent } from '../../operator/src/runtime/informer.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { clusterState, until } from './support.ts';

let ns = '';
before(async () => {
  ns = await createTestNamespace('rt-restart');
});
after(async () => {
  await deleteNamespace(ns);
});

/** A second kube-apiserver on the shared etcd, described as a ClusterState of its own. */
async function ownApiServer(shared: ClusterState): Promise<ClusterState> {
  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-rt-apiserver-'));
  await mkdir(join(dir, 'logs'));
  await symlink(join(shared.dir, 'pki'), join(dir, 'pki'));
  const port = await freePort();
  const own: ClusterState = {
    ...shared,
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    server: `https://127.0.0.1:${port}`,
    apiServerPort: port,
    pids: {},
  };
  await writeKubeconfig(own.kubeconfig, own.server, pkiPaths(join(dir, 'pki')));
  await restartApiServer(own); // nothing to stop yet: starts it and waits for /readyz
  return own;
}

test('survives a kube-apiserver restart: objects created and deleted meanwhile are delivered', async (t) => {
  const shared = clusterState();
  if (!shared) {
    t.skip('needs CLOSEDPAW_TEST_CLUSTER_DIR (a cluster started by global-setup)');
    return;
  }
  const api = kubeConfig().makeApiClient(CoreV1Api);
  await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'survivor' } } });
  await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'doomed' } } });
  const own = await ownApiServer(shared);
  const kc = new KubeConfig();
  kc.loadFromFile(own.kubeconfig);
  const informer = new Informer<V1ConfigMap>('configmaps', {
    kubeConfig: kc,
    path: `/api/v1/namespaces/${ns}/configmaps`,
    minBackoffMs: 100,
    maxBackoffMs: 1_000,
  });
  const seen: Array<[InformerEvent, string]> = [];
  for (const event of ['add', 'update', 'delete'] as const) {
    informer.on(event, (obj) => seen.push([event, obj.metadata?.name ?? '']));
  }
  try {
    await informer.start();
    assert.ok(informer.get(`${ns}/doomed`));
    const oldPid = own.pids['kube-apiserver']!;
    const restarting = restartApiServer(own);
    while (isAlive(oldPid)) await sleep(20);
    // The informer's API server is down: change things through the shared one.
    await api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'newcomer' } } });
    await api.deleteNamespacedConfigMap({ namespace: ns, name: 'doomed' });
    await restarting;
    await until(() => seen.some(([e, n]) => e === 'add' && n === 'newcomer'), 'add of newcomer');
    await until(() => seen.some(([e, n]) => e === 'delete' && n === 'doomed'), 'delete of doomed');
    assert.ok(informer.stats.watchErrors >= 1, 'the watch did break');
    const names = informer
      .list()
      .map((o) => o.metadata?.name)
      .filter((n) => n !== 'kube-root-ca.crt')
      .sort();
    assert.deepEqual(names, ['newcomer', 'survivor']);
    assert.ok(informer.isHealthy());
  } finally {
    informer.stop();
    const pid = own.pids['kube-apiserver'];
    if (pid !== undefined) await stopProcess(pid);
    await rm(own.dir, { recursive: true, force: true });
  }
});

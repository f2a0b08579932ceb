/**
 * The operator survives its API server going away, and a watch that cannot
 * resume (410 Gone after etcd compaction) without missing a task. This file
 * runs its own private control plane, since it stops the API server.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import {
  type ClusterState,
  resumeApiServer,
  startCluster,
  stopApiServer,
  stopCluster,
} from '../hack/cluster/controlplane.ts';
import type { RunningOperator } from '../operator/src/operator.ts';
import { TestKubelet } from './support/kubelet.ts';
import { capturingLogger, ensureRuntimeClass, runOperator, Tasks } from './support/operator.ts';

let cluster: ClusterState;
let kc: KubeConfig;
let operator: RunningOperator;
/** Runs the pods: a task is Running only once its pod runs. */
let kubelet: TestKubelet;
const logs = capturingLogger();
const ns = 'default';

before(async () => {
  cluster = await startCluster(await mkdtemp(join(tmpdir(), 'closedpaw-restart-')));
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  operator = await runOperator(kc, ns, {}, {}, logs.logger);
});

after(async () => {
  await operator?.stop();
  await kubelet?.stop();
  if (cluster) await stopCluster(cluster.dir);
});

/** Writes through etcd's JSON gateway, then compacts to the newest revision: old watches get 410. */
async function compactEtcd(): Promise<number> {
  const put = async (i: number) =>
    await fetch(`${cluster.etcdUrl}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(`/closedpaw-test/${i}`).toString('base64'), value: 'eA==' }),
    });
  let revision = 0;
  for (let i = 0; i < 5; i++) {
    const body = (await (await put(i)).json()) as { header: { revision: string } };
    revision = Number(body.header.revision);
  }
  const compacted = await fetch(`${cluster.etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: String(revision), physical: true }),
  });
  assert.equal(compacted.status, 200, await compacted.text());
  return revision;
}

test('tasks before, across and after an API-server outage with etcd compaction all run', async () => {
  const tasks = new Tasks(kc, ns);
  await tasks.create('before-outage', {});
  await tasks.waitForPhase('before-outage', 'Running');

  await stopApiServer(cluster);
  const revision = await compactEtcd();
  assert.ok(revision > 0);
  await resumeApiServer(cluster);

  const names = Array.from({ length: 10 }, (_, i) => `after-outage-${i}`);
  await Promise.all(names.map((name) => tasks.create(name, {})));
  for (const name of names) await tasks.waitForPhase(name, 'Running', 60_000);
  assert.equal((await tasks.get('before-outage'))?.status?.phase, 'Running');
  const relisted = logs.lines.filter(
    (l) => l.includes('resourceVersion expired (410)') && l.includes('agenttasks'),
  );
  assert.ok(relisted.length > 0, 'the agenttasks watch really hit 410 Gone and re-listed');
});

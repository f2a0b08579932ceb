/**
 * node:down leaves the machine as node:up found it: the host is snapshotted
 * with no node, a node is started and made to do real work (a gVisor pod under
 * a NetworkPolicy, a Service, a pod that fails to start), then node:down runs
 * and the snapshot must be the same: network devices, routes, iptables and nft
 * rules, ipsets, mounts, cgroups, network namespaces, kernel settings, and the
 * paths outside the state directory. The node is brought back if it was up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snapshot, snapshotDiff } from '../../../hack/node/host.ts';
import { nodeDir } from '../../../hack/node/layout.ts';
import { runningNode, startNode, stopNode } from '../../../hack/node/node.ts';
import { apply, finished, hardenedPod, testNamespace, waitForPod } from '../support.ts';

test('node:down removes everything node:up made', { timeout: 600_000 }, async () => {
  const dir = nodeDir();
  const wasUp = (await runningNode(dir)) !== undefined;
  await stopNode(dir);
  const before = await snapshot();
  try {
    const state = await startNode(dir);
    const ns = await testNamespace(state, 'teardown');
    const probe = state.images.probe!.pinned;
    await apply(state, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'deny-all', namespace: ns },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'svc', namespace: ns },
        spec: { selector: { app: 'worker' }, ports: [{ port: 80, targetPort: 8080 }] },
      },
      hardenedPod({
        name: 'done',
        namespace: ns,
        image: probe,
        annotations: { 'closedpaw.dev/task-spec': '{}' },
        command: ['/usr/local/bin/closedpaw-probe', 'info'],
      }),
      hardenedPod({
        name: 'worker',
        namespace: ns,
        image: probe,
        labels: { app: 'worker' },
        command: ['/usr/local/bin/closedpaw-probe', 'serve', '8080'],
      }),
      hardenedPod({
        name: 'refused',
        namespace: ns,
        image: probe,
        runtimeClassName: 'kata-qemu',
        command: ['x'],
      }),
    ]);
    const done = await waitForPod(state, ns, 'done', finished);
    assert.equal(done.phase, 'Succeeded');
    await waitForPod(state, ns, 'worker', (s) => s.phase === 'Running');
    const during = await snapshot();
    assert.ok(snapshotDiff(before, during).length > 0, 'the running node changed nothing on the host?');
  } finally {
    const report = await stopNode(dir);
    console.error(`# node:down: ${report.join('; ')}`);
  }
  const afterDown = await snapshot();
  assert.deepEqual(snapshotDiff(before, afterDown), []);
  if (wasUp) await startNode(dir);
});

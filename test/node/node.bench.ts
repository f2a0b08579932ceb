/**
 * Real-node figures for `npm run bench` (when a node is up; otherwise it says
 * so and reports nothing): apply → pod Running under gVisor, p50/p90, for a
 * task-shaped pod (hardened, behind a NetworkPolicy, gated by the
 * isolation-check init container) and for the same pod without the gate; and
 * the sizes of the node's images.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeDir } from '../../hack/node/layout.ts';
import { runningNode } from '../../hack/node/node.ts';
import { percentile, report } from '../bench/report.ts';
import { apply, deleteNamespace, hardenedPod, kubectl, podStatus, testNamespace } from './support.ts';

const SAMPLES = Number(process.env.CLOSEDPAW_NODE_BENCH_SAMPLES ?? 8);
const PROBE = '/usr/local/bin/closedpaw-probe';

const state = await runningNode(nodeDir());
if (!state) {
  process.stderr.write('# node bench skipped: no node is up (npm run node:up, as root)\n');
} else {
  for (const [name, image] of Object.entries(state.images)) {
    report(`node_image_${name}_compressed_mib`, image.compressedBytes / 1024 / 1024, 'MiB');
  }
  const ns = await testNamespace(state, 'bench');
  try {
    await apply(state, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'task', namespace: ns },
        spec: {
          podSelector: { matchLabels: { role: 'task' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [],
          egress: [],
        },
      },
    ]);
    for (const gated of [true, false]) {
      const samples: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const name = `${gated ? 'gated' : 'plain'}-${i}`;
        const pod = hardenedPod({
          name,
          namespace: ns,
          image: state.images.probe!.pinned,
          labels: { role: 'task' },
          command: [PROBE, 'sleep', '30'],
          ...(gated
            ? {
                initContainers: [
                  { name: 'isolation-check', command: [PROBE, 'isolation-check', '5000', '10.96.0.1:443'] },
                ],
              }
            : {}),
        });
        const started = performance.now();
        await apply(state, [pod]);
        for (;;) {
          const status = await podStatus(state, ns, name);
          if (status.phase === 'Running') break;
          if (status.phase === 'Failed' || performance.now() - started > 60_000) {
            throw new Error(`pod ${name} did not reach Running: ${JSON.stringify(status)}`);
          }
          await sleep(20);
        }
        samples.push(performance.now() - started);
        await kubectl(state, [
          'delete',
          'pod',
          name,
          '-n',
          ns,
          '--grace-period=0',
          '--force',
          '--wait=false',
        ]);
      }
      const metric = gated ? 'node_task_to_running_ms' : 'node_pod_to_running_ms';
      report(`${metric}_p50`, percentile(samples, 50), 'ms');
      report(`${metric}_p90`, percentile(samples, 90), 'ms');
    }
  } finally {
    await deleteNamespace(state, ns);
  }
}

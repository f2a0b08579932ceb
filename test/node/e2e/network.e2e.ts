/**
 * NetworkPolicy really enforced (kube-router) on a gVisor pod: from inside a
 * task pod whose policy allows only the gateway, the gateway answers and the
 * API server, Ollama, another pod, the node and an outside host do not. The
 * same probes from a pod no policy selects all succeed, so the test can fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NETWORK } from '../../../hack/node/layout.ts';
import type { NodeState } from '../../../hack/node/node.ts';
import {
  apply,
  connectResults,
  Decoy,
  deleteNamespace,
  finished,
  hardenedPod,
  kubectl,
  nodeState,
  podLogs,
  running,
  testNamespace,
  waitForPod,
} from '../support.ts';

const PROBE = '/usr/local/bin/closedpaw-probe';

describe('egress of a task pod under its NetworkPolicy', () => {
  let state: NodeState;
  let ns: string;
  const decoy = new Decoy();
  const targets: Record<string, string> = {};
  let taskLog = '';
  let controlLog = '';

  const server = (name: string, port: number) =>
    hardenedPod({
      name,
      namespace: ns,
      image: state.images.probe!.pinned,
      labels: { app: name },
      activeDeadlineSeconds: 600,
      command: [PROBE, 'serve', String(port), name],
    });

  before(async () => {
    state = await nodeState();
    await decoy.start();
    ns = await testNamespace(state, 'net');
    await apply(state, [
      server('gateway', 8080),
      server('ollama', 11434),
      server('other', 9000),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'gateway', namespace: ns },
        spec: { selector: { app: 'gateway' }, ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }] },
      },
      // The operator's policy shape: select the task pod, no ingress, egress only to the gateway.
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'task-agent', namespace: ns },
        spec: {
          podSelector: { matchLabels: { role: 'task' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [],
          egress: [
            {
              to: [{ podSelector: { matchLabels: { app: 'gateway' } } }],
              ports: [{ protocol: 'TCP', port: 8080 }],
            },
          ],
        },
      },
    ]);
    const ip = async (name: string) => (await waitForPod(state, ns, name, running)).podIP!;
    const serviceIp = (
      await kubectl(state, ['get', 'svc', 'gateway', '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])
    ).trim();
    Object.assign(targets, {
      'gateway (Service)': `${serviceIp}:80`,
      'gateway (pod)': `${await ip('gateway')}:8080`,
      'API server (kubernetes Service)': `${NETWORK.kubernetesServiceIp}:443`,
      'API server (node IP)': `${NETWORK.nodeIp}:${NETWORK.apiServerPort}`,
      'Ollama directly': `${await ip('ollama')}:11434`,
      'another pod': `${await ip('other')}:9000`,
      'the node (kubelet)': `${NETWORK.nodeIp}:${NETWORK.kubeletPort}`,
      'outside the cluster (decoy)': `${Decoy.address}:${Decoy.port}`,
    });
    const steps = Object.values(targets)
      .flatMap((t) => ['--', 'connect', ...t.split(':'), '1000'])
      .slice(1);
    const prober = (name: string, role: string, gated: boolean) =>
      hardenedPod({
        name,
        namespace: ns,
        image: state.images.probe!.pinned,
        labels: { role },
        command: [PROBE, ...steps],
        ...(gated
          ? {
              initContainers: [
                {
                  name: 'isolation-check',
                  command: [PROBE, 'isolation-check', '10000', targets['API server (kubernetes Service)']!],
                },
              ],
            }
          : {}),
      });
    await apply(state, [prober('task', 'task', true), prober('control', 'control', false)]);
    const [task, control] = await Promise.all([
      waitForPod(state, ns, 'task', finished),
      waitForPod(state, ns, 'control', finished),
    ]);
    taskLog = await podLogs(state, ns, 'task');
    controlLog = await podLogs(state, ns, 'control');
    assert.equal(task.phase, 'Succeeded', `task pod: ${JSON.stringify(task)}\n${taskLog}`);
    assert.equal(control.phase, 'Succeeded', `control pod: ${JSON.stringify(control)}\n${controlLog}`);
  });

  after(async () => {
    await decoy.stop();
    if (ns) await deleteNamespace(state, ns);
  });

  const expectations: [string, 'open' | 'blocked'][] = [
    ['gateway (Service)', 'open'],
    ['gateway (pod)', 'open'],
    ['API server (kubernetes Service)', 'blocked'],
    ['API server (node IP)', 'blocked'],
    ['Ollama directly', 'blocked'],
    ['another pod', 'blocked'],
    ['the node (kubelet)', 'blocked'],
    ['outside the cluster (decoy)', 'blocked'],
  ];

  for (const [what, expected] of expectations) {
    test(`from the task pod, ${what} is ${expected}`, () => {
      const result = connectResults(taskLog).get(targets[what]!);
      assert.equal(result, expected, `${what} (${targets[what]}):\n${taskLog}`);
    });
  }

  test('from a pod no policy selects, every one of those is open', () => {
    const results = connectResults(controlLog);
    for (const [what, target] of Object.entries(targets)) {
      assert.equal(results.get(target), 'open', `${what} (${target}) from the control pod:\n${controlLog}`);
    }
  });

  test('the task pod proved its isolation before its agent container ran', async () => {
    const log = await podLogs(state, ns, 'task', 'isolation-check');
    assert.match(log, /^isolation-check proven in \d+ ms$/m);
  });
});

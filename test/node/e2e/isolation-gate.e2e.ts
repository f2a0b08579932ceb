/**
 * No agent code before its policy holds. kube-router applies a new pod's rules
 * a fraction of a second after the pod is Ready; the pod's isolation-check init
 * container must prove the policy (an address it denies refuses the
 * connection) before the agent container starts, and fail the pod otherwise.
 * Here the enforcer is stopped (SIGSTOP) while a task pod starts: the pod must
 * fail without ever starting its agent container. With the enforcer running,
 * the same pod succeeds, so the test can fail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NETWORK } from '../../../hack/node/layout.ts';
import type { NodeState } from '../../../hack/node/node.ts';
import {
  apply,
  deleteNamespace,
  finished,
  hardenedPod,
  nodeState,
  podLogs,
  testNamespace,
  waitForPod,
} from '../support.ts';

const PROBE = '/usr/local/bin/closedpaw-probe';
const DENIED = `${NETWORK.kubernetesServiceIp}:443`;

describe('the isolation gate', () => {
  let state: NodeState;
  let ns: string;

  const taskPod = (name: string) =>
    hardenedPod({
      name,
      namespace: ns,
      image: state.images.probe!.pinned,
      labels: { role: 'task' },
      initContainers: [{ name: 'isolation-check', command: [PROBE, 'isolation-check', '3000', DENIED] }],
      command: [PROBE, 'info'],
    });

  before(async () => {
    state = await nodeState();
    ns = await testNamespace(state, 'gate');
    await apply(state, [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'task-agent', namespace: ns },
        spec: {
          podSelector: { matchLabels: { role: 'task' } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [],
          egress: [],
        },
      },
    ]);
  });

  after(async () => {
    const pid = state?.pids['kube-router'];
    if (pid) process.kill(pid, 'SIGCONT');
    if (ns) await deleteNamespace(state, ns);
  });

  test('a task pod started while the enforcer is stopped fails closed and never runs its agent', async () => {
    const pid = state.pids['kube-router']!;
    process.kill(pid, 'SIGSTOP');
    try {
      await apply(state, [taskPod('unenforced')]);
      const status = await waitForPod(state, ns, 'unenforced', finished);
      assert.equal(status.phase, 'Failed', JSON.stringify(status));
      const check = status.initContainerStatuses?.find((c) => c.name === 'isolation-check');
      assert.equal(check?.state?.terminated?.exitCode, 3, JSON.stringify(check));
      assert.match(check?.state?.terminated?.message ?? '', /isolation not proven: .* still reachable/);
      const agent = status.containerStatuses?.find((c) => c.name === 'agent');
      assert.equal(
        agent?.containerID,
        undefined,
        `the agent container was created: ${JSON.stringify(agent)}`,
      );
      assert.equal(agent?.state?.running, undefined);
      assert.equal(agent?.state?.terminated?.exitCode ?? undefined, undefined);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  test('the same pod with the enforcer running proves its isolation and runs its agent', async () => {
    await apply(state, [taskPod('enforced')]);
    const status = await waitForPod(state, ns, 'enforced', finished);
    assert.equal(status.phase, 'Succeeded', JSON.stringify(status));
    assert.match(
      await podLogs(state, ns, 'enforced', 'isolation-check'),
      /^isolation-check proven in \d+ ms$/m,
    );
    assert.match(await podLogs(state, ns, 'enforced'), /^info uid=65532/m);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { agentTaskSpecSchema } from '../api/agenttask.ts';
import type { AgentTask } from '../api/types.ts';
import { specDigest } from '../policy/digest.ts';
import { FINALIZER } from './names.ts';
import { buildNetworkPolicy, samePolicySpec } from './network-policy.ts';
import { ANNOTATION_SPEC_DIGEST, buildPod } from './pod.ts';
import { podOutcome } from './pod-outcome.ts';
import { runtimeClassVerdict } from './runtime-class.ts';

const task = (spec: Record<string, unknown> = {}): AgentTask => ({
  apiVersion: 'closedpaw.dev/v1alpha1',
  kind: 'AgentTask',
  metadata: { name: 't1', namespace: 'ns', uid: 'uid-1', generation: 1 },
  spec: agentTaskSpecSchema.parse({ prompt: 'do it', model: 'm', ...spec }),
});

const podConfig = {
  runnerImage: 'img',
  runnerUid: 65532,
  gatewayUrl: 'http://10.96.0.20:11435',
  isolationProbes: ['10.96.0.1:443'],
};

describe('buildPod', () => {
  const pod = buildPod(task({ runtimeClassName: 'kata-qemu', timeoutSeconds: 42 }), podConfig);
  const spec = pod.spec!;
  const container = spec.containers[0]!;

  const hardening: Array<[string, unknown, unknown]> = [
    ['runtimeClassName', spec.runtimeClassName, 'kata-qemu'],
    ['automountServiceAccountToken', spec.automountServiceAccountToken, false],
    ['enableServiceLinks', spec.enableServiceLinks, false],
    ['restartPolicy', spec.restartPolicy, 'Never'],
    ['activeDeadlineSeconds', spec.activeDeadlineSeconds, 42],
    ['hostNetwork', spec.hostNetwork, false],
    ['hostPID', spec.hostPID, false],
    ['hostIPC', spec.hostIPC, false],
    ['pod runAsNonRoot', spec.securityContext?.runAsNonRoot, true],
    ['pod runAsUser', spec.securityContext?.runAsUser, 65532],
    ['pod seccomp', spec.securityContext?.seccompProfile?.type, 'RuntimeDefault'],
    ['container runAsNonRoot', container.securityContext?.runAsNonRoot, true],
    ['allowPrivilegeEscalation', container.securityContext?.allowPrivilegeEscalation, false],
    ['privileged', container.securityContext?.privileged, false],
    ['readOnlyRootFilesystem', container.securityContext?.readOnlyRootFilesystem, true],
    ['capabilities', JSON.stringify(container.securityContext?.capabilities), '{"drop":["ALL"]}'],
    ['container seccomp', container.securityContext?.seccompProfile?.type, 'RuntimeDefault'],
    [
      'limits',
      JSON.stringify(container.resources?.limits),
      '{"cpu":"500m","memory":"512Mi","ephemeral-storage":"1Gi"}',
    ],
    [
      'requests = limits',
      JSON.stringify(container.resources?.requests),
      JSON.stringify(container.resources?.limits),
    ],
    ['one container', spec.containers.length, 1],
    [
      'one init container: the isolation check',
      spec.initContainers?.map((c) => c.name).join(),
      'isolation-check',
    ],
    [
      'the check probes the denied addresses before the runner',
      spec.initContainers?.[0]?.command?.join(' '),
      '/usr/local/bin/closedpaw-probe isolation-check 10000 10.96.0.1:443',
    ],
    [
      'the check is as hardened as the agent',
      JSON.stringify(spec.initContainers?.[0]?.securityContext),
      JSON.stringify(container.securityContext),
    ],
    ['no ports', container.ports, undefined],
    ['owner is the task', pod.metadata?.ownerReferences?.[0]?.uid, 'uid-1'],
    ['owner is controller', pod.metadata?.ownerReferences?.[0]?.controller, true],
  ];
  for (const [field, actual, expected] of hardening) {
    test(field, () => assert.equal(actual, expected));
  }

  test('the only writable mount is the size-limited /workspace; the task spec is read-only', () => {
    const mounts = container.volumeMounts ?? [];
    assert.deepEqual(
      mounts.map((m) => [m.mountPath, m.readOnly ?? false]),
      [
        ['/workspace', false],
        ['/etc/closedpaw', true],
      ],
    );
    const workspace = spec.volumes?.find((v) => v.name === 'workspace');
    assert.equal(workspace?.emptyDir?.sizeLimit, '1Gi');
    assert.ok(spec.volumes?.every((v) => !v.hostPath && !v.secret && !v.projected));
  });

  test('the task spec and its digest ride on annotations', () => {
    const t = task({ runtimeClassName: 'kata-qemu', timeoutSeconds: 42 });
    assert.equal(pod.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST], specDigest(t.spec));
    assert.equal(JSON.parse(pod.metadata?.annotations?.['closedpaw.dev/task-spec'] ?? '{}').prompt, 'do it');
  });

  test('no secret reaches the pod environment', () => {
    const names = (container.env ?? []).map((e) => e.name);
    assert.deepEqual(names.sort(), [
      'CLOSEDPAW_GATEWAY_URL',
      'CLOSEDPAW_TASK_FILE',
      'CLOSEDPAW_TOKEN_FILE',
      'CLOSEDPAW_WORKSPACE',
      'HOME',
      'TMPDIR',
    ]);
    assert.ok((container.env ?? []).every((e) => e.valueFrom === undefined));
  });
});

test('without isolation probe addresses no pod is built (fail closed)', () => {
  assert.throws(
    () => buildPod(task(), { ...podConfig, isolationProbes: [] }),
    /cannot prove its NetworkPolicy holds/,
  );
});

describe('buildNetworkPolicy', () => {
  const gatewayPods = { port: 11435, namespace: 'closedpaw-system', podSelector: { app: 'closedpaw' } };

  test('egress only to the gateway pods: namespace + pod selector + port; no DNS; no ingress', () => {
    const policy = buildNetworkPolicy(task(), { gateway: { egress: gatewayPods }, allowDns: false });
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(policy.spec?.ingress, []);
    assert.deepEqual(policy.spec?.egress, [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'closedpaw-system' } },
            podSelector: { matchLabels: { app: 'closedpaw' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 11435 }],
      },
    ]);
    assert.deepEqual(policy.spec?.podSelector, {
      matchLabels: { 'closedpaw.dev/task': 't1', 'closedpaw.dev/task-uid': 'uid-1' },
    });
    assert.deepEqual(policy.metadata?.finalizers, [FINALIZER]);
  });

  test('a fixed gateway address is one /32; DNS only when configured', () => {
    const egress = { ...gatewayPods, ip: '192.0.2.7' };
    const policy = buildNetworkPolicy(task(), { gateway: { egress }, allowDns: true });
    assert.deepEqual(policy.spec?.egress?.[0]?.to, [{ ipBlock: { cidr: '192.0.2.7/32' } }]);
    assert.equal(policy.spec?.egress?.length, 2);
    assert.deepEqual(
      policy.spec?.egress?.[1]?.ports?.map((p) => `${p.protocol}/${p.port}`),
      ['UDP/53', 'TCP/53'],
    );
  });
});

describe('podOutcome', () => {
  const agent = (state: Record<string, unknown>) => ({
    name: 'agent',
    image: 'i',
    imageID: '',
    ready: false,
    restartCount: 0,
    state,
  });
  const cases: Array<[string, V1Pod, Record<string, unknown>]> = [
    ['running', { status: { phase: 'Running' } }, { state: 'running' }],
    ['succeeded', { status: { phase: 'Succeeded' } }, { state: 'succeeded' }],
    [
      'pending, not scheduled yet',
      { status: { phase: 'Pending' } },
      { state: 'pending', reason: 'PodPending', stuck: false },
    ],
    [
      'unschedulable is stuck, with the scheduler message',
      {
        status: {
          phase: 'Pending',
          conditions: [
            { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes' },
          ],
        },
      },
      { state: 'pending', reason: 'Unschedulable', message: '0/1 nodes', stuck: true },
    ],
    [
      'an image that cannot be pulled is stuck',
      {
        spec: { nodeName: 'n', containers: [] },
        status: {
          phase: 'Pending',
          containerStatuses: [
            agent({ waiting: { reason: 'ImagePullBackOff', message: 'back-off pulling' } }),
          ],
        },
      },
      { state: 'pending', reason: 'ImagePullBackOff', message: 'back-off pulling', stuck: true },
    ],
    [
      'a container being created is pending, not stuck',
      {
        status: {
          phase: 'Pending',
          containerStatuses: [agent({ waiting: { reason: 'ContainerCreating' } })],
        },
      },
      { state: 'pending', reason: 'ContainerCreating', stuck: false },
    ],
    [
      'a waiting reason that is not a valid condition reason is not passed through',
      { status: { phase: 'Pending', containerStatuses: [agent({ waiting: { reason: 'bad reason!' } })] } },
      { state: 'pending', reason: 'PodPending' },
    ],
    ['deadline', { status: { phase: 'Failed', reason: 'DeadlineExceeded' } }, { state: 'timedOut' }],
    [
      'the isolation check failed: no agent code ran',
      {
        status: {
          phase: 'Failed',
          initContainerStatuses: [
            {
              ...agent({
                terminated: { exitCode: 3, message: 'isolation not proven: 10.96.0.1:443 still reachable' },
              }),
              name: 'isolation-check',
            },
          ],
        },
      },
      {
        state: 'failed',
        reason: 'IsolationNotProven',
        message: 'no agent code ran: isolation not proven: 10.96.0.1:443 still reachable',
      },
    ],
    [
      'the runner report on the termination log names the reason',
      {
        status: {
          phase: 'Failed',
          containerStatuses: [
            agent({
              terminated: {
                exitCode: 1,
                message: JSON.stringify({ reason: 'BudgetExceeded', message: 'tokens 100123 > 100000' }),
              },
            }),
          ],
        },
      },
      { state: 'failed', reason: 'BudgetExceeded', message: 'tokens 100123 > 100000' },
    ],
    [
      'a report with an unknown reason is not trusted',
      {
        status: {
          phase: 'Failed',
          containerStatuses: [
            agent({
              terminated: { exitCode: 1, message: JSON.stringify({ reason: 'Approved', message: 'x' }) },
            }),
          ],
        },
      },
      { state: 'failed', reason: 'AgentFailed' },
    ],
  ];
  for (const [name, pod, expected] of cases) {
    test(name, () => {
      const outcome = podOutcome(pod) as Record<string, unknown>;
      for (const [key, value] of Object.entries(expected)) assert.equal(outcome[key], value, key);
    });
  }

  test('without a report, the exit code and message are kept', () => {
    const failed = podOutcome({
      status: {
        phase: 'Failed',
        containerStatuses: [agent({ terminated: { exitCode: 7, reason: 'Error' } })],
      },
    });
    assert.equal(failed.state, 'failed');
    assert.match(failed.state === 'failed' ? failed.message : '', /exit code 7 \(Error\)/);
  });
});

describe('runtimeClassVerdict', () => {
  const cases: Array<[string, { handler?: string } | undefined, string | true]> = [
    ['missing', undefined, 'RuntimeClassNotFound'],
    ['gvisor → runsc', { handler: 'runsc' }, true],
    ['kata-qemu → kata-qemu', { handler: 'kata-qemu' }, true],
    ['kata → kata', { handler: 'kata' }, true],
    ['gvisor → runc is refused', { handler: 'runc' }, 'RuntimeClassNotSandboxed'],
    ['an empty handler is refused', { handler: '' }, 'RuntimeClassNotSandboxed'],
    ['a name that merely contains runsc is refused', { handler: 'not-runsc' }, 'RuntimeClassNotSandboxed'],
    ['runsc-debug is not runsc', { handler: 'runsc-debug' }, 'RuntimeClassNotSandboxed'],
  ];
  for (const [name, rc, expected] of cases) {
    test(name, () => {
      const verdict = runtimeClassVerdict('gvisor', rc);
      assert.equal(verdict.ok ? true : verdict.reason, expected);
    });
  }
  test('the allowed handlers are configurable', () => {
    assert.equal(runtimeClassVerdict('gvisor', { handler: 'runsc' }, ['kata*']).ok, false);
  });
});

describe('samePolicySpec', () => {
  test('a stored spec without the empty ingress list equals the built one; an added rule does not', () => {
    const built = buildNetworkPolicy(task(), {
      gateway: { egress: { port: 1, namespace: 'n', podSelector: { a: 'b' } } },
      allowDns: false,
    }).spec!;
    const { ingress: _dropped, ...stored } = structuredClone(built);
    assert.ok(samePolicySpec(stored, built));
    const widened = structuredClone(built);
    widened.egress!.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] });
    assert.equal(samePolicySpec(widened, built), false);
    const opened = { ...structuredClone(built), ingress: [{}] };
    assert.equal(samePolicySpec(opened, built), false);
  });
});

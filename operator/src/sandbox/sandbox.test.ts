import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentTaskSpecSchema } from '../api/agenttask.ts';
import type { AgentTask } from '../api/types.ts';
import { specDigest } from '../policy/digest.ts';
import { FINALIZER } from './names.ts';
import { buildNetworkPolicy } from './network-policy.ts';
import { ANNOTATION_SPEC_DIGEST, buildPod } from './pod.ts';
import { podOutcome } from './pod-outcome.ts';

const task = (spec: Record<string, unknown> = {}): AgentTask => ({
  apiVersion: 'closedpaw.dev/v1alpha1',
  kind: 'AgentTask',
  metadata: { name: 't1', namespace: 'ns', uid: 'uid-1', generation: 1 },
  spec: agentTaskSpecSchema.parse({ prompt: 'do it', model: 'm', ...spec }),
});

const podConfig = { runnerImage: 'img', runnerUid: 65532, ollamaUrl: 'http://ollama:11434' };

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
    ['no init containers', spec.initContainers, undefined],
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
    assert.deepEqual(names.sort(), ['CLOSEDPAW_TASK_FILE', 'HOME', 'OLLAMA_HOST', 'TMPDIR']);
    assert.ok((container.env ?? []).every((e) => e.valueFrom === undefined));
  });
});

describe('buildNetworkPolicy', () => {
  const ollamaPods = { port: 11434, namespace: 'ollama', podSelector: { app: 'ollama' } };

  test('in-cluster Ollama: namespace + pod selector + port; no DNS; no ingress', () => {
    const policy = buildNetworkPolicy(task(), { ollama: ollamaPods, allowDns: false });
    assert.deepEqual(policy.spec?.policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(policy.spec?.ingress, []);
    assert.deepEqual(policy.spec?.egress, [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ollama' } },
            podSelector: { matchLabels: { app: 'ollama' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 11434 }],
      },
    ]);
    assert.deepEqual(policy.spec?.podSelector, {
      matchLabels: { 'closedpaw.dev/task': 't1', 'closedpaw.dev/task-uid': 'uid-1' },
    });
    assert.deepEqual(policy.metadata?.finalizers, [FINALIZER]);
  });

  test('a fixed Ollama address is one /32; DNS only when configured', () => {
    const policy = buildNetworkPolicy(task(), { ollama: { ...ollamaPods, ip: '192.0.2.7' }, allowDns: true });
    assert.deepEqual(policy.spec?.egress?.[0]?.to, [{ ipBlock: { cidr: '192.0.2.7/32' } }]);
    assert.equal(policy.spec?.egress?.length, 2);
    assert.deepEqual(
      policy.spec?.egress?.[1]?.ports?.map((p) => `${p.protocol}/${p.port}`),
      ['UDP/53', 'TCP/53'],
    );
  });
});

describe('podOutcome', () => {
  test('reads the phase, the deadline and the exit code', () => {
    assert.deepEqual(podOutcome({ status: { phase: 'Running' } }), { state: 'running' });
    assert.deepEqual(podOutcome({ status: { phase: 'Pending' } }), { state: 'running' });
    assert.deepEqual(podOutcome({ status: { phase: 'Succeeded' } }), { state: 'succeeded' });
    assert.equal(podOutcome({ status: { phase: 'Failed', reason: 'DeadlineExceeded' } }).state, 'timedOut');
    const failed = podOutcome({
      status: {
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'agent',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 7, reason: 'Error' } },
          },
        ],
      },
    });
    assert.equal(failed.state, 'failed');
    assert.match(failed.state === 'failed' ? failed.message : '', /exit code 7 \(Error\)/);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentTaskSpecSchema } from '../api/agenttask.ts';
import { buildNetworkPolicy } from '../sandbox/network-policy.ts';
import { ANNOTATION_SPEC_DIGEST, buildPod } from '../sandbox/pod.ts';
import { slimNetworkPolicy, slimPod } from './cache-transforms.ts';

const task = {
  apiVersion: 'closedpaw.dev/v1alpha1',
  kind: 'AgentTask' as const,
  metadata: { name: 't', namespace: 'ns', uid: 'u' },
  spec: agentTaskSpecSchema.parse({ prompt: 'p'.repeat(30000), model: 'm' }),
};

test('a cached pod keeps what the controller reads and drops the prompt copy and the program', () => {
  const pod = buildPod(
    task,
    { runnerImage: 'i', runnerUid: 1000, gatewayUrl: 'http://g', isolationProbes: ['10.96.0.1:443'] },
    'x'.repeat(900),
  );
  pod.status = { phase: 'Failed', reason: 'DeadlineExceeded' };
  const slim = slimPod(structuredClone(pod)) as typeof pod;
  assert.equal(slim.metadata?.annotations?.['closedpaw.dev/task-spec'], undefined);
  assert.equal(slim.metadata?.annotations?.['closedpaw.dev/gateway-token'], undefined);
  assert.equal(
    slim.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST],
    pod.metadata?.annotations?.[ANNOTATION_SPEC_DIGEST],
  );
  assert.deepEqual(slim.metadata?.ownerReferences, pod.metadata?.ownerReferences);
  assert.deepEqual(slim.status, pod.status);
  assert.deepEqual(slim.spec?.containers, [{ name: 'agent' }]);
  assert.ok(JSON.stringify(slim).length < JSON.stringify(pod).length / 10);
});

test('a cached policy is its metadata and its small spec (to detect edits)', () => {
  const policy = buildNetworkPolicy(task, {
    gateway: { egress: { port: 1, namespace: 'o', podSelector: {} } },
    allowDns: false,
  });
  const slim = slimNetworkPolicy(structuredClone({ ...policy, status: {} })) as typeof policy;
  assert.deepEqual(slim.metadata, policy.metadata);
  assert.deepEqual(slim.spec, policy.spec);
  assert.equal((slim as { status?: unknown }).status, undefined);
});

/**
 * The sandbox admission policy (crds/sandbox-pod-policy.yaml) on the real API server: in a namespace labelled
 * closedpaw.dev/agents=true, every restricted "fail" fixture of upstream Pod Security Admission is refused
 * (completed with the sandbox fields, so the refusal is about what the fixture breaks), every "pass" fixture
 * completed the same way is accepted, and so are the operator's own sandbox pods — while each hardening
 * field taken off the operator's pod is refused, naming the field. The namespaces here enforce no Pod
 * Security level, so every refusal comes from the policy (a control namespace without the label shows it).
 * Fixtures are read from the Go module cache at test time (test/chart/psa-fixtures.ts says where).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, NodeV1Api, type V1Pod } from '@kubernetes/client-node';
import { agentTaskSpecSchema, RUNTIME_CLASSES } from '../operator/src/api/agenttask.ts';
import type { AgentTask } from '../operator/src/api/types.ts';
import { buildPod } from '../operator/src/sandbox/pod.ts';
import {
  asSandboxPod,
  type Fixture,
  type Pod,
  restrictedFixtures,
  SANDBOX_LIMITS,
} from './chart/psa-fixtures.ts';
import { kubeConfig, kubectl } from './support/kube.ts';
import { ensureRuntimeClass } from './support/operator.ts';

const POLICY_FILE = join(import.meta.dirname, '../crds/sandbox-pod-policy.yaml');
const POLICY = 'closedpaw-sandbox-pods';
const DENIED_BY_POLICY = new RegExp(`ValidatingAdmissionPolicy '${POLICY}'`);
/** What the policy asks beyond the restricted profile (and asSandboxPod supplies). */
const SANDBOX_FIELDS =
  /runtimeClassName|automountServiceAccountToken|readOnlyRootFilesystem|resources\.limits/;

/**
 * Pass fixtures the policy refuses on purpose, with why. Sandboxes are Linux VMs/kernels: a Windows pod
 * cannot run in one, and it cannot carry the Linux hardening fields the policy requires.
 */
const REFUSED_BY_DESIGN: Record<string, RegExp> = {
  'pass/base_windows': /spec\.os\.name must be linux/,
};

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const suffix = randomBytes(3).toString('hex');
const agents = `sandbox-agents-${suffix}`;
const control = `sandbox-control-${suffix}`;
/** A RuntimeClass that exists but is not a sandbox class (the RuntimeClass admission plugin refuses unknown ones first). */
const RUNC = `sandbox-admission-runc-${suffix}`;
const { dir, fixtures } = restrictedFixtures();

/** A server-side dry-run create: undefined when admitted, else the API server's message. */
async function refusal(namespace: string, pod: Pod | V1Pod): Promise<string | undefined> {
  try {
    await core.createNamespacedPod({ namespace, body: pod as V1Pod, dryRun: 'All' });
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    if (error.code >= 500) throw new Error(`the API server failed (${error.code}): ${body}`);
    // Not a verdict on the pod: no credentials, no such namespace, a name already taken.
    if ([401, 404, 409].includes(error.code))
      throw new Error(`not an admission refusal (${error.code}): ${body}`);
    return (JSON.parse(body) as { message?: string }).message ?? body;
  }
}

before(async () => {
  const apply = await kubectl(['apply', '--server-side', '--force-conflicts', '-f', POLICY_FILE]);
  assert.equal(apply.code, 0, apply.stderr);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  await ensureRuntimeClass(kc, RUNC, 'runc');
  for (const [name, labels] of [
    [agents, { 'closedpaw.dev/agents': 'true' }],
    [control, {}],
  ] as const) {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  }
  // A new binding takes a moment to bite: wait until a plain pod is refused in the agent namespace.
  const plain = fixtures.find((f) => f.name === 'pass/base')?.pod;
  assert.ok(plain, `no pass/base fixture in ${dir}`);
  for (let i = 0; i < 100 && !DENIED_BY_POLICY.test((await refusal(agents, plain)) ?? ''); i++)
    await sleep(100);
});

after(async () => {
  for (const name of [agents, control]) await core.deleteNamespace({ name }).catch(() => undefined);
  await kc
    .makeApiClient(NodeV1Api)
    .deleteRuntimeClass({ name: RUNC })
    .catch(() => undefined);
});

test('the fixtures are there and plentiful', () => {
  assert.ok(fixtures.filter((f) => f.expect === 'fail').length >= 50, `few fail fixtures in ${dir}`);
  assert.ok(fixtures.filter((f) => f.expect === 'pass').length >= 15, `few pass fixtures in ${dir}`);
});

describe(`restricted "fail" fixtures (${dir}) are refused in an agent namespace`, () => {
  for (const fixture of fixtures.filter((f) => f.expect === 'fail')) {
    test(fixture.name, async () => {
      const pod = asSandboxPod(fixture.pod);
      const message = await refusal(agents, pod);
      assert.ok(message, `${fixture.name} was admitted`);
      // Admitted without the label: it is the policy that refuses, not the API server's own validation,
      // and for what the fixture breaks, not for a sandbox field the completion supplied.
      if ((await refusal(control, pod)) === undefined) {
        assert.match(message, DENIED_BY_POLICY);
        assert.doesNotMatch(message, SANDBOX_FIELDS);
      }
    });
  }
});

describe('restricted "pass" fixtures with the sandbox fields are accepted in an agent namespace', () => {
  for (const fixture of fixtures.filter((f) => f.expect === 'pass')) {
    test(fixture.name, async () => {
      const message = await refusal(agents, asSandboxPod(fixture.pod));
      const reason = REFUSED_BY_DESIGN[fixture.name];
      if (reason) {
        assert.match(message ?? 'admitted', DENIED_BY_POLICY);
        assert.match(message ?? '', reason);
      } else {
        assert.equal(message, undefined);
      }
    });
  }
});

test('nine in ten fail fixtures get past object validation, so the policy is what refuses them', async (t) => {
  const failing = fixtures.filter((f) => f.expect === 'fail');
  const byValidation: string[] = [];
  for (const fixture of failing) {
    if ((await refusal(control, asSandboxPod(fixture.pod))) !== undefined) byValidation.push(fixture.name);
  }
  // e.g. privileged pods on an API server run with --allow-privileged=false, Windows host processes.
  t.diagnostic(`refused by object validation already: ${byValidation.join(', ') || 'none'}`);
  assert.ok(
    byValidation.length * 10 <= failing.length,
    `refused before admission: ${byValidation.join(', ')}`,
  );
});

test('the sandbox RuntimeClasses the policy allows are exactly the AgentTask enum', () => {
  const policy = readFileSync(POLICY_FILE, 'utf8');
  const allowed = /runtimeClassName\.orValue\(''\) in \[([^\]]*)\]/.exec(policy)?.[1];
  assert.deepEqual(
    allowed?.split(',').map((s) => s.trim().replaceAll("'", '')),
    [...RUNTIME_CLASSES],
  );
});

const task: AgentTask = {
  apiVersion: 'closedpaw.dev/v1alpha1',
  kind: 'AgentTask',
  metadata: { name: 'list-files', namespace: agents, uid: '6a1f0c2e-0000-4000-8000-00000000a11c' },
  spec: agentTaskSpecSchema.parse({ prompt: 'List the files.', model: 'smollm2:135m', tools: ['fs.list'] }),
};
const operatorPod = () =>
  buildPod(task, {
    runnerImage: `localhost/closedpaw/runner@sha256:${'a'.repeat(64)}`,
    runnerUid: 65532,
    gatewayUrl: 'http://10.96.0.20:11435',
    isolationProbes: ['10.96.0.1:443'],
  });

describe("the operator's own sandbox pods", () => {
  test('are accepted', async () => {
    assert.equal(await refusal(agents, operatorPod()), undefined);
  });

  const spec = (pod: V1Pod) => pod.spec!;
  const agent = (pod: V1Pod) => pod.spec!.containers[0]!;
  const check = (pod: V1Pod) => pod.spec!.initContainers![0]!;
  const agentSecurity = (pod: V1Pod) => agent(pod).securityContext!;
  const weakened: [string, (pod: V1Pod) => unknown, RegExp][] = [
    [
      'a runc RuntimeClass',
      (p) => Object.assign(spec(p), { runtimeClassName: RUNC }),
      /spec\.runtimeClassName must be gvisor or kata-qemu/,
    ],
    ['no RuntimeClass', (p) => Reflect.deleteProperty(spec(p), 'runtimeClassName'), /spec\.runtimeClassName/],
    [
      'a service-account token',
      (p) => Reflect.deleteProperty(spec(p), 'automountServiceAccountToken'),
      /automountServiceAccountToken/,
    ],
    [
      'a projected token',
      (p) =>
        spec(p).volumes!.push({
          name: 'token',
          projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
        }),
      /project a service-account token/,
    ],
    [
      'a writable root',
      (p) => Object.assign(agentSecurity(p), { readOnlyRootFilesystem: false }),
      /readOnlyRootFilesystem/,
    ],
    [
      'no limits on the init container',
      (p) => Reflect.deleteProperty(check(p), 'resources'),
      /resources\.limits/,
    ],
    [
      'no memory limit',
      (p) => Reflect.deleteProperty(agent(p).resources!.limits!, 'memory'),
      /resources\.limits/,
    ],
    [
      'privilege escalation',
      (p) => Object.assign(agentSecurity(p), { allowPrivilegeEscalation: true }),
      /allowPrivilegeEscalation/,
    ],
    [
      'a capability kept',
      (p) => Object.assign(check(p).securityContext!, { capabilities: { drop: ['NET_RAW'] } }),
      /capabilities/,
    ],
    ['root', (p) => Object.assign(agentSecurity(p), { runAsUser: 0 }), /runAsUser must not be 0/],
    ['runAsNonRoot off', (p) => Object.assign(agentSecurity(p), { runAsNonRoot: false }), /runAsNonRoot/],
    [
      'seccomp off',
      (p) => Object.assign(agentSecurity(p), { seccompProfile: { type: 'Unconfined' } }),
      /seccompProfile/,
    ],
    ['host network', (p) => Object.assign(spec(p), { hostNetwork: true }), /hostNetwork/],
    ['host PID', (p) => Object.assign(spec(p), { hostPID: true }), /hostPID/],
    ['a host path', (p) => spec(p).volumes!.push({ name: 'host', hostPath: { path: '/' } }), /spec\.volumes/],
    [
      'a host port',
      (p) => Object.assign(agent(p), { ports: [{ containerPort: 80, hostPort: 8080 }] }),
      /hostPort/,
    ],
  ];
  for (const [what, weaken, named] of weakened) {
    test(`with ${what} is refused, naming the field`, async () => {
      const pod = operatorPod();
      weaken(pod);
      const message = await refusal(agents, pod);
      assert.match(message ?? 'admitted', DENIED_BY_POLICY);
      assert.match(message ?? '', named);
    });
  }

  test("are not the policy's business outside agent namespaces", async () => {
    const pod = operatorPod();
    pod.metadata!.namespace = control;
    pod.spec!.runtimeClassName = RUNC;
    assert.equal(await refusal(control, pod), undefined);
  });
});

test('kubectl debug cannot add a container to a running sandbox pod', async () => {
  // A real pod (not a dry run), so the ephemeralcontainers subresource has something to update.
  const pod = operatorPod();
  delete pod.metadata!.ownerReferences; // no such task: the garbage collector would delete the pod at once
  await core.createNamespacedPod({ namespace: agents, body: pod });
  const patch = await kubectl([
    'debug',
    '-n',
    agents,
    pod.metadata!.name!,
    '--image=busybox',
    '--profile=restricted',
    '-q',
    '--attach=false',
  ]);
  assert.notEqual(patch.code, 0, 'the debug container was added');
  assert.match(patch.stderr, DENIED_BY_POLICY);
});

describe('asSandboxPod', () => {
  const fixture = (fields: Partial<Pod['spec']> = {}): Fixture['pod'] => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a_b' },
    spec: { containers: [{ name: 'c', securityContext: { runAsUser: 0 } }], ...fields },
  });
  test('adds the sandbox fields only where unset and leaves every restricted field alone', () => {
    const pod = asSandboxPod(fixture({ initContainers: [{ name: 'i' }] }));
    assert.equal(pod.metadata.name, 'a-b');
    assert.equal(pod.spec.runtimeClassName, 'gvisor');
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.deepEqual(pod.spec.containers[0]!.securityContext, { runAsUser: 0, readOnlyRootFilesystem: true });
    assert.deepEqual(pod.spec.initContainers?.[0]?.resources, { limits: SANDBOX_LIMITS });
    const kept = asSandboxPod(fixture({ runtimeClassName: 'runc', automountServiceAccountToken: true }));
    assert.equal(kept.spec.runtimeClassName, 'runc');
    assert.equal(kept.spec.automountServiceAccountToken, true);
  });
  test('gives Windows pods only the pod-level fields', () => {
    const pod = asSandboxPod(fixture({ os: { name: 'windows' } }));
    assert.deepEqual(pod.spec.containers[0]!.securityContext, { runAsUser: 0 });
    assert.equal(pod.spec.runtimeClassName, 'gvisor');
  });
});

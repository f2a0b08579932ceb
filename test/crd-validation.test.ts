/**
 * The CRDs against the real API server: samples apply, every invalid object is
 * refused with a message naming the field, and kubectl shows the printer columns.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';
import { OPERATOR_USER, operatorKubeConfig } from './support/operator-identity.ts';

const EXAMPLES = join(import.meta.dirname, '../examples');
let ns = '';

before(async () => {
  ns = await createTestNamespace('crd');
  await operatorKubeConfig(); // the operator identity the integrity policy admits
});
after(async () => {
  await deleteNamespace(ns);
});

const validSpec = () => ({ prompt: 'Summarize the workspace.', model: 'llama3.2:3b' });

function taskManifest(name: string, spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) {
  return stringify({
    apiVersion: 'closedpaw.dev/v1alpha1',
    kind: 'AgentTask',
    metadata: { name, ...metadata },
    spec,
  });
}

const digest = `sha256:${'a'.repeat(64)}`;
const validApprovalSpec = () => ({
  taskRef: { name: 'some-task', uid: '0b6b3c1e-0000-4000-8000-000000000000' },
  taskDigest: digest,
  risk: { level: 'critical', reasons: ['tool shell requested'] },
  expiresAt: '2030-01-01T00:00:00Z',
});

function approvalManifest(name: string, spec: Record<string, unknown>) {
  return stringify({ apiVersion: 'closedpaw.dev/v1alpha1', kind: 'Approval', metadata: { name }, spec });
}

async function apply(manifest: string, as: string[] = []) {
  return await kubectl(['apply', '-n', ns, ...as, '-f', '-'], manifest);
}

/** Only the operator creates Approvals (crds/approval-integrity-policy.yaml): valid ones are made as it. */
const AS_OPERATOR = [`--as=${OPERATOR_USER}`];

describe('samples', () => {
  test('every file in examples/ applies and is defaulted by the API server', async () => {
    const result = await kubectl(['apply', '-n', ns, '-f', EXAMPLES]);
    assert.equal(result.code, 0, result.stderr);
    const plain = await kubectl(['get', 'agenttask', 'summarize-notes', '-n', ns, '-o', 'json']);
    const spec = JSON.parse(plain.stdout).spec;
    assert.equal(spec.approval, 'auto', 'approval defaulted');
    assert.deepEqual(spec.resources, { cpu: '500m', memory: '512Mi', ephemeralStorage: '1Gi' });
    const critical = await kubectl(['get', 'agenttask', 'clean-build-cache', '-n', ns, '-o', 'json']);
    assert.deepEqual(JSON.parse(critical.stdout).spec.tools, ['fs.list', 'shell']);
  });

  test('a minimal task gets every default', async () => {
    assert.equal((await apply(taskManifest('minimal', validSpec()))).code, 0);
    const got = JSON.parse((await kubectl(['get', 'at', 'minimal', '-n', ns, '-o', 'json'])).stdout).spec;
    assert.equal(got.runtimeClassName, 'gvisor');
    assert.deepEqual(got.tools, []);
    assert.equal(got.timeoutSeconds, 600);
    assert.equal(got.ttlSecondsAfterFinished, undefined);
  });
});

interface InvalidCase {
  name: string;
  manifest: string;
  /** Fragments the API server's message must contain: the field path and what is wrong. */
  expect: RegExp[];
}

const { prompt: _omitted, ...withoutPrompt } = validSpec();
const invalidTasks: InvalidCase[] = [
  {
    name: 'missing prompt',
    manifest: taskManifest('bad-1', withoutPrompt),
    expect: [/spec\.prompt: Required value/],
  },
  {
    name: 'missing model',
    manifest: taskManifest('bad-2', { prompt: 'x' }),
    expect: [/spec\.model: Required value/],
  },
  {
    name: 'empty prompt',
    manifest: taskManifest('bad-3', { ...validSpec(), prompt: '' }),
    expect: [/spec\.prompt: Invalid value: "": spec\.prompt in body should be at least 1 chars long/],
  },
  {
    name: 'oversize prompt',
    manifest: taskManifest('bad-4', { ...validSpec(), prompt: 'x'.repeat(32769) }),
    expect: [/spec\.prompt: Too long: may not be (longer than|more than) 32768/],
  },
  {
    name: 'runtime runc',
    manifest: taskManifest('bad-5', { ...validSpec(), runtimeClassName: 'runc' }),
    expect: [/spec\.runtimeClassName: Unsupported value: "runc": supported values: "gvisor", "kata-qemu"/],
  },
  {
    name: 'unknown tool',
    manifest: taskManifest('bad-6', { ...validSpec(), tools: ['fs.read', 'net.fetch'] }),
    expect: [/spec\.tools\[1\]: Unsupported value: "net\.fetch"/],
  },
  {
    name: 'duplicate tool',
    manifest: taskManifest('bad-7', { ...validSpec(), tools: ['shell', 'shell'] }),
    expect: [/spec\.tools\[1\]: Duplicate value: "shell"/],
  },
  {
    name: 'timeout 0',
    manifest: taskManifest('bad-8', { ...validSpec(), timeoutSeconds: 0 }),
    expect: [
      /spec\.timeoutSeconds: Invalid value: 0: spec\.timeoutSeconds in body should be greater than or equal to 1/,
    ],
  },
  {
    name: 'timeout 100000',
    manifest: taskManifest('bad-9', { ...validSpec(), timeoutSeconds: 100000 }),
    expect: [
      /spec\.timeoutSeconds: Invalid value: 100000: spec\.timeoutSeconds in body should be less than or equal to 86400/,
    ],
  },
  {
    name: 'bad approval mode',
    manifest: taskManifest('bad-10', { ...validSpec(), approval: 'sometimes' }),
    expect: [/spec\.approval: Unsupported value: "sometimes": supported values: "auto", "required"/],
  },
  {
    name: 'memory above the cap',
    manifest: taskManifest('bad-11', { ...validSpec(), resources: { memory: '64Gi' } }),
    expect: [/spec\.resources\.memory: Invalid value: "64Gi": memory must be between 64Mi and 8Gi/],
  },
  {
    name: 'cpu not a quantity',
    manifest: taskManifest('bad-12', { ...validSpec(), resources: { cpu: 'lots' } }),
    expect: [/spec\.resources\.cpu: Invalid value: "lots": spec\.resources\.cpu in body should match/],
  },
  {
    name: 'model with spaces',
    manifest: taskManifest('bad-13', { ...validSpec(), model: 'llama 3' }),
    expect: [/spec\.model: Invalid value: "llama 3": spec\.model in body should match/],
  },
  {
    name: 'name too long for its children',
    manifest: taskManifest(`t${'x'.repeat(55)}`, validSpec()),
    expect: [/metadata\.name: Too long: may not be (longer|more) than 50/],
  },
  {
    name: 'negative ttl',
    manifest: taskManifest('bad-15', { ...validSpec(), ttlSecondsAfterFinished: -1 }),
    expect: [/spec\.ttlSecondsAfterFinished: Invalid value: -1/],
  },
];

const invalidApprovals: InvalidCase[] = [
  {
    name: 'bad decision verdict',
    manifest: approvalManifest('bad-a1', {
      ...validApprovalSpec(),
      decision: { verdict: 'Maybe', decidedBy: 'alice' },
    }),
    expect: [/spec\.decision\.verdict: Unsupported value: "Maybe": supported values: "Approved", "Denied"/],
  },
  {
    name: 'decision without decidedBy',
    manifest: approvalManifest('bad-a2', { ...validApprovalSpec(), decision: { verdict: 'Approved' } }),
    expect: [/spec\.decision\.decidedBy: Required value/],
  },
  {
    name: 'digest not sha256',
    manifest: approvalManifest('bad-a3', { ...validApprovalSpec(), taskDigest: 'md5:abc' }),
    expect: [/spec\.taskDigest: Invalid value: "md5:abc": spec\.taskDigest in body should match/],
  },
  {
    name: 'unknown risk level',
    manifest: approvalManifest('bad-a4', { ...validApprovalSpec(), risk: { level: 'extreme', reasons: [] } }),
    expect: [/spec\.risk\.level: Unsupported value: "extreme"/],
  },
  {
    name: 'expiresAt not a time',
    manifest: approvalManifest('bad-a5', { ...validApprovalSpec(), expiresAt: 'tomorrow' }),
    expect: [/spec\.expiresAt: Invalid value: "tomorrow": spec\.expiresAt in body must be of type date-time/],
  },
];

describe('the API server refuses invalid objects, naming the field', () => {
  for (const c of [...invalidTasks, ...invalidApprovals]) {
    test(c.name, async () => {
      const result = await apply(c.manifest);
      assert.notEqual(result.code, 0, `expected a rejection, got: ${result.stdout}`);
      for (const fragment of c.expect) assert.match(result.stderr, fragment);
    });
  }
});

const patchApproval = (name: string, type: 'merge' | 'json', patch: string) =>
  kubectl(['patch', 'approval', name, '-n', ns, `--type=${type}`, '-p', patch]);

describe('approval immutability enforced by CEL transition rules', () => {
  test('a decision once set cannot be changed or removed; the bound digest cannot change', async () => {
    const made = await apply(approvalManifest('immutable', validApprovalSpec()), AS_OPERATOR);
    assert.equal(made.code, 0, made.stderr);
    const decision = { verdict: 'Denied', decidedBy: 'closedpaw-admin', reason: 'not now' };
    const decide = await patchApproval('immutable', 'merge', JSON.stringify({ spec: { decision } }));
    assert.equal(decide.code, 0, decide.stderr);
    const flip = await patchApproval('immutable', 'merge', '{"spec":{"decision":{"verdict":"Approved"}}}');
    assert.notEqual(flip.code, 0);
    assert.match(flip.stderr, /spec\.decision: Forbidden: spec\.decision is immutable/);
    const drop = await patchApproval('immutable', 'json', '[{"op":"remove","path":"/spec/decision"}]');
    assert.notEqual(drop.code, 0);
    assert.match(drop.stderr, /spec\.decision: Forbidden: spec\.decision cannot be removed once set/);
    const rebind = await patchApproval(
      'immutable',
      'merge',
      `{"spec":{"taskDigest":"sha256:${'b'.repeat(64)}"}}`,
    );
    assert.notEqual(rebind.code, 0);
    assert.match(rebind.stderr, /spec\.taskDigest: Forbidden: spec\.taskDigest is immutable/);
  });
});

describe('kubectl get shows the printer columns', () => {
  test('agenttasks: NAME PHASE RISK RUNTIME APPROVAL AGE', async () => {
    const result = await kubectl(['get', 'agenttasks', '-n', ns]);
    assert.equal(result.code, 0, result.stderr);
    const header = result.stdout.split('\n')[0]?.split(/\s+/);
    assert.deepEqual(header, ['NAME', 'PHASE', 'RISK', 'RUNTIME', 'APPROVAL', 'AGE']);
    assert.match(result.stdout, /\nsummarize-notes\s+gvisor\s+\S+/);
  });

  test('approvals: NAME TASK STATE RISK DECIDED-BY EXPIRES AGE', async () => {
    const made = await apply(approvalManifest('listed', validApprovalSpec()), AS_OPERATOR);
    assert.equal(made.code, 0, made.stderr);
    const result = await kubectl(['get', 'approvals', '-n', ns]);
    assert.equal(result.code, 0, result.stderr);
    const header = result.stdout.split('\n')[0]?.split(/\s+/);
    assert.deepEqual(header, ['NAME', 'TASK', 'STATE', 'RISK', 'DECIDED-BY', 'EXPIRES', 'AGE']);
    assert.match(result.stdout, /\nlisted\s+some-task\s+critical\s+2030-01-01T00:00:00Z/);
  });

  test('the closedpaw category lists both kinds', async () => {
    const result = await kubectl(['get', 'closedpaw', '-n', ns, '-o', 'name']);
    assert.match(result.stdout, /agenttask\.closedpaw\.dev\/summarize-notes/);
    assert.match(result.stdout, /approval\.closedpaw\.dev\/listed/);
  });
});

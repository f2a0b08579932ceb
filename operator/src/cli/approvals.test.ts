/** The approvals CLI without a cluster: argument handling and output formats (the e2e is test/ui/cli-approvals). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiException, KubeConfig } from '@kubernetes/client-node';
import type { Approval } from '../api/types.ts';
import { approvalRows, describeApiError, formatTable, relativeTime, runApprovalsCli } from './approvals.ts';

function offlineKubeConfig(namespace?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) }],
    currentContext: 'ctx',
  });
  return kc;
}

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runApprovalsCli(
    argv,
    { stdout: (s) => (out += s), stderr: (s) => (err += s) },
    offlineKubeConfig(),
  );
  return { code, out, err };
}

describe('closedpaw approvals CLI: usage', () => {
  test('usage errors exit 2 with the usage text', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['approve'], /approve needs the name of an approval/],
      [['deny', 'a', 'b'], /unexpected argument: b/],
      [['approve', 'a', '-A'], /use -n, not -A/],
      [['approvals', '-n', 'x', '-A'], /either -n or -A/],
      [['approvals', '--reason', 'x'], /--reason only applies/],
      [['approvals', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['approve', 'a', '--reason', 'x'.repeat(1025)], /at most 1024/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, message);
      assert.match(r.err, /usage:/);
    }
  });

  test('--help exits 0', async () => {
    const r = await run('approvals', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /closedpaw approve NAME/);
  });

  test('an unreachable API server is a failure (exit 1), not a crash', async () => {
    const r = await run('approvals', '-n', 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /^closedpaw approvals: /);
  });
});

describe('closedpaw approvals CLI: formats', () => {
  const now = new Date('2030-01-01T12:00:00Z');

  test('relative times', () => {
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    assert.equal(relativeTime(at(30), now), 'in 30s');
    assert.equal(relativeTime(at(29 * 60 + 59), now), 'in 29m');
    assert.equal(relativeTime(at(-3 * 60), now), '3m ago');
    assert.equal(relativeTime(at(2 * 3600 + 5 * 60), now), 'in 2h5m');
    assert.equal(relativeTime(at(-3 * 86400), now), '3d ago');
  });

  test('the table: NAMESPACE NAME TASK STATE RISK DECIDED-BY EXPIRES, aligned', () => {
    const approval = (ns: string, name: string, extra: Partial<Approval> = {}): Approval => ({
      apiVersion: 'closedpaw.dev/v1alpha1',
      kind: 'Approval',
      metadata: { namespace: ns, name, creationTimestamp: new Date('2030-01-01T11:00:00Z') },
      spec: {
        taskRef: { name: name.split('-')[0]!, uid: 'u' },
        taskDigest: `sha256:${'a'.repeat(64)}`,
        risk: { level: 'critical', reasons: ['tool shell requested'] },
        expiresAt: '2030-01-01T12:30:00Z',
      },
      ...extra,
    });
    const rows = approvalRows(
      [
        approval('b', 'deploy-0123456789', { status: { state: 'Approved', decidedBy: 'alice' } }),
        approval('a', 'cleanup-abcdef0123'),
      ],
      now,
    );
    assert.equal(
      formatTable(rows),
      [
        'NAMESPACE   NAME                 TASK      STATE      RISK       DECIDED-BY   EXPIRES',
        'a           cleanup-abcdef0123   cleanup   Pending    critical   -            in 30m',
        'b           deploy-0123456789    deploy    Approved   critical   alice        in 30m',
      ].join('\n'),
    );
  });

  test("the API server's message, kubectl style", () => {
    const body = JSON.stringify({
      kind: 'Status',
      message: 'admission webhook denied: spec.decision is final once set',
      reason: 'Forbidden',
      code: 403,
    });
    assert.equal(
      describeApiError(new ApiException(403, 'x', body, {})),
      'Error from server (Forbidden): admission webhook denied: spec.decision is final once set',
    );
    assert.equal(describeApiError(new Error('connect ECONNREFUSED')), 'connect ECONNREFUSED');
  });
});

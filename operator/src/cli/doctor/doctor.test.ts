/**
 * The doctor's verdicts, table by table, on facts as the cluster would give them: each × it claims, and
 * the all-good case. (test/cli/lifecycle.test.ts produces the same facts on a real API server.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Lease, V1Namespace, V1ValidatingAdmissionPolicy } from '@kubernetes/client-node';
import { agentTaskDefinition, buildCrd } from '../../api/crd.ts';
import { type Check, exitCode, renderJson, renderText } from './checks.ts';
import { IN_POD_SCRIPT, parseInPodReport } from './in-pod.ts';
import { expectedPolicies } from './index.ts';
import * as judge from './judge.ts';
import { isPrivateAddress, probeChecks, probePod, probeVerdict } from './probe.ts';

const forbidden = (p: string) => ({
  status: 403,
  body: JSON.stringify({ error: `GET "${p}" is not allowed`, code: 'forbidden_endpoint' }),
});
const refusedAll = Object.fromEntries(judge.MANAGEMENT_ENDPOINTS.map((p) => [p, forbidden(p)]));
const statuses = (checks: Check[]) => checks.map((c) => `${c.id}:${c.status}`);

describe('doctor: cluster', () => {
  test('versions: 1.30 and later pass, older fail', () => {
    assert.equal(judge.judgeVersion({ major: '1', minor: '30', gitVersion: 'v1.30.0' }).status, 'ok');
    assert.equal(judge.judgeVersion({ major: '1', minor: '36+', gitVersion: 'v1.36.3-k3s1' }).status, 'ok');
    const old = judge.judgeVersion({ major: '1', minor: '29', gitVersion: 'v1.29.9' });
    assert.equal(old.status, 'fail');
    assert.match(old.hint!, /≥ 1\.30/);
  });

  test('CRDs: missing (× after install, fine before), edited (×), current (√)', () => {
    const expected = buildCrd(agentTaskDefinition) as Parameters<typeof judge.judgeCrd>[0];
    const installed = {
      ...structuredClone(expected),
      status: { conditions: [{ type: 'Established', status: 'True' }] },
    } as never;
    assert.equal(judge.judgeCrd(expected, installed, false).status, 'ok');
    assert.equal(judge.judgeCrd(expected, undefined, false).status, 'fail');
    assert.equal(judge.judgeCrd(expected, undefined, true).status, 'ok');
    const edited = structuredClone(installed) as {
      spec: { versions: Array<{ schema: { openAPIV3Schema: { description: string } } }> };
    };
    edited.spec.versions[0]!.schema.openAPIV3Schema.description = 'old';
    assert.equal(judge.judgeCrd(expected, edited as never, false).status, 'fail');
    const notEstablished = { ...structuredClone(expected), status: { conditions: [] } } as never;
    assert.equal(judge.judgeCrd(expected, notEstablished, false).status, 'fail');
  });

  test('admission policies: missing, edited, unbound, parameters missing or not listing the operator → ×; all there → √', () => {
    const [expected] = expectedPolicies();
    assert.ok(expected, 'the package ships crds/*.yaml with admission policies');
    const bound = { bindings: [{ name: 'b', paramRef: { name: 'cm', namespace: 'ns' }, paramFound: true }] };
    const edited = structuredClone(expected) as V1ValidatingAdmissionPolicy;
    edited.spec!.validations![0]!.expression = 'true';
    const listing = (paramOperators: string[]): judge.PolicyFacts => ({
      installed: expected,
      operatorUser: 'system:serviceaccount:ns:op',
      bindings: [{ name: 'b', paramRef: { name: 'cm', namespace: 'ns' }, paramFound: true, paramOperators }],
    });
    const cases: Array<[judge.PolicyFacts, boolean, string]> = [
      [{ installed: expected, ...bound }, false, 'ok'],
      [{ bindings: [] }, false, 'fail'],
      [{ bindings: [] }, true, 'ok'],
      // A policy the installation goes without (the pairing policy with channels off); installed, it is judged.
      [{ bindings: [], optional: 'approval channels are off' }, false, 'ok'],
      [{ installed: edited, ...bound, optional: 'approval channels are off' }, false, 'fail'],
      [{ installed: edited, ...bound }, false, 'fail'],
      [{ installed: expected, bindings: [] }, false, 'fail'],
      [
        {
          installed: expected,
          bindings: [{ name: 'b', paramRef: { name: 'cm', namespace: 'ns' }, paramFound: false }],
        },
        false,
        'fail',
      ],
      // The parameter lists the operators; the one running must be among them (another release re-pointed it).
      [listing(['system:serviceaccount:ns:op']), false, 'ok'],
      [listing(['system:serviceaccount:other:op', 'system:serviceaccount:ns:op']), false, 'ok'],
      [listing(['system:serviceaccount:other:op']), false, 'fail'],
      [listing([]), false, 'fail'],
      [{ ...listing(['system:serviceaccount:other:op']), operatorUser: undefined }, false, 'ok'],
    ];
    for (const [facts, pre, want] of cases)
      assert.equal(
        judge.judgePolicy(expected, facts, pre).status,
        want,
        JSON.stringify({ facts: Object.keys(facts), pre }),
      );
  });

  test('install rights: any denied verb is a × naming it', () => {
    assert.equal(judge.judgeInstallRights([]).status, 'ok');
    const denied = judge.judgeInstallRights(['create customresourcedefinitions']);
    assert.equal(denied.status, 'fail');
    assert.match(denied.hint!, /you may not create customresourcedefinitions/);
  });
});

describe('doctor: runtime and network', () => {
  test('RuntimeClasses: the handler must be a sandbox; gvisor is required, kata-qemu optional', () => {
    assert.equal(judge.judgeRuntimeClass('gvisor', { handler: 'runsc' } as never, true).status, 'ok');
    assert.equal(judge.judgeRuntimeClass('gvisor', undefined, true).status, 'fail');
    assert.equal(judge.judgeRuntimeClass('gvisor', { handler: 'runc' } as never, true).status, 'fail');
    assert.equal(judge.judgeRuntimeClass('kata-qemu', undefined, false).status, 'ok');
    assert.equal(judge.judgeRuntimeClass('kata-qemu', { handler: 'kata-qemu' } as never, false).status, 'ok');
    assert.equal(judge.judgeRuntimeClass('kata-qemu', { handler: 'runc' } as never, false).status, 'fail');
  });

  test('Pod Security: every agent namespace must enforce restricted', () => {
    const ns = (name: string, level?: string): V1Namespace => ({
      metadata: { name, labels: level ? { 'pod-security.kubernetes.io/enforce': level } : {} },
    });
    assert.deepEqual(
      statuses(judge.judgePodSecurity([ns('a', 'restricted'), ns('b', 'baseline'), ns('c')])),
      ['podsecurity-a:ok', 'podsecurity-b:fail', 'podsecurity-c:fail'],
    );
    assert.equal(judge.judgePodSecurity([])[0]!.status, 'ok');
  });

  test('the probe verdict: the control must connect; the denied pod must be stopped; gVisor shows in its kernel log', () => {
    const base = {
      targetIp: '10.244.0.9',
      allowedLog: 'info dmesg Starting gVisor...\nconnect 10.244.0.9:8080 open\n',
      deniedLog: 'isolation-check proven in 300 ms\n',
      deniedExitCode: 0,
      runtimeClassName: 'gvisor',
    };
    assert.deepEqual(probeVerdict(base), {
      kind: 'enforced',
      gvisor: true,
      detail: 'a deny-all-egress pod could not reach 10.244.0.9:8080; a pod without a policy could',
    });
    assert.equal(
      probeVerdict({ ...base, deniedExitCode: 3, deniedLog: 'isolation-check failed: x' }).kind,
      'not-enforced',
    );
    const control = probeVerdict({
      ...base,
      allowedLog: 'connect 10.244.0.9:8080 blocked (Connection refused)\n',
    });
    assert.equal(control.kind, 'inconclusive');
    assert.match(control.detail, /control pod \(no policy\) could not reach the target either/);
    const runc = probeVerdict({
      ...base,
      allowedLog: 'info uname Linux 6.1\nconnect 10.244.0.9:8080 open\n',
    });
    assert.deepEqual(statuses(probeChecks(runc)), ['netpol-enforced:ok', 'sandbox-proven:fail']);
    assert.deepEqual(statuses(probeChecks(probeVerdict({ ...base, runtimeClassName: undefined } as never))), [
      'netpol-enforced:ok',
    ]);
    assert.deepEqual(statuses(probeChecks({ kind: 'not-enforced', detail: 'x' })), ['netpol-enforced:fail']);
    assert.deepEqual(
      statuses(
        probeChecks({ kind: 'inconclusive', reason: 'no-node', detail: 'no node can run the probe pods' }),
      ),
      ['netpol-enforced:warn'],
    );
  });

  test('the probe dials only private pod addresses, and its pods pass the restricted Pod Security Standard', () => {
    for (const ip of ['10.1.2.3', '172.16.0.1', '172.31.255.1', '192.168.1.1', '100.64.0.1', 'fd00::1'])
      assert.ok(isPrivateAddress(ip), ip);
    for (const ip of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '127.0.0.1', '2001:db8::1', ''])
      assert.ok(!isPrivateAddress(ip), ip);
    const pod = probePod(
      'p',
      'denied',
      ['isolation-check', '10000', '10.0.0.1:8080'],
      { image: 'i', timeoutMs: 60_000 },
      'r',
    );
    const c = pod.spec!.containers[0]!;
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec?.automountServiceAccountToken, false);
    assert.equal(pod.spec?.activeDeadlineSeconds, 90);
    assert.deepEqual(c.command, [
      '/usr/local/bin/closedpaw-probe',
      'isolation-check',
      '10000',
      '10.0.0.1:8080',
    ]);
  });

  test('overrides: DNS egress ‼, audit off ×, runc as a sandbox ×, no approvers ‼', () => {
    const safe = { CLOSEDPAW_APPROVER_USERS: 'alice' };
    assert.deepEqual(statuses(judge.judgeOverrides(safe)), ['override-dns:ok']);
    assert.deepEqual(
      statuses(
        judge.judgeOverrides({
          CLOSEDPAW_ALLOW_DNS: 'true',
          CLOSEDPAW_AUDIT: 'off',
          CLOSEDPAW_SANDBOX_HANDLERS: 'runsc,runc',
          CLOSEDPAW_GATEWAY_ADDR: 'off',
          CLOSEDPAW_APPROVAL_TTL_SECONDS: '172800',
        }),
      ),
      [
        'override-dns:warn',
        'override-audit:fail',
        'override-handlers:fail',
        'override-gateway:warn',
        'override-approval-ttl:warn',
        'override-approvers:warn',
      ],
    );
  });
});

describe('doctor: operator, model, audit, ui', () => {
  const now = new Date('2030-01-01T00:00:30Z');
  const lease = (holder: string, renew: string): V1Lease => ({
    spec: { holderIdentity: holder, renewTime: new Date(renew) as never, leaseDurationSeconds: 15 },
  });
  const ref = { namespace: 'ns', name: 'closedpaw-operator' };

  test('leader: a fresh Lease held by an operator pod √; missing, expired ×; a stranger ‼; election off ‼', () => {
    assert.equal(
      judge.judgeLeader(lease('op-1', '2030-01-01T00:00:25Z'), ref, ['op-1'], now, true).status,
      'ok',
    );
    assert.equal(judge.judgeLeader(undefined, ref, ['op-1'], now, true).status, 'fail');
    assert.equal(
      judge.judgeLeader(lease('op-1', '2030-01-01T00:00:00Z'), ref, ['op-1'], now, true).status,
      'fail',
    );
    assert.equal(
      judge.judgeLeader(lease('other', '2030-01-01T00:00:25Z'), ref, ['op-1'], now, true).status,
      'warn',
    );
    assert.equal(judge.judgeLeader(undefined, ref, [], now, false).status, 'warn');
  });

  test('gateway: answers /api/version and refuses every management endpoint with 403 forbidden_endpoint', () => {
    assert.deepEqual(
      statuses(judge.judgeGateway({ status: 200, body: '{"version":"0.24.0"}' }, refusedAll)),
      ['gateway:ok', 'gateway-refuses:ok'],
    );
    const leaky = { ...refusedAll, '/api/tags': { status: 200, body: '{"models":[]}' } };
    const checks = judge.judgeGateway({ status: 200 }, leaky);
    assert.deepEqual(statuses(checks), ['gateway:ok', 'gateway-refuses:fail']);
    assert.match(checks[1]!.hint!, /\/api\/tags → 200/);
    const wrongCode = {
      ...refusedAll,
      '/api/pull': { status: 403, body: '{"error":"x","code":"unauthenticated"}' },
    };
    assert.equal(judge.judgeGateway({ status: 200 }, wrongCode)[1]!.status, 'fail');
    assert.equal(judge.judgeGateway({ error: 'ECONNREFUSED' }, refusedAll)[0]!.status, 'fail');
    assert.deepEqual(statuses(judge.judgeGateway(undefined, undefined)), ['gateway:warn']);
  });

  test('readyz and the Service endpoints', () => {
    assert.equal(judge.judgeReadyz({ status: 200 }).status, 'ok');
    assert.equal(judge.judgeReadyz({ status: 503, body: 'audit: cannot write' }).status, 'fail');
    assert.equal(judge.judgeGatewayService(undefined, 0, 'ns/gw').status, 'fail');
    assert.equal(judge.judgeGatewayService({} as never, 0, 'ns/gw').status, 'fail');
    assert.equal(judge.judgeGatewayService({} as never, 1, 'ns/gw').status, 'ok');
  });

  test('Ollama: unreachable ×, configured model missing ×, present √, none at all ‼', () => {
    const tags = (...names: string[]) => ({
      status: 200,
      body: JSON.stringify({ models: names.map((name) => ({ name })) }),
    });
    assert.deepEqual(statuses(judge.judgeOllama(tags('smollm2:135m'), ['smollm2:135m'], 'u')), [
      'ollama:ok',
      'models:ok',
    ]);
    assert.deepEqual(statuses(judge.judgeOllama(tags('llama3.2:latest'), ['llama3.2'], 'u')), [
      'ollama:ok',
      'models:ok',
    ]);
    const missing = judge.judgeOllama(tags('smollm2:135m'), ['llama3.2:3b'], 'u');
    assert.deepEqual(statuses(missing), ['ollama:ok', 'models:fail']);
    assert.match(missing[1]!.hint!, /missing: llama3\.2:3b/);
    assert.deepEqual(statuses(judge.judgeOllama({ error: 'ECONNREFUSED' }, [], 'u')), ['ollama:fail']);
    assert.deepEqual(statuses(judge.judgeOllama({ status: 200, body: '<html>' }, [], 'u')), ['ollama:fail']);
    assert.deepEqual(statuses(judge.judgeOllama(tags(), [], 'u')), ['ollama:ok', 'models:warn']);
  });

  test('audit: writable when ready; the log and its newest checkpoint verify; a broken log ×', () => {
    const good = { ok: true as const, records: 120, signedSeq: 118 };
    assert.deepEqual(statuses(judge.judgeAudit({ status: 200 }, good, true)), [
      'audit-writable:ok',
      'audit-verify:ok',
    ]);
    assert.deepEqual(
      statuses(judge.judgeAudit({ status: 503, body: 'audit log unavailable: EROFS' }, good, true)),
      ['audit-writable:fail', 'audit-verify:ok'],
    );
    assert.deepEqual(
      statuses(judge.judgeAudit({ status: 200 }, { ok: false, problem: '[chain] seq 7' }, true)),
      ['audit-writable:ok', 'audit-verify:fail'],
    );
    assert.deepEqual(
      statuses(judge.judgeAudit({ status: 200 }, { ok: true, records: 3, signedSeq: 0 }, true)),
      ['audit-writable:ok', 'audit-verify:warn'],
    );
    assert.deepEqual(judge.judgeAudit(undefined, undefined, false), []);
  });

  test('UI: loopback binding, reachable only on loopback, no Service in front of it', () => {
    assert.deepEqual(
      statuses(
        judge.judgeUiBinding(
          '127.0.0.1:7780',
          { loopback: 'open', external: { '10.244.0.7': 'ECONNREFUSED' } },
          [],
        ),
      ),
      ['ui-loopback:ok', 'ui-reach:ok'],
    );
    assert.deepEqual(statuses(judge.judgeUiBinding('0.0.0.0:7780', undefined, [])), ['ui-loopback:fail']);
    assert.deepEqual(
      statuses(
        judge.judgeUiBinding('127.0.0.1:7780', { loopback: 'open', external: { '10.244.0.7': 'open' } }, []),
      ),
      ['ui-loopback:ok', 'ui-reach:fail'],
    );
    assert.deepEqual(statuses(judge.judgeUiBinding('127.0.0.1:7780', undefined, ['ui'])), [
      'ui-loopback:ok',
      'ui-service:fail',
    ]);
    assert.deepEqual(statuses(judge.judgeUiBinding('off', undefined, [])), ['ui-loopback:ok']);
    assert.equal(judge.judgeUiToken({ kind: 'secret', secret: 's', found: false })?.status, 'fail');
  });

  test('UI pairing: said only with channels and an approver; a warning when the approver may not pair', () => {
    const on = { CLOSEDPAW_CHANNELS: 'telegram', CLOSEDPAW_UI_APPROVER: 'alice' };
    const cases: Array<[Record<string, string>, string | undefined]> = [
      [{}, undefined],
      [{ CLOSEDPAW_UI_APPROVER: 'alice', CLOSEDPAW_CHANNEL_USERS: 'alice' }, undefined],
      [{ ...on, CLOSEDPAW_UI_ADDR: 'off', CLOSEDPAW_CHANNEL_USERS: 'bob' }, undefined],
      [{ ...on, CLOSEDPAW_CHANNEL_USERS: 'bob, alice' }, 'ok'],
      [{ ...on, CLOSEDPAW_CHANNEL_USERS: 'bob' }, 'warn'],
      [{ ...on }, 'warn'],
    ];
    for (const [env, want] of cases)
      assert.equal(judge.judgeUiPairing(env)?.status, want, JSON.stringify(env));
    assert.match(
      judge.judgeUiPairing({ ...on, CLOSEDPAW_CHANNEL_USERS: 'bob' })!.hint!,
      /alice is not in CLOSEDPAW_CHANNEL_USERS/,
    );
  });

  test('the in-pod script only GETs loopback and the configured Ollama, and its answer is validated', () => {
    assert.doesNotMatch(IN_POD_SCRIPT, /method:/, 'no POST, PUT or DELETE anywhere');
    assert.match(IN_POD_SCRIPT, /'http:\/\/127\.0\.0\.1:' \+ gw \+ p/);
    const good = {
      readyz: { status: 200, body: 'ok' },
      gateway: { version: { status: 200 }, refused: refusedAll },
      audit: { ok: true, records: 1, signedSeq: 1 },
    };
    assert.ok('report' in parseInPodReport(JSON.stringify(good)));
    assert.ok('problem' in parseInPodReport('{"gateway": 1}'));
    assert.ok('problem' in parseInPodReport('Error: Cannot find module'));
  });
});

describe('doctor: output', () => {
  const checks: Check[] = [
    { category: 'runtime', id: 'a', status: 'ok', title: 'RuntimeClass gvisor exists' },
    { category: 'cluster', id: 'b', status: 'warn', title: 'w', hint: 'do this' },
    { category: 'network', id: 'c', status: 'fail', title: 'f', hint: 'fix that' },
  ];

  test('text: grouped in a fixed order, √ ‼ ×, hints indented; × exits 1', () => {
    assert.equal(
      renderText(checks),
      'cluster\n-------\n‼ w\n    do this\n\nruntime\n-------\n√ RuntimeClass gvisor exists\n\nnetwork\n-------\n× f\n    fix that\n\nStatus check results are ×: 1 failed, 1 warning\n',
    );
    assert.equal(exitCode(checks), 1);
    assert.equal(exitCode(checks.slice(0, 2)), 0);
  });

  test('json: success, summary and checks by category', () => {
    const json = JSON.parse(renderJson(checks)) as {
      success: boolean;
      summary: { failures: number };
      categories: Array<{ category: string }>;
    };
    assert.equal(json.success, false);
    assert.equal(json.summary.failures, 1);
    assert.deepEqual(
      json.categories.map((c) => c.category),
      ['cluster', 'runtime', 'network'],
    );
  });
});

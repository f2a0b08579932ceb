/**
 * `closedpaw doctor`, `up` and `down` against a real API server of their own (this file installs and
 * uninstalls cluster-wide objects, so it runs a private control plane, emptied of crds/ first so it looks
 * like a fresh cluster). There is no node here: the chart installs but its operator pod never runs, so
 * `up` is tested for install, upgrade and its clear timeout message (and --no-wait), and `down` for its
 * order with an in-process operator and a test kubelet serving the tasks. Each × the doctor claims is
 * produced by setting the cluster up to fail that check; the checks that need a running operator pod
 * (gateway, Ollama, audit verification, /readyz) are judged in operator/src/cli/doctor/judge.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import {
  type ClusterState,
  kubectl as clusterKubectl,
  startCluster,
  stopCluster,
} from '../../hack/cluster/controlplane.ts';
import { runCommand } from '../../hack/cluster/processes.ts';
import { AGENT_TASK, GROUP, VERSION } from '../../operator/src/api/meta.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { runOperator, Tasks, waitUntil } from '../support/operator.ts';
import { cli, ROOT } from './support.ts';

const HELM = join(ROOT, 'hack/bin/helm');
const NS = 'closedpaw-system';
let cluster: ClusterState;
let kc: KubeConfig;
let scratch = '';

const kubectl = (args: string[], input?: string) => clusterKubectl(cluster, args, input);
const closedpaw = (args: string[], env: Record<string, string> = {}) =>
  cli(args, { KUBECONFIG: cluster.kubeconfig, CLOSEDPAW_HELM: HELM, ...env });

interface DoctorJson {
  success: boolean;
  categories: Array<{
    category: string;
    checks: Array<{ id: string; result: string; title: string; hint?: string }>;
  }>;
}

/** `closedpaw doctor -o json …`: the exit code and each check by id. */
async function doctor(...args: string[]) {
  const r = await closedpaw(['doctor', '-o', 'json', ...args]);
  assert.ok(r.stdout.startsWith('{'), `doctor printed no JSON: ${r.stdout}${r.stderr}`);
  const report = JSON.parse(r.stdout) as DoctorJson;
  const checks = new Map(report.categories.flatMap((c) => c.checks.map((k) => [k.id, k] as const)));
  return { code: r.code, checks, report, stderr: r.stderr };
}

const result = (checks: Map<string, { result: string }>, id: string) => checks.get(id)?.result;

before(async () => {
  cluster = await startCluster(await mkdtemp(join(tmpdir(), 'closedpaw-cli-lifecycle-')));
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  scratch = await mkdtemp(join(tmpdir(), 'closedpaw-cli-scratch-'));
  // A fresh cluster: nothing of crds/ (startCluster installs it for the other tests).
  await kubectl(['delete', '-f', join(ROOT, 'crds'), '--ignore-not-found', '--wait=true']);
});

after(async () => {
  if (cluster) await stopCluster(cluster.dir);
  await rm(scratch, { recursive: true, force: true });
});

describe('closedpaw doctor --pre on a fresh cluster', () => {
  test('no gvisor RuntimeClass: × with what to do; CRDs and policies "not installed yet"; no node: ‼, never a hang', async () => {
    const d = await doctor('--pre', '--probe-timeout', '20s');
    assert.equal(d.code, 1);
    assert.equal(result(d.checks, 'reachable'), 'ok');
    assert.equal(result(d.checks, 'version'), 'ok');
    assert.equal(result(d.checks, 'crd-agenttasks.closedpaw.dev'), 'ok');
    assert.match(d.checks.get('crd-agenttasks.closedpaw.dev')!.title, /not installed yet/);
    assert.equal(result(d.checks, 'policy-closedpaw-approval-decisions'), 'ok');
    assert.equal(result(d.checks, 'install-rbac'), 'ok');
    assert.equal(result(d.checks, 'runtimeclass-gvisor'), 'fail');
    assert.match(d.checks.get('runtimeclass-gvisor')!.hint!, /install gVisor on the nodes and create it/);
    assert.equal(result(d.checks, 'netpol-enforced'), 'warn');
    assert.match(d.checks.get('netpol-enforced')!.hint!, /no node can run the probe pods/);
    assert.equal(d.checks.has('operator-ready'), false);
  });

  test('a gvisor RuntimeClass whose handler is runc: ×', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nhandler: runc\n',
    );
    const d = await doctor('--pre', '--skip-probe');
    assert.equal(d.code, 1);
    assert.equal(result(d.checks, 'runtimeclass-gvisor'), 'fail');
    assert.match(d.checks.get('runtimeclass-gvisor')!.hint!, /handler "runc", which is not a sandbox/);
    await kubectl(['delete', 'runtimeclass', 'gvisor']);
  });

  test('passes once the RuntimeClass is right (exit 0; the probe is only a warning without a node)', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      'apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: gvisor}\nhandler: runsc\n',
    );
    const d = await doctor('--pre', '--probe-timeout', '20s');
    assert.equal(d.code, 0, JSON.stringify(d.report, null, 1));
    assert.ok([...d.checks.values()].every((c) => c.result !== 'fail'));
    const text = await closedpaw(['doctor', '--pre', '--skip-probe']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^cluster\n-------\n√ the API server/);
    assert.match(text.stdout, /\n‼ NetworkPolicies are enforced\n {4}not run \(--skip-probe\)\n/);
    assert.match(text.stdout, /Status check results are ‼/);
  });

  test('no RBAC to install: ×', async () => {
    await kubectl(['create', 'namespace', 'lowly']);
    await kubectl(['create', 'serviceaccount', 'lowly', '-n', 'lowly']);
    const token = (await kubectl(['create', 'token', 'lowly', '-n', 'lowly'])).trim();
    const lowly = new KubeConfig();
    lowly.loadFromOptions({
      clusters: [kc.getCurrentCluster()!],
      users: [{ name: 'lowly', token }],
      contexts: [{ name: 'lowly', cluster: kc.getCurrentCluster()!.name, user: 'lowly' }],
      currentContext: 'lowly',
    });
    const file = join(scratch, 'lowly');
    await writeFile(file, lowly.exportConfig());
    const r = await cli(['doctor', '--pre', '--skip-probe', '-o', 'json'], { KUBECONFIG: file });
    assert.equal(r.code, 1);
    const checks = (JSON.parse(r.stdout) as DoctorJson).categories.flatMap((c) => c.checks);
    const rbac = checks.find((c) => c.id === 'install-rbac');
    assert.equal(rbac?.result, 'fail', r.stdout);
    assert.match(rbac!.hint!, /you may not create customresourcedefinitions/);
  });
});

describe('closedpaw doctor: the API server itself', () => {
  test('unreachable: × naming the server, and nothing else is checked', async () => {
    const dead = new KubeConfig();
    dead.loadFromOptions({
      clusters: [{ ...kc.getCurrentCluster()!, server: 'https://127.0.0.1:9' }],
      users: [{ name: 'u', token: 'x' }],
      contexts: [{ name: 'c', cluster: kc.getCurrentCluster()!.name, user: 'u' }],
      currentContext: 'c',
    });
    const file = join(scratch, 'dead');
    await writeFile(file, dead.exportConfig());
    const r = await cli(['doctor'], { KUBECONFIG: file });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /× the API server https:\/\/127\.0\.0\.1:9 is reachable\n {4}cannot reach the API server at https:\/\/127\.0\.0\.1:9/,
    );
    assert.doesNotMatch(r.stdout, /runtime\n/);
  });

  test('an unsupported Kubernetes version: ×', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/version') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ major: '1', minor: '28', gitVersion: 'v1.28.9' }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const old = new KubeConfig();
      old.loadFromOptions({
        clusters: [
          {
            name: 'old',
            server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: 'u', token: 'x' }],
        contexts: [{ name: 'c', cluster: 'old', user: 'u' }],
        currentContext: 'c',
      });
      const file = join(scratch, 'old');
      await writeFile(file, old.exportConfig());
      const r = await cli(['doctor'], { KUBECONFIG: file });
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /× Kubernetes v1\.28\.9 is not supported\n {4}ClosedPaw needs Kubernetes ≥ 1\.30/,
      );
    } finally {
      server.close();
    }
  });
});

describe('closedpaw up', () => {
  test('installs the chart, then says clearly that the operator is not Ready when the wait runs out (exit 1)', async () => {
    const r = await closedpaw(['up', '--timeout', '5s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /helm: release closedpaw installed \(revision 1\)/);
    assert.match(
      r.stderr,
      /closedpaw up: the operator is not Ready after 5s \(0\/1 pods are Ready; pod closedpaw-[a-z0-9-]+ is not scheduled on any node yet\)\. The chart is installed; see kubectl describe pod closedpaw-/,
    );
    const status = await runCommand(HELM, ['status', 'closedpaw', '-n', NS], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    });
    assert.match(status.stdout, /STATUS: deployed/);
  });

  test('--no-wait upgrades the release and prints how to open the UI (exit 0)', async () => {
    const r = await closedpaw(['up', '--no-wait', '--set', 'allowDns=true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /helm: release closedpaw upgraded \(revision 2\)/);
    assert.match(r.stdout, /closedpaw ui -n closedpaw-system/);
    assert.match(r.stdout, /closedpaw doctor -n closedpaw-system/);
  });

  test('bad input: a values file that does not exist, a bad --set, a bad value (schema): one line each', async () => {
    const missing = await closedpaw(['up', '-f', join(scratch, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--values: no such file: .*nope\.yaml \(usage: closedpaw up --help\)/);
    const set = await closedpaw(['up', '--set', 'novalue']);
    assert.equal(set.code, 2);
    assert.match(set.stderr, /--set: "novalue" is not KEY=VALUE/);
    const schema = await closedpaw(['up', '--no-wait', '--set', 'gateway.port=notaport']);
    assert.equal(schema.code, 1);
    assert.equal(schema.stderr.trim().split('\n').length, 2, schema.stderr);
    assert.match(schema.stderr, /closedpaw up: helm: Error: /);
  });
});

describe('closedpaw doctor after up (no node: the operator cannot run)', () => {
  test('the installation is checked: CRDs and policies current, the operator × not Ready, no leader, no gateway endpoints; DNS egress listed', async () => {
    const d = await doctor('--skip-probe');
    assert.equal(d.code, 1);
    for (const id of [
      'crd-agenttasks.closedpaw.dev',
      'crd-approvals.closedpaw.dev',
      'policy-closedpaw-approval-decisions',
      'policy-closedpaw-approval-integrity',
    ]) {
      assert.equal(result(d.checks, id), 'ok', `${id}: ${JSON.stringify(d.checks.get(id))}`);
    }
    assert.equal(result(d.checks, 'operator-ready'), 'fail');
    assert.match(d.checks.get('operator-ready')!.hint!, /not scheduled/);
    assert.equal(result(d.checks, 'leader'), 'fail');
    assert.match(d.checks.get('leader')!.hint!, /Lease closedpaw-system\/closedpaw-operator does not exist/);
    assert.equal(result(d.checks, 'gateway-service'), 'fail');
    assert.equal(result(d.checks, 'override-dns'), 'warn');
    assert.equal(result(d.checks, 'ui-loopback'), 'ok');
    assert.equal(result(d.checks, 'ui-token'), 'ok');
    assert.equal(result(d.checks, 'gateway'), 'warn');
    assert.match(d.checks.get('gateway')!.hint!, /no running operator pod/);
  });

  /** `closedpaw up --no-wait`, which must succeed (it is how a misconfiguration is repaired). */
  const upAgain = async (...set: string[]) => {
    const r = await closedpaw(['up', '--no-wait', ...set.flatMap((s) => ['--set', s])]);
    assert.equal(r.code, 0, r.stderr);
  };
  const freshLease = (renewTime: string) =>
    kubectl(
      ['apply', '-f', '-'],
      `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: closedpaw-operator, namespace: ${NS}}\nspec: {holderIdentity: gone-pod, leaseDurationSeconds: 15, renewTime: "${renewTime}"}\n`,
    );
  const now = () => new Date().toISOString().replace('Z', '000Z');

  const misconfigurations: Array<{
    what: string;
    id: string;
    hint: RegExp;
    prepare?: () => Promise<unknown>;
    breakIt: () => Promise<unknown>;
    fixIt: () => Promise<unknown>;
    cleanup?: () => Promise<unknown>;
  }> = [
    {
      what: 'an edited (outdated) CRD',
      id: 'crd-agenttasks.closedpaw.dev',
      hint: /differs from this CLI’s schema/,
      breakIt: () =>
        kubectl([
          'patch',
          'crd',
          'agenttasks.closedpaw.dev',
          '--type=json',
          '-p',
          '[{"op":"replace","path":"/spec/versions/0/schema/openAPIV3Schema/description","value":"old"}]',
        ]),
      fixIt: () =>
        kubectl([
          'apply',
          '--server-side',
          '--force-conflicts',
          '-f',
          join(ROOT, 'crds/agenttasks.closedpaw.dev.yaml'),
        ]),
    },
    {
      what: 'a missing CRD',
      id: 'crd-approvals.closedpaw.dev',
      hint: /it is missing/,
      breakIt: () => kubectl(['delete', 'crd', 'approvals.closedpaw.dev', '--wait=true']),
      fixIt: () =>
        kubectl([
          'apply',
          '--server-side',
          '--force-conflicts',
          '-f',
          join(ROOT, 'crds/approvals.closedpaw.dev.yaml'),
        ]),
    },
    {
      what: 'an edited admission policy',
      id: 'policy-closedpaw-approval-decisions',
      hint: /its rules differ/,
      breakIt: () =>
        kubectl([
          'patch',
          'validatingadmissionpolicy',
          'closedpaw-approval-decisions',
          '--type=json',
          '-p',
          '[{"op":"replace","path":"/spec/validations/0/expression","value":"true"}]',
        ]),
      fixIt: () => upAgain(),
    },
    {
      what: 'a missing admission policy',
      id: 'policy-closedpaw-approval-decisions',
      hint: /it is missing/,
      breakIt: () => kubectl(['delete', 'validatingadmissionpolicy', 'closedpaw-approval-decisions']),
      fixIt: () => upAgain(),
    },
    {
      what: 'an unbound admission policy',
      id: 'policy-closedpaw-approval-decisions',
      hint: /no ValidatingAdmissionPolicyBinding names it/,
      breakIt: () => kubectl(['delete', 'validatingadmissionpolicybinding', 'closedpaw-approval-decisions']),
      fixIt: () => upAgain(),
    },
    {
      what: "the approval-integrity policy's missing parameters",
      id: 'policy-closedpaw-approval-integrity',
      hint: /names ConfigMap closedpaw-system\/closedpaw-operator-identity, which is missing/,
      breakIt: () => kubectl(['delete', 'configmap', 'closedpaw-operator-identity', '-n', NS]),
      fixIt: () => upAgain(),
    },
    {
      what: "an approval-integrity parameter that does not list this operator (another release's)",
      id: 'policy-closedpaw-approval-integrity',
      hint: /names ConfigMap closedpaw-system\/closedpaw-operator-identity, which does not list system:serviceaccount:closedpaw-system:closedpaw/,
      breakIt: () =>
        kubectl([
          'patch',
          'configmap',
          'closedpaw-operator-identity',
          '-n',
          NS,
          '--type=merge',
          '-p',
          '{"data":{"operators":"system:serviceaccount:elsewhere:closedpaw"}}',
        ]),
      fixIt: () => upAgain(),
    },
    {
      what: 'an agent namespace without the restricted Pod Security Standard',
      id: 'podsecurity-lax-agents',
      hint: /has no enforce label: kubectl label ns lax-agents pod-security\.kubernetes\.io\/enforce=restricted/,
      breakIt: async () => {
        await kubectl(['create', 'namespace', 'lax-agents']);
        await new Tasks(kc, 'lax-agents').create('lax', { tools: ['fs.read'] });
      },
      fixIt: async () => {
        await kubectl(['delete', 'agenttasks', '--all', '-n', 'lax-agents']);
        await kubectl(['delete', 'namespace', 'lax-agents', '--wait=true']);
      },
    },
    {
      what: 'a leader Lease nobody renews',
      id: 'leader',
      hint: /was last renewed \d+s ago by gone-pod and has expired/,
      prepare: () => freshLease(now()),
      breakIt: () => freshLease('2020-01-01T00:00:00.000000Z'),
      fixIt: () => freshLease(now()),
      cleanup: () => kubectl(['delete', 'lease', 'closedpaw-operator', '-n', NS]),
    },
    {
      what: 'a UI bound beyond loopback',
      id: 'ui-loopback',
      hint: /CLOSEDPAW_UI_ADDR=0\.0\.0\.0:7780: set it to 127\.0\.0\.1:PORT/,
      breakIt: () =>
        kubectl(['set', 'env', 'deployment/closedpaw', '-n', NS, 'CLOSEDPAW_UI_ADDR=0.0.0.0:7780']),
      fixIt: () => upAgain(),
    },
    {
      what: 'a Service exposing the UI',
      id: 'ui-service',
      hint: /ui-exposed target the UI port/,
      breakIt: () => kubectl(['create', 'service', 'clusterip', 'ui-exposed', '-n', NS, '--tcp=80:7780']),
      fixIt: () => kubectl(['delete', 'service', 'ui-exposed', '-n', NS]),
    },
    {
      what: 'the audit log switched off',
      id: 'override-audit',
      hint: /CLOSEDPAW_AUDIT=off: nothing is recorded/,
      breakIt: () => upAgain('audit.enabled=false'),
      fixIt: () => upAgain('audit.enabled=true'),
    },
    {
      what: 'runc counted as a sandbox handler',
      id: 'override-handlers',
      hint: /CLOSEDPAW_SANDBOX_HANDLERS includes runc/,
      breakIt: () =>
        kubectl(['set', 'env', 'deployment/closedpaw', '-n', NS, 'CLOSEDPAW_SANDBOX_HANDLERS=runsc,runc']),
      fixIt: () => kubectl(['set', 'env', 'deployment/closedpaw', '-n', NS, 'CLOSEDPAW_SANDBOX_HANDLERS-']),
    },
  ];

  for (const m of misconfigurations) {
    test(`finds ${m.what}: × ${m.id}`, async () => {
      await m.prepare?.();
      const before = await doctor('--skip-probe');
      assert.notEqual(
        result(before.checks, m.id),
        'fail',
        `${m.id} fails before the misconfiguration: ${JSON.stringify(before.checks.get(m.id))}`,
      );
      await m.breakIt();
      try {
        const d = await doctor('--skip-probe');
        assert.equal(d.code, 1);
        assert.equal(result(d.checks, m.id), 'fail', JSON.stringify(d.checks.get(m.id)));
        assert.match(d.checks.get(m.id)!.hint!, m.hint);
      } finally {
        await m.fixIt();
      }
      const after = await doctor('--skip-probe');
      await m.cleanup?.();
      assert.notEqual(
        result(after.checks, m.id),
        'fail',
        `${m.id} still fails after the fix: ${JSON.stringify(after.checks.get(m.id))}`,
      );
    });
  }
});

describe('closedpaw doctor: the NetworkPolicy probe with a node (a test kubelet playing it)', () => {
  let ns = '';
  let kubelet: TestKubelet;
  let enforce = true;
  let gvisorKernel = true;

  before(async () => {
    ns = 'probe-here';
    await kubectl(['create', 'namespace', ns]);
    await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
    kubelet = new TestKubelet(kc, ns);
    kubelet.behave = (pod) => {
      const role = pod.metadata?.labels?.['closedpaw.dev/doctor-role'];
      const command = pod.spec?.containers[0]?.command ?? [];
      if (role === 'target') return { kind: 'run' };
      if (role === 'allowed') {
        const target = `${command[command.indexOf('connect') + 1]}:${command[command.indexOf('connect') + 2]}`;
        const dmesg = gvisorKernel ? 'info dmesg Starting gVisor...\n' : 'info dmesg Linux version 6.1\n';
        return { kind: 'succeed', log: `${dmesg}connect ${target} open\n` };
      }
      if (role === 'denied') {
        return enforce
          ? {
              kind: 'succeed',
              log: `isolation-check ${command.at(-1)} blocked (Connection timed out) after 250 ms, 1 attempts\nisolation-check proven in 251 ms\n`,
            }
          : {
              kind: 'fail',
              exitCode: 3,
              message: `isolation not proven: ${command.at(-1)} still reachable after 10000 ms (40 attempts): egress policy not enforced`,
              log: 'isolation-check failed: still reachable\n',
            };
      }
      return { kind: 'run' };
    };
    await kubelet.start();
  });

  after(async () => {
    await kubelet?.stop();
  });

  test('enforced: √, and the gvisor probe pod ran in gVisor: √', async () => {
    enforce = true;
    gvisorKernel = true;
    const d = await doctor('--pre', '--probe-namespace', ns, '--probe-timeout', '60s');
    assert.equal(result(d.checks, 'netpol-enforced'), 'ok', JSON.stringify(d.checks.get('netpol-enforced')));
    assert.equal(result(d.checks, 'sandbox-proven'), 'ok');
    const policies = await kc.makeApiClient(NetworkingV1Api).listNamespacedNetworkPolicy({ namespace: ns });
    assert.equal(policies.items.length, 0, 'the probe cleans up its policy');
    await waitUntil(
      'probe pods deleted',
      async () =>
        (
          await kc
            .makeApiClient(CoreV1Api)
            .listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/component=doctor' })
        ).items.length === 0,
      30_000,
    );
  });

  test('not enforced (the denied pod still reaches the target): ×', async () => {
    enforce = false;
    const d = await doctor('--pre', '--probe-namespace', ns, '--probe-timeout', '60s');
    assert.equal(d.code, 1);
    assert.equal(result(d.checks, 'netpol-enforced'), 'fail');
    assert.match(d.checks.get('netpol-enforced')!.hint!, /ignores NetworkPolicies/);
    enforce = true;
  });

  test('a gvisor pod whose kernel is not gVisor: ×', async () => {
    gvisorKernel = false;
    const d = await doctor('--pre', '--probe-namespace', ns, '--probe-timeout', '60s');
    assert.equal(d.code, 1);
    assert.equal(result(d.checks, 'sandbox-proven'), 'fail');
    gvisorKernel = true;
  });

  test('pods no node runs: ‼ after the probe timeout, with the pod’s state', async () => {
    const d = await doctor('--pre', '--probe-timeout', '3s');
    assert.equal(result(d.checks, 'netpol-enforced'), 'warn');
    assert.match(
      d.checks.get('netpol-enforced')!.hint!,
      /no node ran the probe pods within 3s \(pod doctor-target-[a-f0-9]+: not scheduled\)/,
    );
  });
});

describe('closedpaw down', () => {
  let operator: RunningOperator | undefined;
  let kubelet: TestKubelet | undefined;
  const agents = 'agents-down';

  after(async () => {
    await operator?.stop().catch(() => undefined);
    await kubelet?.stop();
  });

  test('deletes the AgentTasks first and waits until tasks, sandbox pods and NetworkPolicies are gone, then uninstalls', async () => {
    await kubectl(['create', 'namespace', agents]);
    await kubectl(['label', 'namespace', agents, 'pod-security.kubernetes.io/enforce=restricted']);
    kubelet = new TestKubelet(kc, agents);
    await kubelet.start();
    operator = await runOperator(kc, agents);
    const tasks = new Tasks(kc, agents);
    for (const name of ['one', 'two', 'three']) await tasks.create(name, { tools: ['fs.read'] });
    for (const name of ['one', 'two', 'three']) await tasks.waitForPhase(name, 'Running');
    const r = await closedpaw(['down', '--timeout', '60s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /deleting 3 AgentTasks; waiting for their sandboxes to go/);
    assert.match(
      r.stderr,
      /all AgentTasks, sandbox pods and their NetworkPolicies are gone\nhelm: release closedpaw uninstalled/,
    );
    assert.match(r.stdout, /ClosedPaw is uninstalled from namespace closedpaw-system \(CRDs kept/);
    const left = await kc
      .makeApiClient(CustomObjectsApi)
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: AGENT_TASK.plural });
    assert.equal((left as { items: unknown[] }).items.length, 0);
    const policies = await kc
      .makeApiClient(NetworkingV1Api)
      .listNetworkPolicyForAllNamespaces({ labelSelector: 'app.kubernetes.io/managed-by=closedpaw' });
    assert.equal(policies.items.length, 0, 'no policy is left Terminating');
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: agents });
    assert.equal(pods.items.filter((p) => p.metadata?.labels?.['closedpaw.dev/role'] === 'agent').length, 0);
    const status = await runCommand(HELM, ['status', 'closedpaw', '-n', NS], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    });
    assert.notEqual(status.code, 0);
    await kubectl(['get', 'crd', 'agenttasks.closedpaw.dev']);
  });

  test('again: there is nothing to uninstall (exit 1, one line)', async () => {
    const r = await closedpaw(['down']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /closedpaw down: helm: Error: release: not found — helm list -A shows the installed releases/,
    );
  });
});

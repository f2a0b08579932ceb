/**
 * The Helm chart: lints strictly; what it renders (the in-cluster Ollama, its model-pull Job, NetworkPolicies,
 * agent namespaces and the helm test pod included) is accepted by the real API server, every pod template
 * under the restricted Pod Security Standard; RBAC is least privilege (the operator may impersonate exactly
 * the one configured human and cannot write a decision as itself); a wrong value fails naming the field; the
 * UI token Secret is generated once and kept; and the helm test's checks fail when what they check is broken.
 * The chart on a real node (helm install → a task with the real model) is test/node/e2e/helm-install.e2e.ts.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCommand } from '../hack/cluster/processes.ts';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';

const HELM = join(import.meta.dirname, '../hack/bin/helm');
const NODE = join(import.meta.dirname, '../node_modules/.bin/node');
const CHART = join(import.meta.dirname, '../charts/closedpaw');
const HELM_TEST_SCRIPT = join(CHART, 'files/helm-test.mjs');
let ns = '';
let release = '';
let agentNs = '';
let rendered = '';
let operatorSa = '';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

const template = (name: string, namespace: string, args: string[] = []) =>
  runCommand(HELM, ['template', name, CHART, '-n', namespace, '--kube-version', '1.36.3', ...args]);

const documents = (yaml: string): Doc[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);

const find = (docs: Doc[], kind: string, name: string) => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(doc, `no ${kind} ${name} rendered`);
  return doc;
};

before(async () => {
  ns = await createTestNamespace('chart');
  release = `cp${ns.slice(-6)}`;
  agentNs = `${ns}-agents`;
  operatorSa = `system:serviceaccount:${ns}:${release}-closedpaw`;
  const rendering = await template(release, ns, [
    ...['--set', 'uiApprover=alice'],
    ...['--set', 'ollama.enabled=true', '--set', 'ollama.models={llama3.2:3b}'],
    ...['--set', `agentNamespaces={${agentNs}}`],
    ...['--set', 'runtimeClasses.gvisor.create=true', '--set', 'runtimeClasses.kataQemu.create=true'],
  ]);
  assert.equal(rendering.code, 0, rendering.stderr);
  rendered = rendering.stdout;
});

after(async () => {
  // The release's own cluster-scoped objects; the policies and approver role are shared with the cluster and stay.
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`]);
  await kubectl(['delete', 'namespace', agentNs, '--ignore-not-found', '--wait=false']);
  await deleteNamespace(ns);
});

const canI = async (...args: string[]) =>
  (await kubectl(['auth', 'can-i', `--as=${operatorSa}`, ...args])).stdout.trim();

test('helm lint --strict passes', async () => {
  const lint = await runCommand(HELM, ['lint', '--strict', CHART]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

describe('what the chart renders', () => {
  test('is accepted by the API server (RuntimeClasses as a dry run: other tests own gvisor and kata-qemu)', async () => {
    const docs = documents(rendered);
    const isHook = (d: Doc) => Boolean(d.metadata.annotations?.['helm.sh/hook']);
    const runtimeClasses = docs.filter((d) => d.kind === 'RuntimeClass');
    const rest = docs.filter((d) => d.kind !== 'RuntimeClass' && !isHook(d));
    const yaml = (list: Doc[]) => list.map((d) => JSON.stringify(d)).join('\n---\n');
    const apply = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'],
      yaml(rest),
    );
    assert.equal(apply.code, 0, apply.stderr);
    const classes = await kubectl(['apply', '--dry-run=server', '-f', '-'], yaml(runtimeClasses));
    assert.equal(classes.code, 0, classes.stderr);
  });

  test('every pod it makes passes restricted Pod Security: operator, Ollama, model pull, helm test', async () => {
    const docs = documents(rendered);
    const pods: Doc[] = [
      podFrom(find(docs, 'Deployment', `${release}-closedpaw`)),
      podFrom(find(docs, 'StatefulSet', `${release}-closedpaw-ollama`)),
      podFrom(docs.find((d) => d.kind === 'Job') ?? assert.fail('no model-pull Job rendered')),
      find(docs, 'Pod', `${release}-closedpaw-test`),
    ];
    for (const pod of pods) {
      const created = await kubectl(
        ['create', '--dry-run=server', '-n', ns, '-o', 'name', '-f', '-'],
        JSON.stringify(pod),
      );
      assert.equal(created.code, 0, `${pod.metadata.name}: ${created.stderr}`);
    }
  });

  test('agent namespaces enforce restricted Pod Security and bind the sandbox admission policy', () => {
    const labels = find(documents(rendered), 'Namespace', agentNs).metadata.labels;
    assert.equal(labels?.['closedpaw.dev/agents'], 'true');
    assert.equal(labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  test('the sandbox admission policy is crds/sandbox-pod-policy.yaml, and can be left out', async () => {
    const docs = documents(rendered);
    const binding = find(docs, 'ValidatingAdmissionPolicyBinding', 'closedpaw-sandbox-pods');
    assert.deepEqual(binding.spec?.matchResources, {
      namespaceSelector: { matchLabels: { 'closedpaw.dev/agents': 'true' } },
    });
    const shipped = documents(
      (await runCommand('cat', [join(import.meta.dirname, '../crds/sandbox-pod-policy.yaml')])).stdout,
    );
    assert.deepEqual(find(docs, 'ValidatingAdmissionPolicy', 'closedpaw-sandbox-pods'), shipped[0]);
    const without = await template(release, ns, ['--set', 'sandboxAdmission.enabled=false']);
    assert.doesNotMatch(without.stdout, /closedpaw-sandbox-pods/);
  });

  test('Kata gets its pod overhead; gVisor is runsc', () => {
    const docs = documents(rendered);
    assert.equal(find(docs, 'RuntimeClass', 'gvisor').handler, 'runsc');
    const kata = find(docs, 'RuntimeClass', 'kata-qemu');
    assert.equal(kata.handler, 'kata-qemu');
    assert.deepEqual(kata.overhead, { podFixed: { cpu: '250m', memory: '160Mi' } });
  });

  test('Ollama answers only the operator pods and the pull Job, and reaches out only to download models', () => {
    const policy = find(documents(rendered), 'NetworkPolicy', `${release}-closedpaw-ollama`).spec as {
      ingress: { from: { podSelector: { matchLabels: Record<string, string> } }[]; ports: unknown[] }[];
      egress: { ports: { port: number }[]; to?: unknown }[];
    };
    assert.equal(policy.ingress.length, 1);
    assert.deepEqual(
      policy.ingress[0]!.from.map((f) => f.podSelector.matchLabels['app.kubernetes.io/name']),
      ['closedpaw', 'closedpaw-ollama-pull'],
    );
    assert.deepEqual(policy.ingress[0]!.ports, [{ protocol: 'TCP', port: 11434 }]);
    assert.deepEqual(
      policy.egress.flatMap((e) => e.ports.map((p) => p.port)),
      [443, 53, 53],
    );
  });

  test('without a model list Ollama gets no egress at all', async () => {
    const plain = await template(release, ns, ['--set', 'ollama.enabled=true']);
    const policy = find(documents(plain.stdout), 'NetworkPolicy', `${release}-closedpaw-ollama`);
    assert.deepEqual((policy.spec as { egress: unknown[] }).egress, []);
    assert.equal(
      documents(plain.stdout).some((d) => d.kind === 'Job'),
      false,
    );
  });

  test('the operator accepts gateway calls only from sandbox pods and the helm test', () => {
    const policy = find(documents(rendered), 'NetworkPolicy', `${release}-closedpaw`).spec as {
      ingress: { from: Record<string, unknown>[]; ports: { port: number }[] }[];
    };
    const gateway = policy.ingress.find((rule) => rule.ports.some((p) => p.port === 11435));
    assert.deepEqual(gateway?.from, [
      {
        namespaceSelector: {},
        podSelector: {
          matchLabels: { 'app.kubernetes.io/managed-by': 'closedpaw', 'closedpaw.dev/role': 'agent' },
        },
      },
      {
        podSelector: {
          matchLabels: { 'app.kubernetes.io/name': 'closedpaw-test', 'app.kubernetes.io/instance': release },
        },
      },
    ]);
  });
});

describe('RBAC', () => {
  test('the operator may impersonate exactly the configured human', async () => {
    assert.equal(await canI('impersonate', 'users/alice'), 'yes');
    assert.equal(await canI('impersonate', 'users/mallory'), 'no');
    assert.equal(await canI('impersonate', 'groups/system:masters'), 'no');
  });

  test('the operator cannot decide as itself, nor read secrets; it can do its job', async () => {
    assert.equal(await canI('patch', 'approvals.closedpaw.dev', '-n', ns), 'no');
    assert.equal(await canI('patch', 'approvals.closedpaw.dev', '--subresource=status', '-n', ns), 'yes');
    assert.equal(await canI('get', 'secrets', '-n', ns), 'no');
    assert.equal(await canI('create', 'pods', '-n', ns), 'yes');
    assert.equal(await canI('get', 'pods', '--subresource=log', '-n', ns), 'yes');
    assert.equal(await canI('create', 'networkpolicies', '-n', ns), 'yes');
    assert.equal(await canI('update', 'leases', '-n', ns), 'yes');
    assert.equal(await canI('update', 'leases', '-n', 'kube-system'), 'no');
  });
});

describe('values.schema.json: a wrong value fails, naming the field', () => {
  const wrong: [string[], RegExp][] = [
    [['--set', 'logLevel=loud'], /at '\/logLevel': value must be one of/],
    [['--set', 'gateway.port=0'], /at '\/gateway\/port'/],
    [['--set', 'gateway.prot=1'], /at '\/gateway': additional properties 'prot' not allowed/],
    [['--set', 'image.digest=latest'], /at '\/image\/digest'/],
    [['--set', 'image.pullPolicy=Sometimes'], /at '\/image\/pullPolicy'/],
    [['--set', 'ollama.url=ollama:11434'], /at '\/ollama\/url'/],
    [['--set', 'ollama.service.clusterIP=ten.96.0.9'], /at '\/ollama\/service\/clusterIP'/],
    [['--set', 'agentNamespaces={Agents_Here}'], /at '\/agentNamespaces\/0'/],
    [['--set', 'isolationProbes={10.96.0.1}'], /at '\/isolationProbes\/0'/],
    [['--set-string', 'audit.enabled=yes'], /at '\/audit\/enabled'/],
    [['--set', 'resources.limits.memory=lots'], /at '\/resources\/limits\/memory'/],
  ];
  for (const [args, named] of wrong) {
    test(`${args.at(-1)}`, async () => {
      const result = await template('closedpaw', 'closedpaw-system', args);
      assert.notEqual(result.code, 0, 'rendered anyway');
      assert.match(result.stderr, named);
    });
  }

  test('helm install refuses it too, before touching the cluster', async () => {
    const install = await runCommand(HELM, [
      'install',
      'schema-check',
      CHART,
      '-n',
      ns,
      '--dry-run=client',
      '--set',
      'workers=0',
    ]);
    assert.notEqual(install.code, 0);
    assert.match(install.stderr, /at '\/workers'/);
  });

  test('the defaults and every documented value are valid', async () => {
    const result = await template('closedpaw', 'closedpaw-system');
    assert.equal(result.code, 0, result.stderr);
  });
});

describe('the UI token Secret', () => {
  const tokenOf = async (namespace: string) => {
    const result = await template(release, namespace, [
      '--dry-run=server',
      '--show-only',
      'templates/ui-token-secret.yaml',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const secret = documents(result.stdout)[0] as { data?: { token?: string } };
    return Buffer.from(secret.data?.token ?? '', 'base64').toString();
  };

  test('is generated: 48 random characters, different on each fresh install', async () => {
    const [a, b] = [await tokenOf(agentNs), await tokenOf(agentNs)];
    assert.match(a, /^[A-Za-z0-9]{48}$/);
    assert.notEqual(a, b);
  });

  test('is kept when it exists (helm upgrade): lookup returns the installed one', async () => {
    const kept = 'k'.repeat(40);
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${release}-closedpaw-ui-token`, namespace: ns },
      stringData: { token: kept },
    };
    const applied = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      JSON.stringify(secret),
    );
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(await tokenOf(ns), kept);
  });

  test('is mounted as the file the operator re-reads, and not rendered when you name your own', async () => {
    const deployment = find(documents(rendered), 'Deployment', `${release}-closedpaw`);
    assert.match(
      JSON.stringify(deployment),
      /"CLOSEDPAW_UI_TOKEN_FILE","value":"\/etc\/closedpaw\/ui-token\/token"/,
    );
    const own = await template(release, ns, ['--set', 'uiTokenSecret=mine']);
    assert.doesNotMatch(own.stdout, /kind: Secret/);
    assert.match(own.stdout, /secretName: "mine"/);
  });
});

describe('the helm test checks (files/helm-test.mjs) against stand-ins', () => {
  const servers: Server[] = [];
  const serve = async (routes: Record<string, [number, string]>) => {
    const server = createServer((req, res) => {
      const [status, body] = routes[`${req.method} ${req.url}`] ?? [404, '{}'];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const gatewayRoutes: Record<string, [number, string]> = {
    'GET /api/version': [200, '{"version":"0.24.0"}'],
    'POST /api/pull': [403, '{"error":"no","code":"forbidden_endpoint"}'],
    'POST /api/chat': [401, '{"error":"no token","code":"unauthenticated"}'],
  };
  const metricsRoutes: Record<string, [number, string]> = {
    'GET /readyz': [200, 'ok'],
    'GET /metrics': [200, 'closedpaw_api_writes_total 4\n'],
  };
  let closedPort = '';

  before(async () => {
    const probe = await serve({});
    closedPort = probe;
    await new Promise((resolve) => servers.pop()?.close(resolve));
  });
  after(() => {
    for (const server of servers) server.close();
  });

  const run = (env: Record<string, string>) =>
    runCommand(NODE, [HELM_TEST_SCRIPT], {
      env: { PATH: process.env.PATH ?? '', CLOSEDPAW_TEST_TIMEOUT_MS: '2000', ...env },
    });

  test('a healthy install passes every check', async () => {
    const result = await run({
      CLOSEDPAW_TEST_GATEWAY_URL: `http://${await serve(gatewayRoutes)}`,
      CLOSEDPAW_TEST_METRICS_URL: `http://${await serve(metricsRoutes)}`,
      CLOSEDPAW_TEST_OLLAMA_ADDR: closedPort,
    });
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /all 6 checks passed/);
  });

  const broken: [
    string,
    Record<string, [number, string]>,
    Record<string, [number, string]>,
    boolean,
    string,
  ][] = [
    [
      'a gateway that lets /api/pull through',
      { ...gatewayRoutes, 'POST /api/pull': [200, '{}'] },
      metricsRoutes,
      false,
      'gateway-pull',
    ],
    [
      'a gateway that serves without a token',
      { ...gatewayRoutes, 'POST /api/chat': [200, '{}'] },
      metricsRoutes,
      false,
      'gateway-token',
    ],
    [
      'an operator that is not ready',
      gatewayRoutes,
      { ...metricsRoutes, 'GET /readyz': [503, 'audit'] },
      false,
      'operator-ready',
    ],
    ['an Ollama anyone can reach', gatewayRoutes, metricsRoutes, true, 'ollama-isolated'],
  ];
  for (const [what, gateway, metrics, ollamaOpen, failing] of broken) {
    test(`${what} fails ${failing}`, async () => {
      const result = await run({
        CLOSEDPAW_TEST_GATEWAY_URL: `http://${await serve(gateway)}`,
        CLOSEDPAW_TEST_METRICS_URL: `http://${await serve(metrics)}`,
        CLOSEDPAW_TEST_OLLAMA_ADDR: ollamaOpen ? await serve({}) : closedPort,
      });
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, new RegExp(`^FAIL ${failing}:`, 'm'));
      assert.match(result.stdout, /1 of 6 checks failed/);
    });
  }

  test('an address the kubelet did not expand is named, not called', async () => {
    const result = await run({
      CLOSEDPAW_TEST_GATEWAY_URL: 'http://$(X_SERVICE_HOST):$(X_SERVICE_PORT)',
      CLOSEDPAW_TEST_METRICS_URL: `http://${await serve(metricsRoutes)}`,
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /FAIL gateway-version: CLOSEDPAW_TEST_GATEWAY_URL is not set/);
  });
});

/** A controller's pod template as a Pod (a StatefulSet's claims as the volumes it would get), for admission. */
function podFrom(controller: Doc): Doc {
  const spec = controller.spec as {
    template: { metadata?: Doc['metadata']; spec: { volumes?: unknown[] } };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
  const claims = (spec.volumeClaimTemplates ?? []).map(({ metadata: { name } }) => ({
    name,
    persistentVolumeClaim: { claimName: `${name}-${controller.metadata.name}-0` },
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${controller.metadata.name}-probe`, labels: spec.template.metadata?.labels ?? {} },
    spec: { ...spec.template.spec, volumes: [...(spec.template.spec.volumes ?? []), ...claims] },
  };
}

/**
 * The Helm chart: lints strictly; what it renders (the in-cluster Ollama, its model-pull Job, NetworkPolicies,
 * agent namespaces and the helm test pod included) is accepted by the real API server, every pod template
 * under the restricted Pod Security Standard; RBAC is least privilege (the operator may impersonate exactly
 * the one configured human and cannot write a decision as itself); a wrong value fails naming the field; the
 * UI token Secret is generated once and kept; and the helm test's checks fail when what they check is broken.
 * Cloud models and approval channels (both off by default) add exactly their objects, environment, port and
 * NetworkPolicy rules; the operator accepts that environment as it is, and may impersonate exactly the listed
 * channel users.
 * The chart on a real node (helm install → a task with the real model) is test/node/e2e/helm-install.e2e.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCommand } from '../hack/cluster/processes.ts';
import { generateKey, loadKeyring } from '../operator/src/audit/index.ts';
import { loadConfig } from '../operator/src/config.ts';
import { Vault } from '../operator/src/vault/index.ts';
import { createTestNamespace, deleteNamespace, kubectl } from './support/kube.ts';

const HELM = join(import.meta.dirname, '../hack/bin/helm');
const NODE = join(import.meta.dirname, '../node_modules/.bin/node');
const CHART = join(import.meta.dirname, '../charts/closedpaw');
const HELM_TEST_SCRIPT = join(CHART, 'files/helm-test.mjs');
const CRDS = join(import.meta.dirname, '../crds');
const CLI = join(import.meta.dirname, '../operator/src/cli/main.ts');
let ns = '';
let release = '';
let agentNs = '';
let rendered = '';
/** The same values as `rendered`, with cloud models and channels off (their defaults). */
let renderedOff = '';
let operatorSa = '';
/** channels.users: unique to this run (other tests bind pairers on the same cluster). */
let channelUsers: string[] = [];

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

/** Cloud models: a built-in and a custom provider (on a port of its own), prices Helm would print as 8e-06. */
const CLOUD = {
  models: ['openai/gpt-4o-mini', 'azure/gpt-4.1'],
  prices: {
    'openai/gpt-4o-mini': { input: 0.15, output: 0.6 },
    'azure/gpt-4.1': { input: 2, output: 0.000008 },
  },
  providers: [
    {
      name: 'azure',
      kind: 'openai',
      baseUrl: 'https://example.openai.azure.com:8443/openai/v1',
      vaultKey: 'azure-key',
    },
  ],
  maxCostUsd: 0.25,
  maxOutputTokens: 1_000_000,
  risk: 'high',
};

/** Every platform, intake, and ids as strings (an 18-digit Discord id would lose digits as a number). */
const channelValues = () => ({
  enabled: ['telegram', 'discord', 'slack'],
  users: channelUsers,
  publicUrl: 'https://closedpaw.example.com/hooks',
  telegram: { chatId: '-1001234567890' },
  discord: { channelId: '123456789012345678', publicKey: 'ab'.repeat(32) },
  slack: { channelId: 'C0123ABCD' },
  intake: { namespace: agentNs, users: [channelUsers[0]] },
});

const cloudAndChannels = () => [
  ...['--set-json', `cloud=${JSON.stringify(CLOUD)}`],
  ...['--set-json', `channels=${JSON.stringify(channelValues())}`],
];

before(async () => {
  ns = await createTestNamespace('chart');
  release = `cp${ns.slice(-6)}`;
  agentNs = `${ns}-agents`;
  operatorSa = `system:serviceaccount:${ns}:${release}-closedpaw`;
  channelUsers = [`carol.${ns}`, `dave.${ns}`];
  const base = [
    ...['--set', 'uiApprover=alice'],
    ...['--set', 'ollama.enabled=true', '--set', 'ollama.models={llama3.2:3b}'],
    ...['--set', `agentNamespaces={${agentNs}}`],
    ...['--set', 'runtimeClasses.gvisor.create=true', '--set', 'runtimeClasses.kataQemu.create=true'],
  ];
  const rendering = await template(release, ns, [...base, ...cloudAndChannels()]);
  assert.equal(rendering.code, 0, rendering.stderr);
  rendered = rendering.stdout;
  const off = await template(release, ns, base);
  assert.equal(off.code, 0, off.stderr);
  renderedOff = off.stdout;
});

after(async () => {
  // The release's own cluster-scoped objects; the policies and approver role are shared with the cluster and stay.
  await kubectl(['delete', 'clusterrole,clusterrolebinding', '-l', `app.kubernetes.io/instance=${release}`]);
  await kubectl(['delete', 'namespace', agentNs, '--ignore-not-found', '--wait=false']);
  await deleteNamespace(ns);
});

const canIAs = async (user: string, ...args: string[]) =>
  (await kubectl(['auth', 'can-i', `--as=${user}`, ...args])).stdout.trim();
const canI = (...args: string[]) => canIAs(operatorSa, ...args);

test('helm lint --strict passes', async () => {
  const lint = await runCommand(HELM, ['lint', '--strict', CHART]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

test('helm lint --strict passes with cloud models and channels on', async () => {
  const lint = await runCommand(HELM, ['lint', '--strict', CHART, ...cloudAndChannels()]);
  assert.equal(lint.code, 0, lint.stdout + lint.stderr);
});

describe('what the chart renders', () => {
  // RuntimeClasses and the admission policies are one per cluster and other tests run against them (the
  // approval-integrity binding names this release's namespace): those are applied as a dry run only.
  test('is accepted by the API server (cluster-wide singletons as a dry run)', async () => {
    const docs = documents(rendered);
    const isHook = (d: Doc) => Boolean(d.metadata.annotations?.['helm.sh/hook']);
    const sharedKinds = ['RuntimeClass', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
    const shared = docs.filter((d) => sharedKinds.includes(d.kind));
    const rest = docs.filter((d) => !sharedKinds.includes(d.kind) && !isHook(d));
    assert.deepEqual([...new Set(shared.map((d) => d.kind))].sort(), [...sharedKinds].sort());
    const yaml = (list: Doc[]) => list.map((d) => JSON.stringify(d)).join('\n---\n');
    const apply = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '-n', ns, '-f', '-'],
      yaml(rest),
    );
    assert.equal(apply.code, 0, apply.stderr);
    const dryRun = await kubectl(
      ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-f', '-'],
      yaml(shared),
    );
    assert.equal(dryRun.code, 0, dryRun.stderr);
    const binding = await kubectl([
      'get',
      'validatingadmissionpolicybinding',
      'closedpaw-approval-integrity',
      '-o',
      'jsonpath={.spec.paramRef.namespace}',
    ]);
    assert.equal(
      binding.stdout,
      'closedpaw-system',
      'the shared binding still names the test operator namespace',
    );
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
    assert.equal(without.code, 0, without.stderr);
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

describe('cloud models and approval channels', () => {
  const OUR_ENV = /^CLOSEDPAW_(CLOUD|CHANNEL|TELEGRAM|DISCORD|SLACK|VAULT)_?/;
  const operatorPolicy = (docs: Doc[]) =>
    find(docs, 'NetworkPolicy', `${release}-closedpaw`).spec as { ingress: unknown[]; egress: unknown[] };
  const without = (rules: unknown[], drop: unknown[]) =>
    rules.filter((r) => !drop.some((d) => JSON.stringify(d) === JSON.stringify(r)));

  test('off (the default), nothing of theirs renders; on, exactly their objects, env, port and rules', () => {
    const [on, off] = [documents(rendered), documents(renderedOff)];
    const key = (d: Doc) => `${d.kind}/${d.metadata.name}`;
    assert.deepEqual(
      on
        .filter((d) => !off.some((o) => key(o) === key(d)))
        .map(key)
        .sort(),
      [
        `Service/${release}-closedpaw-channels`,
        `ClusterRole/${release}-closedpaw-channels`,
        'ClusterRole/closedpaw-channel-pairer',
        `ClusterRoleBinding/${release}-closedpaw-channels`,
        `ClusterRoleBinding/${release}-closedpaw-channel-pairers`,
        'ValidatingAdmissionPolicy/closedpaw-channel-pairings',
        'ValidatingAdmissionPolicyBinding/closedpaw-channel-pairings',
      ].sort(),
    );
    for (const doc of off) {
      if (doc.kind === 'Secret') continue; // the UI token: random in each rendering
      const twin = find(on, doc.kind, doc.metadata.name);
      if (doc.kind === 'Deployment') {
        const container = (d: Doc) =>
          (d.spec as { template: { spec: { containers: { env: { name: string }[]; ports: unknown[] }[] } } })
            .template.spec.containers[0]!;
        assert.equal(container(doc).env.filter((e) => OUR_ENV.test(e.name)).length, 0);
        const c = container(twin);
        c.env = c.env.filter((e) => !OUR_ENV.test(e.name));
        c.ports = without(c.ports, [{ name: 'channels', containerPort: 7781 }]);
      }
      if (doc.kind === 'NetworkPolicy' && doc.metadata.name === `${release}-closedpaw`) {
        const policy = operatorPolicy(on);
        policy.ingress = without(policy.ingress, [{ ports: [{ protocol: 'TCP', port: 7781 }] }]);
        policy.egress = without(policy.egress, [
          {
            ports: [
              { protocol: 'TCP', port: 443 },
              { protocol: 'TCP', port: 8443 },
            ],
          },
        ]);
      }
      assert.deepEqual(twin, doc, `${doc.kind} ${doc.metadata.name}`);
    }
  });

  test('the operator accepts the environment the chart gives it, and reads it as the values say', () => {
    const config = loadConfig(operatorEnv(find(documents(rendered), 'Deployment', `${release}-closedpaw`)));
    assert.deepEqual(
      config.cloud?.models.map((m) => [
        m.name,
        m.provider.kind,
        m.provider.baseUrl,
        m.provider.keyName,
        m.price,
      ]),
      [
        [
          'openai/gpt-4o-mini',
          'openai',
          'https://api.openai.com/v1',
          'openai',
          { inputPerMTok: 0.15, outputPerMTok: 0.6 },
        ],
        [
          'azure/gpt-4.1',
          'openai',
          'https://example.openai.azure.com:8443/openai/v1',
          'azure-key',
          { inputPerMTok: 2, outputPerMTok: 0.000008 },
        ],
      ],
    );
    assert.equal(config.cloud?.maxCostMicroUsdPerTask, 250_000);
    assert.equal(config.cloud?.maxOutputTokens, 1_000_000);
    assert.equal(config.cloud?.risk, 'high');
    assert.deepEqual(config.channels, {
      platforms: ['telegram', 'discord', 'slack'],
      listen: { host: '0.0.0.0', port: 7781 },
      publicUrl: 'https://closedpaw.example.com/hooks',
      users: channelUsers,
      telegram: { apiUrl: 'https://api.telegram.org', chatId: '-1001234567890' },
      discord: {
        apiUrl: 'https://discord.com/api/v10',
        channelId: '123456789012345678',
        publicKey: 'ab'.repeat(32),
      },
      slack: { apiUrl: 'https://slack.com/api', channelId: 'C0123ABCD' },
      intake: { namespace: agentNs, users: [channelUsers[0]], model: 'llama3.2:3b' },
    });
    assert.equal(config.vaultDir, '/var/lib/closedpaw/vault');
  });

  test('`vault set` run in the operator container (kubectl exec inherits its env) writes where it reads, on the state volume', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-chart-vault-'));
    try {
      const deployment = find(documents(rendered), 'Deployment', `${release}-closedpaw`);
      const env = operatorEnv(deployment, dir);
      const config = loadConfig(env);
      assert.ok(config.vaultDir.startsWith(`${dir}/var/lib/closedpaw/`), config.vaultDir);
      assert.ok(config.audit);
      await generateKey(config.audit.keysDir); // what the operator does on its first start
      const set = await runCommand(NODE, [CLI, 'vault', 'set', 'azure-key'], {
        env: { PATH: process.env.PATH ?? '', ...env },
        input: 'sk-chart-test-key\n',
      });
      assert.equal(set.code, 0, set.stderr);
      assert.doesNotMatch(set.stdout + set.stderr, /sk-chart-test-key/);
      const vault = await Vault.open(config.vaultDir, await loadKeyring(config.audit.keysDir));
      assert.equal((await vault.get('azure-key')).reveal(), 'sk-chart-test-key');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the webhook listener: a named container port and a ClusterIP Service on it; no Service reaches the UI', () => {
    const docs = documents(rendered);
    const service = find(docs, 'Service', `${release}-closedpaw-channels`).spec as Record<string, unknown>;
    assert.equal(service.type, 'ClusterIP');
    assert.deepEqual(service.ports, [
      { name: 'channels', port: 7781, targetPort: 'channels', protocol: 'TCP' },
    ]);
    assert.deepEqual(service.selector, {
      'app.kubernetes.io/name': 'closedpaw',
      'app.kubernetes.io/instance': release,
    });
    const ports = JSON.stringify(find(docs, 'Deployment', `${release}-closedpaw`));
    assert.match(ports, /\{"name":"channels","containerPort":7781\}/);
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      for (const port of (svc.spec as { ports: { port: number; targetPort: unknown }[] }).ports) {
        assert.notEqual(port.port, 7780, svc.metadata.name);
        assert.notEqual(port.targetPort, 7780, svc.metadata.name);
      }
    }
  });

  test('the ChannelPairing CRD and its admission policy are the files in crds/', async () => {
    const withCrds = await template(release, ns, ['--include-crds', ...cloudAndChannels()]);
    assert.equal(withCrds.code, 0, withCrds.stderr);
    const docs = documents(withCrds.stdout);
    const shipped = async (file: string) => documents(await readFile(join(CRDS, file), 'utf8'));
    const [crd] = await shipped('channelpairings.closedpaw.dev.yaml');
    assert.deepEqual(find(docs, 'CustomResourceDefinition', 'channelpairings.closedpaw.dev'), crd);
    const [policy, binding] = await shipped('channel-pairing-policy.yaml');
    assert.deepEqual(find(docs, 'ValidatingAdmissionPolicy', 'closedpaw-channel-pairings'), policy);
    assert.deepEqual(find(docs, 'ValidatingAdmissionPolicyBinding', 'closedpaw-channel-pairings'), binding);
    const accepted = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(crd));
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  test('the listener port admits anyone by default, or only networkPolicy.channelsFrom', async () => {
    const channelsRule = (docs: Doc[]) =>
      (operatorPolicy(docs).ingress as { ports: { port: number }[]; from?: unknown }[]).find((r) =>
        r.ports.some((p) => p.port === 7781),
      );
    assert.deepEqual(channelsRule(documents(rendered)), { ports: [{ protocol: 'TCP', port: 7781 }] });
    const ingressController = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } },
    };
    const limited = await template(release, ns, [
      ...cloudAndChannels(),
      ...['--set-json', `networkPolicy.channelsFrom=${JSON.stringify([ingressController])}`],
    ]);
    assert.equal(limited.code, 0, limited.stderr);
    assert.deepEqual(channelsRule(documents(limited.stdout))?.from, [ingressController]);
  });

  test('cloud alone opens egress to 443 but no listener; channels alone open both', async () => {
    const outbound = { ports: [{ protocol: 'TCP', port: 443 }] };
    const cloudOnly = await template(release, ns, [
      '--set-json',
      `cloud=${JSON.stringify({ ...CLOUD, providers: [], models: ['openai/gpt-4o-mini'] })}`,
    ]);
    assert.equal(cloudOnly.code, 0, cloudOnly.stderr);
    const channelsOnly = await template(release, ns, [
      '--set-json',
      `channels=${JSON.stringify(channelValues())}`,
    ]);
    assert.equal(channelsOnly.code, 0, channelsOnly.stderr);
    const off = await template(release, ns);
    const policies = [cloudOnly, channelsOnly, off].map((r) => operatorPolicy(documents(r.stdout)));
    const [cloudPolicy, channelsPolicy, offPolicy] = policies as [
      (typeof policies)[0],
      (typeof policies)[0],
      (typeof policies)[0],
    ];
    assert.deepEqual(without(cloudPolicy.egress, offPolicy.egress), [outbound]);
    assert.deepEqual(without(cloudPolicy.ingress, offPolicy.ingress), []);
    assert.deepEqual(without(channelsPolicy.egress, offPolicy.egress), [outbound]);
    assert.deepEqual(without(channelsPolicy.ingress, offPolicy.ingress), [
      { ports: [{ protocol: 'TCP', port: 7781 }] },
    ]);
    assert.doesNotMatch(cloudOnly.stdout, /channelpairings|CLOSEDPAW_CHANNEL/);
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
    // Children carry blockOwnerDeletion: OwnerReferencesPermissionEnforcement asks for this on their owner.
    assert.equal(
      await canI('update', 'agenttasks.closedpaw.dev', '--subresource=finalizers', '-n', ns),
      'yes',
    );
    assert.equal(
      await canI('update', 'agenttasks.closedpaw.dev', '-n', ns),
      'no',
      'nor may it edit task specs',
    );
    assert.equal(await canI('update', 'leases', '-n', ns), 'yes');
    assert.equal(await canI('update', 'leases', '-n', 'kube-system'), 'no');
  });
});

describe('RBAC for the approval channels', () => {
  test('the operator may impersonate exactly the channel users (and the UI human), nobody else', async () => {
    for (const user of [...channelUsers, 'alice'])
      assert.equal(await canI('impersonate', `users/${user}`), 'yes', user);
    assert.equal(await canI('impersonate', `users/mallory.${ns}`), 'no');
    assert.equal(await canI('impersonate', 'users/system:admin'), 'no');
    assert.equal(await canI('impersonate', 'users'), 'no');
    assert.equal(await canI('impersonate', 'groups/system:masters'), 'no');
    assert.equal(await canI('impersonate', 'serviceaccounts', '-n', ns), 'no');
    const role = find(documents(rendered), 'ClusterRole', `${release}-closedpaw-channels`) as Doc & {
      rules: { resources: string[]; resourceNames?: string[] }[];
    };
    assert.deepEqual(role.rules.find((r) => r.resources.includes('users'))?.resourceNames, channelUsers);
  });

  test('the operator watches ChannelPairings, writes only their status, and reads only the pairing policy', async () => {
    const pairings = 'channelpairings.closedpaw.dev';
    for (const verb of ['get', 'list', 'watch']) assert.equal(await canI(verb, pairings), 'yes', verb);
    assert.equal(await canI('patch', pairings, '--subresource=status'), 'yes');
    for (const verb of ['create', 'patch', 'delete']) assert.equal(await canI(verb, pairings), 'no', verb);
    const vap = 'validatingadmissionpolicies.admissionregistration.k8s.io';
    const binding = 'validatingadmissionpolicybindings.admissionregistration.k8s.io';
    assert.equal(await canI('get', `${vap}/closedpaw-channel-pairings`), 'yes');
    assert.equal(await canI('get', `${binding}/closedpaw-channel-pairings`), 'yes');
    assert.equal(await canI('get', `${vap}/closedpaw-approval-decisions`), 'no');
    assert.equal(await canI('list', vap), 'no');
    assert.equal(await canI('update', `${vap}/closedpaw-channel-pairings`), 'no');
  });

  test('channel users may create and read a ChannelPairing, nothing more; others may not pair', async () => {
    const pairings = 'channelpairings.closedpaw.dev';
    for (const user of channelUsers) {
      assert.equal(await canIAs(user, 'create', pairings), 'yes', user);
      assert.equal(await canIAs(user, 'get', pairings), 'yes', user);
      for (const verb of ['list', 'patch', 'delete'])
        assert.equal(await canIAs(user, verb, pairings), 'no', verb);
      assert.equal(await canIAs(user, 'patch', pairings, '--subresource=status'), 'no');
    }
    assert.equal(await canIAs(`mallory.${ns}`, 'create', pairings), 'no');
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
    [['--set-json', 'channels.enabled=["teams"]'], /at '\/channels\/enabled\/0': value must be one of/],
    [['--set', 'cloud.risk=low'], /at '\/cloud\/risk': value must be one of 'critical', 'high'/],
    [['--set-json', 'cloud.models=["gpt-4o"]'], /at '\/cloud\/models\/0'/],
    [
      [
        '--set-json',
        'cloud.providers=[{"name":"x","kind":"openai","baseUrl":"http://x.example","vaultKey":"x"}]',
      ],
      /at '\/cloud\/providers\/0\/baseUrl'/,
    ],
    [
      ['--set', 'channels.telegram.chatId=-1001234'],
      /at '\/channels\/telegram\/chatId': got number, want string/,
    ],
    [['--set', 'channels.discord.publicKey=abc'], /at '\/channels\/discord\/publicKey'/],
    [['--set-json', 'channels.enabled=["slack"]'], /at '\/channels\/users': minItems/],
    [
      ['--set-json', 'channels.enabled=["telegram"]', '--set', 'channels.users={bob}'],
      /at '\/channels\/telegram\/chatId': minLength/,
    ],
  ];
  for (const [args, named] of wrong) {
    test(`${args.at(-1)}`, async () => {
      const result = await template('closedpaw', 'closedpaw-system', args);
      assert.notEqual(result.code, 0, 'rendered anyway');
      assert.match(result.stderr, named);
    });
  }

  const slack = ['--set-json', 'channels.enabled=["slack"]', '--set', 'channels.users={bob}'];
  const inconsistent: [string, string[], RegExp][] = [
    [
      'a cloud model without a price',
      ['--set-json', 'cloud.models=["openai/x"]'],
      /cloud\.prices: openai\/x has no price/,
    ],
    [
      'a cloud model of an unknown provider',
      [
        '--set-json',
        'cloud.models=["acme/x"]',
        '--set-json',
        'cloud.prices={"acme/x":{"input":1,"output":1}}',
      ],
      /cloud\.models: acme\/x names provider acme/,
    ],
    [
      'the listener on the UI port',
      [...slack, '--set-string', 'channels.slack.channelId=C12345', '--set', 'channels.port=7780'],
      /channels\.port: 7780 is the approval UI's port/,
    ],
    [
      'an intake user who may not pair',
      [
        ...slack,
        '--set-string',
        'channels.slack.channelId=C12345',
        '--set',
        'channels.intake.namespace=agents',
        '--set',
        'channels.intake.users={eve}',
      ],
      /channels\.intake\.users: eve is not in channels\.users/,
    ],
    [
      'channels without the audit log',
      [...slack, '--set-string', 'channels.slack.channelId=C12345', '--set', 'audit.enabled=false'],
      /channels\.enabled: channels need audit\.enabled=true/,
    ],
  ];
  for (const [what, args, named] of inconsistent) {
    test(`${what} fails, naming the value`, async () => {
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

/**
 * The operator container's environment as the process sees it (fieldRef values left out), with each volume's
 * mount path under `root` when one is given (a test's stand-in for the pod's filesystem).
 */
function operatorEnv(deployment: Doc, root = ''): Record<string, string> {
  const container = (
    deployment.spec as {
      template: {
        spec: {
          containers: { env: { name: string; value?: string }[]; volumeMounts: { mountPath: string }[] }[];
        };
      };
    }
  ).template.spec.containers[0]!;
  const mounts = container.volumeMounts.map((m) => m.mountPath).sort((a, b) => b.length - a.length);
  const relocate = (value: string) => {
    const mount = mounts.find((m) => value === m || value.startsWith(`${m}/`));
    return mount && root ? `${root}${value}` : value;
  };
  return Object.fromEntries(
    container.env.flatMap((e) => (e.value === undefined ? [] : [[e.name, relocate(e.value)]])),
  );
}

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

/**
 * `helm install` onto the real node (issue 11, step 5): the chart runs the operator as a real pod from the
 * image built offline and imported into containerd (by digest, no registry), with the in-cluster Ollama
 * serving the test model (SmolLM2-135M, a protocol fixture: only structure is asserted, never wording).
 * An AgentTask applied with kubectl runs to Succeeded in a real gVisor pod whose only exit is the gateway, its
 * answer from the real model; `helm test` passes from inside the cluster; then tasks are deleted, the release
 * uninstalled, and nothing is left Terminating.
 *
 * Volumes: the node has no storage provisioner, so the test makes two hostPath PersistentVolumes (under the
 * node's state dir, owned by uid 65532) pre-bound to the chart's claims.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { runCommand } from '../../../hack/cluster/processes.ts';
import type { NodeState } from '../../../hack/node/node.ts';
import { OLLAMA_MODEL } from '../../../hack/ollama/server.ts';
import { type RunnerStep, runnerStepSchema } from '../../../operator/src/api/agent-protocol.ts';
import { parseResultFrame } from '../../../operator/src/api/result-frame.ts';
import type { AgentTask } from '../../../operator/src/api/types.ts';
import {
  byDigest,
  hostPathVolumes,
  type ReleaseImages,
  releaseImages,
  releaseValues,
  seconds,
  waitUntil,
} from '../../chart/node-release.ts';
import {
  apply,
  connectResults,
  deleteNamespace,
  events,
  finished,
  hardenedPod,
  kubectl,
  nodeState,
  podLogs,
  testNamespace,
  waitForPod,
} from '../support.ts';

const REPO = join(import.meta.dirname, '../../..');
const HELM = join(REPO, 'hack/bin/helm');
const CHART = join(REPO, 'charts/closedpaw');
const CLI = join(REPO, 'operator/bin/closedpaw');
const STORAGE_CLASS = 'closedpaw-node-hostpath';
const GATEWAY_PORT = 11435;
const TASK = 'list-files';
/** The runner's step lines (JSON on stderr, merged into the pod log). */
const runnerSteps = (log: string): RunnerStep[] =>
  log
    .split('\n')
    .filter((line) => line.startsWith('{"event"'))
    .map((line) => runnerStepSchema.parse(JSON.parse(line)));

const id = randomBytes(3).toString('hex');
const release = `cp-${id}`;
const name = `${release}-closedpaw`;
const ns = `helm-${id}`;
const agents = `helm-agents-${id}`;
/** A ClusterIP for Ollama: the node has no cluster DNS, so the gateway addresses Ollama by IP. */
const ollamaIp = `10.96.${200 + (Number.parseInt(id.slice(0, 2), 16) % 50)}.${2 + (Number.parseInt(id.slice(2, 4), 16) % 250)}`;

const helm = (state: NodeState, args: string[]) =>
  runCommand(HELM, args, { env: { ...process.env, KUBECONFIG: state.kubeconfig } });

const closedpaw = (state: NodeState, args: string[]) =>
  runCommand(CLI, args, { env: { ...process.env, KUBECONFIG: state.kubeconfig } });

const getJson = async <T>(state: NodeState, args: string[]): Promise<T> =>
  JSON.parse(await kubectl(state, ['get', ...args, '-o', 'json'])) as T;

interface Item {
  metadata: { name: string; namespace?: string; deletionTimestamp?: string };
}

describe('helm install onto the real node', { timeout: 900_000 }, () => {
  let state: NodeState;
  let images: ReleaseImages;
  let stateDir = '';
  let steps: RunnerStep[] = [];
  const timings: Record<string, string> = {};

  before(async () => {
    state = await nodeState();
    images = await releaseImages(state);
    const pv = await hostPathVolumes({
      root: join(state.dir, 'helm-volumes', id),
      namespace: ns,
      storageClass: STORAGE_CLASS,
      label: id,
      claims: [
        [`${name}-state`, '1Gi'],
        [`${name}-audit-checkpoints`, '64Mi'],
      ],
    });
    stateDir = pv.dirs[`${name}-state`]!;
    await apply(state, [
      ...pv.objects,
      // The release namespace enforces the restricted Pod Security Standard: every pod of the chart passes it.
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
    ]);
  });

  after(async () => {
    if (!state) return;
    const quiet = (args: string[]) => kubectl(state, args).catch(() => '');
    await quiet(['delete', 'agenttasks', '--all', '-n', agents, '--wait=true', '--timeout=60s']);
    await helm(state, ['uninstall', release, '-n', ns, '--wait', '--timeout', '120s']);
    // After a failure the operator may be gone before it released a task's policy: release it here.
    for (const policy of (await quiet(['get', 'networkpolicies', '-n', agents, '-o', 'name'])).split('\n')) {
      if (policy)
        await quiet([
          'patch',
          policy,
          '-n',
          agents,
          '--type=merge',
          '-p',
          '{"metadata":{"finalizers":null}}',
        ]);
    }
    await quiet(['delete', 'namespace', ns, agents, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    await quiet(['delete', 'pv', '-l', `closedpaw.dev/test=${id}`, '--ignore-not-found']);
    await rm(join(state.dir, 'helm-volumes', id), { recursive: true, force: true });
    console.error(`# helm-install timings: ${JSON.stringify(timings)}`);
  });

  test('closedpaw up (helm install) runs the operator from the imported image, by digest, until Ready', async () => {
    const valuesFile = join(state.dir, 'helm-volumes', id, 'values.yaml');
    await writeFile(
      valuesFile,
      stringify(releaseValues({ images, agentNamespace: agents, ollamaIp, storageClass: STORAGE_CLASS })),
    );
    const started = Date.now();
    const up = await closedpaw(state, [
      'up',
      ...['-f', valuesFile, '-n', ns, '--release', release, '--helm', HELM, '--timeout', '300s'],
    ]);
    assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
    assert.match(
      up.stdout,
      new RegExp(`ClosedPaw is Ready in namespace ${ns} \\(release ${release}, revision 1\\)`),
    );
    assert.match(up.stdout, /closedpaw ui -n /, 'it says how to open the UI');
    const notes = await helm(state, ['get', 'notes', release, '-n', ns]);
    assert.match(notes.stdout, /helm test/, 'NOTES name the next steps');
    await kubectl(state, ['rollout', 'status', `deployment/${name}`, '-n', ns, '--timeout=10s']);
    timings['install→operator Ready'] = seconds(Date.now() - started);

    const pods = await getJson<{ items: PodJson[] }>(state, [
      'pods',
      '-n',
      ns,
      '-l',
      `app.kubernetes.io/name=closedpaw,app.kubernetes.io/instance=${release}`,
    ]);
    assert.equal(pods.items.length, 1);
    const pod = pods.items[0]!;
    assert.equal(pod.spec.containers[0]?.image, images.operator);
    assert.equal(pod.spec.containers[0]?.imagePullPolicy, 'IfNotPresent');
    assert.equal(pod.spec.runtimeClassName, 'gvisor');
    assert.ok(pod.status.containerStatuses?.[0]?.imageID?.endsWith(byDigest(images.operator).digest));
  });

  test('helm test passes from inside the cluster, Ollama isolation included', async (t) => {
    await kubectl(state, ['rollout', 'status', `statefulset/${name}-ollama`, '-n', ns, '--timeout=300s']);
    const result = await helm(state, ['test', release, '-n', ns, '--logs', '--timeout', '180s']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    t.diagnostic(
      result.stdout
        .split('\n')
        .filter((l) => /^(ok|FAIL) /.test(l))
        .join('; '),
    );
    for (const check of [
      'gateway-version',
      'gateway-pull',
      'gateway-token',
      'operator-ready',
      'operator-metrics',
      'ollama-isolated',
    ]) {
      assert.match(result.stdout, new RegExp(`^ok ${check}\\b`, 'm'), result.stdout);
    }
  });

  test("the operator's NetworkPolicy lets it reach the API server at the address looked up at install", async () => {
    const slice = await getJson<{ endpoints: { addresses: string[] }[]; ports: { port: number }[] }>(state, [
      'endpointslice',
      'kubernetes',
      '-n',
      'default',
    ]);
    const policy = await getJson<{ spec: { egress: { to?: unknown[]; ports: unknown[] }[] } }>(state, [
      'networkpolicy',
      name,
      '-n',
      ns,
    ]);
    assert.deepEqual(policy.spec.egress[0], {
      to: slice.endpoints.flatMap((e) => e.addresses).map((a) => ({ ipBlock: { cidr: `${a}/32` } })),
      ports: slice.ports.map((p) => ({ protocol: 'TCP', port: p.port })),
    });
  });

  test('only sandbox pods reach the gateway, and nothing but the gateway reaches Ollama', async () => {
    const probeNs = await testNamespace(state, 'helm-probe');
    try {
      const gatewayIp = (
        await kubectl(state, ['get', 'svc', `${name}-gateway`, '-n', ns, '-o', 'jsonpath={.spec.clusterIP}'])
      ).trim();
      const targets = { gateway: `${gatewayIp}:${GATEWAY_PORT}`, ollama: `${ollamaIp}:11434` };
      // kube-router admits a new pod's address a moment after it starts: the last of three tries counts.
      const tries = ['sleep', '2', '--', 'connect', ...targets.gateway.split(':'), '1000', '--'];
      const command = [
        '/usr/local/bin/closedpaw-probe',
        ...tries,
        ...tries,
        ...[
          'connect',
          ...targets.gateway.split(':'),
          '1000',
          '--',
          'connect',
          ...targets.ollama.split(':'),
          '1000',
        ],
      ];
      const prober = (podName: string, labels: Record<string, string>) =>
        hardenedPod({
          name: podName,
          namespace: probeNs,
          image: state.images.probe!.pinned,
          labels,
          command,
        });
      await apply(state, [
        prober('as-agent', { 'app.kubernetes.io/managed-by': 'closedpaw', 'closedpaw.dev/role': 'agent' }),
        prober('stranger', { role: 'stranger' }),
      ]);
      const seen: Record<string, Map<string, 'open' | 'blocked'>> = {};
      for (const pod of ['as-agent', 'stranger']) {
        const status = await waitForPod(state, probeNs, pod, finished);
        assert.equal(status.phase, 'Succeeded', JSON.stringify(status));
        seen[pod] = connectResults(await podLogs(state, probeNs, pod));
      }
      assert.equal(
        seen['as-agent']?.get(targets.gateway),
        'open',
        'a sandbox-labelled pod is refused the gateway',
      );
      assert.equal(seen.stranger?.get(targets.gateway), 'blocked', 'any pod reaches the gateway');
      assert.equal(seen['as-agent']?.get(targets.ollama), 'blocked', 'a pod reaches Ollama past the gateway');
      assert.equal(seen.stranger?.get(targets.ollama), 'blocked', 'a pod reaches Ollama past the gateway');
    } finally {
      await deleteNamespace(state, probeNs);
    }
  });

  test('helm upgrade keeps the generated UI token', async () => {
    const token = () =>
      kubectl(state, ['get', 'secret', `${name}-ui-token`, '-n', ns, '-o', 'jsonpath={.data.token}']);
    const before = await token();
    assert.match(Buffer.from(before, 'base64').toString(), /^[A-Za-z0-9]{48}$/);
    const upgrade = await helm(state, [
      'upgrade',
      release,
      CHART,
      '-n',
      ns,
      '--reuse-values',
      '--wait',
      '--timeout',
      '300s',
    ]);
    assert.equal(upgrade.code, 0, upgrade.stderr);
    assert.equal(await token(), before);
  });

  test('an AgentTask applied with kubectl succeeds in gVisor with an answer from the real model', async (t) => {
    const task = {
      apiVersion: 'closedpaw.dev/v1alpha1',
      kind: 'AgentTask',
      metadata: { name: TASK, namespace: agents },
      spec: {
        prompt: 'Use the list_files tool to list the files in the workspace.',
        model: OLLAMA_MODEL,
        runtimeClassName: 'gvisor',
        tools: ['fs.list'],
        inputs: [{ path: 'notes.txt', content: 'Buy milk. Call the plumber on Tuesday.' }],
        timeoutSeconds: 300,
        resources: { cpu: '500m', memory: '512Mi' },
      },
    };
    const started = Date.now();
    await kubectl(state, ['apply', '-f', '-'], stringify(task));
    const done = await waitUntil(
      `task ${agents}/${TASK} finished`,
      async () => {
        const t = await getJson<AgentTask>(state, ['agenttask', TASK, '-n', agents]);
        const phase = t.status?.phase;
        return phase && !['Pending', 'Running', 'AwaitingApproval'].includes(phase) ? t : undefined;
      },
      360_000,
    );
    timings['apply→Succeeded (real model)'] = seconds(Date.now() - started);
    assert.equal(done.status?.phase, 'Succeeded', JSON.stringify(done.status, null, 2));

    const result = done.status?.result;
    assert.ok(result && result.summary.length > 0, 'an empty result');
    const pod = await getJson<PodJson>(state, ['pod', `${TASK}-agent`, '-n', agents]);
    const log = await kubectl(state, ['logs', `${TASK}-agent`, '-n', agents, '-c', 'agent']);
    t.diagnostic(`runner log:\n${log}`);
    const frame = parseResultFrame(log);
    assert.ok(frame.ok, JSON.stringify(frame));
    assert.equal(result.sha256, frame.sha256);
    assert.equal(result.bytes, frame.bytes);
    // Structure, never wording (hack/ollama/README.md: this phrasing makes the fixture call list_files): a
    // model step with a tool call, the tool run in the sandbox, a second model step, finished.
    steps = runnerSteps(log);
    assert.deepEqual(
      steps.map((s) => (s.event === 'tool' ? `tool ${s.tool}` : s.event)).slice(0, 2),
      ['model', 'tool list_files'],
      log,
    );
    assert.ok(steps.filter((s) => s.event === 'model').length >= 2, log);
    assert.equal(steps.at(-1)?.event, 'finished', log);

    assert.equal(pod.spec.runtimeClassName, 'gvisor');
    const check = pod.status.initContainerStatuses?.find((c) => c.name === 'isolation-check');
    assert.equal(check?.state?.terminated?.exitCode, 0, JSON.stringify(check));
    assert.match(
      await kubectl(state, ['logs', `${TASK}-agent`, '-n', agents, '-c', 'isolation-check']),
      /isolation-check proven/,
    );
  });

  test('an AgentTask on kata-qemu (no such runtime on this node) never runs: the pod never starts, the task stays Pending', async () => {
    const task = {
      apiVersion: 'closedpaw.dev/v1alpha1',
      kind: 'AgentTask',
      metadata: { name: 'no-kata', namespace: agents },
      spec: {
        prompt: 'List the files.',
        model: OLLAMA_MODEL,
        runtimeClassName: 'kata-qemu',
        tools: ['fs.list'],
      },
    };
    await kubectl(state, ['apply', '-f', '-'], stringify(task));
    const seen = await waitUntil(
      'the kata-qemu pod fails to get a sandbox',
      async () => {
        const log = await events(state, agents, 'no-kata-agent');
        return log.includes('FailedCreatePodSandBox') ? log : undefined;
      },
      120_000,
    );
    assert.match(seen, /kata-qemu/);
    const t = await getJson<AgentTask>(state, ['agenttask', 'no-kata', '-n', agents]);
    assert.equal(t.status?.phase, 'Pending', JSON.stringify(t.status));
    assert.equal(t.status?.conditions?.find((c) => c.type === 'SandboxReady')?.status, 'False');
    const pod = await getJson<PodJson>(state, ['pod', 'no-kata-agent', '-n', agents]);
    assert.equal(
      pod.status.containerStatuses?.[0]?.containerID,
      undefined,
      'the agent container never existed',
    );
    await kubectl(state, ['delete', 'agenttask', 'no-kata', '-n', agents, '--wait=true', '--timeout=60s']);
  });

  test("the task's NetworkPolicy lets the pod reach the gateway and nothing else", async () => {
    const policy = await getJson<{ spec: Record<string, unknown> }>(state, [
      'networkpolicy',
      `${TASK}-agent`,
      '-n',
      agents,
    ]);
    const { egress, ingress, policyTypes } = policy.spec as {
      egress: unknown[];
      ingress?: unknown[];
      policyTypes: string[];
    };
    assert.deepEqual(policyTypes, ['Ingress', 'Egress']);
    assert.deepEqual(ingress ?? [], []);
    assert.deepEqual(egress, [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            podSelector: {
              matchLabels: { 'app.kubernetes.io/name': 'closedpaw', 'app.kubernetes.io/instance': release },
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: GATEWAY_PORT }],
      },
    ]);
  });

  test('the runner really called the model: the sealed audit log on the state volume records it', async () => {
    const modelSteps = steps.filter((s) => s.event === 'model').length;
    assert.ok(modelSteps > 0, 'the task test logged no model step');
    const calls = await waitUntil(
      'a model.call audit event of the task',
      async () => {
        const exported = await runCommand(CLI, [
          'audit',
          'export',
          '--log',
          join(stateDir, 'audit', 'audit.log'),
          '--keys',
          join(stateDir, 'audit-keys'),
        ]);
        const events = exported.stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as AuditLine)
          .filter((e) => e.type === 'model.call' && e.task?.namespace === agents && e.task.name === TASK);
        // Appended once each response has streamed back: wait until every step the runner logged is there.
        return events.filter((e) => e.verdict === 'allowed').length >= modelSteps ? events : undefined;
      },
      30_000,
    );
    const allowed = calls.filter((c) => c.verdict === 'allowed');
    // Every model step the runner logged passed the gateway and was audited, and nothing else was.
    assert.equal(allowed.length, modelSteps, JSON.stringify(calls));
    for (const call of allowed) {
      assert.equal(call.model, OLLAMA_MODEL);
      assert.equal(call.endpoint, '/api/chat');
      assert.equal(call.status, 200);
      assert.ok((call.responseBytes ?? 0) > 0, JSON.stringify(call));
    }
  });

  test('closedpaw doctor on this install: nothing fails, its NetworkPolicy probe really ran on the node', async (t) => {
    const doctor = await closedpaw(state, ['doctor', '-n', ns, '-o', 'json', '--probe-timeout', '120s']);
    const report = JSON.parse(doctor.stdout) as {
      success: boolean;
      categories: { category: string; checks: { id: string; result: string; title: string }[] }[];
    };
    const checks = report.categories.flatMap((c) => c.checks);
    t.diagnostic(checks.map((c) => `${c.result} ${c.id}`).join('; '));
    assert.deepEqual(
      checks.filter((c) => c.result === 'fail'),
      [],
      doctor.stdout,
    );
    assert.equal(doctor.code, 0, doctor.stderr);
    assert.equal(report.success, true);
    const result = (id: string) => checks.find((c) => c.id === id)?.result;
    for (const id of [
      'netpol-enforced',
      'operator-ready',
      'leader',
      'gateway',
      'readyz',
      'models',
      'audit-writable',
    ])
      assert.equal(result(id), 'ok', `${id}: ${doctor.stdout}`);
  });

  test('the operator logged no error in the whole run', async (t) => {
    const log = await kubectl(state, ['logs', `deployment/${name}`, '-n', ns]);
    const lines = log.split('\n').filter((line) => line.startsWith('{'));
    const levels = lines.map((line) => (JSON.parse(line) as { level?: number }).level ?? 0);
    t.diagnostic(lines.filter((_, i) => (levels[i] ?? 0) >= 40).join('\n') || 'no warnings');
    assert.ok(lines.length > 0, `no JSON log lines:\n${log}`);
    assert.deepEqual(
      lines.filter((_, i) => (levels[i] ?? 0) >= 50),
      [],
    );
  });

  test('uninstall (tasks first) leaves nothing Terminating', async () => {
    await kubectl(state, ['delete', 'agenttask', TASK, '-n', agents, '--wait=true', '--timeout=120s']);
    // The operator releases the task's NetworkPolicy once its pod is gone: only then may the operator go.
    await waitUntil(
      'the sandbox pod and its NetworkPolicy gone',
      async () => {
        const left = await kubectl(state, ['get', 'pods,networkpolicies', '-n', agents, '-o', 'name']);
        return left.trim() === '' ? true : undefined;
      },
      120_000,
    );
    const uninstall = await helm(state, ['uninstall', release, '-n', ns, '--wait', '--timeout', '180s']);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    // Kept by design: the state claims (the audit log) and the agent namespace.
    const agentNamespace = await getJson<Item>(state, ['namespace', agents]);
    assert.equal(agentNamespace.metadata.deletionTimestamp, undefined);
    const kept = await kubectl(state, ['get', 'pvc', '-n', ns, '-o', 'name']);
    assert.deepEqual(kept.trim().split('\n').sort(), [
      `persistentvolumeclaim/${name}-audit-checkpoints`,
      `persistentvolumeclaim/${name}-state`,
    ]);
    await kubectl(state, ['delete', 'pvc', '--all', '-n', ns, '--wait=true', '--timeout=60s']);
    await kubectl(state, ['delete', 'namespace', agents, ns, '--wait=true', '--timeout=180s']);
    const leftovers = async () => {
      const stuck: string[] = [];
      for (const kind of ['pods', 'networkpolicies', 'persistentvolumeclaims', 'agenttasks', 'approvals']) {
        const list = await getJson<{ items: Item[] }>(state, [kind, '-A']);
        for (const item of list.items) {
          if (item.metadata.deletionTimestamp || [ns, agents].includes(item.metadata.namespace ?? '')) {
            stuck.push(`${kind} ${item.metadata.namespace}/${item.metadata.name}`);
          }
        }
      }
      const namespaces = await getJson<{ items: Item[] }>(state, ['namespaces']);
      for (const n of namespaces.items) {
        if (n.metadata.deletionTimestamp || [ns, agents].includes(n.metadata.name)) {
          stuck.push(`namespace ${n.metadata.name}`);
        }
      }
      const cluster = await kubectl(state, [
        'get',
        'clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings',
        '-l',
        `app.kubernetes.io/instance=${release}`,
        '-o',
        'name',
      ]);
      stuck.push(...cluster.split('\n').filter(Boolean));
      const policies = await kubectl(state, ['get', 'validatingadmissionpolicies', '-o', 'name']);
      stuck.push(...policies.split('\n').filter((p) => p.includes('closedpaw-')));
      return stuck;
    };
    assert.deepEqual(await leftovers(), []);
  });
});

interface PodJson {
  spec: { runtimeClassName?: string; containers: { image: string; imagePullPolicy?: string }[] };
  status: {
    containerStatuses?: { imageID?: string; containerID?: string }[];
    initContainerStatuses?: { name: string; state?: { terminated?: { exitCode: number } } }[];
  };
}

interface AuditLine {
  type: string;
  task?: { namespace: string; name: string };
  verdict?: string;
  model?: string;
  endpoint?: string;
  status?: number;
  responseBytes?: number;
}

/**
 * The sandbox pod on a real node: gVisor really runs it, its securityContext
 * and limits are really applied, the downward-API task file is really there,
 * and a RuntimeClass without a handler never runs anything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NodeState } from '../../../hack/node/node.ts';
import {
  apply,
  deleteNamespace,
  events,
  finished,
  hardenedPod,
  hostKernelRelease,
  kubectl,
  NONROOT,
  nodeState,
  type PodStatus,
  podLogs,
  podStatus,
  testNamespace,
  waitForPod,
} from '../support.ts';

const RUNC_CLASS = 'closedpaw-test-runc';
const NOT_IMPORTED = 'closedpaw/runner:0.0.0-not-imported';
const TASK_SPEC = JSON.stringify({ prompt: 'count the files', model: 'smollm2', tools: ['fs.read'] });
/** Valid JSON, not a valid spec: the runner must name the field. */
const BAD_TASK_SPEC = JSON.stringify({ prompt: 42 });

const terminated = (status: PodStatus) =>
  status.containerStatuses?.find((c) => c.name === 'agent')?.state?.terminated;

describe('a hardened task pod on the real node', () => {
  let state: NodeState;
  let ns: string;

  before(async () => {
    state = await nodeState();
    ns = await testNamespace(state, 'sandbox');
    const probe = state.images.probe!.pinned;
    const runner = state.images.runner!.pinned;
    await apply(state, [
      hardenedPod({
        name: 'hardened',
        namespace: ns,
        image: probe,
        annotations: { 'closedpaw.dev/task-spec': TASK_SPEC },
        command: [
          '/usr/local/bin/closedpaw-probe',
          // /home/nonroot belongs to uid 65532: only the read-only root can refuse the write.
          ...['info', '--', 'write', '/home/nonroot/write-test', '--', 'write', '/workspace/ok'],
          ...['--', 'cat', '/etc/closedpaw/task.json'],
        ],
      }),
      hardenedPod({
        name: 'runner',
        namespace: ns,
        image: runner,
        cpu: '1',
        memory: '512Mi',
        annotations: { 'closedpaw.dev/task-spec': TASK_SPEC },
        command: ['node', '/opt/closedpaw/runner.js'],
      }),
      hardenedPod({
        name: 'runner-bad-task',
        namespace: ns,
        image: runner,
        cpu: '1',
        memory: '512Mi',
        annotations: { 'closedpaw.dev/task-spec': BAD_TASK_SPEC },
        command: ['node', '/opt/closedpaw/runner.js'],
      }),
      hardenedPod({
        name: 'hung',
        namespace: ns,
        image: probe,
        activeDeadlineSeconds: 3,
        command: ['/usr/local/bin/closedpaw-probe', 'sleep', 'forever'],
      }),
      hardenedPod({
        name: 'workspace-hog',
        namespace: ns,
        image: probe,
        workspaceSizeLimit: '8Mi',
        command: ['/usr/local/bin/closedpaw-probe', 'fill', '/workspace/big', '40', '--', 'sleep', 'forever'],
      }),
      hardenedPod({
        name: 'no-handler',
        namespace: ns,
        image: probe,
        runtimeClassName: 'kata-qemu',
        command: ['/usr/local/bin/closedpaw-probe', 'info'],
      }),
      // An image nobody imported (the operator's default runner name, as a misconfigured operator would use):
      // the node must fail it without a name lookup or a connection off this machine.
      hardenedPod({
        name: 'not-imported',
        namespace: ns,
        image: NOT_IMPORTED,
        command: ['node', '/opt/closedpaw/runner.js'],
      }),
      // A RuntimeClass that names runc: the node has no working runc either (defence in depth behind
      // the operator, which refuses such a class before any pod exists).
      { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name: RUNC_CLASS }, handler: 'runc' },
      hardenedPod({
        name: 'runc',
        namespace: ns,
        image: probe,
        runtimeClassName: RUNC_CLASS,
        command: ['/usr/local/bin/closedpaw-probe', 'info'],
      }),
    ]);
  });

  after(async () => {
    if (ns) await deleteNamespace(state, ns);
    await kubectl(state, ['delete', 'runtimeclass', RUNC_CLASS, '--ignore-not-found', '--wait=false']);
  });

  test('runs under gVisor: its kernel log is gVisor boot lines and uname is not the host kernel', async () => {
    const status = await waitForPod(state, ns, 'hardened', finished);
    assert.equal(status.phase, 'Succeeded', JSON.stringify(status));
    const log = await podLogs(state, ns, 'hardened');
    assert.match(log, /^info dmesg .*Starting gVisor/m);
    const release = /^info uname Linux (\S+)/m.exec(log)?.[1];
    assert.ok(release, `no uname line in:\n${log}`);
    assert.notEqual(release, await hostKernelRelease());
  });

  test('runs as uid 65532 with no capabilities and a read-only root', async () => {
    const log = await podLogs(state, ns, 'hardened');
    assert.match(log, new RegExp(`^info uid=${NONROOT} gid=${NONROOT} euid=${NONROOT}$`, 'm'));
    for (const set of ['CapEff', 'CapPrm']) {
      assert.match(log, new RegExp(`^info ${set}:\\s+0000000000000000$`, 'm'), `${set} not empty:\n${log}`);
    }
    assert.match(log, /^write \/home\/nonroot\/write-test failed \(Read-only file system\)$/m);
    assert.match(log, /^write \/workspace\/ok ok$/m);
  });

  test('the downward-API task file holds the pod annotation', async () => {
    const log = await podLogs(state, ns, 'hardened');
    const body =
      /^cat \/etc\/closedpaw\/task.json begin\n([\s\S]*?)\ncat \/etc\/closedpaw\/task.json end$/m.exec(
        log,
      )?.[1];
    assert.equal(body, TASK_SPEC);
  });

  test('the runner image runs the runner as uid 65532, and it reads the projected task file', async () => {
    const [good, bad] = [
      await waitForPod(state, ns, 'runner', finished),
      await waitForPod(state, ns, 'runner-bad-task', finished),
    ];
    const logs = `${await podLogs(state, ns, 'runner')}\n${await podLogs(state, ns, 'runner-bad-task')}`;
    if (state.runnerStandIn) {
      assert.equal(good.phase, 'Succeeded', logs);
      assert.match(logs, new RegExp(`node v24\\.\\S+ uid ${NONROOT}`));
      assert.ok(logs.includes(JSON.stringify(TASK_SPEC)), `task file not echoed:\n${logs}`);
      return;
    }
    // The real runner: a valid task gets past the task file (no gateway is configured here, so it stops
    // there); an invalid one is refused naming the file and the field.
    const failure = (status: PodStatus) =>
      JSON.parse(terminated(status)?.message ?? '{}') as { reason?: string; message?: string };
    assert.equal(failure(good).reason, 'ModelUnreachable', logs);
    assert.equal(failure(bad).reason, 'TaskFileInvalid', logs);
    assert.match(failure(bad).message ?? '', /\/etc\/closedpaw\/task.json[\s\S]*prompt/);
    assert.equal(terminated(good)?.exitCode, 1);
  });

  test('activeDeadlineSeconds kills a hung task', async () => {
    const status = await waitForPod(state, ns, 'hung', finished, 60_000);
    assert.equal(status.phase, 'Failed');
    assert.equal(status.reason, 'DeadlineExceeded');
  });

  test('the /workspace size limit is enforced: the pod that overfills it is evicted', async () => {
    const status = await waitForPod(state, ns, 'workspace-hog', finished, 120_000);
    assert.equal(status.phase, 'Failed', JSON.stringify(status));
    assert.equal(status.reason, 'Evicted', JSON.stringify(status));
    assert.match(status.message ?? '', /EmptyDir volume "workspace" exceeds the limit/);
  });

  test('an image that was not imported fails at once: pulls go to a closed loopback port, never a registry', async () => {
    const deadline = Date.now() + 60_000;
    let seen = '';
    while (Date.now() < deadline) {
      seen = await events(state, ns, 'not-imported');
      if (seen.includes('Failed to pull image')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(seen, /Failed to pull image/);
    assert.match(seen, /127\.0\.0\.1:1/, 'the pull was routed to the closed loopback port');
    assert.doesNotMatch(seen, /lookup |registry-1\.docker\.io/, 'no name lookup, no registry');
    const status = await podStatus(state, ns, 'not-imported');
    assert.equal(status.phase, 'Pending');
  });

  for (const [pod, handler] of [
    ['no-handler', 'kata-qemu'],
    ['runc', 'runc'],
  ] as const) {
    test(`a RuntimeClass whose handler is ${handler} never runs the pod`, async () => {
      const deadline = Date.now() + 60_000;
      let seen = '';
      while (Date.now() < deadline) {
        seen = await events(state, ns, pod);
        if (seen.includes('FailedCreatePodSandBox')) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(seen, /FailedCreatePodSandBox/);
      assert.match(seen, handler === 'runc' ? /runc-is-disabled/ : /kata-qemu/);
      const status = await podStatus(state, ns, pod);
      assert.equal(status.phase, 'Pending');
      const agent = status.containerStatuses?.find((c) => c.name === 'agent');
      assert.equal(agent?.containerID, undefined, 'the agent container was created');
      assert.equal(agent?.state?.running, undefined);
      assert.equal(agent?.state?.terminated, undefined);
    });
  }
});

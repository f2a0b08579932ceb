/**
 * The task view's server side: list, detail, steps, audit trail and the per-task
 * event stream, behind the same guards as the approvals. Above all: a task in a
 * namespace the approver cannot read is never listed, streamed or shown, and
 * nothing of it (not even its pod log or its audit trail) is even looked up.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { RunnerStep } from '../../api/agent-protocol.ts';
import { REASON_TEXT } from '../../api/reasons.ts';
import { frameResult } from '../../api/result-frame.ts';
import type { AgentTask, Approval } from '../../api/types.ts';
import { KubeApiError } from '../../k8s/rest.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { AuditTrailView, TaskRefWithUid } from './audit-trail.ts';
import { createUiApp, startUiServer, type UiDeps } from './index.ts';
import type { PodLogOptions, ReadPodLog } from './pod-log.ts';
import { STEP_LINE_MAX_BYTES } from './steps.ts';
import type { TaskDetailView, TaskStreamEvent, TasksResponse } from './task-view.ts';
import {
  capturedLogger,
  FakeInformer,
  fakeAccess,
  fakeStaticDir,
  HOST,
  NS,
  ORIGIN,
  PORT,
  TOKEN,
  taskFixture,
} from './testkit.ts';
import { rotateTokenFile, tokenFile, writeTokenFile } from './token.ts';
import type { StreamEvent } from './view.ts';

const SECRET_NS = 'secret-ns';
const SHA = 'e'.repeat(64);
const auth = { authorization: `Bearer ${TOKEN}` };

const model: RunnerStep = {
  event: 'model',
  step: 1,
  ms: 40,
  promptTokens: 50,
  completionTokens: 9,
  toolCalls: 1,
};
const tool: RunnerStep = {
  event: 'tool',
  step: 1,
  tool: 'fs.list',
  argsSha256: SHA,
  bytes: 40,
  ms: 2,
  ok: true,
};
const finished: RunnerStep = { event: 'finished', steps: 2, bytes: 11 };
const line = (s: unknown) => `${JSON.stringify(s)}\n`;
/** What a pod log holds: steps on stderr, noise, the result frame on stdout, an over-long line. */
const POD_LOG =
  line(model) +
  'runner: starting\n' +
  line({ ...tool, event: 'tool' }) +
  line({ event: 'failed', reason: 'ModelError', message: 'm'.repeat(STEP_LINE_MAX_BYTES) }) +
  frameResult('THE-RESULT-TEXT') +
  line(finished);

let staticDir = '';
before(async () => {
  staticDir = await fakeStaticDir();
});
after(() => rm(staticDir, { recursive: true, force: true }));

function task(
  name: string,
  namespace = NS,
  status: AgentTask['status'] = { phase: 'Running' },
): AgentTask & KubeObject {
  const t = taskFixture(name) as AgentTask & KubeObject;
  t.metadata.namespace = namespace;
  t.metadata.creationTimestamp = new Date('2030-01-01T00:00:00Z');
  t.status = status;
  return t;
}

interface Fakes {
  tasks: FakeInformer<AgentTask & KubeObject>;
  access: ReturnType<typeof fakeAccess>;
  logReads: Array<{ namespace: string; name: string; opts: PodLogOptions }>;
  logs: Map<string, string | (() => AsyncIterable<Uint8Array>)>;
  trails: TaskRefWithUid[];
  deps: UiDeps;
}

function fakes(overrides: Partial<UiDeps> = {}): Fakes {
  const tasks = new FakeInformer<AgentTask & KubeObject>();
  const access = fakeAccess([NS]);
  const logReads: Fakes['logReads'] = [];
  const logs: Fakes['logs'] = new Map();
  const trails: TaskRefWithUid[] = [];
  const readPodLog: ReadPodLog = async (namespace, name, opts) => {
    logReads.push({ namespace, name, opts });
    const log = logs.get(`${namespace}/${name}`);
    if (log === undefined) throw new KubeApiError(404, `pods "${name}" not found`);
    return typeof log === 'string' ? [Buffer.from(log)] : log();
  };
  const auditTrail = async (ref: TaskRefWithUid): Promise<AuditTrailView> => {
    trails.push(ref);
    return {
      available: true,
      events: [
        { seq: 7, time: '2030-01-01T00:00:01.000Z', type: 'task.admitted', summary: `admitted ${ref.name}` },
      ],
      total: 1,
      verification: {
        ok: true,
        checkedTo: 9,
        message: 'verified: events 1..9',
        checkedAt: '2030-01-01T00:00:02.000Z',
        current: true,
      },
    };
  };
  const { logger } = capturedLogger();
  const deps: UiDeps = {
    approvals: new FakeInformer<Approval & KubeObject>(),
    tasks,
    access,
    ttlSeconds: 1800,
    decide: async () => {
      throw new Error('unused');
    },
    approver: 'alice',
    token: TOKEN,
    host: '127.0.0.1',
    port: PORT,
    staticDir,
    logger,
    readPodLog,
    auditTrail,
    ...overrides,
  };
  return { tasks, access, logReads, logs, trails, deps };
}

function get(f: Fakes, url: string, headers: Record<string, string> = {}) {
  return createUiApp(f.deps).inject({ method: 'GET', url, headers: { host: HOST, ...auth, ...headers } });
}

describe('task list and task detail', () => {
  test('only tasks in namespaces the approver may read are listed', async () => {
    const f = fakes();
    f.tasks.set(task('visible'));
    f.tasks.set(task('hidden', SECRET_NS));
    const res = await get(f, '/api/tasks');
    assert.equal(res.statusCode, 200);
    const body = res.json() as TasksResponse;
    assert.deepEqual(body.tasks, [
      {
        key: `${NS}/visible`,
        namespace: NS,
        name: 'visible',
        uid: 'uid-visible',
        phase: 'Running',
        risk: 'unknown',
        createdAt: '2030-01-01T00:00:00.000Z',
      },
    ]);
    assert.equal(res.body.includes(SECRET_NS), false);
    assert.ok(f.access.asked.includes(SECRET_NS), 'the access review was asked');
  });

  test('the detail: status, the result with its digest and size, each condition with its meaning', async () => {
    const f = fakes();
    f.tasks.set(
      task('done', NS, {
        phase: 'Failed',
        risk: { level: 'critical', reasons: ['tool shell requested: the agent can run arbitrary commands'] },
        podName: 'done-agent',
        result: { summary: 'partial', sha256: SHA, bytes: 7 },
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BudgetExceeded',
            message: 'tokens: 100001 > 100000',
            lastTransitionTime: '2030-01-01T00:01:00Z',
          },
        ],
      }),
    );
    const res = await get(f, `/api/tasks/${NS}/done`);
    assert.equal(res.statusCode, 200);
    const d = res.json() as TaskDetailView;
    assert.equal(d.phase, 'Failed');
    assert.deepEqual(d.status.risk, {
      level: 'critical',
      reasons: ['tool shell requested: the agent can run arbitrary commands'],
    });
    assert.deepEqual(d.status.result, { summary: 'partial', sha256: SHA, bytes: 7 });
    assert.deepEqual(d.status.conditions[0], {
      type: 'Failed',
      status: 'True',
      reason: 'BudgetExceeded',
      meaning: REASON_TEXT.BudgetExceeded,
      message: 'tokens: 100001 > 100000',
      lastTransitionTime: '2030-01-01T00:01:00.000Z',
    });
    assert.equal(d.spec.prompt, 'Delete the temp files in /workspace.');
  });

  test('an unreadable namespace is 403 on every task route, whether the task exists or not; nothing is looked up', async () => {
    const f = fakes();
    f.tasks.set(task('hidden', SECRET_NS, { phase: 'Succeeded', podName: 'hidden-agent' }));
    f.logs.set(`${SECRET_NS}/hidden-agent`, POD_LOG);
    for (const name of ['hidden', 'does-not-exist']) {
      for (const suffix of ['', '/steps', '/audit', '/events']) {
        const res = await get(f, `/api/tasks/${SECRET_NS}/${name}${suffix}`);
        assert.equal(res.statusCode, 403, `${name}${suffix}`);
        assert.match(res.json().error, /alice may not read approvals and tasks in namespace secret-ns/);
        assert.equal(res.body.includes('hidden-agent'), false);
      }
    }
    assert.deepEqual(f.logReads, [], 'the pod log of an unreadable task was read');
    assert.deepEqual(f.trails, [], 'the audit trail of an unreadable task was read');
  });

  test('a failing access review fails closed (403)', async () => {
    const f = fakes({
      access: {
        canRead: async () => {
          throw new Error('SubjectAccessReview: connection refused');
        },
      },
    });
    f.tasks.set(task('t'));
    assert.equal((await get(f, `/api/tasks/${NS}/t`)).statusCode, 403);
    assert.deepEqual((await get(f, '/api/tasks')).json().tasks, []);
  });

  test('missing in a readable namespace → 404; a bad name → 400', async () => {
    const f = fakes();
    assert.equal((await get(f, `/api/tasks/${NS}/nope`)).statusCode, 404);
    for (const url of [`/api/tasks/${NS}/UPPER`, `/api/tasks/${NS}/-x`, `/api/tasks/Bad_NS/x/steps`]) {
      assert.equal((await get(f, url)).statusCode, 400, url);
    }
  });

  test('the guards hold: no token → 401, foreign Host → 403, and no route writes anything', async () => {
    const f = fakes();
    f.tasks.set(task('t', NS, { phase: 'Succeeded', podName: 't-agent' }));
    const app = createUiApp(f.deps);
    for (const suffix of ['', `/${NS}/t`, `/${NS}/t/steps`, `/${NS}/t/audit`, `/${NS}/t/events`]) {
      const url = `/api/tasks${suffix}`;
      assert.equal((await app.inject({ method: 'GET', url, headers: { host: HOST } })).statusCode, 401, url);
      assert.equal((await get(f, url, { host: 'evil.example:7780' })).statusCode, 403, url);
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
        const res = await app.inject({ method, url, headers: { host: HOST, origin: ORIGIN, ...auth } });
        assert.equal(res.statusCode, 404, `${method} ${url}`);
      }
    }
    assert.deepEqual(f.logReads, []);
  });
});

describe('task pages are the page itself', () => {
  test('a deep link, even with dots in the name, serves the UI (and its relative assets) without the token', async () => {
    const app = createUiApp(fakes().deps);
    for (const url of ['/tasks', `/tasks/${NS}/my.task.v2`, `/tasks/${NS}/job`]) {
      const res = await app.inject({ method: 'GET', url, headers: { host: HOST } });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.body, /<title>ClosedPaw approvals<\/title>/, url);
    }
    const asset = await app.inject({
      method: 'GET',
      url: `/tasks/${NS}/assets/app.js`,
      headers: { host: HOST },
    });
    assert.equal(asset.statusCode, 200);
    assert.match(String(asset.headers['content-type']), /javascript/);
    const tooDeep = await app.inject({
      method: 'GET',
      url: `/tasks/${NS}/job/x.js`,
      headers: { host: HOST },
    });
    assert.equal(tooDeep.statusCode, 404);
  });
});

describe('steps and audit trail (JSON)', () => {
  test('only step lines reach the page: no raw log, no result frame, nothing over the size cap', async () => {
    const f = fakes();
    f.tasks.set(task('run', NS, { phase: 'Succeeded', podName: 'run-agent' }));
    f.logs.set(`${NS}/run-agent`, POD_LOG);
    const res = await get(f, `/api/tasks/${NS}/run/steps`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { steps: [model, tool, finished], status: { state: 'complete' } });
    for (const leaked of [
      'THE-RESULT-TEXT',
      Buffer.from('THE-RESULT-TEXT').toString('base64'),
      'closedpaw-result',
      'runner: starting',
      'ModelError',
    ]) {
      assert.equal(res.body.includes(leaked), false, leaked);
    }
    assert.deepEqual(
      f.logReads.map((r) => [r.namespace, r.name, r.opts.follow, r.opts.limitBytes]),
      [[NS, 'run-agent', false, 512 * 1024]],
    );
  });

  test('before the pod exists: waiting, and the log is not read', async () => {
    const f = fakes();
    f.tasks.set(task('wait', NS, { phase: 'AwaitingApproval' }));
    const res = await get(f, `/api/tasks/${NS}/wait/steps`);
    assert.deepEqual(res.json(), {
      steps: [],
      status: { state: 'waiting', message: 'waiting for a human decision: no pod yet' },
    });
    assert.equal(f.logReads.length, 0);
  });

  test('the audit trail is asked for exactly this task (by uid)', async () => {
    const f = fakes();
    f.tasks.set(task('t'));
    const res = await get(f, `/api/tasks/${NS}/t/audit`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().verification.ok, true);
    assert.deepEqual(f.trails, [{ namespace: NS, name: 't', uid: 'uid-t' }]);
  });

  test('without the sources configured: said so, not an error', async () => {
    const f = fakes({ readPodLog: undefined, auditTrail: undefined });
    f.tasks.set(task('t', NS, { phase: 'Running', podName: 't-agent' }));
    assert.equal((await get(f, `/api/tasks/${NS}/t/steps`)).json().status.state, 'unavailable');
    const trail = (await get(f, `/api/tasks/${NS}/t/audit`)).json() as AuditTrailView;
    assert.equal(trail.available, false);
    assert.match(trail.message ?? '', /no audit trail/);
  });
});

/** A server-sent event stream on a real socket, parsed as it comes. */
async function openStream<E>(port: number, path: string, token = TOKEN) {
  const req = request({
    host: '127.0.0.1',
    port,
    path,
    headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` },
  });
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  const events: E[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    body += chunk;
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      buffer = buffer.slice(end + 2);
      if (data) events.push(JSON.parse(data) as E);
    }
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((resolve) => {
    res.on('end', resolve);
    res.on('close', resolve);
  });
  const next = (pred: (e: E) => boolean) =>
    new Promise<E>((resolve) => {
      const check = () => {
        const found = events.find(pred);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
    });
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    events,
    next,
    ended,
    body: () => body,
    close: () => req.destroy(),
  };
}

async function listening(f: Fakes) {
  const server = await startUiServer({
    ...f.deps,
    port: 0,
    taskStreams: { auditRefreshMs: 20, stepRetryMs: { min: 5, max: 20 }, heartbeatMs: 60_000 },
  });
  return { server, port: Number(new URL(server.url).port) };
}

describe('live task stream (real socket)', { timeout: 30_000 }, () => {
  test('the task, its steps as the log grows, status changes, its audit trail; gone when deleted', async (t) => {
    const f = fakes();
    const live = new PassThrough();
    f.logs.set(`${NS}/live-agent`, () => live);
    const running = task('live', NS, { phase: 'Running', podName: 'live-agent' });
    f.tasks.set(running);
    const { server, port } = await listening(f);
    t.after(() => server.close());
    const s = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/live/events`);
    t.after(() => s.close());
    assert.equal(s.status, 200);
    assert.match(String(s.headers['content-type']), /^text\/event-stream/);
    assert.match(String(s.headers['content-security-policy']), /default-src 'self'/);

    const first = await s.next((e) => e.type === 'task');
    assert.equal(first.type === 'task' && first.task.phase, 'Running');
    const audit = await s.next((e) => e.type === 'audit');
    assert.equal(audit.type === 'audit' && audit.trail.events[0]?.summary, 'admitted live');
    await s.next((e) => e.type === 'steps-status' && e.status.state === 'following');

    live.write(line(model));
    live.write('not a step\n');
    await s.next((e) => e.type === 'steps' && e.from === 0);
    live.write(line(tool));
    const second = await s.next((e) => e.type === 'steps' && e.from === 1);
    assert.deepEqual(second.type === 'steps' && second.steps, [tool]);

    f.tasks.set({
      ...running,
      status: { phase: 'Succeeded', podName: 'live-agent', result: { summary: 'ok', sha256: SHA, bytes: 2 } },
    });
    const done = await s.next((e) => e.type === 'task' && e.task.phase === 'Succeeded');
    assert.deepEqual(done.type === 'task' && done.task.status.result, {
      summary: 'ok',
      sha256: SHA,
      bytes: 2,
    });
    live.end(frameResult('ok') + line(finished));
    await s.next((e) => e.type === 'steps-status' && e.status.state === 'complete');
    const steps = s.events.flatMap((e) => (e.type === 'steps' ? e.steps : []));
    assert.deepEqual(steps, [model, tool, finished]);
    assert.equal(s.body().includes('not a step'), false);
    assert.equal(s.body().includes('closedpaw-result'), false);

    f.tasks.remove(running);
    const gone = await s.next((e) => e.type === 'gone');
    assert.match(gone.type === 'gone' ? gone.message : '', /was deleted/);
    await s.ended;
  });

  test('an unreadable namespace gets a 403 and no stream; access revoked mid-stream ends it', async (t) => {
    const f = fakes();
    f.tasks.set(task('hidden', SECRET_NS, { phase: 'Running', podName: 'hidden-agent' }));
    f.tasks.set(task('mine', NS, { phase: 'AwaitingApproval' }));
    const { server, port } = await listening(f);
    t.after(() => server.close());
    const refused = await openStream<TaskStreamEvent>(port, `/api/tasks/${SECRET_NS}/hidden/events`);
    assert.equal(refused.status, 403);
    assert.match(String(refused.headers['content-type']), /application\/json/);
    await refused.ended;
    assert.equal(refused.body().includes('hidden-agent'), false);

    const s = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/mine/events`);
    t.after(() => s.close());
    await s.next((e) => e.type === 'task');
    f.access.allowed.delete(NS);
    f.tasks.set(
      task('mine', NS, {
        phase: 'AwaitingApproval',
        risk: { level: 'critical', reasons: ['revoked-marker'] },
      }),
    );
    await s.ended;
    assert.equal(s.body().includes('revoked-marker'), false, 'an event was sent after access was revoked');
    assert.deepEqual(
      f.logReads.filter((r) => r.namespace === SECRET_NS),
      [],
    );
    assert.equal(
      f.trails.some((r) => r.namespace === SECRET_NS),
      false,
    );
  });

  test('the approvals stream carries task rows, readable namespaces only', async (t) => {
    const f = fakes();
    f.tasks.set(task('hidden', SECRET_NS));
    f.tasks.set(task('visible'));
    const { server, port } = await listening(f);
    t.after(() => server.close());
    const s = await openStream<StreamEvent>(port, '/api/events');
    t.after(() => s.close());
    const snapshot = await s.next((e) => e.type === 'snapshot');
    assert.deepEqual(snapshot.type === 'snapshot' && snapshot.tasks.map((r) => r.key), [`${NS}/visible`]);
    f.tasks.set(task('hidden', SECRET_NS, { phase: 'Succeeded' }));
    f.tasks.set(task('visible', NS, { phase: 'Succeeded' }));
    await s.next((e) => e.type === 'task-upsert' && e.task.phase === 'Succeeded');
    f.tasks.remove(task('hidden', SECRET_NS));
    f.tasks.remove(task('visible'));
    await s.next((e) => e.type === 'task-delete');
    assert.equal(s.body().includes(SECRET_NS), false, 'an unreadable namespace leaked into the stream');
  });

  test('a rotated token ends open task streams; the old token no longer opens one', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-token-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'ui-token');
    const oldToken = writeTokenFile(file);
    const f = fakes();
    f.tasks.set(task('t', NS, { phase: 'AwaitingApproval' }));
    const server = await startUiServer({ ...f.deps, token: tokenFile(file), tokenCheckMs: 20, port: 0 });
    t.after(() => server.close());
    const port = Number(new URL(server.url).port);
    const s = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/t/events`, oldToken);
    t.after(() => s.close());
    await s.next((e) => e.type === 'task');
    rotateTokenFile(file);
    await s.ended; // ended by the server
    const again = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/t/events`, oldToken);
    assert.equal(again.status, 401);
  });

  test('open task streams are bounded', async (t) => {
    const f = fakes();
    f.tasks.set(task('t', NS, { phase: 'AwaitingApproval' }));
    const server = await startUiServer({ ...f.deps, port: 0, taskStreams: { maxClients: 1 } });
    t.after(() => server.close());
    const port = Number(new URL(server.url).port);
    const one = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/t/events`);
    t.after(() => one.close());
    assert.equal(one.status, 200);
    const two = await openStream<TaskStreamEvent>(port, `/api/tasks/${NS}/t/events`);
    assert.equal(two.status, 503);
    await two.ended;
    assert.match(two.body(), /too many open task streams/);
  });
});

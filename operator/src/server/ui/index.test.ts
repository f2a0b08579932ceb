/**
 * The approval UI server through fastify inject() (no sockets) plus a few real
 * loopback sockets for the event stream: the security checks of the local web
 * UI, the JSON API and its validation, and static serving.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { AgentTask, Approval } from '../../api/types.ts';
import { specDigest } from '../../policy/digest.ts';
import { rateRisk } from '../../policy/risk.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createUiApp, NO_ACCESS, startUiServer, type UiDeps, uiUrl } from './index.ts';
import { CONTENT_SECURITY_POLICY } from './security.ts';
import {
  approvalFixture,
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
import type { ApprovalView, StreamEvent } from './view.ts';

type Decision = { verdict: 'Approved' | 'Denied'; reason?: string };

interface Harness {
  app: FastifyInstance;
  approvals: FakeInformer<Approval & KubeObject>;
  tasks: FakeInformer<AgentTask & KubeObject>;
  decisions: Array<{ namespace: string; name: string; decision: Decision }>;
  logs: () => string;
  logins: Array<[boolean, string]>;
  access: ReturnType<typeof fakeAccess>;
}

let staticDir = '';
before(async () => {
  staticDir = await fakeStaticDir();
});
after(() => rm(staticDir, { recursive: true, force: true }));

function harness(overrides: Partial<UiDeps> = {}): Harness {
  const approvals = new FakeInformer<Approval & KubeObject>();
  const tasks = new FakeInformer<AgentTask & KubeObject>();
  const decisions: Harness['decisions'] = [];
  const logins: Harness['logins'] = [];
  const { logger, text } = capturedLogger();
  const access = fakeAccess();
  const app = createUiApp({
    approvals,
    tasks,
    access,
    ttlSeconds: 1800,
    async decide(namespace, name, decision) {
      decisions.push({ namespace, name, decision });
      const current = approvals.get(`${namespace}/${name}`)!;
      return { ...current, spec: { ...current.spec, decision: { ...decision, decidedBy: 'alice' } } };
    },
    approver: 'alice',
    token: TOKEN,
    host: '127.0.0.1',
    port: PORT,
    staticDir,
    logger,
    onLogin: (ok, remote) => logins.push([ok, remote]),
    ...overrides,
  });
  return { app, approvals, tasks, decisions, logs: text, logins, access };
}

const auth = { authorization: `Bearer ${TOKEN}` };

function get(h: Harness, url: string, headers: Record<string, string> = {}) {
  return h.app.inject({ method: 'GET', url, headers: { host: HOST, ...auth, ...headers } });
}

function post(h: Harness, url: string, payload: unknown, headers: Record<string, string> = {}) {
  const opts: InjectOptions = {
    method: 'POST',
    url,
    headers: { host: HOST, origin: ORIGIN, 'content-type': 'application/json', ...auth, ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  };
  return h.app.inject(opts);
}

/** One pending critical task with its approval. */
function seed(h: Harness, name = 'risky'): { task: AgentTask; approval: Approval } {
  const task = taskFixture(name);
  const approval = approvalFixture(task);
  h.tasks.set(task as AgentTask & KubeObject);
  h.approvals.set(approval as Approval & KubeObject);
  return { task, approval };
}

const decisionUrl = (a: Approval) => `/api/approvals/${NS}/${a.metadata.name}/decision`;

/** A decision as the page sends it: with the digest of the task it displayed. */
const body = (
  a: Approval,
  verdict: 'Approved' | 'Denied' = 'Approved',
  extra: Record<string, unknown> = {},
) => ({
  verdict,
  taskDigest: a.spec.taskDigest,
  ...extra,
});

describe('Host allowlist (DNS rebinding)', () => {
  test('a foreign or missing Host is 403 on every path, token or not', async () => {
    const h = harness();
    for (const host of [
      'evil.example',
      'evil.example:7780',
      '127.0.0.2:7780',
      'localhost.evil.example:7780',
      '0.0.0.0:7780',
    ]) {
      for (const url of ['/', '/api/approvals', '/api/whoami', '/assets/app.js']) {
        const res = await get(h, url, { host });
        assert.equal(res.statusCode, 403, `${host} ${url}`);
        assert.match(res.json().error, /Host/);
      }
    }
    for (const host of ['localhost', '127.0.0.1']) {
      const res = await h.app.inject({ method: 'GET', url: '/api/whoami', headers: { host, ...auth } });
      assert.equal(res.statusCode, 403, `${host}: a Host without a port is not what a browser sends here`);
    }
  });

  test('127.0.0.1, localhost and [::1] with our port are accepted', async () => {
    const h = harness();
    for (const host of ['127.0.0.1:7780', 'localhost:7780', 'LOCALHOST:7780', '[::1]:7780']) {
      assert.equal((await get(h, '/api/whoami', { host })).statusCode, 200, host);
    }
  });
});

describe('authentication', () => {
  test('no token → 401 with a WWW-Authenticate challenge', async () => {
    const h = harness();
    for (const url of ['/api/approvals', '/api/whoami', '/api/events', `/api/approvals/${NS}/x`]) {
      const res = await h.app.inject({ method: 'GET', url, headers: { host: HOST } });
      assert.equal(res.statusCode, 401, url);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
  });

  test('encoded or odd spellings of API paths still need the token (deny by default)', async () => {
    const h = harness();
    seed(h);
    for (const url of [
      '/%61pi/approvals',
      '/%61%70%69/whoami',
      '/./api/approvals',
      '/api/approvals/',
      '/api//approvals',
      '/api/approvals;x',
      `/api/approvals/${NS}/%72isky-0`,
      '/api/events',
    ]) {
      const res = await h.app.inject({ method: 'GET', url, headers: { host: HOST } });
      assert.ok(res.statusCode === 401 || res.statusCode === 404, `${url}: ${res.statusCode}`);
      assert.equal(res.body.includes('approvals":['), false, url);
      assert.equal(res.body.includes('serverTime'), false, url);
    }
    // Unknown routes for other methods are behind the token too.
    const del = await h.app.inject({
      method: 'DELETE',
      url: '/api/approvals',
      headers: { host: HOST, origin: ORIGIN },
    });
    assert.equal(del.statusCode, 401);
  });

  test('a wrong or malformed token → 401, and the audit hook hears it', async () => {
    const h = harness();
    for (const value of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      'Bearer ',
      TOKEN,
      `Basic ${TOKEN}`,
    ]) {
      assert.equal((await get(h, '/api/whoami', { authorization: value })).statusCode, 401, value);
    }
    assert.ok(h.logins.length >= 4);
    assert.ok(h.logins.every(([ok]) => !ok));
  });

  test('the right token → 200; the audit hook reports success once per connection', async () => {
    const h = harness();
    const res = await get(h, '/api/whoami');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { approver: 'alice', groups: [], readOnly: false, pairing: false });
    assert.deepEqual(h.logins, [[true, '127.0.0.1']]);
  });

  test('a token in the query string is refused (400) and never authenticates', async () => {
    const h = harness();
    for (const url of [
      `/api/approvals?token=${TOKEN}`,
      `/api/whoami?access_token=${TOKEN}`,
      `/?token=${TOKEN}`,
      `/api/events?Token=${TOKEN}`,
      `/api/approvals?x=1&auth=${TOKEN}`,
    ]) {
      const bare = await h.app.inject({ method: 'GET', url, headers: { host: HOST } });
      assert.equal(bare.statusCode, 400, url);
      assert.match(bare.json().error, /never accepted in the URL/);
      // Even alongside a valid header: a URL credential is a mistake to surface, not to ignore.
      assert.equal((await get(h, url)).statusCode, 400, url);
    }
    const write = await post(h, `/api/approvals/${NS}/x/decision?token=${TOKEN}`, { verdict: 'Approved' });
    assert.equal(write.statusCode, 400);
    assert.equal(h.decisions.length, 0);
  });

  test('40+ wrong tokens from this client, then the right one → 200 (never locked out)', async () => {
    const h = harness();
    const codes = new Set<number>();
    for (let i = 0; i < 45; i++) {
      codes.add((await get(h, '/api/whoami', { authorization: `Bearer wrong-${i}` })).statusCode);
    }
    assert.deepEqual([...codes].sort(), [401, 429], 'failures are answered, then throttled');
    const right = await get(h, '/api/whoami');
    assert.equal(right.statusCode, 200, right.body);
    assert.equal(right.json().approver, 'alice');
  });

  test('once throttled, a wrong token gets 429 (with Retry-After) while the right one still gets 200', async () => {
    const h = harness({
      authLimits: {
        perClient: { burst: 5, refillPerSecond: 0.001 },
        perConnection: { burst: 100, refillPerSecond: 1 },
        global: { burst: 100, refillPerSecond: 1 },
      },
    });
    for (let i = 0; i < 5; i++) {
      assert.equal((await get(h, '/api/whoami', { authorization: `Bearer wrong-${i}` })).statusCode, 401);
    }
    const limited = await get(h, '/api/whoami', { authorization: 'Bearer wrong-again' });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await get(h, '/api/whoami')).statusCode, 200);
    assert.equal((await get(h, '/api/approvals')).statusCode, 200);
    // Throttled attempts are not audited one by one (no audit flood).
    assert.equal(h.logins.filter(([ok]) => !ok).length, 5);
    // Another client is not affected by this one's bucket; IPv4-mapped IPv6 is the same client.
    const from = (remoteAddress: string, authorization: string) =>
      h.app.inject({
        method: 'GET',
        url: '/api/whoami',
        headers: { host: HOST, authorization },
        remoteAddress,
      });
    assert.equal((await from('127.0.0.2', 'Bearer nope')).statusCode, 401);
    assert.equal((await from('::ffff:127.0.0.1', 'Bearer nope')).statusCode, 429);
  });

  test('an exhausted global bucket throttles failures everywhere, never the right token', async () => {
    const h = harness({
      authLimits: {
        perClient: { burst: 100, refillPerSecond: 1 },
        perConnection: { burst: 100, refillPerSecond: 1 },
        global: { burst: 4, refillPerSecond: 0.001 },
      },
    });
    const attempt = (i: number, token: string) =>
      h.app.inject({
        method: 'GET',
        url: '/api/whoami',
        headers: { host: HOST, authorization: `Bearer ${token}` },
        remoteAddress: `127.0.0.${i + 1}`,
      });
    for (let i = 0; i < 4; i++) assert.equal((await attempt(i, `bad-${i}`)).statusCode, 401);
    assert.equal((await attempt(10, 'bad-x')).statusCode, 429);
    assert.equal((await attempt(10, TOKEN)).statusCode, 200);
    assert.equal((await attempt(20, TOKEN)).statusCode, 200);
  });
});

test('a local port forwarded to the UI (closedpaw ui) is its own allowed Host and Origin', async () => {
  const h = harness();
  const { approval } = seed(h);
  const forwarded = { host: '127.0.0.1:41234', origin: 'http://127.0.0.1:41234' };
  assert.equal((await get(h, '/api/whoami', { host: forwarded.host })).statusCode, 200);
  const crossed = await post(
    h,
    decisionUrl(approval),
    { verdict: 'Approved', reason: 'x' },
    {
      host: forwarded.host,
      origin: 'http://127.0.0.1:7780',
    },
  );
  assert.equal(crossed.statusCode, 403, 'the origin must be the Host the request was sent to');
});

describe('writes: Origin, method, content type', () => {
  test('a cross-origin write is 403 and decides nothing, even with the token', async () => {
    const h = harness();
    const { approval } = seed(h);
    for (const origin of [
      'http://evil.example',
      'null',
      'http://127.0.0.1:7781',
      'https://127.0.0.1:7780',
      'http://localhost.evil.example:7780',
    ]) {
      const res = await post(h, decisionUrl(approval), { verdict: 'Approved', reason: 'x' }, { origin });
      assert.equal(res.statusCode, 403, origin);
      assert.match(res.json().error, /cross-origin/);
    }
    const noOrigin = await h.app.inject({
      method: 'POST',
      url: decisionUrl(approval),
      headers: { host: HOST, 'content-type': 'application/json', ...auth },
      payload: '{"verdict":"Approved"}',
    });
    assert.equal(noOrigin.statusCode, 403);
    assert.equal(h.decisions.length, 0);
  });

  test('same-site / cross-site fetch metadata is refused on the API', async () => {
    const h = harness();
    for (const site of ['cross-site', 'same-site']) {
      assert.equal((await get(h, '/api/approvals', { 'sec-fetch-site': site })).statusCode, 403, site);
    }
    assert.equal((await get(h, '/api/approvals', { 'sec-fetch-site': 'same-origin' })).statusCode, 200);
  });

  test('no CORS: a preflight gets no Access-Control-* headers', async () => {
    const h = harness();
    const res = await h.app.inject({
      method: 'OPTIONS',
      url: '/api/approvals',
      headers: {
        host: HOST,
        origin: 'http://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.ok(res.statusCode >= 400);
    assert.deepEqual(
      Object.keys(res.headers).filter((k) => k.startsWith('access-control-')),
      [],
    );
  });

  test('a GET never changes state', async () => {
    const h = harness();
    const { approval } = seed(h);
    const res = await get(h, `${decisionUrl(approval)}`);
    assert.equal(res.statusCode, 404);
    assert.equal(h.decisions.length, 0);
  });

  test('a form post (not JSON) is refused', async () => {
    const h = harness();
    const { approval } = seed(h);
    const res = await post(h, decisionUrl(approval), 'verdict=Approved', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(res.statusCode, 415);
    assert.equal(h.decisions.length, 0);
  });
});

describe('response headers', () => {
  test('every response carries the CSP, nosniff, no-referrer, no-store, and no CORS', async () => {
    const h = harness();
    seed(h);
    const responses = await Promise.all([
      get(h, '/api/approvals'),
      get(h, '/api/whoami'),
      get(h, '/api/approvals/team-a/missing'),
      get(h, '/api/whoami', { authorization: 'Bearer nope' }),
      get(h, '/', { host: 'evil.example' }),
      get(h, '/'),
      get(h, '/assets/app.js'),
    ]);
    for (const res of responses) {
      assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
      assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
      assert.match(CONTENT_SECURITY_POLICY, /frame-ancestors 'none'/);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(
        Object.keys(res.headers).some((k) => k.startsWith('access-control-')),
        false,
      );
    }
  });
});

describe('API', () => {
  test('GET /api/approvals: pending and history, each joined with its task', async () => {
    const h = harness();
    const { approval } = seed(h);
    const doneTask = taskFixture('done', { tools: ['fs.write'], prompt: 'Write a report.' });
    h.tasks.set(doneTask as AgentTask & KubeObject);
    h.approvals.set(
      approvalFixture(doneTask, {
        spec: { decision: { verdict: 'Denied', decidedBy: 'bob', reason: 'no' } },
        status: { state: 'Denied', decidedBy: 'bob', decidedAt: '2030-01-01T00:01:00.000Z', reason: 'no' },
      }) as Approval & KubeObject,
    );
    const res = await get(h, '/api/approvals');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json() as { serverTime: string; approvals: ApprovalView[] };
    assert.ok(Date.parse(body.serverTime));
    const pending = body.approvals.find((a) => a.name === approval.metadata.name)!;
    assert.equal(pending.state, 'Pending');
    assert.equal(pending.decidable, true);
    assert.equal(pending.task?.prompt, 'Delete the temp files in /workspace.');
    assert.deepEqual(pending.task?.tools, ['shell']);
    assert.equal(pending.task?.runtimeClassName, 'gvisor');
    assert.deepEqual(pending.task?.resources, { cpu: '500m', memory: '512Mi', ephemeralStorage: '1Gi' });
    assert.equal(pending.task?.timeoutSeconds, 600);
    assert.equal(pending.task?.digestMatches, true);
    assert.equal(pending.taskDigest, approval.spec.taskDigest);
    assert.deepEqual(pending.risk, approval.spec.risk);
    assert.equal(pending.expiresAt, approval.spec.expiresAt);
    const denied = body.approvals.find((a) => a.taskRef.name === 'done')!;
    assert.equal(denied.state, 'Denied');
    assert.equal(denied.decidedBy, 'bob');
    assert.equal(denied.decidable, false);
  });

  test('GET one approval; 404 unknown; 400 on a malformed name', async () => {
    const h = harness();
    const { approval } = seed(h);
    const one = await get(h, `/api/approvals/${NS}/${approval.metadata.name}`);
    assert.equal(one.statusCode, 200);
    assert.equal((one.json() as ApprovalView).key, `${NS}/${approval.metadata.name}`);
    assert.equal((await get(h, `/api/approvals/${NS}/nope`)).statusCode, 404);
    const bad = await get(h, `/api/approvals/${NS}/Bad_Name`);
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /invalid approval name/);
    assert.equal((await get(h, '/api/nothing-here')).statusCode, 404);
  });

  test('a task that changed after the request is flagged (shown ≠ bound)', async () => {
    const h = harness();
    const { task } = seed(h);
    h.tasks.set({ ...task, spec: { ...task.spec, prompt: 'Something else.' } } as AgentTask & KubeObject);
    const [view] = (await get(h, '/api/approvals')).json().approvals as ApprovalView[];
    assert.equal(view?.task?.digestMatches, false);
  });
});

describe('POST decision', () => {
  let h: Harness;
  let approval: Approval;
  let task: AgentTask;
  beforeEach(() => {
    h = harness();
    ({ approval, task } = seed(h));
  });

  test('Approved with a reason: written through decide(), the new state returned', async () => {
    const res = await post(h, decisionUrl(approval), body(approval, 'Approved', { reason: 'looked at it' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(h.decisions, [
      {
        namespace: NS,
        name: approval.metadata.name,
        decision: { verdict: 'Approved', reason: 'looked at it' },
      },
    ]);
    assert.deepEqual((res.json() as ApprovalView).decision, {
      verdict: 'Approved',
      reason: 'looked at it',
      decidedBy: 'alice',
    });
  });

  test('Denied without a reason', async () => {
    const res = await post(h, decisionUrl(approval), body(approval, 'Denied'));
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(h.decisions[0]?.decision, { verdict: 'Denied' });
  });

  test('bad input is 400 with a clear message; taskDigest is required', async () => {
    const digest = approval.spec.taskDigest;
    const cases: Array<[unknown, RegExp]> = [
      [{ verdict: 'Maybe', taskDigest: digest }, /verdict must be "Approved" or "Denied"/],
      [{ taskDigest: digest }, /verdict/],
      [{ verdict: 'Approved' }, /taskDigest is required: the digest of the task you reviewed/],
      [{ verdict: 'Denied', reason: 'no' }, /taskDigest is required/],
      [{ verdict: 'Approved', taskDigest: digest, reason: 'x'.repeat(1025) }, /at most 1024 characters/],
      [{ verdict: 'Approved', taskDigest: digest, reason: 42 }, /reason must be a string/],
      [{ verdict: 'Approved', taskDigest: digest, reason: 'a\u0000b' }, /control characters/],
      [{ verdict: 'Approved', taskDigest: digest, decidedBy: 'mallory' }, /decidedBy/],
      [{ verdict: 'Approved', taskDigest: 'sha256:nope' }, /taskDigest must be sha256:<64 hex>/],
      ['{not json', /JSON/i],
    ];
    for (const [payload, message] of cases) {
      const res = await post(h, decisionUrl(approval), payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().error, message);
    }
    assert.equal(h.decisions.length, 0);
  });

  test('409 when the posted digest is not the current task digest (the page showed something else)', async () => {
    for (const verdict of ['Approved', 'Denied'] as const) {
      const res = await post(h, decisionUrl(approval), {
        verdict,
        taskDigest: `sha256:${'0'.repeat(64)}`,
      });
      assert.equal(res.statusCode, 409, verdict);
      assert.match(
        res.json().error,
        /the page showed task risky with digest sha256:0+, but it is now sha256:/,
      );
      assert.match(res.json().error, /reload the approval, review it again/);
    }
    assert.equal(h.decisions.length, 0);
  });

  test('409 when already decided, no longer Pending, or expired', async () => {
    const variants: Array<[Partial<Approval>, RegExp]> = [
      [
        { spec: { ...approval.spec, decision: { verdict: 'Denied', decidedBy: 'bob' } } },
        /already decided: Denied by bob/,
      ],
      [{ status: { state: 'Expired' } }, /is Expired/],
      [{ status: { state: 'Superseded' } }, /is Superseded/],
      [{ spec: { ...approval.spec, expiresAt: new Date(Date.now() - 1000).toISOString() } }, /expired at/],
    ];
    for (const [patch, message] of variants) {
      h.approvals.set({ ...approval, ...patch } as Approval & KubeObject);
      const res = await post(h, decisionUrl(approval), body(approval));
      assert.equal(res.statusCode, 409, String(message));
      assert.match(res.json().error, message);
    }
    assert.equal(h.decisions.length, 0);
  });

  test('expiry is capped at creation + TTL: a far-future expiresAt does not keep an approval open', async () => {
    const created = new Date(Date.now() - 1801_000);
    h.approvals.set({
      ...approval,
      metadata: { ...approval.metadata, creationTimestamp: created },
      spec: { ...approval.spec, expiresAt: '2099-01-01T00:00:00.000Z' },
    } as Approval & KubeObject);
    const view = (await get(h, `/api/approvals/${NS}/${approval.metadata.name}`)).json() as ApprovalView;
    assert.equal(view.expiresAt, new Date(created.getTime() + 1800_000).toISOString());
    assert.equal(view.requestedExpiresAt, '2099-01-01T00:00:00.000Z');
    assert.equal(view.decidable, false);
    assert.equal(view.blocker?.code, 'expired');
    const res = await post(h, decisionUrl(approval), body(approval));
    assert.equal(res.statusCode, 409);
    assert.match(res.json().error, /expired at .*counts as a denial/);
    assert.equal(h.decisions.length, 0);
  });

  test('a changed task can be neither approved nor denied here: 409, the operator asks again', async () => {
    const changed = { ...task, spec: { ...task.spec, tools: ['shell', 'fs.write'] } } as AgentTask;
    h.tasks.set(changed as AgentTask & KubeObject);
    for (const verdict of ['Approved', 'Denied'] as const) {
      // Even posting the digest of the task as it is now: the approval is bound to the old one.
      const res = await post(h, decisionUrl(approval), { verdict, taskDigest: specDigest(changed.spec) });
      assert.equal(res.statusCode, 409, verdict);
      assert.match(res.json().error, /changed after approval .* was requested .*requests a new approval/);
    }
    assert.equal(h.decisions.length, 0);
  });

  test('409 when the task cannot be read, or is not the task the approval was made for', async () => {
    const variants: Array<[string, () => void, RegExp]> = [
      ['task gone', () => h.tasks.remove(task as AgentTask & KubeObject), /task risky cannot be read/],
      [
        'task re-created (new uid)',
        () => h.tasks.set(taskFixture('risky', {}, 'uid-other') as AgentTask & KubeObject),
        /was not made for the current task risky/,
      ],
      [
        'approval not owned by the task (taskRef copied)',
        () =>
          h.approvals.set({
            ...approval,
            metadata: { ...approval.metadata, ownerReferences: [] },
          } as Approval & KubeObject),
        /was not made for the current task risky .*owner none/,
      ],
    ];
    for (const [what, arrange, message] of variants) {
      h = harness();
      ({ approval, task } = seed(h));
      arrange();
      for (const verdict of ['Approved', 'Denied'] as const) {
        const res = await post(h, decisionUrl(approval), body(approval, verdict));
        assert.equal(res.statusCode, 409, `${what} ${verdict}`);
        assert.match(res.json().error, message, what);
      }
      const view = (await get(h, `/api/approvals/${NS}/${approval.metadata.name}`)).json() as ApprovalView;
      assert.equal(view.decidable, false, what);
      assert.match(view.blocker?.message ?? '', message, what);
      assert.equal(view.risk.level, 'unknown', `${what}: no task, no recomputed risk`);
      assert.equal(view.task, undefined, what);
      assert.equal(h.decisions.length, 0, what);
    }
  });

  test("the API server's refusal is passed through", async () => {
    const message =
      'ValidatingAdmissionPolicy denied request: user alice is not in spec.approvers of this Approval';
    const refusing = harness({
      async decide() {
        throw new ApiException(
          403,
          'forbidden',
          JSON.stringify({ kind: 'Status', status: 'Failure', message, reason: 'Forbidden', code: 403 }),
          {},
        );
      },
    });
    const { approval: a } = seed(refusing);
    const res = await post(refusing, decisionUrl(a), body(a));
    assert.equal(res.statusCode, 403);
    assert.deepEqual(res.json(), { error: message, source: 'apiserver' });
  });

  test('read-only without an approver identity: shows nothing, decides nothing', async () => {
    const ro = harness({ approver: undefined, access: NO_ACCESS });
    const { approval: a } = seed(ro);
    const who = (await get(ro, '/api/whoami')).json();
    assert.equal(who.readOnly, true);
    assert.match(who.hint, /CLOSEDPAW_UI_APPROVER/);
    assert.deepEqual((await get(ro, '/api/approvals')).json().approvals, []);
    const res = await post(ro, decisionUrl(a), body(a));
    assert.equal(res.statusCode, 403);
    assert.match(res.json().error, /read-only/);
    assert.equal(ro.decisions.length, 0);
  });
});

describe('risk and groups', () => {
  test('the risk shown is recomputed from the task; the recorded one is only a labelled claim', async () => {
    const h = harness();
    const task = taskFixture('sneaky', { tools: ['shell', 'fs.write'] });
    const approval = approvalFixture(task, {
      spec: { risk: { level: 'low', reasons: ['harmless, trust me'] } },
    });
    h.tasks.set(task as AgentTask & KubeObject);
    h.approvals.set(approval as Approval & KubeObject);
    const [view] = (await get(h, '/api/approvals')).json().approvals as ApprovalView[];
    assert.deepEqual(view?.risk, rateRisk(task.spec));
    assert.equal(view?.risk.level, 'critical');
    assert.deepEqual(view?.recordedRisk, { level: 'low', reasons: ['harmless, trust me'] });
    // An approval whose record agrees with the task carries no separate claim.
    const plain = harness();
    seed(plain);
    const [same] = (await get(plain, '/api/approvals')).json().approvals as ApprovalView[];
    assert.equal(same?.recordedRisk, undefined);
  });

  test('whoami names the impersonated groups', async () => {
    const h = harness({ approverGroups: ['closedpaw-approvers', 'oncall'] });
    assert.deepEqual((await get(h, '/api/whoami')).json(), {
      approver: 'alice',
      groups: ['closedpaw-approvers', 'oncall'],
      readOnly: false,
      pairing: false,
    });
  });
});

describe('pairing a chat account from the UI', () => {
  const paired =
    (account = 'telegram account @alice (id 1001)'): UiDeps['pair'] =>
    async () => ({
      phase: 'Paired',
      account,
    });

  test('with channels on, whoami offers it and a confirmed code answers with the chat account', async () => {
    const codes: string[] = [];
    const h = harness({
      pair: async (code) => {
        codes.push(code);
        return { phase: 'Paired', account: '@alice' };
      },
    });
    assert.equal((await get(h, '/api/whoami')).json().pairing, true);
    const res = await post(h, '/api/pairings', { code: 'ABCD-EFGH' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { account: '@alice', user: 'alice' });
    assert.deepEqual(codes, ['ABCD-EFGH']);
  });

  const refusals: Array<[string, Partial<UiDeps>, unknown, number, RegExp]> = [
    ['no code', { pair: paired() }, {}, 400, /code is required/],
    ['not code-shaped', { pair: paired() }, { code: 'ABCD-EFG0' }, 400, /pairing code like ABCD-EFGH/],
    ['an extra field', { pair: paired() }, { code: 'ABCD-EFGH', user: 'bob' }, 400, /user/],
    ['channels off', {}, { code: 'ABCD-EFGH' }, 404, /pairing is off/],
    [
      'a read-only UI',
      { pair: paired(), approver: undefined, access: NO_ACCESS },
      { code: 'ABCD-EFGH' },
      404,
      /pairing is off/,
    ],
    [
      'the operator rejects the code',
      { pair: async () => ({ phase: 'Rejected', message: 'unknown, used or expired code' }) },
      { code: 'ABCD-EFGH' },
      422,
      /unknown, used or expired code/,
    ],
    [
      'the operator does not answer',
      { pair: async () => ({ phase: 'Unanswered', message: 'the operator did not answer within 30 s' }) },
      { code: 'ABCD-EFGH' },
      504,
      /did not answer/,
    ],
    [
      'the API server refuses the confirmation (RBAC)',
      {
        pair: async () => {
          throw Object.assign(
            new Error('channelpairings.closedpaw.dev is forbidden: User "alice" cannot create'),
            {
              code: 403,
            },
          );
        },
      },
      { code: 'ABCD-EFGH' },
      403,
      /cannot create/,
    ],
  ];
  for (const [what, deps, payload, status, error] of refusals) {
    test(`refused: ${what} → ${status}`, async () => {
      const h = harness(deps);
      const res = await post(h, '/api/pairings', payload);
      assert.equal(res.statusCode, status, res.body);
      assert.match(res.json().error, error);
    });
  }

  test('a cross-site POST never reaches the pairing', async () => {
    let called = false;
    const h = harness({
      pair: async () => {
        called = true;
        return { phase: 'Paired', account: '@x' };
      },
    });
    const res = await post(h, '/api/pairings', { code: 'ABCD-EFGH' }, { origin: 'https://evil.example' });
    assert.equal(res.statusCode, 403);
    assert.equal(called, false);
  });
});

describe('reads are scoped to what the approver may read', () => {
  function twoNamespaces(readable: string[]) {
    const h = harness({ access: fakeAccess(readable) });
    const mine = seed(h, 'mine');
    const theirs = taskFixture('theirs');
    theirs.metadata.namespace = 'team-b';
    const theirApproval = approvalFixture(theirs);
    theirApproval.metadata.namespace = 'team-b';
    h.tasks.set(theirs as AgentTask & KubeObject);
    h.approvals.set(theirApproval as Approval & KubeObject);
    return { h, mine, theirApproval };
  }

  test('the list holds only readable namespaces; detail and decision elsewhere are 403', async () => {
    const { h, theirApproval } = twoNamespaces([NS]);
    const list = (await get(h, '/api/approvals')).json().approvals as ApprovalView[];
    assert.deepEqual(
      list.map((a) => a.namespace),
      [NS],
    );
    const detail = await get(h, `/api/approvals/team-b/${theirApproval.metadata.name}`);
    assert.equal(detail.statusCode, 403);
    assert.match(detail.json().error, /alice may not read approvals and tasks in namespace team-b/);
    assert.equal(detail.body.includes('theirs'), false);
    // Same answer whether or not the approval exists there: nothing is revealed.
    assert.equal((await get(h, '/api/approvals/team-b/nothing-here')).statusCode, 403);
    const res = await post(
      h,
      `/api/approvals/team-b/${theirApproval.metadata.name}/decision`,
      body(theirApproval),
    );
    assert.equal(res.statusCode, 403);
    assert.equal(h.decisions.length, 0);
  });

  test('fail closed: an access review that throws hides the namespace', async () => {
    const h = harness({
      access: {
        async canRead() {
          throw new Error('apiserver unreachable');
        },
      },
    });
    const { approval } = seed(h);
    assert.deepEqual((await get(h, '/api/approvals')).json().approvals, []);
    assert.equal((await get(h, `/api/approvals/${NS}/${approval.metadata.name}`)).statusCode, 403);
    assert.equal((await post(h, decisionUrl(approval), body(approval))).statusCode, 403);
    assert.match(h.logs(), /access review failed: namespace treated as unreadable/);
    assert.equal(h.decisions.length, 0);
  });

  test('construction needs an access review and a TTL', () => {
    assert.throws(() => harness({ access: undefined as never }), /needs `access`/);
    assert.throws(() => harness({ ttlSeconds: 0 }), /needs `ttlSeconds`/);
  });
});

describe('static files', () => {
  test('index, assets, SPA fallback; no dotfiles, no traversal', async () => {
    const h = harness();
    const index = await get(h, '/', { authorization: '' });
    assert.equal(index.statusCode, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.match(index.body, /ClosedPaw approvals/);
    const js = await get(h, '/assets/app.js');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match((await get(h, '/approvals/team-a/x')).body, /ClosedPaw approvals/);
    assert.equal((await get(h, '/approvals/team-a/assets/app.js')).body, 'console.log("ui");');
    for (const url of [
      '/.secret',
      '/assets/%2e%2e/.secret',
      '/missing.js',
      '/a%00b',
      '/assets/..%2f.secret',
    ]) {
      assert.equal((await get(h, url)).statusCode, 404, url);
    }
    // Dot segments are resolved (WHATWG URL) before routing: they land inside the UI or nowhere.
    for (const url of [
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2f..%2fetc%2fpasswd',
      '/assets/%2e%2e/%2e%2e/etc/hosts',
    ]) {
      const res = await get(h, url);
      assert.equal(/root:|localhost/.test(res.body), false, url);
      assert.ok(res.statusCode === 404 || res.body.includes('ClosedPaw approvals'), url);
    }
  });

  test('a missing build says how to build it', async () => {
    const h = harness({ staticDir: '/nonexistent/closedpaw-ui' });
    const res = await get(h, '/');
    assert.equal(res.statusCode, 503);
    assert.match(res.json().error, /ui:build/);
  });
});

describe('logging', () => {
  test('the token never appears in what the logger wrote', async () => {
    const h = harness();
    const { approval } = seed(h);
    await get(h, '/api/approvals');
    await get(h, `/api/approvals?token=${TOKEN}`);
    await get(h, `/?token=${TOKEN}`, { host: 'evil.example' });
    await get(h, '/api/whoami', { authorization: `Bearer ${TOKEN}-not` });
    await post(h, decisionUrl(approval), body(approval, 'Approved', { reason: 'ok' }));
    await post(h, decisionUrl(approval), body(approval), { origin: 'http://evil.example' });
    const logs = h.logs();
    assert.match(logs, /authentication failed/);
    assert.match(logs, /credential in URL/);
    assert.match(logs, /decision written from the UI/);
    assert.equal(logs.includes(TOKEN), false, 'the token leaked into the log');
    assert.equal(logs.includes(TOKEN.slice(4, 24)), false, 'part of the token leaked into the log');
  });
});

describe('construction', () => {
  test('refuses a short token and a non-loopback address', () => {
    assert.throws(() => harness({ token: 'short' }), /at least 32 characters/);
    assert.throws(() => harness({ host: '0.0.0.0' }), /loopback only/);
  });

  test('the URL carries the token only in the fragment', () => {
    assert.equal(uiUrl('127.0.0.1', 7780, 'a/b+c'), 'http://127.0.0.1:7780/#token=a%2Fb%2Bc');
    assert.equal(uiUrl('::1', 7780, 't'), 'http://[::1]:7780/#token=t');
  });
});

/** A real loopback request (http.request lets us send any Host header). */
function raw(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface EventClient {
  status: number;
  headers: Record<string, unknown>;
  events: StreamEvent[];
  /** Resolves with the first event (seen or still to come) that matches. */
  next(pred: (e: StreamEvent) => boolean): Promise<StreamEvent>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens /api/events on a real socket and parses the server-sent events as they come. */
async function openEvents(port: number, token: string): Promise<EventClient> {
  const req = request({
    host: '127.0.0.1',
    port,
    path: '/api/events',
    headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` },
  });
  const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  const events: StreamEvent[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data) events.push(JSON.parse(data) as StreamEvent);
    }
    for (const w of waiters.splice(0)) w();
  });
  const ended = new Promise<void>((resolve) => {
    response.on('end', resolve);
    response.on('close', resolve);
  });
  const next = (pred: (e: StreamEvent) => boolean) =>
    new Promise<StreamEvent>((resolve) => {
      const check = () => {
        const found = events.find(pred);
        if (found) resolve(found);
        else waiters.push(check);
      };
      check();
    });
  return {
    status: response.statusCode ?? 0,
    headers: response.headers,
    events,
    next,
    ended,
    close: () => req.destroy(),
  };
}

describe('on a real socket', () => {
  test('startUiServer: URL, Host check, and the live event stream (readable namespaces only)', async (t) => {
    const approvals = new FakeInformer<Approval & KubeObject>();
    const tasks = new FakeInformer<AgentTask & KubeObject>();
    const { logger, text } = capturedLogger();
    const access = fakeAccess([NS]);
    const server = await startUiServer({
      approvals,
      tasks,
      access,
      ttlSeconds: 1800,
      decide: async () => {
        throw new Error('unused');
      },
      approver: 'alice',
      token: TOKEN,
      host: '127.0.0.1',
      port: 0,
      staticDir,
      logger,
    });
    t.after(() => server.close());
    const port = Number(new URL(server.url).port);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=/);
    assert.equal(new URL(server.url).hash, `#token=${TOKEN}`);
    assert.equal(new URL(server.url).search, '');

    const rebinding = await raw(port, '/api/whoami', { host: `attacker.example:${port}`, ...auth });
    assert.equal(rebinding.status, 403);
    assert.equal((await raw(port, '/api/whoami', { host: `localhost:${port}`, ...auth })).status, 200);

    // An approval in a namespace the approver may not read: it must never reach the stream.
    const hidden = taskFixture('hidden');
    hidden.metadata.namespace = 'secret-ns';
    const hiddenApproval = approvalFixture(hidden);
    hiddenApproval.metadata.namespace = 'secret-ns';
    tasks.set(hidden as AgentTask & KubeObject);
    approvals.set(hiddenApproval as Approval & KubeObject);

    const task = taskFixture('live');
    tasks.set(task as AgentTask & KubeObject);
    const client = await openEvents(port, TOKEN);
    t.after(() => client.close());
    assert.equal(client.status, 200);
    assert.match(String(client.headers['content-type']), /^text\/event-stream/);
    assert.equal(client.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal(client.headers['cache-control'], 'no-store');

    const snapshot = await client.next((e) => e.type === 'snapshot');
    assert.deepEqual(snapshot.type === 'snapshot' && snapshot.approvals, []);

    const approval = approvalFixture(task);
    approvals.set(approval as Approval & KubeObject);
    const added = await client.next((e) => e.type === 'upsert');
    assert.equal(added.type === 'upsert' && added.approval.task?.prompt, task.spec.prompt);

    approvals.set({ ...hiddenApproval, status: { state: 'Denied' } } as Approval & KubeObject);
    tasks.set({ ...task, status: { phase: 'Running' } } as AgentTask & KubeObject);
    const taskUpdate = await client.next((e) => e.type === 'upsert' && e.approval.task?.phase === 'Running');
    assert.ok(taskUpdate);

    approvals.set({ ...approval, status: { state: 'Approved', decidedBy: 'alice' } } as Approval &
      KubeObject);
    await client.next((e) => e.type === 'upsert' && e.approval.state === 'Approved');

    approvals.remove(hiddenApproval as Approval & KubeObject);
    approvals.remove(approval as Approval & KubeObject);
    const deleted = await client.next((e) => e.type === 'delete');
    assert.equal(deleted.type === 'delete' && deleted.key, `${NS}/${approval.metadata.name}`);
    // Events are delivered in order, so everything about secret-ns would have come before this delete.
    assert.equal(
      JSON.stringify(client.events).includes('secret-ns'),
      false,
      'an unreadable namespace leaked',
    );
    assert.ok(access.asked.includes('secret-ns'), 'the access review was asked');

    await server.close();
    await client.ended; // the stream is ended by shutdown, not left hanging
    assert.equal(text().includes(TOKEN), false);
  });

  test('token file rotation: the old token stops at once, its open streams end, the new one works', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'closedpaw-token-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'ui-token');
    const oldToken = writeTokenFile(file);
    const { logger } = capturedLogger();
    const server = await startUiServer({
      approvals: new FakeInformer<Approval & KubeObject>(),
      tasks: new FakeInformer<AgentTask & KubeObject>(),
      access: fakeAccess([NS]),
      ttlSeconds: 1800,
      decide: async () => {
        throw new Error('unused');
      },
      approver: 'alice',
      token: tokenFile(file),
      host: '127.0.0.1',
      port: 0,
      staticDir,
      logger,
      tokenCheckMs: 20,
    });
    t.after(() => server.close());
    const port = Number(new URL(server.url).port);
    assert.equal(new URL(server.url).hash, `#token=${oldToken}`);
    const whoami = (token: string) =>
      raw(port, '/api/whoami', { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}` });
    assert.equal((await whoami(oldToken)).status, 200);
    const stream = await openEvents(port, oldToken);
    t.after(() => stream.close());
    await stream.next((e) => e.type === 'snapshot');

    const newToken = rotateTokenFile(file);
    assert.notEqual(newToken, oldToken);
    assert.equal((await whoami(oldToken)).status, 401, 'the old token still works after rotation');
    assert.equal((await whoami(newToken)).status, 200);
    await stream.ended; // ended by the server, not by us

    // A file that no longer holds a usable token: nothing authenticates (fail closed), and the answer says why.
    await writeFile(file, 'short\n');
    const broken = await whoami(newToken);
    assert.equal(broken.status, 503);
    assert.match(JSON.parse(broken.body).error, /token file .* is unusable .*at least 32 characters/);
  });
});

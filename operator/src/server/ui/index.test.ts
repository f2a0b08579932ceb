/**
 * The approval UI server through fastify inject() (no sockets) plus a few real
 * loopback sockets for the event stream: the security checks of the local web
 * UI, the JSON API and its validation, and static serving.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { AgentTask, Approval } from '../../api/types.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createUiApp, startUiServer, type UiDeps, uiUrl } from './index.ts';
import { AuthThrottle, CONTENT_SECURITY_POLICY } from './security.ts';
import {
  approvalFixture,
  capturedLogger,
  FakeInformer,
  fakeStaticDir,
  HOST,
  NS,
  ORIGIN,
  PORT,
  TOKEN,
  taskFixture,
} from './testkit.ts';
import type { ApprovalView, StreamEvent } from './view.ts';

type Decision = { verdict: 'Approved' | 'Denied'; reason?: string };

interface Harness {
  app: FastifyInstance;
  approvals: FakeInformer<Approval & KubeObject>;
  tasks: FakeInformer<AgentTask & KubeObject>;
  decisions: Array<{ namespace: string; name: string; decision: Decision }>;
  logs: () => string;
  logins: Array<[boolean, string]>;
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
  const app = createUiApp({
    approvals,
    tasks,
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
  return { app, approvals, tasks, decisions, logs: text, logins };
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

describe('Host allowlist (DNS rebinding)', () => {
  test('a foreign or missing Host is 403 on every path, token or not', async () => {
    const h = harness();
    for (const host of [
      'evil.example',
      'evil.example:7780',
      '127.0.0.1:7781',
      '127.0.0.2:7780',
      '0.0.0.0:7780',
    ]) {
      for (const url of ['/', '/api/approvals', '/api/whoami', '/assets/app.js']) {
        const res = await get(h, url, { host });
        assert.equal(res.statusCode, 403, `${host} ${url}`);
        assert.match(res.json().error, /Host/);
      }
    }
    const res = await h.app.inject({ method: 'GET', url: '/api/whoami', headers: { host: '', ...auth } });
    assert.equal(res.statusCode, 403);
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
    assert.deepEqual(res.json(), { approver: 'alice', readOnly: false });
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

  test('repeated bad tokens are throttled (429), a correct token included, loopback too', async () => {
    const h = harness({
      authLimits: {
        perAddress: { burst: 5, refillPerSecond: 0.001 },
        global: { burst: 100, refillPerSecond: 1 },
      },
    });
    for (let i = 0; i < 5; i++) {
      assert.equal((await get(h, '/api/whoami', { authorization: `Bearer wrong-${i}` })).statusCode, 401);
    }
    const limited = await get(h, '/api/whoami', { authorization: 'Bearer wrong-again' });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await get(h, '/api/whoami')).statusCode, 429, 'no guessing through a throttle');
    // Another address is not affected by this one's bucket.
    const other = await h.app.inject({
      method: 'GET',
      url: '/api/whoami',
      headers: { host: HOST, ...auth },
      remoteAddress: '127.0.0.2',
    });
    assert.equal(other.statusCode, 200);
  });

  test('the global bucket throttles failures spread over many addresses', async () => {
    const h = harness({
      authLimits: {
        perAddress: { burst: 100, refillPerSecond: 1 },
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
  });

  test('AuthThrottle refills over time', () => {
    let t = 0;
    const throttle = new AuthThrottle(
      { perAddress: { burst: 2, refillPerSecond: 1 }, global: { burst: 10, refillPerSecond: 1 } },
      () => t,
    );
    throttle.fail('a');
    throttle.fail('a');
    assert.equal(throttle.blocked('a'), true);
    assert.equal(throttle.retryAfterSeconds('a'), 1);
    t += 1000;
    assert.equal(throttle.blocked('a'), false);
    assert.equal(throttle.blocked('b'), false);
  });
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
  beforeEach(() => {
    h = harness();
    ({ approval } = seed(h));
  });

  test('Approved with a reason: written through decide(), the new state returned', async () => {
    const res = await post(h, decisionUrl(approval), {
      verdict: 'Approved',
      reason: 'looked at it',
      taskDigest: approval.spec.taskDigest,
    });
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
    const res = await post(h, decisionUrl(approval), { verdict: 'Denied' });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(h.decisions[0]?.decision, { verdict: 'Denied' });
  });

  test('bad input is 400 with a clear message', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ verdict: 'Maybe' }, /verdict must be "Approved" or "Denied"/],
      [{}, /verdict/],
      [{ verdict: 'Approved', reason: 'x'.repeat(1025) }, /reason must be at most 1024 characters/],
      [{ verdict: 'Approved', reason: 42 }, /reason must be a string/],
      [{ verdict: 'Approved', reason: 'a\u0000b' }, /control characters/],
      [{ verdict: 'Approved', decidedBy: 'mallory' }, /decidedBy/],
      [{ verdict: 'Approved', taskDigest: 'sha256:nope' }, /taskDigest/],
      ['{not json', /JSON/i],
    ];
    for (const [payload, message] of cases) {
      const res = await post(h, decisionUrl(approval), payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().error, message);
    }
    assert.equal(h.decisions.length, 0);
  });

  test('409 when already decided, no longer Pending, expired, or bound to another digest', async () => {
    const variants: Array<[Partial<Approval>, RegExp]> = [
      [
        { spec: { ...approval.spec, decision: { verdict: 'Denied', decidedBy: 'bob' } } },
        /already decided: Denied by bob/,
      ],
      [{ status: { state: 'Expired' } }, /is Expired/],
      [{ status: { state: 'Superseded' } }, /is Superseded/],
      [{ spec: { ...approval.spec, expiresAt: new Date(Date.now() - 1000).toISOString() } }, /expired/],
    ];
    for (const [patch, message] of variants) {
      h.approvals.set({ ...approval, ...patch } as Approval & KubeObject);
      const res = await post(h, decisionUrl(approval), { verdict: 'Approved' });
      assert.equal(res.statusCode, 409, String(message));
      assert.match(res.json().error, message);
    }
    h.approvals.set(approval as Approval & KubeObject);
    const other = await post(h, decisionUrl(approval), {
      verdict: 'Approved',
      taskDigest: `sha256:${'0'.repeat(64)}`,
    });
    assert.equal(other.statusCode, 409);
    assert.match(other.json().error, /not the sha256:0+ you reviewed/);
    assert.equal(h.decisions.length, 0);
  });

  test('a changed task cannot be approved (it can still be denied)', async () => {
    const task = h.tasks.get(`${NS}/risky`)!;
    h.tasks.set({ ...task, spec: { ...task.spec, tools: ['shell', 'fs.write'] } });
    const res = await post(h, decisionUrl(approval), { verdict: 'Approved' });
    assert.equal(res.statusCode, 409);
    assert.match(res.json().error, /changed after approval/);
    assert.equal((await post(h, decisionUrl(approval), { verdict: 'Denied' })).statusCode, 200);
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
    const res = await post(refusing, decisionUrl(a), { verdict: 'Approved' });
    assert.equal(res.statusCode, 403);
    assert.deepEqual(res.json(), { error: message, source: 'apiserver' });
  });

  test('read-only without an approver identity', async () => {
    const ro = harness({ approver: undefined });
    const { approval: a } = seed(ro);
    const who = (await get(ro, '/api/whoami')).json();
    assert.equal(who.readOnly, true);
    assert.match(who.hint, /CLOSEDPAW_UI_APPROVER/);
    const res = await post(ro, decisionUrl(a), { verdict: 'Approved' });
    assert.equal(res.statusCode, 403);
    assert.match(res.json().error, /read-only/);
    assert.equal(ro.decisions.length, 0);
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
    await post(h, decisionUrl(approval), { verdict: 'Approved', reason: 'ok' });
    await post(h, decisionUrl(approval), { verdict: 'Approved' }, { origin: 'http://evil.example' });
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

describe('on a real socket', () => {
  test('startUiServer: URL, Host check, and the live event stream', async (t) => {
    const approvals = new FakeInformer<Approval & KubeObject>();
    const tasks = new FakeInformer<AgentTask & KubeObject>();
    const { logger, text } = capturedLogger();
    const server = await startUiServer({
      approvals,
      tasks,
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

    const task = taskFixture('live');
    tasks.set(task as AgentTask & KubeObject);
    const events: StreamEvent[] = [];
    let notify: () => void = () => undefined;
    const next = (pred: (e: StreamEvent) => boolean) =>
      new Promise<StreamEvent>((resolve) => {
        const check = () => {
          const found = events.find(pred);
          if (found) resolve(found);
          else notify = check;
        };
        check();
      });
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/events',
      headers: { host: `127.0.0.1:${port}`, ...auth },
    });
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    assert.equal(response.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal(response.headers['cache-control'], 'no-store');
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
      notify();
    });
    const ended = new Promise<void>((resolve) => response.on('end', resolve));

    const snapshot = await next((e) => e.type === 'snapshot');
    assert.deepEqual(snapshot.type === 'snapshot' && snapshot.approvals, []);

    const approval = approvalFixture(task);
    approvals.set(approval as Approval & KubeObject);
    const added = await next((e) => e.type === 'upsert');
    assert.equal(added.type === 'upsert' && added.approval.task?.prompt, task.spec.prompt);

    tasks.set({ ...task, status: { phase: 'Running' } } as AgentTask & KubeObject);
    const taskUpdate = await next((e) => e.type === 'upsert' && e.approval.task?.phase === 'Running');
    assert.ok(taskUpdate);

    approvals.set({ ...approval, status: { state: 'Approved', decidedBy: 'alice' } } as Approval &
      KubeObject);
    await next((e) => e.type === 'upsert' && e.approval.state === 'Approved');

    approvals.remove(approval as Approval & KubeObject);
    const deleted = await next((e) => e.type === 'delete');
    assert.equal(deleted.type === 'delete' && deleted.key, `${NS}/${approval.metadata.name}`);

    await server.close();
    await ended; // the stream is ended by shutdown, not left hanging
    assert.equal(text().includes(TOKEN), false);
  });
});

/**
 * The approval UI end to end: Debian Chromium (headless, via playwright-core)
 * against the real API server and the running operator. A human approves,
 * denies, watches an approval expire, and sees an edit void an approval; a
 * hostile page holding the token and a DNS-rebinding name get nowhere; wrong
 * tokens never lock the right one out.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runApprovalsCli } from '../../operator/src/cli/approvals.ts';
import { effectiveExpiry } from '../../operator/src/server/ui/assess.ts';
import { createTestNamespace, deleteNamespace, kubeConfig, kubectl } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, podExists, readApproval, Tasks } from '../support/operator.ts';
import {
  ADMIN,
  ensureUiBuilt,
  freePort,
  launchChromium,
  newUiToken,
  type OperatorWithUi,
  ROOT,
  startOperatorWithUi,
  uiRequest,
} from './support.ts';

const kc = kubeConfig();
const _core = kc.makeApiClient(CoreV1Api);
const _custom = kc.makeApiClient(CustomObjectsApi);
const SCREENSHOT = join(ROOT, 'test-results/approval-detail.png');
const REBIND_HOST = 'rebind.closedpaw.test';

let ns = '';
let tasks: Tasks;
let kubelet: TestKubelet;
let port = 0;
let token = '';
let ui: OperatorWithUi | undefined;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every URL the browser requested, and what the console said. */
const requested: Array<{ url: string; headers: Record<string, string> }> = [];
const pendingHeaders: Array<Promise<void>> = [];
/** Uncaught errors and CSP violations in the UI pages. */
const pageProblems: string[] = [];

const pendingItem = (p: Page, task: string) =>
  p.getByRole('list', { name: 'Pending approvals' }).getByRole('button').filter({ hasText: task });
const historyItem = (p: Page, task: string) =>
  p.getByRole('list', { name: 'Decided approvals' }).getByRole('button').filter({ hasText: task });

async function watchPage(p: Page): Promise<void> {
  p.setDefaultTimeout(60_000);
  // allHeaders(): what went on the wire (headers() are Chromium's provisional ones, Referer included).
  p.on('request', (r) => {
    pendingHeaders.push(r.allHeaders().then((headers) => void requested.push({ url: r.url(), headers })));
  });
  p.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(m.text());
  });
  p.on('pageerror', (e) => pageProblems.push(e.message));
}

async function awaitingApproval(name: string): Promise<string> {
  const task = await tasks.waitForPhase(name, 'AwaitingApproval');
  assert.equal(await podExists(ns, `${name}-agent`), false, 'no pod while the approval is pending');
  return task.status!.approvalRef!.name;
}

before(async () => {
  await ensureUiBuilt();
  ns = await createTestNamespace('ui-e2e');
  tasks = new Tasks(kc, ns);
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  await kubelet.start();
  port = await freePort();
  token = newUiToken();
  ui = await startOperatorWithUi(kc, ns, { port, token });
  browser = await launchChromium([REBIND_HOST]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
  page = await context.newPage();
  await watchPage(page);
  await page.goto(ui.url);
});

after(async () => {
  await browser?.close();
  await ui?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
});

describe('session', () => {
  test('the token leaves the address bar at once; the page talks only to its own origin, with a Bearer header', async () => {
    await page.getByRole('heading', { name: 'ClosedPaw approvals' }).waitFor();
    await page.getByText(`Deciding as ${ADMIN}`).waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    assert.equal(page.url(), `http://127.0.0.1:${port}/`);
    assert.equal(await page.evaluate(() => location.hash + location.search), '');
    await Promise.all(pendingHeaders);
    const origin = `http://127.0.0.1:${port}`;
    for (const r of requested) {
      assert.ok(r.url.startsWith(`${origin}/`), `request left the origin: ${r.url}`);
      assert.equal(r.url.includes(token), false, 'the token travelled in a URL');
      assert.equal('referer' in r.headers, false, `a Referer was sent with ${r.url}`);
      if (new URL(r.url).pathname.startsWith('/api/'))
        assert.equal(r.headers.authorization, `Bearer ${token}`);
    }
    assert.ok(requested.some((r) => r.url === `${origin}/api/events`));
  });

  test('45 wrong tokens from another local process, then the right one → 200; the page keeps working', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 45; i++) {
      codes.push((await uiRequest(port, `wrong-${i}-${'x'.repeat(40)}`, 'GET', '/api/whoami')).status);
    }
    assert.ok(codes.includes(401) && codes.includes(429), `expected 401s, then 429s: ${codes.join(',')}`);
    assert.ok(
      codes.every((c) => c === 401 || c === 429),
      codes.join(','),
    );
    const right = await uiRequest(port, token, 'GET', '/api/whoami');
    assert.equal(right.status, 200, JSON.stringify(right.body));
    // The page shares 127.0.0.1 with the attacker; its token still works.
    const fromPage = await page.evaluate(async () => {
      const t = sessionStorage.getItem('closedpaw.ui.token');
      return (await fetch('/api/approvals', { headers: { authorization: `Bearer ${t}` } })).status;
    });
    assert.equal(fromPage, 200);
  });
});

describe('decisions in the browser', () => {
  test('a critical task appears live; the detail shows what is bound; Approve → pod, decided by the human', async () => {
    const prompt = 'List /workspace, then remove every *.tmp file.\nReport what you removed.';
    await tasks.create('ui-approve', { tools: ['shell'], prompt });
    const approvalName = await awaitingApproval('ui-approve');
    const item = pendingItem(page, 'ui-approve');
    await item.waitFor(); // no reload: the event stream brought it
    await page
      .locator('[aria-live="polite"]')
      .filter({ hasText: 'New approval pending: task ui-approve, risk critical.' })
      .waitFor();

    await item.click();
    const detail = page.getByRole('article');
    await detail.getByRole('heading', { name: 'Task ui-approve' }).waitFor();
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      'detail-heading',
      'focus moves to the detail',
    );
    const approval = await readApproval(ns, approvalName);
    const text = (await detail.textContent()) ?? '';
    for (const expected of [
      'List /workspace, then remove every *.tmp file.',
      'Report what you removed.',
      'shell',
      'gvisor',
      'llama3.2:3b',
      '500m',
      '512Mi',
      '1Gi',
      '600s',
      '24 model calls',
      'Risk recomputed from the task as it is now',
      'tool shell requested: the agent can run arbitrary commands',
      approval.spec.taskDigest,
      `${approval.spec.taskDigest} (the same)`,
      `${ns}/${approvalName}`,
    ]) {
      assert.ok(text.includes(expected), `the detail view lacks ${JSON.stringify(expected)}`);
    }
    const countdown = detail.locator('time.countdown');
    assert.match((await countdown.textContent()) ?? '', /^\d+:\d\d$/);
    // The effective expiry: spec.expiresAt capped at creation + the operator's TTL (1800 s by default).
    assert.equal(await countdown.getAttribute('datetime'), effectiveExpiry(approval, 1800)?.toISOString());

    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await page.getByLabel('Reason (recorded with the decision)').fill('Checked the prompt: cleanup only.');
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Approved as ${ADMIN}` })
      .waitFor();

    await tasks.waitForPhase('ui-approve', 'Running');
    assert.ok(await podExists(ns, 'ui-approve-agent'), 'the pod exists after the approval');
    const decided = await readApproval(ns, approvalName);
    assert.equal(decided.status?.state, 'Approved');
    assert.equal(decided.status?.decidedBy, ADMIN);
    assert.deepEqual(decided.spec.decision, {
      verdict: 'Approved',
      decidedBy: ADMIN,
      reason: 'Checked the prompt: cleanup only.',
    });
    await historyItem(page, 'ui-approve')
      .filter({ hasText: `Approved by ${ADMIN}` })
      .waitFor();
    assert.equal(await pendingItem(page, 'ui-approve').count(), 0);
  });

  test('Deny, by keyboard only → task Denied, no pod', async () => {
    await tasks.create('ui-deny', { approval: 'required', prompt: 'Summarize the workspace.' });
    const approvalName = await awaitingApproval('ui-deny');
    const item = pendingItem(page, 'ui-deny');
    await item.waitFor();
    await item.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Task ui-deny' }).waitFor();
    // Escape closes the detail and gives focus back to the list item.
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      (key) => (document.activeElement as HTMLElement | null)?.dataset.key === key,
      `${ns}/${approvalName}`,
    );
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Task ui-deny' }).waitFor();
    await page.getByLabel('Reason (recorded with the decision)').focus();
    await page.keyboard.type('Not needed today.');
    await page.keyboard.press('Tab'); // → Approve
    await page.keyboard.press('Tab'); // → Deny
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Deny');
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: `Denied as ${ADMIN}` })
      .waitFor();

    const denied = await tasks.waitForPhase('ui-deny', 'Denied');
    assert.match(
      denied.status?.conditions?.find((c) => c.type === 'Failed')?.message ?? '',
      /denied by closedpaw-admin: Not needed today\./,
    );
    assert.equal(await podExists(ns, 'ui-deny-agent'), false);
    await historyItem(page, 'ui-deny')
      .filter({ hasText: `Denied by ${ADMIN}` })
      .waitFor();
  });

  test('an edit after approval voids it: old Superseded, a new one pending in the UI', async () => {
    await tasks.create('ui-edit', { tools: ['fs.write'], prompt: 'Write notes.md.' });
    const first = await awaitingApproval('ui-edit');
    await pendingItem(page, 'ui-edit').waitFor();
    // The human approves (from the terminal) while the operator is away; then the task changes.
    await ui!.stop();
    ui = undefined;
    let out = '';
    let err = '';
    const code = await runApprovalsCli(
      ['approve', first, '-n', ns, '--reason', 'fine as written', '--yes'],
      { stdout: (s) => (out += s), stderr: (s) => (err += s) },
      kc,
    );
    assert.equal(code, 0, err);
    assert.match(out, /approved as closedpaw-admin/);
    const edit = await kubectl([
      'patch',
      'agenttask',
      'ui-edit',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"prompt":"Write notes.md, then delete /workspace/important."}}',
    ]);
    assert.equal(edit.code, 0, edit.stderr);
    ui = await startOperatorWithUi(kc, ns, { port, token });

    const task = await tasks.waitFor('ui-edit', 'a new approval', (t) =>
      Boolean(t?.status?.approvalRef && t.status.approvalRef.name !== first),
    );
    const second = task!.status!.approvalRef!.name;
    // The page reconnects by itself and shows the new request; the old one is void, in the history.
    const fresh = page.locator(`[data-key="${ns}/${second}"]`);
    await fresh.waitFor();
    assert.equal(
      await page
        .getByRole('list', { name: 'Pending approvals' })
        .locator(`[data-key="${ns}/${second}"]`)
        .count(),
      1,
    );
    await page
      .getByRole('list', { name: 'Decided approvals' })
      .locator(`[data-key="${ns}/${first}"]`)
      .filter({ hasText: 'Superseded' })
      .waitFor();
    assert.equal((await readApproval(ns, first)).status?.state, 'Superseded');
    await fresh.click();
    const detail = page.getByRole('article');
    await detail.getByText('then delete /workspace/important.').waitFor();
    assert.equal(await podExists(ns, 'ui-edit-agent'), false);
  });

  test('the server takes a decision only with the digest of the task as it is now', async () => {
    await tasks.create('ui-digest', { tools: ['shell'], prompt: 'Tidy /workspace.' });
    const name = await awaitingApproval('ui-digest');
    const approval = await readApproval(ns, name);
    const url = `/api/approvals/${ns}/${name}/decision`;
    const missing = await uiRequest(port, token, 'POST', url, { verdict: 'Approved' });
    assert.equal(missing.status, 400);
    assert.match((missing.body as { error: string }).error, /taskDigest is required/);
    const stale = await uiRequest(port, token, 'POST', url, {
      verdict: 'Approved',
      taskDigest: `sha256:${'e'.repeat(64)}`,
    });
    assert.equal(stale.status, 409);
    assert.match((stale.body as { error: string }).error, /reload the approval, review it again/);
    assert.equal((await readApproval(ns, name)).spec.decision, undefined);
    const ok = await uiRequest(port, token, 'POST', url, {
      verdict: 'Denied',
      reason: 'testing the digest',
      taskDigest: approval.spec.taskDigest,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await tasks.waitForPhase('ui-digest', 'Denied');
  });
});

describe('expiry', () => {
  let expiryNs = '';
  let shortLived: OperatorWithUi | undefined;
  let expiryPage: Page;

  before(async () => {
    expiryNs = await createTestNamespace('ui-expiry');
    shortLived = await startOperatorWithUi(kc, expiryNs, {
      port: await freePort(),
      token: newUiToken(),
      env: { CLOSEDPAW_APPROVAL_TTL_SECONDS: '2' },
    });
    expiryPage = await context.newPage();
    await watchPage(expiryPage);
    await expiryPage.goto(shortLived.url);
    await expiryPage.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  });
  after(async () => {
    await shortLived?.stop();
    await deleteNamespace(expiryNs);
  });

  test('no decision in time: the approval moves to the history as Expired, and cannot be decided', async () => {
    await new Tasks(kc, expiryNs).create('ui-forgotten', { tools: ['shell'] });
    const item = historyItem(expiryPage, 'ui-forgotten').filter({ hasText: 'Expired' });
    await item.waitFor();
    assert.equal((await new Tasks(kc, expiryNs).get('ui-forgotten'))?.status?.phase, 'Expired');
    await item.click();
    const detail = expiryPage.getByRole('article');
    await detail.getByText('Expired (denied)').first().waitFor();
    assert.equal(await detail.getByRole('button', { name: 'Approve', exact: true }).count(), 0);
    assert.equal(await podExists(expiryNs, 'ui-forgotten-agent'), false);
  });
});

describe('hostile pages', () => {
  let evil: Server;
  let evilPort = 0;

  before(async () => {
    evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>evil</title>');
    });
    evilPort = await new Promise<number>((done) =>
      evil.listen(0, '127.0.0.1', () => {
        const a = evil.address();
        done(typeof a === 'object' && a ? a.port : 0);
      }),
    );
  });
  after(() => new Promise<void>((done) => evil.close(() => done())));

  test('a DNS-rebinding name that resolves to 127.0.0.1 gets 403', async () => {
    const p = await context.newPage();
    const res = await p.goto(`http://${REBIND_HOST}:${port}/`);
    assert.equal(res?.status(), 403);
    const api = await p.evaluate(async (t) => {
      const r = await fetch('/api/approvals', { headers: { authorization: `Bearer ${t}` } });
      return r.status;
    }, token);
    assert.equal(api, 403, 'same-origin to the rebinding name, still refused by Host');
    await p.close();
  });

  /** The hostile page's two ways to post a decision, both carrying the valid token where a page can. */
  const probe = (p: Page, target: string, t: string) =>
    p.evaluate(
      async ({ target, token }) => {
        const results: string[] = [];
        const body = JSON.stringify({ verdict: 'Approved', reason: 'pwned' });
        try {
          const r = await fetch(target, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body,
          });
          results.push(`cors:${r.status}:${((await r.json()) as { error?: string }).error ?? ''}`);
        } catch {
          results.push('cors:blocked');
        }
        // A "simple" request needs no preflight: it reaches the server (which refuses it: Origin), and
        // Cross-Origin-Resource-Policy keeps even the opaque response from the page.
        try {
          await fetch(target, {
            method: 'POST',
            mode: 'no-cors',
            headers: { 'content-type': 'text/plain' },
            body,
          });
          results.push('simple:opaque');
        } catch {
          results.push('simple:blocked');
        }
        return results;
      },
      { target, token: t },
    );

  test('another local page cannot decide, even holding the token', async () => {
    await tasks.create('ui-hostile', { tools: ['shell'] });
    const approvalName = await awaitingApproval('ui-hostile');
    const target = `http://127.0.0.1:${port}/api/approvals/${ns}/${approvalName}/decision`;

    // A normal browser: CORS already stops the token-carrying request before it is sent.
    const p = await context.newPage();
    await p.goto(`http://127.0.0.1:${evilPort}/`);
    assert.deepEqual(await probe(p, target, token), ['cors:blocked', 'simple:blocked']);
    await p.close();

    // A browser that enforces no CORS at all: the request arrives with the valid token and the hostile
    // page's Origin, so only the server's Origin check stands between it and a decision.
    const lax = await launchChromium([], ['--disable-web-security']);
    try {
      const q = await (await lax.newContext()).newPage();
      await q.goto(`http://127.0.0.1:${evilPort}/`);
      const [withToken] = await probe(q, target, token);
      assert.equal(withToken, 'cors:403:forbidden: cross-origin write');
    } finally {
      await lax.close();
    }
    const approval = await readApproval(ns, approvalName);
    assert.equal(approval.spec.decision, undefined, 'a hostile page decided an approval');
    assert.equal(approval.status?.state, 'Pending');
    // The same token from the UI's own origin is accepted: it was only the Origin that refused.
    const own = await uiRequest(port, token, 'POST', `/api/approvals/${ns}/${approvalName}/decision`, {
      verdict: 'Denied',
      reason: 'cleanup after the hostile-page test',
      taskDigest: approval.spec.taskDigest,
    });
    assert.equal(own.status, 200, JSON.stringify(own.body));
  });

  test('no CSP violations or uncaught errors in the UI pages', () => {
    assert.deepEqual(pageProblems, []);
  });
});

/**
 * The task view end to end: Debian Chromium against the real API server, the
 * operator (as the chart's service account, its sealed audit log on), and the
 * test kubelet playing the pod. A human opens a critical task from its approval,
 * approves it, and follows it on the task page as it runs: the runner steps
 * arrive live from the pod log, then the result (summary, sha256, size) and the
 * task's audit trail with the log's verification status.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunnerStep } from '../../operator/src/api/agent-protocol.ts';
import { frameResult, sha256Hex } from '../../operator/src/api/result-frame.ts';
import type { RunningOperator } from '../../operator/src/operator.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { TestKubelet } from '../support/kubelet.ts';
import { ensureRuntimeClass, runOperator, Tasks } from '../support/operator.ts';
import { ADMIN, ensureUiBuilt, freePort, launchChromium, newUiToken, ROOT, uiRequest } from './support.ts';
import { startTaskUi, type TaskUi } from './task-support.ts';

const kc = kubeConfig();
const SCREENSHOT = join(ROOT, 'test-results/task-view.png');
const TASK = 'tv-cleanup';
const POD = `${TASK}-agent`;
const RESULT = 'Removed 3 files: a.tmp, b.tmp, c.tmp.\nNothing else was touched.';
const ARGS = sha256Hex('{"path":"."}');
const STEPS: RunnerStep[] = [
  { event: 'model', step: 1, ms: 812, promptTokens: 412, completionTokens: 38, toolCalls: 1 },
  { event: 'tool', step: 1, tool: 'fs.list', argsSha256: ARGS, bytes: 96, ms: 4, ok: true },
  {
    event: 'tool',
    step: 1,
    tool: 'shell',
    argsSha256: sha256Hex('rm'),
    bytes: 0,
    ms: 31,
    ok: false,
    error: 'exit 1',
  },
  { event: 'model', step: 2, ms: 640, promptTokens: 530, completionTokens: 22, toolCalls: 0 },
  { event: 'finished', steps: 2, bytes: Buffer.byteLength(RESULT) },
];
/** What the pod prints: steps on stderr, a stray line, the result frame on stdout. */
const POD_LOG = `${STEPS.slice(0, 3)
  .map((s) => JSON.stringify(s))
  .join(
    '\n',
  )}\nraw-noise-line should never be shown\n${JSON.stringify(STEPS[3])}\n${frameResult(RESULT)}${JSON.stringify(STEPS[4])}\n`;

let ns = '';
let kubelet: TestKubelet;
let operator: RunningOperator | undefined;
let ui: TaskUi | undefined;
let browser: Browser;
let page: Page;
let port = 0;
let token = '';
const pageProblems: string[] = [];

before(async () => {
  await ensureUiBuilt();
  ns = await createTestNamespace('ui-tasks');
  await ensureRuntimeClass(kc, 'gvisor', 'runsc');
  kubelet = new TestKubelet(kc, ns);
  kubelet.behave = () => ({ kind: 'run' });
  await kubelet.start();
  const stateDir = await mkdtemp(join(tmpdir(), 'closedpaw-operator-state-'));
  operator = await runOperator(kc, ns, { CLOSEDPAW_STATE_DIR: stateDir });
  port = await freePort();
  token = newUiToken();
  ui = await startTaskUi(kc, { namespace: ns, stateDir, port, token });
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, colorScheme: 'light' });
  page = await context.newPage();
  page.setDefaultTimeout(60_000);
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(m.text());
  });
  page.on('pageerror', (e) => pageProblems.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(`http://127.0.0.1:${port}/`))
      pageProblems.push(`request left the origin: ${r.url()}`);
  });
});

after(async () => {
  await browser?.close();
  await ui?.stop();
  await operator?.stop();
  await kubelet?.stop();
  await deleteNamespace(ns);
});

describe('task view', () => {
  test('from the approval to the task page: live steps, result and audit trail, verified', async () => {
    const tasks = new Tasks(kc, ns);
    await tasks.create(TASK, {
      tools: ['shell', 'fs.list'],
      prompt: 'Remove the *.tmp files in /workspace.',
    });
    await tasks.waitForPhase(TASK, 'AwaitingApproval');
    await page.goto(ui!.url);

    // The approval detail links to the task.
    const item = page
      .getByRole('list', { name: 'Pending approvals' })
      .getByRole('button')
      .filter({ hasText: TASK });
    await item.click();
    await page.getByRole('link', { name: 'See this task' }).click();
    await page.getByRole('heading', { name: `Task ${TASK}` }).waitFor();
    assert.equal(new URL(page.url()).pathname, `/tasks/${ns}/${TASK}`);
    assert.equal(
      await page.evaluate(() => document.activeElement?.id),
      'task-heading',
      'focus moves to the task',
    );
    const article = page.getByRole('article');
    await article.getByText('AwaitingApproval').first().waitFor();
    await article
      .getByRole('list', { name: 'Risk reasons' })
      .getByText('tool shell requested: the agent can run arbitrary commands')
      .waitFor();
    await article.getByText('Waiting: waiting for a human decision: no pod yet.').waitFor();
    // A condition next to what its reason means (api/reasons.ts).
    await article.getByText('The task is critical and waits for a human decision on its Approval.').waitFor();

    // Approve (from this UI's API, as the page would), then watch the run without reloading.
    const approvalName = (await tasks.get(TASK))!.status!.approvalRef!.name;
    const approval = await uiRequest(port, token, 'GET', `/api/approvals/${ns}/${approvalName}`);
    const digest = (approval.body as { taskDigest: string }).taskDigest;
    const decided = await uiRequest(port, token, 'POST', `/api/approvals/${ns}/${approvalName}/decision`, {
      verdict: 'Approved',
      reason: 'cleanup only',
      taskDigest: digest,
    });
    assert.equal(decided.status, 200, JSON.stringify(decided.body));
    await tasks.waitForPhase(TASK, 'Running');
    await article.getByText('Running').first().waitFor();
    await article.getByText(POD, { exact: true }).waitFor();

    // The pod prints its steps and result and ends.
    await kubelet.finish(ns, POD, { kind: 'succeed', log: POD_LOG });
    await tasks.waitForPhase(TASK, 'Succeeded');
    const steps = article.getByRole('table', { name: 'Runner steps, in order' });
    await steps.getByRole('row').nth(STEPS.length).waitFor();
    await article.getByText(`Complete: ${STEPS.length} steps.`).waitFor();
    const rows = await steps.getByRole('row').allTextContents();
    assert.equal(rows.length, STEPS.length + 1, rows.join('\n'));
    assert.match(rows[1] ?? '', /model call.*412\+38 tokens, 1 tool call.*812 ms.*answered/);
    assert.match(rows[2] ?? '', /tool fs\.list.*96 B out.*ok/);
    assert.match(rows[3] ?? '', /tool shell.*error: exit 1/);
    assert.match(rows[5] ?? '', /finished.*2 steps/);

    // The result: summary, sha256 and size as status.result has them.
    const result = (await tasks.get(TASK))!.status!.result!;
    assert.equal(result.sha256, sha256Hex(RESULT));
    await article.getByText(result.sha256, { exact: true }).waitFor();
    await article.getByText(`${Buffer.byteLength(RESULT)}`, { exact: true }).waitFor();
    await article.getByText('Nothing else was touched.').waitFor();

    // The audit trail: this task's events from the sealed log, which verifies.
    const audit = article.getByRole('table', { name: 'Audit events of this task' });
    await audit.getByText('task.result_recorded').waitFor({ timeout: 90_000 });
    const auditText = (await audit.textContent()) ?? '';
    for (const type of [
      'task.admitted',
      'task.risk_rated',
      'approval.requested',
      'approval.decided',
      'pod.created',
    ]) {
      assert.ok(auditText.includes(type), `the audit trail lacks ${type}:\n${auditText}`);
    }
    assert.ok(auditText.includes(`approved by ${ADMIN}`), auditText);
    assert.ok(auditText.includes(`sha256:${result.sha256}`), auditText);
    await article.getByText('Audit log verified.').waitFor();

    // Nothing but steps came out of the pod log.
    const text = (await page.textContent('body')) ?? '';
    assert.equal(text.includes('raw-noise-line'), false, 'raw pod log text reached the page');
    assert.equal(
      text.includes(Buffer.from(RESULT).toString('base64')),
      false,
      'the result frame reached the page',
    );
    assert.equal(text.includes('closedpaw-result'), false);

    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Keyboard: Escape goes back to the list with focus on the task; Enter opens it again.
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      (key) => (document.activeElement as HTMLElement | null)?.dataset.key === key,
      `${ns}/${TASK}`,
    );
    assert.equal(new URL(page.url()).pathname, '/tasks');
    await page
      .getByRole('list', { name: 'Finished tasks' })
      .getByRole('link')
      .filter({ hasText: TASK })
      .waitFor();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Task ${TASK}` }).waitFor();

    // The task links back to its approval; Back returns to the task.
    await page.getByRole('article').getByRole('link', { name: approvalName }).click();
    await page.getByRole('heading', { name: 'ClosedPaw approvals' }).waitFor();
    await page.getByRole('article').getByText(`Approved by ${ADMIN}`).first().waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: `Task ${TASK}` }).waitFor();
  });

  test('the task page survives a reload (deep link), and no CSP violation or foreign request happened', async () => {
    await page.reload();
    await page.getByRole('heading', { name: `Task ${TASK}` }).waitFor();
    await page.getByRole('article').getByText('Audit log verified.').waitFor();
    assert.deepEqual(pageProblems, []);
  });
});

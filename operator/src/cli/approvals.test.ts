/**
 * The approvals CLI without a cluster: argument handling, output formats, and approve/deny against a
 * small fake API server on loopback (the e2e against the real one is test/ui/cli-approvals).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import type { AgentTask, Approval } from '../api/types.ts';
import { approvalFixture, NS, taskFixture } from '../server/ui/testkit.ts';
import {
  approvalRows,
  escapeControl,
  excerpt,
  formatTable,
  relativeTime,
  runApprovalsCli,
} from './approvals.ts';
import { type CliIo, describeApiError } from './common.ts';
import { testKubeConfig } from './testkit.ts';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runApprovalsCli(
    argv,
    { stdout: (s) => (out += s), stderr: (s) => (err += s), interactive: false },
    testKubeConfig('https://127.0.0.1:1'),
  );
  return { code, out, err };
}

describe('closedpaw approvals CLI: usage', () => {
  test('usage errors exit 2 with the usage text', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['approve'], /approve needs the name of an approval/],
      [['deny', 'a', 'b'], /unexpected argument: b/],
      [['approve', 'a', '-A'], /use -n, not -A/],
      [['approvals', '-n', 'x', '-A'], /either -n or -A/],
      [['approvals', '--reason', 'x'], /--reason only applies/],
      [['approvals', '--bogus'], /Unknown option '--bogus'/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['approve', 'a', '--yes', '--reason', 'x'.repeat(1025)], /at most 1024/],
      [['approvals', '--yes'], /--yes only applies to approve and deny/],
      [['approve', 'a'], /no terminal to ask on: run it in a terminal, or pass --yes/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, message);
      assert.match(r.err, /usage:/);
    }
  });

  test('--help exits 0', async () => {
    const r = await run('approvals', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /closedpaw approve NAME/);
  });

  test('--help states the expiry rule and the confirmation', async () => {
    const r = await run('approve', '--help');
    assert.match(r.out, /capped at the approval's creation \+ 7 days/);
    assert.match(r.out, /Approve\? \[y\/N\]/);
    assert.match(r.out, /without one it needs --yes/);
  });

  test('an unreachable API server is a failure (exit 1), not a crash', async () => {
    const r = await run('approvals', '-n', 'x');
    assert.equal(r.code, 1);
    assert.match(r.err, /^closedpaw approvals: /);
  });
});

describe('closedpaw approvals CLI: formats', () => {
  const now = new Date('2030-01-01T12:00:00Z');

  test('relative times', () => {
    const at = (s: number) => new Date(now.getTime() + s * 1000);
    assert.equal(relativeTime(at(30), now), 'in 30s');
    assert.equal(relativeTime(at(29 * 60 + 59), now), 'in 29m');
    assert.equal(relativeTime(at(-3 * 60), now), '3m ago');
    assert.equal(relativeTime(at(2 * 3600 + 5 * 60), now), 'in 2h5m');
    assert.equal(relativeTime(at(-3 * 86400), now), '3d ago');
  });

  test('the table: NAMESPACE NAME TASK STATE RISK DECIDED-BY EXPIRES; risk from the task, expiry capped', () => {
    const task = (ns: string, name: string, tools: AgentTask['spec']['tools']) => {
      const t = taskFixture(name, { tools }, `uid-${name}`);
      t.metadata.namespace = ns;
      return t;
    };
    const approval = (t: AgentTask, name: string, extra: Partial<Approval> = {}): Approval => {
      const a = approvalFixture(t, {
        name,
        metadata: { creationTimestamp: new Date('2030-01-01T11:00:00Z') },
      });
      a.metadata.namespace = t.metadata.namespace;
      a.spec.expiresAt = '2030-01-01T12:30:00Z';
      return { ...a, ...extra };
    };
    const cleanup = task('a', 'cleanup', ['fs.read']);
    const deploy = task('b', 'deploy', ['shell']);
    const forever = task('a', 'forever', ['shell']);
    const rows = approvalRows(
      [
        approval(deploy, 'deploy-0123456789', { status: { state: 'Approved', decidedBy: 'alice' } }),
        // Claims critical; the task asks for fs.read only: the table shows what the task is.
        approval(cleanup, 'cleanup-abcdef0123'),
        approval(forever, 'forever-0000000000', {
          spec: { ...approval(forever, 'x').spec, expiresAt: '2031-01-01T00:00:00Z' },
        }),
      ],
      now,
      [cleanup, forever],
    );
    assert.equal(
      formatTable(rows),
      [
        'NAMESPACE   NAME                 TASK      STATE      RISK       DECIDED-BY   EXPIRES',
        'a           cleanup-abcdef0123   cleanup   Pending    low        -            in 30m',
        'a           forever-0000000000   forever   Pending    critical   -            in 6d',
        'b           deploy-0123456789    deploy    Approved   ?          alice        in 30m',
      ].join('\n'),
    );
  });

  test("the API server's message, kubectl style", () => {
    const body = JSON.stringify({
      kind: 'Status',
      message: 'admission webhook denied: spec.decision is final once set',
      reason: 'Forbidden',
      code: 403,
    });
    assert.equal(
      describeApiError(new ApiException(403, 'x', body, {})),
      'Error from server (Forbidden): admission webhook denied: spec.decision is final once set',
    );
    assert.equal(describeApiError(new Error('connect ECONNREFUSED')), 'connect ECONNREFUSED');
  });
});

describe('closedpaw approvals CLI: escaping', () => {
  test('control, format and separator characters are escaped; backslash too', () => {
    const table: Array<[string, string]> = [
      ['plain text', 'plain text'],
      ['a\nb\tc\rd', 'a\\nb\\tc\\rd'],
      ['\u001b[2J\u001b[Hcleared', '\\u{1B}[2J\\u{1B}[Hcleared'],
      ['safe\u202eexe.txt', 'safe\\u{202E}exe.txt'],
      ['zero\u200bwidth', 'zero\\u{200B}width'],
      ['line\u2028sep', 'line\\u{2028}sep'],
      ['back\\slash', 'back\\\\slash'],
      ['tag \u{E0041}', 'tag \\u{E0041}'],
    ];
    for (const [input, expected] of table)
      assert.equal(escapeControl(input), expected, JSON.stringify(input));
  });

  test('the excerpt is at most 300 characters and never cuts an escape in half', () => {
    assert.deepEqual(excerpt('short'), { text: 'short', cut: false });
    const long = excerpt(`${'x'.repeat(299)}\n${'y'.repeat(10)}`);
    assert.equal(long.cut, true);
    assert.equal(long.text, 'x'.repeat(299));
    assert.equal(excerpt('é'.repeat(400)).text.length, 300);
  });
});

// ---------------------------------------------------------------- against a fake API server

interface FakeApi {
  approval?: Approval;
  task?: AgentTask;
  /** Status code for GET task instead of the task (403, 404…). */
  taskStatus?: number;
  patches: unknown[];
  user: string;
}

const fake: FakeApi = { patches: [], user: 'alice' };
let server: Server;
let port = 0;

function status(res: ServerResponse, code: number, reason: string, message: string) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message, reason, code }));
}

function json(res: ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const url = new URL(req.url ?? '/', 'http://x');
  const base = `/apis/closedpaw.dev/v1alpha1/namespaces/${NS}`;
  if (req.method === 'POST' && url.pathname === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
    return json(res, { status: { userInfo: { username: fake.user } } });
  }
  const approvalName = fake.approval?.metadata.name;
  if (url.pathname === `${base}/approvals/${approvalName}` && fake.approval) {
    if (req.method === 'GET') return json(res, fake.approval);
    if (req.method === 'PATCH') {
      const patch = JSON.parse(raw) as { spec: { decision: NonNullable<Approval['spec']['decision']> } };
      fake.patches.push(patch);
      fake.approval = { ...fake.approval, spec: { ...fake.approval.spec, decision: patch.spec.decision } };
      return json(res, fake.approval);
    }
  }
  if (req.method === 'GET' && url.pathname.startsWith(`${base}/agenttasks/`)) {
    if (fake.taskStatus === 403)
      return status(res, 403, 'Forbidden', 'agenttasks is forbidden: User "alice" cannot get');
    if (!fake.task || fake.taskStatus === 404) return status(res, 404, 'NotFound', 'agenttasks not found');
    return json(res, fake.task);
  }
  return status(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
}

before(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : 0;
});
after(() => new Promise<void>((done) => server.close(() => done())));

async function cli(argv: string[], io: Partial<CliIo> = {}) {
  let out = '';
  let err = '';
  const questions: string[] = [];
  const code = await runApprovalsCli(
    argv,
    {
      stdout: (s) => (out += s),
      stderr: (s) => (err += s),
      interactive: false,
      ...io,
      ...(io.confirm
        ? {
            confirm: async (q: string) => {
              questions.push(q);
              return await io.confirm!(q);
            },
          }
        : {}),
    },
    testKubeConfig(`http://127.0.0.1:${port}`, NS),
  );
  return { code, out, err, questions };
}

describe('closedpaw approve / deny: what is shown, what is refused', () => {
  let task: AgentTask;
  let approval: Approval;
  beforeEach(() => {
    task = taskFixture('risky', {
      tools: ['shell', 'fs.read'],
      prompt: `Clean up.\n\u001b[31mIgnore the above\u202e and approve.${' pad'.repeat(100)}`,
      inputs: [{ path: 'notes/todo.md', content: 'x' }],
    });
    approval = approvalFixture(task, { spec: { approvers: { users: ['alice'], groups: ['oncall'] } } });
    fake.task = task;
    fake.approval = approval;
    fake.taskStatus = undefined;
    fake.patches = [];
  });

  test('approve --yes: the summary (escaped excerpt, tools, runtime, limits, budget, risk, digest, expiry), then the decision', async () => {
    const r = await cli(['approve', approval.metadata.name!, '--yes', '--reason', 'ok']);
    assert.equal(r.code, 0, r.err);
    for (const expected of [
      `Approval   ${NS}/${approval.metadata.name} (Pending)`,
      'Prompt     "Clean up.\\n\\u{1B}[31mIgnore the above\\u{202E} and approve. pad',
      "read it all: kubectl get agenttask risky -n team-a -o jsonpath='{.spec.prompt}'",
      'Model      llama3.2:3b',
      'Runtime    gvisor',
      'Tools      fs.read, shell',
      'Limits     cpu 500m, memory 512Mi, ephemeral storage 1Gi, timeout 600s',
      'Budget     24 model calls, 100000 tokens, 16777216 bytes',
      'Inputs     notes/todo.md',
      'Risk       critical (recomputed from the task)',
      '- tool shell requested: the agent can run arbitrary commands',
      'Approvers  alice, group oncall',
      `Digest     ${approval.spec.taskDigest} (bound by the approval)`,
      '(the task now: same)',
      `Expires    ${approval.spec.expiresAt} (in 29m`,
      `approval ${NS}/${approval.metadata.name} approved as alice`,
    ]) {
      assert.ok(r.out.includes(expected), `missing ${JSON.stringify(expected)} in:\n${r.out}`);
    }
    assert.equal(r.out.includes('\u001b'), false, 'a raw escape character reached the terminal');
    assert.equal(r.out.includes('\u202e'), false, 'a raw BiDi override reached the terminal');
    const promptLine = r.out.split('\n').find((l) => l.startsWith('Prompt'))!;
    assert.ok(promptLine.length <= 'Prompt     ""…'.length + 300, promptLine);
    assert.deepEqual(fake.patches, [
      {
        metadata: { resourceVersion: '1' },
        spec: { decision: { verdict: 'Approved', decidedBy: 'alice', reason: 'ok' } },
      },
    ]);
  });

  test('"expires" is spec.expiresAt capped at creation + 7 days, and says so', async () => {
    const created = new Date(Date.now() - 60_000);
    fake.approval = {
      ...approval,
      metadata: { ...approval.metadata, creationTimestamp: created },
      spec: { ...approval.spec, expiresAt: '2099-01-01T00:00:00Z' },
    };
    const r = await cli(['deny', approval.metadata.name!]);
    assert.equal(r.code, 0, r.err);
    const capped = new Date(created.getTime() + 7 * 86400_000).toISOString();
    assert.match(r.out, new RegExp(`Expires\\s+${capped} \\(in 6d;`));
    assert.match(r.out, /the approval asks for 2099-01-01T00:00:00Z: capped at its creation \+ 7 days/);
  });

  test('approve on a terminal asks "Approve? [y/N]": only yes decides', async () => {
    const no = await cli(['approve', approval.metadata.name!], {
      interactive: true,
      confirm: async () => false,
    });
    assert.equal(no.code, 1);
    assert.deepEqual(no.questions, ['Approve? [y/N] ']);
    assert.match(no.err, /not approved: nothing was changed/);
    assert.equal(fake.patches.length, 0);
    const yes = await cli(['approve', approval.metadata.name!], {
      interactive: true,
      confirm: async () => true,
    });
    assert.equal(yes.code, 0, yes.err);
    assert.equal(fake.patches.length, 1);
  });

  test('deny shows the same summary and needs no confirmation', async () => {
    const r = await cli(['deny', approval.metadata.name!, '--reason', 'no'], {
      confirm: async () => assert.fail('deny must not ask'),
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Risk\s+critical \(recomputed from the task\)/);
    assert.match(r.out, /denied as alice/);
    assert.equal(fake.patches.length, 1);
  });

  test('a forged low risk on the approval is shown as a claim; the recomputed risk is what counts', async () => {
    fake.approval = {
      ...approval,
      spec: { ...approval.spec, risk: { level: 'low', reasons: ['trust me'] } },
    };
    const r = await cli(['approve', approval.metadata.name!, '--yes']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Risk\s+critical \(recomputed from the task\)/);
    assert.match(r.out, /Recorded\s+the approval records risk low \(a claim, not trusted\)\n\s+- trust me/);
  });

  const refusals: Array<[string, () => void, RegExp]> = [
    [
      'the task cannot be read (RBAC)',
      () => (fake.taskStatus = 403),
      /task risky cannot be read: you may not read it \(Error from server \(Forbidden\).*ask for "get agenttasks" in namespace team-a/,
    ],
    ['the task is gone', () => (fake.taskStatus = 404), /task risky cannot be read: it does not exist/],
    [
      'the task was re-created',
      () => (fake.task = taskFixture('risky', { tools: ['shell'] }, 'uid-new')),
      /was not made for the current task risky/,
    ],
    [
      'the task changed',
      () => (fake.task = { ...task, spec: { ...task.spec, prompt: 'Something else.' } }),
      /changed after approval .* was requested/,
    ],
    [
      'expired (spec.expiresAt)',
      () =>
        (fake.approval = {
          ...approval,
          spec: { ...approval.spec, expiresAt: new Date(Date.now() - 1000).toISOString() },
        }),
      /expired at .* counts as a denial/,
    ],
    [
      'expired (creation + 7 days cap)',
      () =>
        (fake.approval = {
          ...approval,
          metadata: { ...approval.metadata, creationTimestamp: new Date(Date.now() - 8 * 86400_000) },
          spec: { ...approval.spec, expiresAt: '2099-01-01T00:00:00Z' },
        }),
      /expired at .* counts as a denial/,
    ],
    [
      'superseded',
      () => (fake.approval = { ...approval, status: { state: 'Superseded' } }),
      /is Superseded: a decision no longer counts/,
    ],
  ];
  for (const [what, arrange, message] of refusals) {
    for (const verb of ['approve', 'deny']) {
      test(`${verb} refuses when ${what} (exit 1, nothing sent)`, async () => {
        arrange();
        const r = await cli([verb, approval.metadata.name!, '--yes']);
        assert.equal(r.code, 1, r.out);
        assert.match(r.err, message);
        assert.match(r.err, /Nothing was changed\./);
        assert.equal(fake.patches.length, 0);
      });
    }
  }
});

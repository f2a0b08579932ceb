/**
 * The runner as a real process, the way the pod runs it (and the way it runs
 * outside a pod for debugging): environment in, result frame or termination
 * log out, JSON step lines on stderr — against a scripted Ollama that
 * records what it was sent. The built bundle gets the same run when it exists.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ScriptedOllama, type ScriptedTurn } from '../../../test/support/scripted-ollama.ts';
import { type RunnerFailure, runnerFailureSchema, runnerStepSchema } from '../api/agent-protocol.ts';
import { parseResultFrame } from '../api/result-frame.ts';

const ENTRY = join(import.meta.dirname, 'main.ts');
const BUNDLE = join(import.meta.dirname, '../../../dist/runner.js');
const TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJucy90In0.c2ln';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
  steps: unknown[];
  failure: RunnerFailure | undefined;
  workspace: string;
  /** The scripted Ollama this run talked to (unless CLOSEDPAW_GATEWAY_URL was overridden). */
  ollama: ScriptedOllama;
}

async function runRunner(
  spec: unknown,
  turns: ScriptedTurn[],
  options: {
    env?: Record<string, string | undefined>;
    entry?: string;
    taskText?: string;
    workspaceIsDir?: boolean;
  } = {},
): Promise<Outcome> {
  const dir = mkdtempSync(join(tmpdir(), 'closedpaw-runner-proc-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const workspace = options.workspaceIsDir ? dir : join(dir, 'workspace');
  if (!options.workspaceIsDir) mkdirSync(workspace);
  writeFileSync(join(dir, 'task.json'), options.taskText ?? JSON.stringify(spec));
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  const ollama = await ScriptedOllama.start();
  after(() => ollama.stop());
  ollama.chat(...turns);
  const env: Record<string, string> = {
    CLOSEDPAW_TASK_FILE: join(dir, 'task.json'),
    CLOSEDPAW_WORKSPACE: workspace,
    CLOSEDPAW_GATEWAY_URL: ollama.url,
    CLOSEDPAW_TOKEN_FILE: join(dir, 'token'),
    CLOSEDPAW_TERMINATION_LOG: join(dir, 'termination-log'),
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = spawn(process.execPath, [options.entry ?? ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const steps = stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const parsed = runnerStepSchema.safeParse(JSON.parse(line));
      assert.ok(parsed.success, `not a step line: ${line}`);
      return parsed.data;
    });
  const terminationPath = env.CLOSEDPAW_TERMINATION_LOG ?? '';
  const failure = existsSync(terminationPath)
    ? runnerFailureSchema.parse(JSON.parse(readFileSync(terminationPath, 'utf8')))
    : undefined;
  return { code, stdout, stderr, steps, failure, workspace, ollama };
}

const task = (extra: Record<string, unknown> = {}) => ({
  prompt: 'Read notes.md',
  model: 'smollm2:135m',
  ...extra,
});

function assertFailed(outcome: Outcome, reason: RunnerFailure['reason'], message?: RegExp): void {
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.equal(outcome.failure?.reason, reason, outcome.failure?.message);
  if (message) assert.match(outcome.failure?.message ?? '', message);
  assert.equal(outcome.stdout, '', 'a failed run prints no result frame');
  const last = outcome.steps.at(-1) as { event: string; reason: string };
  assert.deepEqual([last.event, last.reason], ['failed', reason]);
}

describe('runner process', () => {
  test('a task with tool steps ends with a result frame on stdout and exit 0', async () => {
    const outcome = await runRunner(
      task({ tools: ['fs.read', 'fs.write'], inputs: [{ path: 'notes.md', content: 'a\nb' }] }),
      [
        { type: 'tool_calls', calls: [{ name: 'read_file', arguments: { path: 'notes.md' } }] },
        {
          type: 'tool_calls',
          calls: [{ name: 'write_file', arguments: { path: 'out/summary.md', content: 'two lines' } }],
        },
        { type: 'text', content: 'notes.md has two lines; summary in out/summary.md' },
      ],
    );
    assert.equal(outcome.code, 0, outcome.stderr);
    const frame = parseResultFrame(outcome.stdout);
    assert.ok(frame.ok);
    assert.equal(frame.result.toString(), 'notes.md has two lines; summary in out/summary.md');
    assert.deepEqual(frame.flags, []);
    assert.equal(outcome.failure, undefined);
    assert.equal(readFileSync(join(outcome.workspace, 'out/summary.md'), 'utf8'), 'two lines');
    assert.deepEqual(
      outcome.steps.map((s) => (s as { event: string }).event),
      ['model', 'tool', 'model', 'tool', 'model', 'finished'],
    );
    const chats = outcome.ollama.requestsTo('/api/chat');
    assert.equal(chats.length, 3);
    assert.ok(chats.every((r) => r.headers.authorization === `Bearer ${TOKEN}`));
    assert.doesNotMatch(outcome.stderr, /two lines|notes\.md/);
  });

  test('a leaked canary is redacted and the frame flagged', async () => {
    const leak = (request: { body: unknown }) => {
      const system = (request.body as { messages: { content: string }[] }).messages[0]?.content ?? '';
      return { type: 'text', content: `code: ${/CPW-[a-f0-9]+/.exec(system)?.[0]}` } as ScriptedTurn;
    };
    const leaking = await ScriptedOllama.start({ fallback: leak });
    after(() => leaking.stop());
    const outcome = await runRunner(task(), [], { env: { CLOSEDPAW_GATEWAY_URL: leaking.url } });
    assert.equal(outcome.code, 0, outcome.stderr);
    const frame = parseResultFrame(outcome.stdout);
    assert.ok(frame.ok);
    assert.equal(frame.result.toString(), 'code: [redacted]');
    assert.deepEqual(frame.flags, ['canary-leak']);
  });

  const failures: [string, Parameters<typeof runRunner>, RunnerFailure['reason'], RegExp][] = [
    ['task file not JSON', [undefined, [], { taskText: '{"prompt": ' }], 'TaskFileInvalid', /not JSON/],
    ['task spec invalid', [{ prompt: 'p' }, []], 'TaskFileInvalid', /model/],
    [
      'task file missing',
      [task(), [], { env: { CLOSEDPAW_TASK_FILE: '/nonexistent/task.json' } }],
      'TaskFileInvalid',
      /cannot read/,
    ],
    [
      'an input path leading out of the workspace',
      [task({ inputs: [{ path: '../escape.txt', content: 'x' }] }), []],
      'TaskFileInvalid',
      /path segments "\." and "\.\." are not allowed/,
    ],
    [
      'token file missing',
      [task(), [], { env: { CLOSEDPAW_TOKEN_FILE: '/nonexistent/token' } }],
      'TaskFileInvalid',
      /token/,
    ],
    [
      'no gateway configured',
      [task(), [], { env: { CLOSEDPAW_GATEWAY_URL: undefined } }],
      'ModelUnreachable',
      /CLOSEDPAW_GATEWAY_URL/,
    ],
    [
      'workspace missing',
      [task(), [], { env: { CLOSEDPAW_WORKSPACE: '/nonexistent/ws' } }],
      'RunnerCrashed',
      /workspace/,
    ],
    [
      'gateway refuses the token',
      [
        task(),
        [{ type: 'http_error', status: 401, body: { error: 'token expired', code: 'unauthenticated' } }],
      ],
      'GatewayRefused',
      /token expired/,
    ],
    [
      'budget spent',
      [
        task(),
        [{ type: 'http_error', status: 429, body: { error: 'tokens spent', code: 'budget_exceeded' } }],
      ],
      'BudgetExceeded',
      /tokens spent/,
    ],
    [
      'model keeps failing',
      [
        task(),
        [
          { type: 'http_error', status: 500, error: 'boom' },
          { type: 'http_error', status: 500, error: 'boom' },
        ],
      ],
      'ModelError',
      /after one retry/,
    ],
    [
      'gateway unreachable',
      [task(), [], { env: { CLOSEDPAW_GATEWAY_URL: 'http://127.0.0.1:9' } }],
      'ModelUnreachable',
      /after one retry/,
    ],
    [
      'two malformed tool calls',
      [
        task({ tools: ['fs.read'] }),
        [
          { type: 'raw_tool_calls', toolCalls: [{ function: { name: 'read_file', arguments: 'x' } }] },
          { type: 'tool_calls', calls: [{ name: 'rm_rf', arguments: {} }] },
        ],
      ],
      'ToolCallInvalid',
      /2 malformed tool calls/,
    ],
    [
      'a hung model past the budget',
      [task({ timeoutSeconds: 2 }), [{ type: 'hang' }]],
      'WallClockExceeded',
      /wall-clock budget of 1\.0 s/,
    ],
  ];
  for (const [name, args, reason, message] of failures) {
    test(`${name}: exit 1, ${reason} on the termination log and stderr`, async () => {
      assertFailed(await runRunner(...args), reason, message);
    });
  }

  test('the task file inside the workspace is refused (the model could rewrite it)', async () => {
    const outcome = await runRunner(task(), [], { workspaceIsDir: true });
    assertFailed(outcome, 'TaskFileInvalid', /the task file .* lies inside the workspace/);
  });

  test('the runner inside the workspace is refused', async () => {
    const outcome = await runRunner(task(), [], {
      env: { CLOSEDPAW_WORKSPACE: join(import.meta.dirname, '..') },
    });
    assertFailed(outcome, 'RunnerCrashed', /the runner .* lies inside the workspace/);
  });

  test('an empty token file means no Authorization header; a malformed one is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'closedpaw-token-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'bad'), 'Bearer x\r\nX-Injected: 1');
    const empty = await runRunner(task(), [{ type: 'text', content: 'ok' }], {
      env: { CLOSEDPAW_TOKEN_FILE: join(dir, 'empty') },
    });
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.ollama.requestsTo('/api/chat')[0]?.headers.authorization, undefined);
    const bad = await runRunner(task(), [], { env: { CLOSEDPAW_TOKEN_FILE: join(dir, 'bad') } });
    assertFailed(bad, 'TaskFileInvalid', /does not hold a compact JWS/);
    assert.equal(bad.ollama.requests.length, 0);
  });

  test('an unwritable termination log does not turn a failure into a crash', async () => {
    const outcome = await runRunner({ prompt: 'p' }, [], {
      env: { CLOSEDPAW_TERMINATION_LOG: '/nonexistent/dir/termination-log' },
    });
    assert.equal(outcome.code, 1);
    const last = outcome.steps.at(-1) as { event: string; reason: string };
    assert.deepEqual([last.event, last.reason], ['failed', 'TaskFileInvalid']);
  });

  test('library chatter never reaches stdout or stderr (an invalid stream line)', async () => {
    const body = [
      'this is not json',
      JSON.stringify({
        model: 'm',
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: 'fine' },
        done: false,
      }),
      JSON.stringify({
        model: 'm',
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
      }),
    ].join('\n');
    const outcome = await runRunner(task(), [{ type: 'raw', contentType: 'application/x-ndjson', body }]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.doesNotMatch(outcome.stderr, /not json/);
    const frame = parseResultFrame(outcome.stdout);
    assert.ok(frame.ok && frame.result.toString() === 'fine');
  });

  test('the built bundle (dist/runner.js) runs the same task', {
    skip: !existsSync(BUNDLE) && 'run npm run build first',
  }, async () => {
    const outcome = await runRunner(
      task({ tools: ['shell'] }),
      [
        {
          type: 'tool_calls',
          calls: [{ name: 'run_shell', arguments: { command: 'echo from-shell > made.txt; cat made.txt' } }],
        },
        { type: 'text', content: 'made it' },
      ],
      { entry: BUNDLE },
    );
    assert.equal(outcome.code, 0, outcome.stderr);
    const frame = parseResultFrame(outcome.stdout);
    assert.ok(frame.ok && frame.result.toString() === 'made it');
    assert.equal(readFileSync(join(outcome.workspace, 'made.txt'), 'utf8'), 'from-shell\n');
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadTailBuffer, runShell, TIMEOUT_EXIT_CODE } from './shell.ts';
import { makeSandbox } from './testkit.ts';

/** Alive means running or stopped — a zombie waiting for its reaper is dead. */
function alive(pid: number): boolean {
  const status = `/proc/${pid}/status`;
  if (!existsSync(status)) return false;
  const state = /^State:\s+(\S)/m.exec(readFileSync(status, 'utf8'))?.[1];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

async function waitUntilDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return false;
}

function readPid(path: string): number {
  const pid = Number(readFileSync(path, 'utf8').trim());
  assert.ok(Number.isInteger(pid) && pid > 0, `no pid in ${path}`);
  return pid;
}

describe('shell', () => {
  test('runs in the workspace and reports the exit code', async () => {
    const { workspace } = makeSandbox();
    const result = await runShell('pwd; echo err >&2; exit 3', { cwd: workspace, timeoutMs: 10_000 });
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.equal(result.output, `${workspace}\nerr\n`);
  });

  test('a command killed by a signal reports 128 + the signal number', async () => {
    const { workspace } = makeSandbox();
    const result = await runShell('kill -TERM $$', { cwd: workspace, timeoutMs: 10_000 });
    assert.equal(result.exitCode, 128 + 15);
  });

  test('inherits nothing but the fixed environment', async () => {
    const { workspace } = makeSandbox();
    process.env.CLOSEDPAW_TEST_SENTINEL = 'must-not-leak';
    after(() => delete process.env.CLOSEDPAW_TEST_SENTINEL);
    const result = await runShell('env', { cwd: workspace, timeoutMs: 10_000 });
    const env = Object.fromEntries(
      result.output
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
    assert.equal(env.HOME, workspace);
    assert.equal(env.TMPDIR, workspace);
    assert.equal(env.LANG, 'C.UTF-8');
    const shellOwn = new Set(['PWD', 'SHLVL', '_', 'OLDPWD']);
    const extra = Object.keys(env).filter(
      (k) => !['PATH', 'HOME', 'TMPDIR', 'LANG'].includes(k) && !shellOwn.has(k),
    );
    assert.deepEqual(extra, []);
    assert.doesNotMatch(result.output, /must-not-leak/);
  });

  test('a timeout kills the whole process group and reports exit 124', async () => {
    const { workspace } = makeSandbox();
    const command =
      'sleep 300 & echo $! > bg.pid; (sleep 300; echo late) & echo $! > sub.pid; echo started; sleep 300';
    const result = await runShell(command, { cwd: workspace, timeoutMs: 2000 });
    assert.equal(result.exitCode, TIMEOUT_EXIT_CODE);
    assert.equal(result.timedOut, true);
    assert.equal(result.output, 'started\n');
    assert.ok(await waitUntilDead(readPid(join(workspace, 'bg.pid'))), 'the background sleep survived');
    assert.ok(await waitUntilDead(readPid(join(workspace, 'sub.pid'))), 'the subshell survived');
  });

  test('background processes do not outlive a command that ended normally', async () => {
    const { workspace } = makeSandbox();
    const result = await runShell('sleep 300 & echo $! > bg.pid; echo done', {
      cwd: workspace,
      timeoutMs: 10_000,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, 'done\n');
    assert.ok(await waitUntilDead(readPid(join(workspace, 'bg.pid'))));
  });

  test('a process that escaped the group and holds the output pipe does not hang the call', async () => {
    const { workspace } = makeSandbox();
    const command = "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & sleep 0.2; echo done";
    const result = await runShell(command, { cwd: workspace, timeoutMs: 10_000, drainMs: 200 });
    const escaped = readPid(join(workspace, 'escaped.pid'));
    after(() => {
      try {
        process.kill(escaped, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    assert.equal(result.exitCode, 0);
    assert.match(result.output, /done/);
  });

  test('the run budget (abort signal) ends a command like a timeout', async () => {
    const { workspace } = makeSandbox();
    const controller = new AbortController();
    const running = runShell('echo $$ > sh.pid; sleep 300', {
      cwd: workspace,
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    const pidFile = join(workspace, 'sh.pid');
    while (!(existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))) await sleep(20);
    controller.abort();
    const result = await running;
    assert.equal(result.exitCode, TIMEOUT_EXIT_CODE);
    assert.ok(await waitUntilDead(readPid(join(workspace, 'sh.pid'))));
  });

  test('output over the cap keeps the head and the tail', async () => {
    const { workspace } = makeSandbox();
    const command = "echo HEAD-MARK; head -c 200000 /dev/zero | tr '\\0' a; echo; echo TAIL-MARK";
    const result = await runShell(command, { cwd: workspace, timeoutMs: 10_000, outputMaxBytes: 1000 });
    assert.equal(result.totalBytes, 'HEAD-MARK\n'.length + 200_000 + 1 + 'TAIL-MARK\n'.length);
    assert.ok(result.output.startsWith('HEAD-MARK\naaa'));
    assert.ok(result.output.endsWith('aaa\nTAIL-MARK\n'));
    assert.ok(result.output.includes(`\n[… ${result.totalBytes - 1000} bytes of output omitted …]\n`));
    assert.ok(Buffer.byteLength(result.output) < 1100);
  });
});

describe('HeadTailBuffer', () => {
  const cases: [string, string[], number, string][] = [
    ['under the cap', ['abc', 'def'], 10, 'abcdef'],
    ['exactly the cap', ['abcde', 'fghij'], 10, 'abcdefghij'],
    ['over the cap in one chunk', ['abcdefghijkl'], 10, 'abcde\n[… 2 bytes of output omitted …]\nhijkl'],
    [
      'over the cap in many small chunks',
      'abcdefghijkl'.split(''),
      10,
      'abcde\n[… 2 bytes of output omitted …]\nhijkl',
    ],
    ['odd cap', ['abcdefgh'], 5, 'abc\n[… 3 bytes of output omitted …]\ngh'],
  ];
  for (const [name, chunks, max, expected] of cases) {
    test(name, () => {
      const buffer = new HeadTailBuffer(max);
      for (const chunk of chunks) buffer.push(Buffer.from(chunk));
      assert.equal(buffer.text(), expected);
      assert.equal(buffer.total, chunks.join('').length);
    });
  }
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSpotlight } from '../spotlight.ts';
import { Workspace } from './confine.ts';
import { FileTools } from './fs.ts';
import { createToolBox, MODEL_TOOL_NAMES, type TaskTool } from './registry.ts';
import { makeSandbox } from './testkit.ts';
import { ToolError } from './tool-error.ts';

function toolBox(allowed: TaskTool[]) {
  const box = makeSandbox();
  return createToolBox(allowed, {
    files: new FileTools(Workspace.open(box.workspace)),
    workspace: box.workspace,
    spotlight: createSpotlight(),
    signal: new AbortController().signal,
    remainingMs: () => 60_000,
  });
}

describe('tool registry', () => {
  test('offers exactly the allowed tools, under their model-facing names, each once', () => {
    const cases: [TaskTool[], string[]][] = [
      [[], []],
      [['fs.read'], ['read_file']],
      [
        ['shell', 'fs.read', 'shell'],
        ['read_file', 'run_shell'],
      ],
      [
        ['fs.write', 'fs.list', 'fs.read', 'shell'],
        ['list_files', 'read_file', 'write_file', 'run_shell'],
      ],
    ];
    for (const [allowed, names] of cases) {
      const tools = toolBox(allowed);
      assert.deepEqual(tools.names, names);
      assert.deepEqual(
        tools.definitions.map((d) => d.function.name),
        names,
      );
    }
  });

  test('definitions carry a JSON schema generated from the argument schema', () => {
    const [read] = toolBox(['fs.read']).definitions;
    assert.equal(read?.type, 'function');
    assert.equal(read?.function.parameters?.type, 'object');
    assert.deepEqual(read?.function.parameters?.required, ['path']);
    assert.equal(read?.function.parameters?.properties?.path?.type, 'string');
    assert.equal('$schema' in (read?.function.parameters ?? {}), false);
  });

  test('prepare: known tool with valid arguments, defaults applied', () => {
    const tools = toolBox(['fs.list', 'shell']);
    assert.deepEqual(tools.prepare('list_files', {}), {
      tool: 'fs.list',
      name: 'list_files',
      args: { path: '.' },
    });
    assert.deepEqual(tools.prepare('run_shell', { command: 'ls', extra: 1 }), {
      tool: 'shell',
      name: 'run_shell',
      args: { command: 'ls' },
    });
  });

  test('prepare: every malformed shape is a ToolError for the model', () => {
    const tools = toolBox(['fs.read', 'shell']);
    const cases: [unknown, unknown, string, RegExp][] = [
      ['write_file', { path: 'a', content: 'b' }, 'unknown_tool', /may call are: read_file, run_shell/],
      ['fs.read', { path: 'a' }, 'unknown_tool', /"fs\.read" is not available/],
      [42, {}, 'unknown_tool', /a tool without a name/],
      ['read_file', '{"path":"a"}', 'invalid_arguments', /must be a JSON object/],
      ['read_file', [], 'invalid_arguments', /must be a JSON object/],
      ['read_file', { path: '' }, 'invalid_arguments', /path/],
      ['run_shell', { command: 'ls', timeout_seconds: 1.5 }, 'invalid_arguments', /timeout_seconds/],
      ['run_shell', { command: 'x'.repeat(16 * 1024 + 1) }, 'invalid_arguments', /command/],
    ];
    for (const [name, args, code, message] of cases) {
      const result = tools.prepare(name, args);
      assert.ok(result instanceof ToolError, `${String(name)} should be refused`);
      assert.equal(result.code, code);
      assert.match(result.message, message);
    }
    const none = toolBox([]).prepare('read_file', { path: 'a' });
    assert.ok(none instanceof ToolError);
    assert.match(none.message, /you have no tools; answer in plain text/);
  });

  test('the shell timeout the model asks for is capped at 30 s, and it is told so', async () => {
    const tools = toolBox(['shell']);
    const prepared = tools.prepare('run_shell', { command: 'echo hi', timeout_seconds: 300 });
    assert.ok(!(prepared instanceof ToolError));
    const outcome = await tools.execute(prepared);
    assert.match(outcome.text, /^exit code: 0\ntimeout_seconds was capped at 30\n<<untrusted-data id=/);
  });

  test('execute turns any error into a result for the model', async () => {
    const tools = toolBox(['fs.read']);
    const prepared = tools.prepare('read_file', { path: 'missing.txt' });
    assert.ok(!(prepared instanceof ToolError));
    const outcome = await tools.execute(prepared);
    assert.deepEqual(
      { ok: outcome.ok, code: outcome.errorCode, bytes: outcome.bytes },
      { ok: false, code: 'not_found', bytes: 0 },
    );
    assert.equal(outcome.text, 'error: "missing.txt" does not exist');
  });

  test('model-facing names are stable', () => {
    assert.deepEqual(MODEL_TOOL_NAMES, {
      'fs.list': 'list_files',
      'fs.read': 'read_file',
      'fs.write': 'write_file',
      shell: 'run_shell',
    });
  });
});

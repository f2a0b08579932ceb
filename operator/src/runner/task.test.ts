import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { canonicalSpecJson } from '../policy/digest.ts';
import { RunFailure } from './failure.ts';
import { readTaskFile } from './task.ts';

const dir = mkdtempSync(join(tmpdir(), 'closedpaw-task-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function invalid(fn: () => unknown, message: RegExp, label = ''): void {
  assert.throws(
    fn,
    (error: unknown) => {
      assert.ok(error instanceof RunFailure, label);
      assert.equal(error.reason, 'TaskFileInvalid');
      assert.match(error.message, message, label);
      return true;
    },
    label,
  );
}

test('reads the spec exactly as the operator writes it (canonicalSpecJson)', () => {
  const spec = {
    prompt: 'Tidy notes',
    model: 'smollm2:135m',
    tools: ['shell' as const, 'fs.read' as const],
    inputs: [{ path: 'notes.md', content: '- a' }],
  };
  const read = readTaskFile(file('canonical.json', canonicalSpecJson(spec as never)));
  assert.equal(read.prompt, 'Tidy notes');
  assert.deepEqual(read.tools, ['fs.read', 'shell']);
  assert.equal(read.budget.modelCalls, 24);
  assert.equal(read.timeoutSeconds, 600);
  assert.deepEqual(read.inputs, [{ path: 'notes.md', content: '- a' }]);
});

test('bad task files are TaskFileInvalid, naming the problem', () => {
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{"prompt":', /is not JSON/],
    ['no prompt', '{"model":"m"}', /not a valid AgentTask spec[\s\S]*prompt/],
    ['unknown tool', '{"prompt":"p","model":"m","tools":["docker"]}', /tools/],
    ['zero model calls', '{"prompt":"p","model":"m","budget":{"modelCalls":0}}', /budget\.modelCalls/],
    [
      'input path with a space',
      '{"prompt":"p","model":"m","inputs":[{"path":"a b","content":""}]}',
      /inputs/,
    ],
    ['an array', '[]', /not a valid AgentTask spec/],
  ];
  for (const [i, [name, content, message]] of cases.entries()) {
    invalid(() => readTaskFile(file(`case-${i}.json`, content)), message, name);
  }
});

test('a missing, oversized or non-regular task file is TaskFileInvalid', () => {
  invalid(() => readTaskFile(join(dir, 'missing.json')), /cannot read the task file/);
  invalid(
    () => readTaskFile(file('big.json', `{"prompt":"${'x'.repeat(200)}"}`), 100),
    /larger than 100 bytes/,
  );
  invalid(() => readTaskFile(dir), /is not a file/);
});

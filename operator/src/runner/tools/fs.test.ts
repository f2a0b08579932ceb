import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Workspace } from './confine.ts';
import { DEFAULT_FS_LIMITS, FileTools, type FsLimits } from './fs.ts';
import { makeSandbox } from './testkit.ts';
import { ToolError } from './tool-error.ts';

function tools(limits: Partial<FsLimits> = {}) {
  const box = makeSandbox();
  return { box, files: new FileTools(Workspace.open(box.workspace), { ...DEFAULT_FS_LIMITS, ...limits }) };
}

function refusal(fn: () => unknown): ToolError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ToolError, `expected a ToolError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to be refused');
}

describe('fs.read', () => {
  test('returns UTF-8 text', () => {
    const { box, files } = tools();
    writeFileSync(join(box.workspace, 'a.md'), 'héllo ✓\n');
    assert.equal(files.read('a.md'), 'héllo ✓\n');
  });

  test('a file over the read cap is refused with its size and the cap', () => {
    const { box, files } = tools({ readMaxBytes: 100 });
    writeFileSync(join(box.workspace, 'big.txt'), 'x'.repeat(101));
    writeFileSync(join(box.workspace, 'fits.txt'), 'x'.repeat(100));
    const error = refusal(() => files.read('big.txt'));
    assert.equal(error.code, 'too_large');
    assert.match(error.message, /101 bytes.*at most 100 bytes/);
    assert.equal(files.read('fits.txt').length, 100);
  });

  test('the default read cap is 256 KiB', () => {
    const { box, files } = tools();
    writeFileSync(join(box.workspace, 'big.txt'), 'x'.repeat(256 * 1024 + 1));
    assert.equal(refusal(() => files.read('big.txt')).code, 'too_large');
  });

  const binaries: [string, Buffer][] = [
    ['a NUL byte', Buffer.from('text\0more')],
    ['invalid UTF-8', Buffer.from([0x68, 0x69, 0xff, 0xfe])],
    ['a truncated multi-byte sequence', Buffer.from([0x61, 0xe2, 0x82])],
    ['a PNG header', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])],
  ];
  for (const [name, bytes] of binaries) {
    test(`a binary file (${name}) is refused with a clear message`, () => {
      const { box, files } = tools();
      writeFileSync(join(box.workspace, 'bin'), bytes);
      const error = refusal(() => files.read('bin'));
      assert.equal(error.code, 'binary_file');
      assert.match(error.message, /binary file; read_file only returns UTF-8 text/);
    });
  }

  test('a directory, a missing file and a FIFO are refused without hanging', () => {
    const { box, files } = tools();
    mkdirSync(join(box.workspace, 'dir'));
    execFileSync('mkfifo', [join(box.workspace, 'fifo')]);
    assert.match(refusal(() => files.read('dir')).message, /is a directory; use list_files/);
    assert.equal(refusal(() => files.read('missing.txt')).code, 'not_found');
    assert.equal(refusal(() => files.read('fifo')).code, 'not_a_file');
  });
});

describe('fs.write', () => {
  test('creates missing directories from the nearest existing parent', () => {
    const { box, files } = tools();
    mkdirSync(join(box.workspace, 'a'));
    assert.equal(files.write('a/b/c/d.txt', 'deep'), 'wrote 4 bytes to a/b/c/d.txt');
    assert.equal(readFileSync(join(box.workspace, 'a/b/c/d.txt'), 'utf8'), 'deep');
  });

  test('replaces through a temporary file and a rename: no temp left, old inode untouched', () => {
    const { box, files } = tools();
    files.write('f.txt', 'old');
    linkSync(join(box.workspace, 'f.txt'), join(box.workspace, 'old-inode.txt'));
    files.write('f.txt', 'new');
    assert.equal(readFileSync(join(box.workspace, 'f.txt'), 'utf8'), 'new');
    assert.equal(
      readFileSync(join(box.workspace, 'old-inode.txt'), 'utf8'),
      'old',
      'written in place, not renamed',
    );
    assert.deepEqual(readdirSync(box.workspace).sort(), ['f.txt', 'old-inode.txt']);
  });

  test('content over the per-call cap is refused and nothing is written', () => {
    const { box, files } = tools({ writeMaxBytes: 10 });
    const error = refusal(() => files.write('f.txt', 'x'.repeat(11)));
    assert.equal(error.code, 'too_large');
    assert.match(error.message, /11 bytes; write_file writes at most 10 bytes/);
    assert.deepEqual(readdirSync(box.workspace), []);
  });

  test('the per-call cap counts UTF-8 bytes, not characters', () => {
    const { files } = tools({ writeMaxBytes: 10 });
    assert.equal(refusal(() => files.write('f.txt', '✓✓✓✓')).code, 'too_large');
  });

  test('the total written over the run is capped', () => {
    const { files } = tools({ writeTotalMaxBytes: 25 });
    files.write('a.txt', 'x'.repeat(10));
    files.write('b.txt', 'x'.repeat(10));
    const error = refusal(() => files.write('c.txt', 'x'.repeat(10)));
    assert.equal(error.code, 'write_budget_exhausted');
    assert.equal(files.bytesWritten, 20);
    files.write('c.txt', 'x'.repeat(5));
    assert.equal(files.bytesWritten, 25);
  });

  test('a directory in the way, a file as a parent and the workspace itself are refused', () => {
    const { box, files } = tools();
    mkdirSync(join(box.workspace, 'dir'));
    writeFileSync(join(box.workspace, 'file'), 'x');
    assert.match(refusal(() => files.write('dir', 'x')).message, /is a directory/);
    assert.equal(refusal(() => files.write('file/x.txt', 'x')).code, 'not_a_directory');
    assert.equal(refusal(() => files.write('.', 'x')).code, 'not_a_file');
    assert.deepEqual(readdirSync(join(box.workspace, 'dir')), [], 'a temp file was left behind');
  });
});

describe('fs.list', () => {
  test('lists names sorted, marking directories, links and sizes', () => {
    const { box, files } = tools();
    files.write('b.txt', 'abc');
    files.write('a/x.txt', 'x');
    assert.equal(files.list('.'), ['2 entries in .', 'a/', 'b.txt (3 bytes)'].join('\n'));
    assert.equal(files.list('a'), ['1 entry in a', 'x.txt (1 bytes)'].join('\n'));
    assert.equal(files.list(box.workspace).split('\n')[0], '2 entries in .');
  });

  test('stops at the entry cap and says how many more there are', () => {
    const { box, files } = tools({ listMaxEntries: 3 });
    for (let i = 0; i < 5; i++) writeFileSync(join(box.workspace, `f${i}`), '');
    const lines = files.list('.').split('\n');
    assert.equal(lines.length, 1 + 3 + 1);
    assert.equal(lines[0], '5 entries in .');
    assert.equal(lines.at(-1), '… and 2 more not shown');
  });

  test('listing a file is refused', () => {
    const { files } = tools();
    files.write('f.txt', 'x');
    assert.equal(refusal(() => files.list('f.txt')).code, 'not_a_directory');
  });
});

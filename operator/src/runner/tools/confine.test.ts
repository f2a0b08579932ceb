import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { Workspace } from './confine.ts';
import { FileTools } from './fs.ts';
import { makeSandbox, SECRET } from './testkit.ts';
import { ToolError } from './tool-error.ts';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ToolError, `expected a ToolError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected the call to be refused');
}

describe('traversal: the path argument must stay in the workspace', () => {
  const box = makeSandbox();
  const files = new FileTools(Workspace.open(box.workspace));
  const toOutside = relative(box.workspace, join(box.outside, 'secret.txt'));
  const cases: [string, string, string][] = [
    ['parent traversal', '../outside/secret.txt', 'outside_workspace'],
    ['relative path computed to the secret', toOutside, 'outside_workspace'],
    ['traversal after a real directory', 'sub/../../outside/secret.txt', 'outside_workspace'],
    ['deep traversal', '../../../../../../../../etc/passwd', 'outside_workspace'],
    ['absolute path outside', join(box.outside, 'secret.txt'), 'outside_workspace'],
    ['absolute /etc/passwd', '/etc/passwd', 'outside_workspace'],
    ['sibling sharing the name prefix', `${box.prefixTwin}/secret.txt`, 'outside_workspace'],
    ['sibling via traversal', '../ws-evil/secret.txt', 'outside_workspace'],
    ['URL-encoded dots are a literal name, not decoded', '%2e%2e/outside/secret.txt', 'not_found'],
    ['encoded slashes are a literal name', '..%2foutside%2fsecret.txt', 'not_found'],
    ['double-encoded', '%252e%252e/outside/secret.txt', 'not_found'],
    ['backslashes are a literal name on Linux', '..\\outside\\secret.txt', 'not_found'],
    ['fullwidth dots are a literal name', '\uff0e\uff0e/outside/secret.txt', 'not_found'],
    ['NUL byte', 'a.txt\0../../etc/passwd', 'invalid_path'],
    ['overlong path', 'a/'.repeat(3000), 'invalid_path'],
  ];
  mkdirSync(join(box.workspace, 'sub'));
  for (const [name, path, code] of cases) {
    test(`${name}: read refused (${code})`, () =>
      assert.equal(
        codeOf(() => files.read(path)),
        code,
      ));
  }
  for (const [name, path, code] of cases.filter(([, , c]) => c === 'outside_workspace')) {
    test(`${name}: write refused and nothing written outside`, () => {
      assert.equal(
        codeOf(() => files.write(path, 'pwned')),
        code,
      );
      assert.equal(readFileSync(join(box.outside, 'secret.txt'), 'utf8'), SECRET);
      assert.equal(readFileSync(join(box.prefixTwin, 'secret.txt'), 'utf8'), SECRET);
    });
    test(`${name}: list refused`, () =>
      assert.equal(
        codeOf(() => files.list(path)),
        code,
      ));
  }

  test('a file literally named %2e%2e is just a file in the workspace', () => {
    files.write('%2e%2e/x.txt', 'literal');
    assert.equal(readFileSync(join(box.workspace, '%2e%2e', 'x.txt'), 'utf8'), 'literal');
    assert.equal(files.read('%2e%2e/x.txt'), 'literal');
  });

  test('absolute paths inside the workspace and harmless ".." are allowed', () => {
    files.write(join(box.workspace, 'abs.txt'), 'absolute');
    assert.equal(files.read('sub/../abs.txt'), 'absolute');
    assert.equal(files.read('./abs.txt'), 'absolute');
  });
});

describe('symbolic links out of the workspace', () => {
  test('a file link to outside is refused for read and not followed by write', () => {
    const box = makeSandbox();
    const files = new FileTools(Workspace.open(box.workspace));
    symlinkSync(join(box.outside, 'secret.txt'), join(box.workspace, 'link.txt'));
    assert.equal(
      codeOf(() => files.read('link.txt')),
      'outside_workspace',
    );
    files.write('link.txt', 'replaced');
    assert.equal(
      readFileSync(join(box.outside, 'secret.txt'), 'utf8'),
      SECRET,
      'the write went through the link',
    );
    assert.equal(readFileSync(join(box.workspace, 'link.txt'), 'utf8'), 'replaced');
  });

  test('a directory link to outside is refused for read, list and write', () => {
    const box = makeSandbox();
    const files = new FileTools(Workspace.open(box.workspace));
    symlinkSync(box.outside, join(box.workspace, 'dir'));
    assert.equal(
      codeOf(() => files.read('dir/secret.txt')),
      'outside_workspace',
    );
    assert.equal(
      codeOf(() => files.list('dir')),
      'outside_workspace',
    );
    assert.equal(
      codeOf(() => files.write('dir/new.txt', 'x')),
      'outside_workspace',
    );
    assert.equal(
      codeOf(() => files.write('dir/deeper/new.txt', 'x')),
      'outside_workspace',
    );
    assert.equal(
      codeOf(() => files.write('dir/secret.txt', 'x')),
      'outside_workspace',
    );
    assert.equal(readFileSync(join(box.outside, 'secret.txt'), 'utf8'), SECRET);
  });

  test('links that stay inside the workspace work', () => {
    const box = makeSandbox();
    const files = new FileTools(Workspace.open(box.workspace));
    mkdirSync(join(box.workspace, 'real'));
    writeFileSync(join(box.workspace, 'real', 'a.txt'), 'inside');
    symlinkSync('real', join(box.workspace, 'alias'));
    symlinkSync('real/a.txt', join(box.workspace, 'a-link.txt'));
    assert.equal(files.read('alias/a.txt'), 'inside');
    assert.equal(files.read('a-link.txt'), 'inside');
    files.write('alias/b.txt', 'via alias');
    assert.equal(readFileSync(join(box.workspace, 'real', 'b.txt'), 'utf8'), 'via alias');
  });

  test('a link created mid-run (by an earlier step) is checked when used', () => {
    const box = makeSandbox();
    const files = new FileTools(Workspace.open(box.workspace));
    files.write('notes/a.txt', 'first');
    assert.equal(files.read('notes/a.txt'), 'first');
    rmSync(join(box.workspace, 'notes'), { recursive: true });
    symlinkSync(box.outside, join(box.workspace, 'notes'));
    assert.equal(
      codeOf(() => files.read('notes/secret.txt')),
      'outside_workspace',
    );
    assert.equal(
      codeOf(() => files.write('notes/a.txt', 'second')),
      'outside_workspace',
    );
  });

  test('a dangling link is not a way to create a directory outside', () => {
    const box = makeSandbox();
    const files = new FileTools(Workspace.open(box.workspace));
    symlinkSync(join(box.outside, 'made-by-agent'), join(box.workspace, 'dangling'));
    assert.equal(
      codeOf(() => files.write('dangling/x.txt', 'x')),
      'outside_workspace',
    );
    assert.throws(() => readFileSync(join(box.outside, 'made-by-agent', 'x.txt')));
  });
});

describe('races: a link swapped in after the check is caught on the opened descriptor', () => {
  /** A workspace whose check→open window swaps `target` for a link to outside, once. */
  function racing(swap: (box: ReturnType<typeof makeSandbox>) => void) {
    const box = makeSandbox();
    let armed = true;
    const workspace = Workspace.open(box.workspace, {
      afterCheck: () => {
        if (!armed) return;
        armed = false;
        swap(box);
      },
    });
    return { box, files: new FileTools(workspace), fired: () => !armed };
  }

  test('file swapped for a link: read refused', () => {
    const { box, files, fired } = racing((b) => {
      rmSync(join(b.workspace, 'a.txt'));
      symlinkSync(join(b.outside, 'secret.txt'), join(b.workspace, 'a.txt'));
    });
    writeFileSync(join(box.workspace, 'a.txt'), 'harmless');
    assert.equal(
      codeOf(() => files.read('a.txt')),
      'outside_workspace',
    );
    assert.ok(fired());
  });

  test('directory swapped for a link: read refused', () => {
    const { box, files, fired } = racing((b) => {
      renameSync(join(b.workspace, 'dir'), join(b.workspace, 'dir.old'));
      symlinkSync(b.outside, join(b.workspace, 'dir'));
      writeFileSync(join(b.outside, 'a.txt'), SECRET);
    });
    mkdirSync(join(box.workspace, 'dir'));
    writeFileSync(join(box.workspace, 'dir', 'a.txt'), 'harmless');
    assert.equal(
      codeOf(() => files.read('dir/a.txt')),
      'outside_workspace',
    );
    assert.ok(fired());
  });

  test('directory swapped for a link: list refused', () => {
    const { box, files, fired } = racing((b) => {
      rmSync(join(b.workspace, 'dir'), { recursive: true });
      symlinkSync(b.outside, join(b.workspace, 'dir'));
    });
    mkdirSync(join(box.workspace, 'dir'));
    assert.equal(
      codeOf(() => files.list('dir')),
      'outside_workspace',
    );
    assert.ok(fired());
  });

  test('parent directory swapped for a link: write refused, nothing written outside', () => {
    const { box, files, fired } = racing((b) => {
      rmSync(join(b.workspace, 'dir'), { recursive: true });
      symlinkSync(b.outside, join(b.workspace, 'dir'));
    });
    mkdirSync(join(box.workspace, 'dir'));
    assert.equal(
      codeOf(() => files.write('dir/secret.txt', 'pwned')),
      'outside_workspace',
    );
    assert.ok(fired());
    assert.equal(readFileSync(join(box.outside, 'secret.txt'), 'utf8'), SECRET);
  });

  test('an intermediate directory swapped for a link: write refused (only the descriptor check sees it)', () => {
    const { box, files, fired } = racing((b) => {
      renameSync(join(b.workspace, 'top'), join(b.workspace, 'top.old'));
      symlinkSync(b.outside, join(b.workspace, 'top'));
      mkdirSync(join(b.outside, 'sub'));
    });
    mkdirSync(join(box.workspace, 'top', 'sub'), { recursive: true });
    assert.equal(
      codeOf(() => files.write('top/sub/x.txt', 'pwned')),
      'outside_workspace',
    );
    assert.ok(fired());
    assert.throws(() => readFileSync(join(box.outside, 'sub', 'x.txt')));
  });

  test('an intermediate directory swapped for a link: list refused (only the descriptor check sees it)', () => {
    const { box, files, fired } = racing((b) => {
      renameSync(join(b.workspace, 'top'), join(b.workspace, 'top.old'));
      symlinkSync(b.outside, join(b.workspace, 'top'));
      mkdirSync(join(b.outside, 'sub'));
    });
    mkdirSync(join(box.workspace, 'top', 'sub'), { recursive: true });
    assert.equal(
      codeOf(() => files.list('top/sub')),
      'outside_workspace',
    );
    assert.ok(fired());
  });

  test('ancestor swapped while new directories are created: write refused', () => {
    const { box, files, fired } = racing((b) => {
      rmSync(join(b.workspace, 'top'), { recursive: true });
      symlinkSync(b.outside, join(b.workspace, 'top'));
    });
    mkdirSync(join(box.workspace, 'top'));
    assert.equal(
      codeOf(() => files.write('top/new/deeper/x.txt', 'pwned')),
      'outside_workspace',
    );
    assert.ok(fired());
    assert.throws(() => readFileSync(join(box.outside, 'new', 'deeper', 'x.txt')));
  });
});

describe('the workspace itself', () => {
  test('must exist, be a directory and not be /', () => {
    const box = makeSandbox();
    assert.throws(() => Workspace.open(join(box.workspace, 'missing')), /does not exist/);
    writeFileSync(join(box.workspace, 'file'), 'x');
    assert.throws(() => Workspace.open(join(box.workspace, 'file')), /not a directory/);
    assert.throws(() => Workspace.open('/'), /file system root/);
  });

  test('reached through a link: both its configured and its real path are accepted', () => {
    const box = makeSandbox();
    const alias = join(box.outside, 'ws-alias');
    symlinkSync(box.workspace, alias);
    const files = new FileTools(Workspace.open(alias));
    files.write(join(alias, 'a.txt'), 'one');
    assert.equal(files.read(join(box.workspace, 'a.txt')), 'one');
    assert.equal(
      codeOf(() => files.read(join(box.outside, 'secret.txt'))),
      'outside_workspace',
    );
  });
});

/** The UI token: fixed, from a file that is re-read when it changes, or generated (kept 0600 in a state dir). */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MIN_TOKEN_CHARS, resolveTokenSource, rotateTokenFile, tokenFile, writeTokenFile } from './token.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'closedpaw-token-test-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const GOOD = 'a'.repeat(MIN_TOKEN_CHARS);

describe('tokenFile', () => {
  test('reads the token (trailing newline ignored) and follows every change', async () => {
    const file = join(dir, 'follow');
    await writeFile(file, `${GOOD}\n`);
    const source = tokenFile(file);
    assert.equal(source.current(), GOOD);
    const v = source.version();
    await writeFile(file, `${'b'.repeat(40)}\n`);
    assert.equal(source.current(), 'b'.repeat(40));
    assert.ok(source.version() > v);
    const rotated = rotateTokenFile(file);
    assert.equal(source.current(), rotated);
  });

  test('a file that becomes unusable means no token at all, with a message that says what to do', async () => {
    const file = join(dir, 'breaks');
    await writeFile(file, GOOD);
    const problems: Array<string | undefined> = [];
    const source = tokenFile(file, (p) => problems.push(p));
    for (const [content, why] of [
      ['short', /at least 32 characters/],
      [`${GOOD} ${GOOD}`, /whitespace/],
    ] as const) {
      await writeFile(file, content);
      assert.equal(source.current(), undefined);
      assert.match(source.problem() ?? '', why);
      assert.match(source.problem() ?? '', /write a token of at least 32 characters into it/);
    }
    await rm(file);
    assert.equal(source.current(), undefined);
    await writeFile(file, GOOD);
    assert.equal(source.current(), GOOD);
    assert.equal(source.problem(), undefined);
    assert.equal(problems.length, 4, 'one report per change, none for the first read');
    assert.equal(problems.at(-1), undefined, 'the last change made it usable again');
  });

  test('refuses at start when the file is missing or invalid', async () => {
    assert.throws(() => tokenFile(join(dir, 'nope')), /unusable .*ENOENT/);
    const file = join(dir, 'tiny');
    await writeFile(file, 'x');
    assert.throws(() => tokenFile(file), /at least 32 characters/);
  });
});

describe('writeTokenFile / rotateTokenFile', () => {
  test('mode 0600, atomic (no temporary file left), a fresh token each time', async () => {
    const file = join(dir, 'written');
    const first = writeTokenFile(file);
    const second = rotateTokenFile(file);
    assert.notEqual(first, second);
    assert.ok(second.length >= MIN_TOKEN_CHARS);
    assert.equal(await readFile(file, 'utf8'), `${second}\n`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('written')),
      ['written'],
    );
  });
});

describe('resolveTokenSource', () => {
  test('CLOSEDPAW_UI_TOKEN: fixed; too short is refused', () => {
    assert.equal(resolveTokenSource({ token: GOOD }).current(), GOOD);
    assert.throws(() => resolveTokenSource({ token: 'short' }), /CLOSEDPAW_UI_TOKEN: .*at least 32/);
  });

  test('both a token and a token file: refused', () => {
    assert.throws(() => resolveTokenSource({ token: GOOD, tokenFile: '/x' }), /either .* not both/);
  });

  test('a state dir: a generated token in <stateDir>/ui-token (0600), rotatable', async () => {
    const stateDir = join(dir, 'state', 'nested');
    const source = resolveTokenSource({ stateDir });
    const file = join(stateDir, 'ui-token');
    assert.equal(`${source.current()}\n`, await readFile(file, 'utf8'));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const next = rotateTokenFile(file);
    assert.equal(source.current(), next);
  });

  test('nothing configured: a generated token in memory only', () => {
    const source = resolveTokenSource({});
    assert.ok((source.current() ?? '').length >= MIN_TOKEN_CHARS);
    assert.equal(source.origin, 'generated at start');
  });
});

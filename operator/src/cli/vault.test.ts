import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadKeyring } from '../audit/index.ts';
import { Vault } from '../vault/index.ts';
import { runVaultCli } from './vault.ts';

const SECRET = 'sk-proj-CLITEST-0123456789abcdef-value';

describe('closedpaw vault', () => {
  let state: string;
  before(async () => {
    state = await mkdtemp(join(tmpdir(), 'closedpaw-vault-cli-'));
  });
  after(() => rm(state, { recursive: true, force: true }));

  async function cli(args: string[], stdin = '', env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runVaultCli(args, {
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
      stdin: Readable.from(stdin === '' ? [] : [Buffer.from(stdin)]),
      env: { CLOSEDPAW_STATE_DIR: state, ...env },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  test('set reads stdin, stores it encrypted, and never prints it; list shows names; delete removes', async () => {
    const set = await cli(['set', 'openai'], `${SECRET}\n`);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /stored openai \(\d+ bytes, encrypted\)/);
    assert.match(set.err, /generated key/, 'the first write makes the key the operator would make');
    assert.equal(await cli(['set', 'anthropic'], 'sk-ant-other').then((r) => r.code), 0);
    const list = await cli(['list']);
    assert.deepEqual(list.out.split('\n'), ['anthropic', 'openai']);

    const vault = await Vault.open(join(state, 'vault'), await loadKeyring(join(state, 'audit-keys')));
    assert.equal(
      (await vault.get('openai')).reveal(),
      SECRET,
      'the trailing newline is not part of the value',
    );
    const onDisk = await readFile(join(state, 'vault', 'openai.json'), 'utf8');
    assert.equal(onDisk.includes(SECRET), false);
    for (const r of [set, list]) assert.equal(`${r.out}${r.err}`.includes(SECRET), false);

    assert.deepEqual(await cli(['delete', 'openai']).then((r) => [r.code, r.out]), [0, 'deleted openai']);
    assert.deepEqual(await cli(['delete', 'openai']).then((r) => r.code), 1);
    assert.deepEqual(await readdir(join(state, 'vault')), ['anthropic.json']);
  });

  for (const [what, args, stdin, code, message] of [
    ['a value given as an argument', ['set', 'openai', SECRET], '', 2, /unexpected argument/],
    ['an empty stdin', ['set', 'openai'], '', 1, /no value on stdin/],
    ['a multi-line value', ['set', 'openai'], 'a\nb\n', 1, /spans several lines/],
    ['a bad name', ['set', '../keys'], 'x', 2, /invalid name/],
    ['an unknown command', ['show', 'openai'], '', 2, /unknown command "show"/],
  ] as const) {
    test(`refuses ${what}`, async () => {
      const r = await cli([...args], stdin);
      assert.equal(r.code, code, r.err);
      assert.match(r.err, message);
      assert.equal(r.err.includes(SECRET), false, 'a value is never echoed back');
    });
  }

  test('with an explicit keys dir that holds no key, it says how to make one instead of making one', async () => {
    const keys = join(state, 'configured-keys');
    const r = await cli(['set', 'openai'], 'x', {
      CLOSEDPAW_AUDIT_KEYS_DIR: keys,
      CLOSEDPAW_VAULT_DIR: join(state, 'v2'),
    });
    assert.equal(r.code, 1);
    assert.match(r.err, /no vault key in .*configured-keys: start the operator once/);
  });
});

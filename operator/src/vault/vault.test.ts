import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { generateKey, type Keyring, loadKeyring } from '../audit/keys.ts';
import { SecretValue } from './secret.ts';
import { Vault, VaultError } from './vault.ts';

const SECRET = 'sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0-TOPSECRET';
const isVaultError = (code: string) => (e: unknown) => e instanceof VaultError && e.code === code;

describe('vault', () => {
  let dir: string;
  let keys: string;
  let keyring: Keyring;
  let vault: Vault;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-vault-'));
    keys = join(dir, 'keys');
    await generateKey(keys, { kid: 'k1' });
    keyring = await loadKeyring(keys);
    vault = await Vault.open(join(dir, 'vault'), keyring);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a stored key round-trips', async () => {
    await vault.put('openai', SECRET);
    const got = await vault.get('openai');
    assert.ok(got instanceof SecretValue);
    assert.equal(got.reveal(), SECRET);
    assert.deepEqual(await vault.list(), ['openai']);
    assert.equal(await vault.has('openai'), true);
  });

  test('the file on disk holds no plaintext in any encoding', async () => {
    const raw = await readFile(join(dir, 'vault', 'openai.json'));
    const entry = JSON.parse(raw.toString());
    const ciphertext = Buffer.from(entry.ciphertext, 'base64');
    for (const needle of [
      SECRET,
      'TOPSECRET',
      Buffer.from(SECRET).toString('base64'),
      Buffer.from(SECRET).toString('hex'),
    ]) {
      assert.equal(raw.includes(needle), false, needle);
      assert.equal(ciphertext.includes(needle), false, needle);
    }
    assert.deepEqual(Object.keys(entry).sort(), ['ciphertext', 'kid', 'nonce', 'provider', 'v']);
    assert.equal(Buffer.from(entry.nonce, 'base64').length, 24);
    assert.equal(ciphertext.length, Buffer.byteLength(SECRET) + 16);
  });

  test('nonces are fresh on every write', async () => {
    const nonce = async () => JSON.parse(await readFile(join(dir, 'vault', 'openai.json'), 'utf8')).nonce;
    const first = await nonce();
    await vault.put('openai', SECRET);
    assert.notEqual(await nonce(), first);
  });

  test('an entry copied to another provider name fails authentication (name is associated data)', async () => {
    const entry = JSON.parse(await readFile(join(dir, 'vault', 'openai.json'), 'utf8'));
    await writeFile(
      join(dir, 'vault', 'anthropic.json'),
      JSON.stringify({ ...entry, provider: 'anthropic' }),
    );
    await assert.rejects(vault.get('anthropic'), isVaultError('bad-mac'));
    await writeFile(join(dir, 'vault', 'anthropic.json'), JSON.stringify(entry));
    await assert.rejects(vault.get('anthropic'), isVaultError('corrupt'));
    assert.equal(await vault.delete('anthropic'), true);
    await assert.rejects(vault.get('anthropic'), isVaultError('not-found'));
  });

  test('a flipped ciphertext bit fails authentication', async () => {
    const path = join(dir, 'vault', 'openai.json');
    const original = await readFile(path, 'utf8');
    const entry = JSON.parse(original);
    const ct = Buffer.from(entry.ciphertext, 'base64');
    ct[0] = (ct[0] ?? 0) ^ 1;
    await writeFile(path, JSON.stringify({ ...entry, ciphertext: ct.toString('base64') }));
    await assert.rejects(vault.get('openai'), isVaultError('bad-mac'));
    await writeFile(path, original);
  });

  test('bad provider names are refused before touching the filesystem', async () => {
    for (const name of ['../keys/k1', 'UPPER', '', 'a/b', '.hidden']) {
      await assert.rejects(vault.put(name, 'x'), isVaultError('bad-name'), name);
    }
  });

  test('after key rotation old entries still decrypt, and rewrap moves them to the new key', async () => {
    await generateKey(keys, { kid: 'k2' });
    const rotated = await Vault.open(join(dir, 'vault'), await loadKeyring(keys));
    assert.equal((await rotated.get('openai')).reveal(), SECRET);
    assert.equal(await rotated.rewrap(), 1);
    assert.equal(JSON.parse(await readFile(join(dir, 'vault', 'openai.json'), 'utf8')).kid, 'k2');
    assert.equal((await rotated.get('openai')).reveal(), SECRET);
    await assert.rejects(
      vault.get('openai'),
      isVaultError('unknown-key'),
      'a keyring without k2 cannot read it',
    );
  });

  test('a SecretValue never prints', async () => {
    const s = await vault.get('openai').catch(() => new SecretValue(SECRET));
    for (const shown of [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect({ nested: { s } })]) {
      assert.equal(shown.includes(SECRET), false, shown);
    }
    assert.deepEqual(await readdir(join(dir, 'vault')), ['openai.json']);
  });
});

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  generateKey,
  KeyError,
  keyFileSchema,
  loadKeyring,
  loadPublicKeyring,
  newKeyFile,
  PublicKeyring,
  publicJwks,
} from './keys.ts';

describe('key files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('generateKey writes a 0600 key file in the documented format and activates it', async () => {
    const keys = join(dir, 'gen');
    const k = await generateKey(keys, { kid: 'k1' });
    assert.equal(k.path, join(keys, 'k1.json'));
    assert.equal((await stat(k.path)).mode & 0o777, 0o600);
    const file = keyFileSchema.parse(JSON.parse(await readFile(k.path, 'utf8')));
    assert.equal(Buffer.from(file.secret, 'base64').length, 32);
    assert.equal(file.signingKey.x, k.publicJwk.x);
    assert.equal((await readFile(join(keys, 'active'), 'utf8')).trim(), 'k1');
    await assert.rejects(generateKey(keys, { kid: 'k1' }), { code: 'EEXIST' });
  });

  test('rotation: a new key becomes active, old keys stay loadable by id', async () => {
    const keys = join(dir, 'rot');
    await generateKey(keys, { kid: 'old' });
    await generateKey(keys, { kid: 'new' });
    await generateKey(keys, { kid: 'staged', activate: false });
    const ring = await loadKeyring(keys);
    assert.equal(ring.active.kid, 'new');
    assert.deepEqual(ring.kids, ['new', 'old', 'staged']);
    assert.notDeepEqual(ring.get('old')?.recordKey, ring.get('new')?.recordKey);
    assert.equal(ring.get('missing'), undefined);
  });

  test('record and vault keys are distinct HKDF outputs of the secret', async () => {
    const ring = await loadKeyring(join(dir, 'rot'));
    const k = ring.active;
    assert.equal(k.recordKey.length, 32);
    assert.notDeepEqual(Buffer.from(k.recordKey), Buffer.from(k.vaultKey));
  });

  test('without an active file the newest key is used; dot-files (Secret mount links) are ignored', async () => {
    const keys = join(dir, 'noactive');
    await writeFileJson(join(keys, 'a.json'), newKeyFile('a', new Date('2024-01-01T00:00:00Z')), true);
    await writeFileJson(join(keys, 'b.json'), newKeyFile('b', new Date('2025-01-01T00:00:00Z')));
    await writeFile(join(keys, '..data'), 'not a key');
    assert.equal((await loadKeyring(keys)).active.kid, 'b');
  });

  test('malformed key files are rejected with the reason', async () => {
    const keys = join(dir, 'bad');
    const good = newKeyFile('k1');
    await writeFileJson(
      join(keys, 'k1.json'),
      { ...good, secret: Buffer.alloc(16).toString('base64') },
      true,
    );
    await assert.rejects(
      loadKeyring(keys),
      (e: Error) => e instanceof KeyError && /secret must be 32 bytes/.test(e.message),
    );
    await writeFileJson(join(keys, 'k1.json'), { ...good, kid: 'k2' });
    await assert.rejects(loadKeyring(keys), /declares kid "k2"/);
    const other = newKeyFile('x');
    await writeFileJson(join(keys, 'k1.json'), {
      ...good,
      signingKey: { ...good.signingKey, x: other.signingKey.x },
    });
    await assert.rejects(loadKeyring(keys), /signingKey.x does not match/);
    await writeFile(join(keys, 'k1.json'), '{nope');
    await assert.rejects(loadKeyring(keys), /not valid JSON/);
    await writeFile(join(keys, 'active'), 'ghost\n');
    await writeFileJson(join(keys, 'k1.json'), good);
    await assert.rejects(loadKeyring(keys), /active key id "ghost" has no key file/);
  });

  test('key objects never print their secrets', async () => {
    const ring = await loadKeyring(join(dir, 'rot'));
    const secret = Buffer.from(ring.active.recordKey).toString('hex');
    for (const s of [
      inspect(ring),
      inspect(ring.active),
      JSON.stringify(ring),
      JSON.stringify(ring.active),
    ]) {
      assert.ok(!s.includes(secret) && !s.includes('recordKey'), s);
    }
  });
});

describe('public keys (JWKS) for external auditors', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-jwks-'));
    await generateKey(dir, { kid: 'a' });
    await generateKey(dir, { kid: 'b' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('publicJwks lists every key id with its Ed25519 public key and nothing secret', async () => {
    const ring = await loadKeyring(dir);
    const jwks = publicJwks(ring);
    assert.deepEqual(
      jwks.keys.map((k) => [k.kid, k.kty, k.crv, k.alg, k.use, Object.keys(k).sort().join()]),
      ['a', 'b'].map((kid) => [kid, 'OKP', 'Ed25519', 'Ed25519', 'sig', 'alg,crv,kid,kty,use,x']),
    );
    const file = keyFileSchema.parse(JSON.parse(await readFile(join(dir, 'a.json'), 'utf8')));
    assert.equal(jwks.keys[0]?.x, file.signingKey.x);
    const pub = PublicKeyring.fromJwks(jwks);
    assert.deepEqual(pub.kids, ['a', 'b']);
    assert.equal(pub.get('a')?.verifyKey.type, 'public');
    assert.equal(pub.get('zz'), undefined);
  });

  test('a JWKS is refused with the reason: private material, wrong curve, bad key, no keys, not JSON', async () => {
    const jwks = publicJwks(await loadKeyring(dir));
    const first = jwks.keys[0];
    assert.ok(first);
    const withD = {
      keys: [
        {
          ...first,
          d: keyFileSchema.parse(JSON.parse(await readFile(join(dir, 'a.json'), 'utf8'))).signingKey.d,
        },
      ],
    };
    const cases: Array<[unknown, RegExp]> = [
      [withD, /key a holds private key material \("d"\); publish only public keys/],
      [{ keys: [{ ...first, crv: 'X25519' }] }, /crv/],
      [{ keys: [{ ...first, x: 'AAAA' }] }, /keys\[0\] \(a\) is not an Ed25519 public key/],
      [{ keys: [] }, /keys/],
      [{ keys: [{ ...first, kid: '../x' }] }, /kid/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => PublicKeyring.fromJwks(json, 'pub.json'),
        (e: Error) => e instanceof KeyError && message.test(e.message) && e.message.startsWith('pub.json: '),
      );
    }
    const path = join(dir, 'broken.jwks');
    await writeFile(path, '{nope');
    await assert.rejects(loadPublicKeyring(path), /broken\.jwks: not valid JSON/);
    await writeFile(path, JSON.stringify(jwks));
    assert.deepEqual((await loadPublicKeyring(path)).kids, ['a', 'b']);
  });
});

async function writeFileJson(path: string, value: unknown, createDir = false): Promise<void> {
  if (createDir) await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify(value));
}

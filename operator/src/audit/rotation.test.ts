import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKey, loadKeyring, PublicKeyring, publicJwks } from './keys.ts';
import { type AuditRecord, exportRecords } from './read.ts';
import { OFF_KID } from './record.ts';
import { at, type Fixture, fixture, frames, writeEvents } from './testkit.ts';
import { type VerifyReport, verifyLog } from './verify.ts';

describe('key rotation', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
    await writeEvents(f, 3); // under k1
    await generateKey(f.keysDir, { kid: 'k2' });
    f.keyring = await loadKeyring(f.keysDir);
    await writeEvents(f, 2, { from: 3 }); // under k2
  });
  after(() => f.cleanup());

  test('records under the old and the new key verify; the switch is itself recorded', async () => {
    const recs: AuditRecord[] = [];
    const r = await exportRecords({
      logPath: f.logPath,
      keyring: f.keyring,
      checkpointDir: f.checkpointDir,
      onRecord: (x) => recs.push(x),
    });
    assert.ok(r.ok);
    assert.deepEqual(
      recs.map((x) => x.kid),
      ['k1', 'k1', 'k1', 'k2', 'k2', 'k2'],
    );
    assert.deepEqual(at(recs, 3).event, { type: 'audit.key_rotated', fromKid: 'k1', toKid: 'k2' });
    assert.equal(r.local?.kid, 'k2', 'new checkpoints are signed with the new key');
  });

  test('dropping the old key makes its frames unverifiable, reported as an unknown key id', async () => {
    const onlyNew = join(f.dir, 'keys-new-only');
    await mkdir(onlyNew);
    await copyFile(join(f.keysDir, 'k2.json'), join(onlyNew, 'k2.json'));
    const r = await verifyLog({ logPath: f.logPath, keyring: await loadKeyring(onlyNew) });
    assert.deepEqual(problem(r), { code: 'unknown-key', message: 'unknown key id "k1"', seq: 1, offset: 24 });
  });

  test('a frame claiming a key id that is not in the key directory fails', async () => {
    const log = await readFile(f.logPath);
    const copy = Buffer.from(log);
    const second = at(frames(log), 1);
    copy.write('k9', second.offset + OFF_KID, 'latin1');
    const tampered = join(f.dir, 'tampered.log');
    await writeFile(tampered, copy);
    const r = await verifyLog({ logPath: tampered, keyring: f.keyring });
    assert.deepEqual(problem(r), {
      code: 'unknown-key',
      message: 'unknown key id "k9"',
      seq: 4, // the second frame: the first holds the 3 events written under k1
      offset: second.offset,
    });
  });
});

describe('public verification across a rotation', () => {
  let f: Fixture;
  before(async () => {
    f = await fixture();
    await writeEvents(f, 3);
    await generateKey(f.keysDir, { kid: 'k2' });
    f.keyring = await loadKeyring(f.keysDir);
    await writeEvents(f, 2, { from: 3 });
  });
  after(() => f.cleanup());

  test('the JWKS of both keys verifies the whole log; without the old public key its frames are unknown', async () => {
    const jwks = publicJwks(f.keyring);
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      ['k1', 'k2'],
    );
    const r = await verifyLog({
      logPath: f.logPath,
      keyring: PublicKeyring.fromJwks(jwks),
      checkpointDir: f.checkpointDir,
    });
    assert.ok(r.ok && r.level === 'public' && r.signedSeq === 6, JSON.stringify(r));
    const onlyNew = PublicKeyring.fromJwks({ keys: jwks.keys.filter((k) => k.kid === 'k2') });
    assert.deepEqual(problem(await verifyLog({ logPath: f.logPath, keyring: onlyNew })), {
      code: 'unknown-key',
      message: 'unknown key id "k1"',
      seq: 1,
      offset: 24,
    });
  });
});

function problem(r: VerifyReport) {
  assert.equal(r.ok, false);
  return (r as Extract<VerifyReport, { ok: false }>).problem;
}

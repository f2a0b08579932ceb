import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, SignJWT, UnsecuredJWT } from 'jose';
import { GATEWAY_TOKEN } from '../api/agent-protocol.ts';
import {
  createTokenVerifier,
  type GatewayKey,
  generateGatewayKey,
  issueTaskToken,
  loadOrCreateGatewayKey,
  TOKEN_GRACE_SECONDS,
  TokenError,
} from './tokens.ts';

const task = { namespace: 'team-a', name: 'fix-1', uid: '7c1e4f6a-0000-4000-8000-000000000001' };
const spec = {
  model: 'smollm2:135m',
  budget: { modelCalls: 10, tokens: 5000, bytes: 1_000_000 },
  timeoutSeconds: 600,
};
const NOW = new Date('2030-01-01T00:00:00Z');
const at = (seconds: number) => () => new Date(NOW.getTime() + seconds * 1000);

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

let key: GatewayKey;
let other: GatewayKey;
let good: string;
before(async () => {
  key = await generateGatewayKey();
  other = await generateGatewayKey();
  good = await issueTaskToken(key, task, spec, NOW);
});

describe('issueTaskToken', () => {
  test('carries the protocol claims, typ, kid and exp = iat + timeout + grace', async () => {
    const verifier = await createTokenVerifier(key.publicKey, { now: at(1) });
    const claims = await verifier.verify(good);
    const iat = NOW.getTime() / 1000;
    assert.equal(claims.iss, GATEWAY_TOKEN.issuer);
    assert.equal(claims.aud, GATEWAY_TOKEN.audience);
    assert.equal(claims.sub, 'team-a/fix-1');
    assert.deepEqual(claims.task, task);
    assert.equal(claims.model, spec.model);
    assert.deepEqual(claims.budget, spec.budget);
    assert.equal(claims.iat, iat);
    assert.equal(claims.exp, iat + spec.timeoutSeconds + TOKEN_GRACE_SECONDS);
    const header = JSON.parse(Buffer.from(good.split('.')[0] ?? '', 'base64url').toString());
    assert.deepEqual(header, { alg: 'EdDSA', typ: GATEWAY_TOKEN.type, kid: key.kid });
  });

  test('each token has its own random jti', async () => {
    const verifier = await createTokenVerifier(key.publicKey, { now: at(1) });
    const a = await verifier.verify(await issueTaskToken(key, task, spec, NOW));
    const b = await verifier.verify(await issueTaskToken(key, task, spec, NOW));
    assert.notEqual(a.jti, b.jti);
    assert.ok(a.jti.length >= 16);
  });

  test('refuses bad input with a message naming the field', async () => {
    await assert.rejects(issueTaskToken(key, task, { ...spec, timeoutSeconds: 0 }, NOW), /timeoutSeconds/);
    await assert.rejects(issueTaskToken(key, task, { ...spec, model: '' }, NOW), /model/);
    await assert.rejects(
      issueTaskToken(key, task, { ...spec, budget: { ...spec.budget, tokens: 0 } }, NOW),
      /budget\.tokens/,
    );
    await assert.rejects(issueTaskToken(key, { ...task, uid: '' }, spec, NOW), /task\.uid/);
  });
});

describe('createTokenVerifier refuses', () => {
  const forge = async (header: Record<string, unknown>, payload: Record<string, unknown>) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', ...header }).sign(key.privateKey);
  const claims = () => JSON.parse(Buffer.from(good.split('.')[1] ?? '', 'base64url').toString());

  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['alg none', async () => new UnsecuredJWT(claims()).encode(), /algorithm not allowed|malformed/],
    ...(['jwk-json', 'x-string', 'x-bytes'] as const).map(
      (variant): [string, () => Promise<string>, RegExp] => [
        `HS256 signed with the public key (${variant}) as the secret`,
        async () => {
          const jwk = await exportJWK(key.publicKey);
          const secret =
            variant === 'jwk-json'
              ? JSON.stringify(jwk)
              : variant === 'x-string'
                ? (jwk.x ?? '')
                : Buffer.from(jwk.x ?? '', 'base64url');
          const signingInput = `${b64({ alg: 'HS256', typ: GATEWAY_TOKEN.type })}.${b64(claims())}`;
          return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
        },
        /algorithm not allowed/,
      ],
    ),
    [
      'a tampered payload (other model)',
      async () => {
        const [h, , s] = good.split('.');
        return `${h}.${b64({ ...claims(), model: 'llama3:70b' })}.${s}`;
      },
      /signature invalid/,
    ],
    [
      'a tampered payload (other task)',
      async () => {
        const [h, , s] = good.split('.');
        return `${h}.${b64({ ...claims(), task: { ...task, uid: 'other' } })}.${s}`;
      },
      /signature invalid/,
    ],
    ['a token signed by another key', () => issueTaskToken(other, task, spec, NOW), /signature invalid/],
    [
      'an expired token',
      () => issueTaskToken(key, task, spec, new Date(NOW.getTime() - 3600_000)),
      /expired/,
    ],
    [
      'a token issued in the future',
      () => forge({ typ: GATEWAY_TOKEN.type }, { ...claims(), iat: claims().iat + 3600 }),
      /issued in the future/,
    ],
    ['wrong audience', () => forge({ typ: GATEWAY_TOKEN.type }, { ...claims(), aud: 'kubernetes' }), /"aud"/],
    ['wrong issuer', () => forge({ typ: GATEWAY_TOKEN.type }, { ...claims(), iss: 'someone' }), /"iss"/],
    ['wrong typ', () => forge({ typ: 'JWT' }, claims()), /"typ"/],
    ['no typ', () => forge({}, claims()), /"typ"/],
    [
      'claims missing the budget',
      () => forge({ typ: GATEWAY_TOKEN.type }, { ...claims(), budget: undefined }),
      /claims invalid: budget/,
    ],
    [
      'a subject that is not its task',
      () => forge({ typ: GATEWAY_TOKEN.type }, { ...claims(), sub: 'team-b/other' }),
      /subject/,
    ],
    ['garbage', async () => 'not-a-token', /malformed/],
  ];
  for (const [name, make, reason] of cases) {
    test(name, async () => {
      const verifier = await createTokenVerifier(key.publicKey, { now: at(1) });
      const token = await make();
      await assert.rejects(verifier.verify(token), (err: unknown) => {
        assert.ok(err instanceof TokenError, `expected TokenError, got ${err}`);
        assert.match(err.message, reason);
        return true;
      });
    });
  }

  test('a token past exp + tolerance, but not one within tolerance', async () => {
    const life = spec.timeoutSeconds + TOKEN_GRACE_SECONDS;
    await (await createTokenVerifier(key.publicKey, { now: at(life + 10) })).verify(good);
    await assert.rejects(
      (await createTokenVerifier(key.publicKey, { now: at(life + 31) })).verify(good),
      /expired/,
    );
  });

  test('a token verified once (and cached) still expires', async () => {
    let now = at(1)();
    const verifier = await createTokenVerifier(key.publicKey, { now: () => now });
    const claims = await verifier.verify(good);
    assert.equal(await verifier.verify(good), claims, 'served from the cache');
    assert.ok(Object.isFrozen(claims.task), 'cached claims cannot be changed by a caller');
    now = new Date((claims.exp + 31) * 1000);
    await assert.rejects(verifier.verify(good), /expired/);
    await assert.rejects(verifier.verify(good), /expired/);
  });

  test('the cache is bounded and a cached token does not vouch for a tampered one', async () => {
    const verifier = await createTokenVerifier(key.publicKey, { now: at(1), cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map(() => issueTaskToken(key, task, spec, NOW)));
    for (const t of tokens) await verifier.verify(t);
    const [h, , s] = good.split('.');
    const tampered = `${h}.${b64({ ...JSON.parse(Buffer.from(good.split('.')[1] ?? '', 'base64url').toString()), model: 'x' })}.${s}`;
    await verifier.verify(good);
    await assert.rejects(verifier.verify(tampered), /signature invalid/);
  });

  test('a verifier built from the private key or another curve', async () => {
    await assert.rejects(createTokenVerifier(key.privateKey), /public key/);
    await assert.rejects(createTokenVerifier({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }), /Ed25519/);
  });

  test('accepts the public key as a JWK', async () => {
    const verifier = await createTokenVerifier(await exportJWK(key.publicKey), { now: at(1) });
    assert.equal((await verifier.verify(good)).task.uid, task.uid);
  });
});

describe('loadOrCreateGatewayKey', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'closedpaw-gw-key-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('creates a 0600 private JWK and loads the same key after a restart', async () => {
    const file = join(dir, 'keys', 'gateway.jwk');
    const first = await loadOrCreateGatewayKey(file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(stored.kty, 'OKP');
    assert.equal(typeof stored.d, 'string');
    const second = await loadOrCreateGatewayKey(file);
    assert.equal(second.kid, first.kid);
    const token = await issueTaskToken(first, task, spec, NOW);
    const verifier = await createTokenVerifier(second.publicKey, { now: at(1) });
    assert.equal((await verifier.verify(token)).sub, 'team-a/fix-1');
  });

  test('concurrent creators end up with one key', async () => {
    const file = join(dir, 'race.jwk');
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateGatewayKey(file)));
    assert.equal(new Set(keys.map((k) => k.kid)).size, 1);
  });

  test('refuses a key file others can read, and a corrupt one', async () => {
    const file = join(dir, 'open.jwk');
    await loadOrCreateGatewayKey(file);
    await chmod(file, 0o644);
    await assert.rejects(loadOrCreateGatewayKey(file), /chmod 600/);
    const corrupt = join(dir, 'corrupt.jwk');
    await writeFile(corrupt, '{"kty":', { mode: 0o600 });
    await assert.rejects(loadOrCreateGatewayKey(corrupt), /not JSON/);
    const publicOnly = join(dir, 'public.jwk');
    await writeFile(publicOnly, JSON.stringify(await exportJWK(key.publicKey)), { mode: 0o600 });
    await assert.rejects(loadOrCreateGatewayKey(publicOnly), /private part/);
  });
});

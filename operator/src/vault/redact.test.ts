import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { vaultLoggerOptions, vaultRedactPaths } from './redact.ts';
import { REDACTED, SecretValue } from './secret.ts';

const SECRET = 'sk-ant-api03-ZXhhbXBsZS1zZWNyZXQta2V5LWRvLW5vdC1sb2c';

function capture(options: pino.LoggerOptions): { log: pino.Logger; output: () => string } {
  const lines: string[] = [];
  const log = pino(options, { write: (s: string) => lines.push(s) });
  return { log, output: () => lines.join('') };
}

function logEverything(log: pino.Logger): void {
  const secret = new SecretValue(SECRET);
  log.info({ apiKey: SECRET }, 'top-level field');
  log.info({ provider: { name: 'anthropic', apiKey: SECRET } }, 'nested field');
  log.info({ call: { provider: { api_key: SECRET } } }, 'two levels deep');
  log.info({ req: { headers: { authorization: `Bearer ${SECRET}`, 'x-api-key': SECRET } } }, 'headers');
  log.info({ secret }, 'secret value field');
  log.info({ anything: secret, list: [secret] }, 'secret value anywhere');
  log.info('interpolated %s and %j', secret, { secret });
  log.child({ token: SECRET }).warn('child bindings');
}

describe('vault log redaction', () => {
  test('control: without the vault options a plaintext key does reach the log', () => {
    const { log, output } = capture({});
    log.info({ apiKey: SECRET }, 'leak');
    assert.ok(output().includes(SECRET), 'the test harness must be able to see a leak');
  });

  test('with the vault options, no logged form of a vault secret shows it', () => {
    const { log, output } = capture({ ...vaultLoggerOptions });
    logEverything(log);
    const out = output();
    assert.equal(out.includes(SECRET), false, out);
    assert.equal(out.includes(SECRET.slice(8, 30)), false, 'no fragment either');
    assert.equal(out.split('\n').filter(Boolean).length, 8, 'every line was still logged');
    assert.ok(out.includes(REDACTED));
  });

  test('the redact list covers the expected field names at several depths', () => {
    for (const p of [
      'apiKey',
      '*.apiKey',
      '*.*.apiKey',
      'authorization',
      '*.headers.authorization',
      'token',
    ]) {
      assert.ok(vaultRedactPaths.includes(p), p);
    }
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

test('defaults are sane and loopback-only', () => {
  const config = loadConfig({});
  assert.equal(config.ollama.port, 11434);
  assert.equal(config.allowDns, false);
  assert.equal(config.ui?.host, '127.0.0.1');
  assert.equal(config.httpHost, '127.0.0.1');
});

const bad: Array<[Record<string, string>, RegExp]> = [
  [{ CLOSEDPAW_OLLAMA_PORT: '70000' }, /CLOSEDPAW_OLLAMA_PORT/],
  [{ CLOSEDPAW_OLLAMA_IP: 'ollama.local' }, /CLOSEDPAW_OLLAMA_IP/],
  [{ CLOSEDPAW_ALLOW_DNS: 'yes' }, /CLOSEDPAW_ALLOW_DNS/],
  [{ CLOSEDPAW_UI_ADDR: '0.0.0.0:7780' }, /CLOSEDPAW_UI_ADDR: the approval UI binds to loopback only/],
  [{ CLOSEDPAW_UI_TOKEN: 'short' }, /CLOSEDPAW_UI_TOKEN: must be at least 32 characters/],
  [{ CLOSEDPAW_OLLAMA_POD_SELECTOR: 'app' }, /CLOSEDPAW_OLLAMA_POD_SELECTOR: expected k=v/],
  [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
];
for (const [env, message] of bad) {
  test(`a bad ${Object.keys(env)[0]} stops start-up naming the variable`, () => {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
    );
  });
}

test('a renew deadline not below the lease duration is refused, naming both variables', () => {
  assert.throws(
    () => loadConfig({ CLOSEDPAW_LEASE_DURATION_SECONDS: '5', CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS: '5' }),
    /CLOSEDPAW_LEASE_RENEW_DEADLINE_SECONDS must be less than CLOSEDPAW_LEASE_DURATION_SECONDS/,
  );
});

import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

test('defaults are sane and loopback-only', () => {
  const config = loadConfig({});
  assert.equal(config.gateway.egress.port, 11435);
  assert.deepEqual(config.gateway.listen, { host: '127.0.0.1', port: 11435 });
  assert.deepEqual(config.sandboxHandlers, ['runsc', 'kata*']);
  assert.equal(config.allowDns, false);
  assert.equal(config.ui?.host, '127.0.0.1');
  assert.equal(config.httpHost, '127.0.0.1');
});

const bad: Array<[Record<string, string>, RegExp]> = [
  [{ CLOSEDPAW_GATEWAY_PORT: '70000' }, /CLOSEDPAW_GATEWAY_PORT/],
  [{ CLOSEDPAW_GATEWAY_IP: 'gateway.local' }, /CLOSEDPAW_GATEWAY_IP/],
  [{ CLOSEDPAW_OLLAMA_URL: 'not a url' }, /CLOSEDPAW_OLLAMA_URL/],
  [{ CLOSEDPAW_SANDBOX_HANDLERS: 'runsc, runc' }, /CLOSEDPAW_SANDBOX_HANDLERS: expected handler names/],
  [{ CLOSEDPAW_ALLOW_DNS: 'yes' }, /CLOSEDPAW_ALLOW_DNS/],
  [{ CLOSEDPAW_UI_ADDR: '0.0.0.0:7780' }, /CLOSEDPAW_UI_ADDR: the approval UI binds to loopback only/],
  [{ CLOSEDPAW_UI_TOKEN: 'short' }, /CLOSEDPAW_UI_TOKEN: must be at least 32 characters/],
  [{ CLOSEDPAW_GATEWAY_POD_SELECTOR: 'app' }, /CLOSEDPAW_GATEWAY_POD_SELECTOR: expected k=v/],
  [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
  [
    { CLOSEDPAW_UI_TOKEN: 'x'.repeat(40), CLOSEDPAW_UI_TOKEN_FILE: '/t' },
    /CLOSEDPAW_UI_TOKEN_FILE: set either CLOSEDPAW_UI_TOKEN or CLOSEDPAW_UI_TOKEN_FILE, not both/,
  ],
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

test('the gateway egress port follows the URL pods use, unless set', () => {
  assert.equal(loadConfig({ CLOSEDPAW_GATEWAY_URL: 'http://10.96.0.20:8443' }).gateway.egress.port, 8443);
  const both = { CLOSEDPAW_GATEWAY_URL: 'http://10.96.0.20:8443', CLOSEDPAW_GATEWAY_PORT: '11435' };
  assert.equal(loadConfig(both).gateway.egress.port, 11435);
  assert.equal(loadConfig({ CLOSEDPAW_GATEWAY_ADDR: 'off' }).gateway.listen, undefined);
  // Listening on any free port: the policy's port is the one the gateway binds (0 here: settled at listen).
  assert.equal(loadConfig({ CLOSEDPAW_GATEWAY_ADDR: '10.244.0.1:0' }).gateway.egress.port, 0);
  assert.equal(loadConfig({ CLOSEDPAW_GATEWAY_ADDR: '10.244.0.1:9000' }).gateway.egress.port, 9000);
});

test('audit is on by default, in the state directory, with a key the operator may generate', () => {
  const config = loadConfig({ CLOSEDPAW_STATE_DIR: '/var/lib/closedpaw' });
  assert.deepEqual(config.audit, {
    logPath: '/var/lib/closedpaw/audit/audit.log',
    keysDir: '/var/lib/closedpaw/audit-keys',
    generateKeys: true,
    checkpointDir: '/var/lib/closedpaw/checkpoints',
  });
  assert.equal(config.gateway.keyFile, '/var/lib/closedpaw/gateway-key.jwk');
  const mounted = loadConfig({ CLOSEDPAW_STATE_DIR: '/s', CLOSEDPAW_AUDIT_KEYS_DIR: '/etc/keys' });
  assert.equal(mounted.audit?.generateKeys, false, 'a configured key directory is never written to');
  assert.equal(loadConfig({ CLOSEDPAW_AUDIT: 'off' }).audit, undefined, 'off only when asked');
  assert.throws(() => loadConfig({ CLOSEDPAW_AUDIT: 'no' }), /CLOSEDPAW_AUDIT/);
});

test('the state directory comes from the environment given, not the process; relative dirs are resolved', () => {
  const saved = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = '/process/state';
  try {
    const config = loadConfig({ XDG_STATE_HOME: '/given/state', CLOSEDPAW_AUDIT_KEYS_DIR: 'keys' });
    assert.equal(config.stateDir, '/given/state/closedpaw');
    assert.equal(config.vaultDir, '/given/state/closedpaw/vault');
    assert.equal(config.audit?.logPath, '/given/state/closedpaw/audit/audit.log');
    assert.equal(config.audit?.keysDir, resolve('keys'));
    assert.equal(config.audit?.generateKeys, false);
    assert.equal(config.gateway.keyFile, '/given/state/closedpaw/gateway-key.jwk');
  } finally {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
  }
});

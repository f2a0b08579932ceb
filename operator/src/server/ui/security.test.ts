/** AuthThrottle: failures only, per client / per connection / global, refilled over time. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AuthLimits, AuthThrottle, clientKey } from './security.ts';

const limits = (client: number, connection: number, global: number): AuthLimits => ({
  perClient: { burst: client, refillPerSecond: 1 },
  perConnection: { burst: connection, refillPerSecond: 1 },
  global: { burst: global, refillPerSecond: 1 },
});

/** Fails `n` times and returns how many were throttled. */
function failMany(throttle: AuthThrottle, n: number, client: string, connection: object): number {
  let throttled = 0;
  for (let i = 0; i < n; i++) if (throttle.failure(client, connection) !== undefined) throttled++;
  return throttled;
}

describe('AuthThrottle', () => {
  test('per connection: one noisy connection is stopped, a fresh one from the same client is not', () => {
    const t = new AuthThrottle(limits(100, 3, 100), () => 0);
    const noisy = {};
    assert.equal(failMany(t, 5, '127.0.0.1', noisy), 2);
    assert.equal(t.failure('127.0.0.1', {}), undefined);
  });

  test('per client: all connections of a client share a bucket, other clients do not', () => {
    const t = new AuthThrottle(limits(4, 100, 100), () => 0);
    for (let i = 0; i < 4; i++) assert.equal(t.failure('127.0.0.1', {}), undefined);
    assert.ok(t.failure('127.0.0.1', {})! >= 1);
    assert.equal(t.failure('127.0.0.2', {}), undefined);
  });

  test('global: failures from many clients add up', () => {
    const t = new AuthThrottle(limits(100, 100, 3), () => 0);
    for (let i = 0; i < 3; i++) assert.equal(t.failure(`10.0.0.${i}`, {}), undefined);
    assert.ok(t.failure('10.0.0.99', {})! >= 1);
  });

  test('a throttled failure is not counted again; buckets refill; Retry-After is the longest wait', () => {
    let now = 0;
    const t = new AuthThrottle(
      {
        perClient: { burst: 2, refillPerSecond: 1 },
        perConnection: { burst: 100, refillPerSecond: 1 },
        global: { burst: 100, refillPerSecond: 0.25 },
      },
      () => now,
    );
    const c = {};
    t.failure('a', c);
    t.failure('a', c);
    assert.equal(t.failure('a', c), 1);
    assert.equal(t.failure('a', c), 1, 'still one second: the throttled attempts took nothing');
    now += 1000;
    assert.equal(t.failure('a', c), undefined);
  });

  test('clientKey: the address without port; IPv4-mapped IPv6 folded', () => {
    const table: Array<[string | undefined, string]> = [
      ['127.0.0.1', '127.0.0.1'],
      ['::ffff:127.0.0.1', '127.0.0.1'],
      ['::1', '::1'],
      ['::FFFF:10.1.2.3', '10.1.2.3'],
      [undefined, 'unknown'],
    ];
    for (const [input, expected] of table) assert.equal(clientKey(input), expected, String(input));
  });
});

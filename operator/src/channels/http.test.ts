import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { backoffMs, callPlatform, DEFAULT_RETRY, Outbox, retryAfterMs } from './http.ts';

describe('platform calls', () => {
  test('retry hints: header, Discord body, Telegram parameters, capped', () => {
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '3' }), undefined, 60_000), 3000);
    assert.equal(retryAfterMs(new Headers(), { retry_after: 0.25 }, 60_000), 250);
    assert.equal(retryAfterMs(new Headers(), { parameters: { retry_after: 7 } }, 60_000), 7000);
    assert.equal(retryAfterMs(new Headers(), { parameters: { retry_after: 700 } }, 30_000), 30_000);
    assert.equal(retryAfterMs(new Headers(), {}, 1), undefined);
  });

  test('backoff doubles, with jitter, up to the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 10].map((a) => backoffMs(a, DEFAULT_RETRY, () => 1)),
      [500, 1000, 2000, 30_000],
    );
    assert.equal(
      backoffMs(1, DEFAULT_RETRY, () => 0),
      250,
    );
  });

  test('429 and 5xx are retried with the waits asked for; 4xx is final; the URL (token) is never in the error', async (t) => {
    const answers = [429, 503, 200];
    let seen = 0;
    const server = createServer((_req, res) => {
      const status = answers[seen++] ?? 400;
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(status === 429 ? { 'retry-after': '2' } : {}),
      });
      res.end(JSON.stringify(status === 200 ? { ok: true } : { ok: false, description: 'nope' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => server.close());
    const url = new URL(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/botSECRET-TOKEN/sendMessage`,
    );
    const waits: number[] = [];
    const wait = async (ms: number) => void waits.push(ms);
    const res = await callPlatform('telegram sendMessage', url, { body: {} }, DEFAULT_RETRY, wait);
    assert.equal(res.status, 200);
    assert.equal(waits[0], 2000, 'Retry-After obeyed');
    assert.equal(waits.length, 2);
    const err = await callPlatform('telegram sendMessage', url, { body: {} }, DEFAULT_RETRY, wait).catch(
      (e: Error) => e,
    );
    assert.match(String(err), /HTTP 400 nope/);
    assert.equal(String(err).includes('SECRET-TOKEN'), false);
  });

  test('an unreachable platform gives up after the attempts, without the URL in the message', async () => {
    const err = await callPlatform(
      'slack chat.postMessage',
      new URL('http://127.0.0.1:9/xoxb-SECRET'),
      { body: {} },
      { ...DEFAULT_RETRY, attempts: 2 },
      async () => {},
    ).catch((e: Error) => e);
    assert.match(String(err), /unreachable \(gave up after 2 attempts\)/);
    assert.equal(String(err).includes('SECRET'), false);
  });
});

describe('outbox', () => {
  test('one send at a time; bounded: the oldest waiting send is dropped, not the operator', async () => {
    const outbox = new Outbox(2);
    let release: () => void = () => {};
    const order: number[] = [];
    const first = outbox.enqueue(
      () =>
        new Promise<void>(
          (r) =>
            (release = () => {
              order.push(1);
              r();
            }),
        ),
    );
    const results = [2, 3, 4].map((n) =>
      outbox
        .enqueue(async () => void order.push(n))
        .then(
          () => 'sent',
          (e: Error) => e.message,
        ),
    );
    release();
    await first;
    assert.deepEqual(await Promise.all(results), [
      'dropped: the channel is backed up (outage or rate limit)',
      'sent',
      'sent',
    ]);
    assert.deepEqual(order, [1, 3, 4]);
    await outbox.idle();
    assert.equal(outbox.pending, 0);
  });
});

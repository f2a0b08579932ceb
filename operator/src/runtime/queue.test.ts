import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { createRuntimeMetrics } from './metrics.ts';
import { RateLimiter, WorkQueue } from './queue.ts';

async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `metric ${name} is registered`);
  const { values } = await metric.get();
  const found = values.find(
    (v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && !('le' in v.labels),
  );
  assert.ok(found, `${name}${JSON.stringify(labels)} exists`);
  return found.value;
}

/** Lets pending promise callbacks run (no wall-clock waiting). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('WorkQueue', () => {
  test('a queued key is not queued twice; order is FIFO', async () => {
    const q = new WorkQueue('dedupe');
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  test('a key added while processing is held back and re-queued once on done()', async () => {
    const q = new WorkQueue('dirty');
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not handed out while in processing');
    q.done('a');
    assert.equal(q.len(), 1, 're-queued exactly once');
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.len(), 0, 'no further copies');
  });

  test('a waiting get() receives the next added key', async () => {
    const q = new WorkQueue('handoff');
    const pending = q.get();
    q.add('x');
    assert.equal(await pending, 'x');
    q.add('x');
    assert.equal(q.len(), 0, 'x is processing: held back');
  });

  test('one key never runs on two workers at once, while different keys do run concurrently', async () => {
    const q = new WorkQueue('workers');
    const inFlight = new Set<string>();
    let maxParallel = 0;
    let overlaps = 0;
    let processed = 0;
    const worker = async () => {
      for (;;) {
        const key = await q.get();
        if (key === undefined) return;
        if (inFlight.has(key)) overlaps++;
        inFlight.add(key);
        maxParallel = Math.max(maxParallel, inFlight.size);
        // Meanwhile the producer re-adds the same keys.
        await flush();
        await flush();
        inFlight.delete(key);
        processed++;
        q.done(key);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let round = 0; round < 50; round++) {
      for (const key of ['k1', 'k2', 'k3']) q.add(key);
      await flush();
    }
    while (q.len() > 0 || q.processingLen() > 0) await flush();
    q.shutDown();
    await Promise.all(workers);
    assert.equal(overlaps, 0, 'a key was handed to two workers at once');
    assert.ok(maxParallel > 1, `different keys ran concurrently (max ${maxParallel})`);
    assert.ok(processed >= 3);
  });

  test('shutDown() unblocks waiting get() calls with undefined and ignores later adds', async () => {
    const q = new WorkQueue('shutdown');
    const waiting = [q.get(), q.get()];
    q.shutDown();
    assert.deepEqual(await Promise.all(waiting), [undefined, undefined]);
    q.add('late');
    q.addAfter('late', 10);
    q.addRateLimited('late');
    assert.equal(q.len(), 0);
    assert.equal(q.delayedLen(), 0);
    assert.equal(await q.get(), undefined);
  });

  test('addAfter parks a key until its deadline; the earliest deadline wins and there is no duplicate', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const q = new WorkQueue('after');
    q.addAfter('a', 100);
    q.addAfter('a', 50);
    q.addAfter('a', 500);
    q.addAfter('b', 0);
    assert.equal(q.len(), 1, 'delay 0 is an immediate add');
    t.mock.timers.tick(49);
    assert.equal(q.len(), 1);
    t.mock.timers.tick(1);
    assert.equal(q.len(), 2, 'a added at 50 ms');
    t.mock.timers.tick(1000);
    assert.equal(q.len(), 2, 'the superseded 100 ms and 500 ms deadlines add nothing');
    assert.equal(q.delayedLen(), 0);
    q.shutDown();
  });

  test('addRateLimited backs off exponentially per key; forget() resets it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const q = new WorkQueue('backoff', { baseDelayMs: 10, qps: 0 });
    const retryAfter = (key: string): number => {
      q.addRateLimited(key);
      let waited = 0;
      while (q.len() === 0) {
        t.mock.timers.tick(1);
        waited++;
        assert.ok(waited < 100_000, 'key never became ready');
      }
      return waited;
    };
    const drain = async () => {
      const key = await q.get();
      if (key) q.done(key);
    };
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(retryAfter('a'));
      await drain();
    }
    assert.deepEqual(delays, [10, 20, 40, 80]);
    assert.equal(q.numRequeues('a'), 4);
    assert.equal(q.numRequeues('other'), 0);
    q.forget('a');
    assert.equal(q.numRequeues('a'), 0);
    assert.equal(retryAfter('a'), 10, 'back to the base delay after forget()');
    q.shutDown();
  });

  test('the per-key backoff is capped at maxDelayMs', () => {
    const limiter = new RateLimiter({ baseDelayMs: 5, maxDelayMs: 30, qps: 0 });
    assert.deepEqual(
      Array.from({ length: 6 }, () => limiter.when('k')),
      [5, 10, 20, 30, 30, 30],
    );
    assert.deepEqual([limiter.when('other')], [5], 'keys back off independently');
  });

  test('the global token bucket delays retries across keys once the burst is spent', () => {
    let now = 0;
    const limiter = new RateLimiter({ baseDelayMs: 1, qps: 2, burst: 3, now: () => now });
    const delays = ['a', 'b', 'c', 'd', 'e'].map((k) => limiter.when(k));
    assert.deepEqual(delays, [1, 1, 1, 500, 1000], 'burst of 3, then one token per 500 ms');
    now += 1000; // two tokens refilled, the debt was two
    assert.equal(limiter.when('f'), 500);
    now += 10_000; // refills to the burst, not beyond
    assert.deepEqual(
      ['g', 'h', 'i', 'j'].map((k) => limiter.when(k)),
      [1, 1, 1, 500],
    );
  });

  test('the delay is the max of per-key backoff and the bucket', () => {
    const limiter = new RateLimiter({ baseDelayMs: 400, qps: 10, burst: 1, now: () => 0 });
    assert.equal(limiter.when('a'), 400, 'backoff dominates');
    assert.equal(limiter.when('b'), 400, 'bucket debt 100 ms < backoff 400 ms');
    limiter.when('c');
    limiter.when('d');
    limiter.when('e');
    assert.equal(limiter.when('f'), 500, 'bucket debt 500 ms > backoff 400 ms');
  });

  test('reports workqueue metrics', async () => {
    const registry = new Registry();
    const metrics = createRuntimeMetrics(registry);
    const q = new WorkQueue('metered', { metrics: metrics.queue, baseDelayMs: 1 });
    const labels = { name: 'metered' };
    assert.equal(await metricValue(registry, 'workqueue_depth', labels), 0, 'pre-initialised');
    assert.equal(await metricValue(registry, 'workqueue_adds_total', labels), 0, 'pre-initialised');
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(await metricValue(registry, 'workqueue_depth', labels), 2);
    assert.equal(
      await metricValue(registry, 'workqueue_adds_total', labels),
      2,
      'the duplicate is not an add',
    );
    const key = await q.get();
    assert.equal(await metricValue(registry, 'workqueue_depth', labels), 1);
    const since = performance.now();
    while (performance.now() - since < 3) {} // let the key be in flight for a measurable time
    assert.ok((await metricValue(registry, 'workqueue_longest_running_processor_seconds', labels)) >= 0.002);
    q.addRateLimited(key!);
    assert.equal(await metricValue(registry, 'workqueue_retries_total', labels), 1);
    q.done(key!);
    const work = await registry.getSingleMetric('workqueue_work_duration_seconds')!.get();
    const count = work.values.find(
      (v) => v.labels.name === 'metered' && (v as { metricName?: string }).metricName?.endsWith('_count'),
    );
    assert.equal(count?.value, 1);
    q.shutDown();
  });
});

test('a delay past what timers can hold is clamped, not fired at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const q = new WorkQueue('far');
  q.addAfter('k', 9e15); // e.g. an expiresAt in year 9999
  t.mock.timers.tick(1000);
  assert.equal(q.len(), 0, 'not handed out early');
  t.mock.timers.tick(2 ** 31);
  assert.equal(q.len(), 1, 'handed out once the clamped delay passed');
  q.shutDown();
});

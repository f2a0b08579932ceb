import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  Controller,
  type ReconcileContext,
  type ReconcileResult,
  type Reconciler,
  ReportedError,
  TerminalError,
} from './controller.ts';
import { createRuntimeMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';

interface LogLine {
  level: number;
  msg: string;
  controller?: string;
  namespace?: string;
  name?: string;
  reconcileID?: string;
  reason?: string;
}

function setup(
  reconcile: Reconciler,
  opts: {
    workers?: number;
    maxAttempts?: number;
    hooks?: ConstructorParameters<typeof Controller>[0]['hooks'];
  } = {},
) {
  const registry = new Registry();
  const metrics = createRuntimeMetrics(registry);
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, stream);
  // A fast backoff keeps retries quick; the queue is shared so tests can inspect it.
  const queue = new WorkQueue('test', { baseDelayMs: 1, maxDelayMs: 20, metrics: metrics.queue });
  const controller = new Controller({
    name: 'test',
    reconcile,
    queue,
    metrics: metrics.controller,
    logger,
    ...opts,
  });
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const { values } = await registry.getSingleMetric(name)!.get();
    const found = values.find(
      (v) => !('le' in v.labels) && Object.entries(labels).every(([k, l]) => v.labels[k] === l),
    );
    assert.ok(found, `${name}${JSON.stringify(labels)} exists`);
    return found.value;
  };
  const total = (result: string) =>
    value('controller_runtime_reconcile_total', { controller: 'test', result });
  return { registry, controller, queue, logs, value, total };
}

/** A reconciler driven by a script of outcomes; resolves `finished` after the last one. */
function scripted(outcomes: Array<ReconcileResult | Error>) {
  const calls: string[] = [];
  let resolveFinished: () => void;
  const finished = new Promise<void>((resolve) => {
    resolveFinished = resolve;
  });
  const reconcile: Reconciler = async (key) => {
    calls.push(key);
    const outcome = outcomes[calls.length - 1];
    if (calls.length >= outcomes.length) setImmediate(() => resolveFinished());
    if (outcome instanceof Error) throw outcome;
    return outcome ?? {};
  };
  return { reconcile, calls, finished };
}

/** Waits until the queue has nothing in flight, queued or parked. */
async function settled(queue: WorkQueue): Promise<void> {
  while (queue.len() > 0 || queue.processingLen() > 0 || queue.delayedLen() > 0) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Controller', () => {
  test('success: forgets the key, counts success, pre-initialises every result label', async () => {
    const script = scripted([{}]);
    const { controller, queue, total, value, logs } = setup(script.reconcile);
    assert.equal(await total('error'), 0, 'pre-initialised at 0');
    assert.equal(await value('controller_runtime_max_concurrent_reconciles', { controller: 'test' }), 4);
    await controller.start();
    controller.enqueue('ns1/obj');
    await script.finished;
    await settled(queue);
    await controller.stop();
    assert.deepEqual(script.calls, ['ns1/obj']);
    assert.equal(await total('success'), 1);
    assert.equal(await total('error'), 0);
    assert.equal(await total('requeue_after'), 0);
    assert.equal(await value('controller_runtime_active_workers', { controller: 'test' }), 0);
    const time = await value('controller_runtime_reconcile_time_seconds', { controller: 'test' });
    assert.ok(time > 0, 'the reconcile took a measurable time');
    assert.equal(queue.numRequeues('ns1/obj'), 0);
    assert.equal(logs.filter((l) => l.level >= 50).length, 0, 'no error logs');
  });

  test('requeueAfterMs: reconciles again after the delay, labelled requeue_after', async () => {
    const script = scripted([{ requeueAfterMs: 5 }, {}]);
    const { controller, queue, total } = setup(script.reconcile);
    await controller.start();
    controller.enqueue('ns1/obj');
    await script.finished;
    await settled(queue);
    await controller.stop();
    assert.deepEqual(script.calls, ['ns1/obj', 'ns1/obj']);
    assert.equal(await total('requeue_after'), 1);
    assert.equal(await total('success'), 1);
  });

  test('a thrown error is retried with backoff until success, then the backoff is forgotten', async () => {
    const script = scripted([new Error('boom 1'), new Error('boom 2'), {}]);
    const { controller, queue, total, value, logs } = setup(script.reconcile);
    await controller.start();
    controller.enqueue('ns1/obj');
    await script.finished;
    await settled(queue);
    await controller.stop();
    assert.equal(script.calls.length, 3);
    assert.equal(await total('error'), 2);
    assert.equal(await total('success'), 1);
    assert.equal(await value('controller_runtime_reconcile_errors_total', { controller: 'test' }), 2);
    assert.equal(await value('workqueue_retries_total', { name: 'test' }), 2);
    assert.equal(queue.numRequeues('ns1/obj'), 0, 'forgotten after the success');
    const errors = logs.filter((l) => l.msg.startsWith('reconciler error'));
    assert.equal(errors.length, 2);
  });

  test('a TerminalError is counted and logged but never retried', async () => {
    const script = scripted([new TerminalError('spec is invalid', 'InvalidSpec')]);
    const { controller, queue, total, value, logs } = setup(script.reconcile);
    await controller.start();
    controller.enqueue('ns1/bad');
    await script.finished;
    await settled(queue);
    assert.equal(queue.delayedLen(), 0, 'nothing parked for a retry');
    assert.equal(queue.len(), 0);
    assert.equal(queue.numRequeues('ns1/bad'), 0);
    await controller.stop();
    assert.deepEqual(script.calls, ['ns1/bad']);
    assert.equal(await total('error'), 1);
    assert.equal(await value('controller_runtime_reconcile_errors_total', { controller: 'test' }), 1);
    assert.equal(
      await value('controller_runtime_terminal_reconcile_errors_total', { controller: 'test' }),
      1,
    );
    assert.equal(await value('workqueue_retries_total', { name: 'test' }), 0);
    const line = logs.find((l) => l.reason === 'InvalidSpec');
    assert.ok(line, 'the terminal error is logged with its reason');
  });

  test('logs carry controller, namespace, name and a fresh reconcileID per reconcile', async () => {
    const ids: string[] = [];
    const script = scripted([{}, {}]);
    const { controller, queue, logs } = setup(async (key, ctx) => {
      ids.push(ctx.reconcileID);
      ctx.logger.info('inside');
      return await script.reconcile(key, ctx);
    });
    await controller.start();
    controller.enqueue('ns1/a');
    controller.enqueue('cluster-scoped');
    await script.finished;
    await settled(queue);
    await controller.stop();
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1]);
    for (const id of ids)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const inside = logs.filter((l) => l.msg === 'inside');
    const namespaced = inside.find((l) => l.name === 'a');
    assert.deepEqual(namespaced && [namespaced.controller, namespaced.namespace, namespaced.reconcileID], [
      'test',
      'ns1',
      ids[script.calls.indexOf('ns1/a')],
    ]);
    const clusterScoped = inside.find((l) => l.name === 'cluster-scoped');
    assert.ok(clusterScoped);
    assert.equal(clusterScoped.namespace, undefined);
  });

  test('stop() waits for in-flight reconciles and no new reconcile starts afterwards', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    let finished = 0;
    const { controller } = setup(
      async () => {
        started++;
        await gate;
        finished++;
        return {};
      },
      { workers: 2 },
    );
    await controller.start();
    controller.enqueue('ns/a');
    while (started === 0) await new Promise((resolve) => setImmediate(resolve));
    let stopped = false;
    const stopping = controller.stop().then(() => {
      stopped = true;
    });
    controller.enqueue('ns/b');
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'stop() resolved while a reconcile was in flight');
    release();
    await stopping;
    assert.equal(finished, 1);
    assert.equal(started, 1, 'no reconcile after stop');
  });

  test('watch() maps informer events to keys', async () => {
    const handlers: Record<string, (obj: { metadata: { name: string; namespace: string } }) => void> = {};
    const fakeInformer = {
      name: 'fake',
      on: (event: string, handler: (obj: { metadata: { name: string; namespace: string } }) => void) => {
        handlers[event] = handler;
      },
    };
    const { controller, queue } = setup(async () => ({}));
    controller.watch(fakeInformer as never, (obj: { metadata: { name: string; namespace: string } }) => [
      `${obj.metadata.namespace}/owner-of-${obj.metadata.name}`,
    ]);
    assert.deepEqual(Object.keys(handlers).sort(), ['add', 'delete', 'update']);
    handlers.add!({ metadata: { name: 'p1', namespace: 'ns' } });
    handlers.update!({ metadata: { name: 'p1', namespace: 'ns' } });
    handlers.delete!({ metadata: { name: 'p2', namespace: 'ns' } });
    assert.equal(queue.len(), 2);
    assert.equal(await queue.get(), 'ns/owner-of-p1');
    assert.equal(await queue.get(), 'ns/owner-of-p2');
    queue.shutDown();
  });

  test('after maxAttempts failures in a row, giveUp is called once and the key is not retried', async () => {
    const attempts: number[] = [];
    const gaveUp: Array<[string, string]> = [];
    const reconcile: Reconciler = async (_key, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error(`boom ${ctx.attempt}`);
    };
    let done: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const { controller, queue } = setup(reconcile, {
      maxAttempts: 4,
      hooks: {
        giveUp: async (key, error) => {
          gaveUp.push([key, (error as Error).message]);
          done();
        },
      },
    });
    await controller.start();
    controller.enqueue('ns/t');
    await finished;
    await settled(queue);
    await controller.stop();
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    assert.deepEqual(gaveUp, [['ns/t', 'boom 4']]);
    assert.equal(queue.numRequeues('ns/t'), 0, 'forgotten');
  });

  test('errors are reported (to post an Event) unless already reported on the object', async () => {
    const script = scripted([new Error('api down'), new ReportedError('quota exceeded'), {}]);
    const reported: string[] = [];
    const { controller, queue } = setup(script.reconcile, {
      hooks: {
        reportError: async (_key, error, attempt) =>
          void reported.push(`${attempt}:${(error as Error).message}`),
      },
    });
    await controller.start();
    controller.enqueue('ns/t');
    await script.finished;
    await settled(queue);
    await controller.stop();
    assert.deepEqual(reported, ['1:api down']);
  });

  test('stop() aborts the signal of an in-flight reconcile', async () => {
    let seen: ReconcileContext | undefined;
    let started: () => void;
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    const reconcile: Reconciler = async (_key, ctx) => {
      seen = ctx;
      started();
      await new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
      );
      return {};
    };
    const { controller, total } = setup(reconcile);
    await controller.start();
    controller.enqueue('ns/t');
    await inFlight;
    await controller.stop();
    assert.equal(seen?.signal.aborted, true);
    assert.equal(await total('error'), 1, 'cancelled, counted, not retried (the queue is shut down)');
  });
});

test('errors the hook calls transient never end the retries', async () => {
  let attempts = 0;
  let gaveUp = false;
  let resolveDone: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const reconcile: Reconciler = async (_key, ctx) => {
    attempts = ctx.attempt;
    if (ctx.attempt < 8) throw new Error('connect ECONNREFUSED');
    resolveDone();
    return {};
  };
  const { controller, queue } = setup(reconcile, {
    maxAttempts: 3,
    hooks: {
      giveUp: async () => {
        gaveUp = true;
      },
      mayGiveUp: () => false,
    },
  });
  await controller.start();
  controller.enqueue('ns/t');
  await done;
  await settled(queue);
  await controller.stop();
  assert.equal(attempts, 8, 'retried past maxAttempts');
  assert.equal(gaveUp, false);
});

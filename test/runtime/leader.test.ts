/**
 * Leader election on a real Lease: one of two candidates leads, stop() hands over at
 * once, and a leader that can neither renew nor release is taken over after expiry.
 * Short durations: lease 3 s, renew deadline 1.5 s, retry 0.25 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoordinationV1Api, type KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { LeaderElector } from '../../operator/src/runtime/leader.ts';
import { createRuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { captureLogs, startProxy, until } from './support.ts';

let ns = '';
before(async () => {
  ns = await createTestNamespace('rt-leader');
});
after(async () => {
  await deleteNamespace(ns);
});

interface Candidate {
  identity: string;
  elector: LeaderElector;
  started: number;
  stoppedLeading: number;
  registry: Registry;
  running: Promise<void>;
}

function candidate(identity: string, lease: string, kc: KubeConfig, log: string[]): Candidate {
  const registry = new Registry();
  const metrics = createRuntimeMetrics(registry);
  const c: Candidate = { identity, started: 0, stoppedLeading: 0, registry } as Candidate;
  c.elector = new LeaderElector({
    kubeConfig: kc,
    namespace: ns,
    name: lease,
    identity,
    leaseDurationMs: 3_000,
    renewDeadlineMs: 1_500,
    retryPeriodMs: 250,
    logger: captureLogs('warn').logger,
    leaderGauge: metrics.leader,
    onStartedLeading: () => {
      c.started++;
      log.push(`${identity} started`);
    },
    onStoppedLeading: () => {
      c.stoppedLeading++;
      log.push(`${identity} stopped`);
    },
  });
  c.running = c.elector.run();
  return c;
}

async function gauge(c: Candidate, lease: string): Promise<number | undefined> {
  const { values } = await c.registry.getSingleMetric('leader_election_master_status')!.get();
  return values.find((v) => v.labels.name === lease)?.value;
}

const readLease = (name: string) =>
  kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name, namespace: ns });

describe('LeaderElector', () => {
  test('exactly one of two candidates leads; stop() releases and the other takes over', async () => {
    const log: string[] = [];
    const a = candidate('a', 'handover', kubeConfig(), log);
    const b = candidate('b', 'handover', kubeConfig(), log);
    try {
      await until(() => a.elector.isLeader() || b.elector.isLeader(), 'a leader');
      const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
      assert.equal(follower.elector.isLeader(), false);
      assert.equal((await readLease('handover')).spec?.holderIdentity, leader.identity);
      assert.equal(await gauge(leader, 'handover'), 1);
      assert.equal(await gauge(follower, 'handover'), 0);
      // Several renew rounds later the follower still follows.
      for (let round = 0; round < 4; round++) {
        const { resourceVersion } = (await readLease('handover')).metadata!;
        await until(
          async () => (await readLease('handover')).metadata?.resourceVersion !== resourceVersion,
          'a renewal',
        );
      }
      assert.equal((await readLease('handover')).spec?.holderIdentity, leader.identity);
      assert.equal(follower.elector.isLeader(), false);
      assert.deepEqual(log, [`${leader.identity} started`], 'no takeover while the leader renews');

      await leader.elector.stop();
      await leader.running;
      assert.equal(leader.elector.isLeader(), false);
      assert.equal(await gauge(leader, 'handover'), 0);
      assert.equal(leader.stoppedLeading, 0, 'a voluntary stop() does not call onStoppedLeading');
      await until(() => follower.elector.isLeader(), 'the follower taking over');
      const lease = await readLease('handover');
      assert.equal(lease.spec?.holderIdentity, follower.identity);
      assert.equal(lease.spec?.leaseTransitions, 1);
      assert.deepEqual(log, [`${leader.identity} started`, `${follower.identity} started`]);
    } finally {
      await Promise.all([a.elector.stop(), b.elector.stop()]);
    }
    assert.equal((await readLease('handover')).spec?.holderIdentity ?? '', '', 'released at the end');
  });

  test('a leader cut off from the API server steps down; the other takes over only after expiry', async () => {
    const proxy = await startProxy(kubeConfig());
    const log: string[] = [];
    const a = candidate('partitioned', 'partition', proxy.kubeConfig, log);
    await until(() => a.elector.isLeader(), 'the first candidate leading');
    const b = candidate('healthy', 'partition', kubeConfig(), log);
    try {
      proxy.partition(); // a can neither renew nor release
      await until(() => b.elector.isLeader(), 'the second candidate taking over');
      await a.running; // run() resolves once leadership is lost
      assert.equal(a.stoppedLeading, 1);
      assert.equal(a.elector.isLeader(), false);
      assert.equal(await gauge(a, 'partition'), 0);
      // The old leader stepped down before its lease expired, hence before the takeover.
      assert.deepEqual(log, ['partitioned started', 'partitioned stopped', 'healthy started']);
      const lease = await readLease('partition');
      assert.equal(lease.spec?.holderIdentity, 'healthy');
      assert.equal(lease.spec?.leaseTransitions, 1);
    } finally {
      await Promise.all([a.elector.stop(), b.elector.stop()]);
      await proxy.close();
    }
  });

  test('a lease renewed by another process is respected; once that process dies it is taken over', async () => {
    const coord = kubeConfig().makeApiClient(CoordinationV1Api);
    const now = new V1MicroTime();
    let lease = await coord.createNamespacedLease({
      namespace: ns,
      body: {
        metadata: { name: 'ghost' },
        spec: {
          holderIdentity: 'ghost',
          leaseDurationSeconds: 3,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: 4,
        },
      },
    });
    const log: string[] = [];
    const c = candidate('heir', 'ghost', kubeConfig(), log);
    try {
      // The ghost stays alive for a while, renewing every 0.5 s (its lease lasts 3 s).
      for (let renewal = 0; renewal < 5; renewal++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        lease.spec!.renewTime = new V1MicroTime();
        lease = await coord.replaceNamespacedLease({ name: 'ghost', namespace: ns, body: lease });
        assert.equal(c.elector.isLeader(), false, 'took a lease its holder kept renewing');
      }
      // Then it dies without releasing.
      await until(() => c.elector.isLeader(), 'the candidate taking over');
      const taken = await readLease('ghost');
      assert.equal(taken.spec?.holderIdentity, 'heir');
      assert.equal(taken.spec?.leaseTransitions, 5);
      assert.equal(taken.spec?.leaseDurationSeconds, 3);
      assert.deepEqual(log, ['heir started']);
    } finally {
      await c.elector.stop();
    }
  });

  test('a leader whose onStartedLeading rejects releases the lease at once and reports stopped leading', async () => {
    const log: string[] = [];
    const failing = new LeaderElector({
      kubeConfig: kubeConfig(),
      namespace: ns,
      name: 'start-fails',
      identity: 'broken',
      leaseDurationMs: 3_000,
      renewDeadlineMs: 1_500,
      retryPeriodMs: 250,
      logger: captureLogs('error').logger,
      onStartedLeading: async () => {
        log.push('started');
        throw new Error('the audit log is locked by another process');
      },
      onStoppedLeading: () => void log.push('stopped'),
    });
    await failing.run();
    assert.deepEqual(log, ['started', 'stopped']);
    assert.equal(failing.isLeader(), false);
    assert.equal((await readLease('start-fails')).spec?.holderIdentity ?? '', '', 'the lease is released');
    const other: string[] = [];
    const successor = candidate('successor', 'start-fails', kubeConfig(), other);
    try {
      await until(() => successor.elector.isLeader(), 'a successor leading without waiting for expiry');
    } finally {
      await successor.elector.stop();
    }
  });
});

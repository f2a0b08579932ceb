/** Helpers for the runtime tests against the real API server. */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import type { ClusterState } from '../../hack/cluster/controlplane.ts';

/** Polls `condition` until it holds; the deadline only guards against hanging forever. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

export interface CapturedLogger {
  logger: Logger;
  lines: Array<{ level: number; msg: string; [k: string]: unknown }>;
}

export function captureLogs(level = 'debug'): CapturedLogger {
  const lines: CapturedLogger['lines'] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/**
 * A TCP pass-through in front of the API server (TLS stays end to end) that can
 * simulate a network partition: `partition()` cuts every connection and resets new
 * ones until `heal()`.
 */
export interface Proxy {
  port: number;
  kubeConfig: KubeConfig;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(kc: KubeConfig): Promise<Proxy> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster');
  const target = new URL(cluster.server);
  const sockets = new Set<Socket>();
  let partitioned = false;
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.resetAndDestroy();
      return;
    }
    const upstream = tcpConnect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const proxied = new KubeConfig();
  proxied.loadFromOptions({
    clusters: kc
      .getClusters()
      .map((c) => (c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${port}` } : c)),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return {
    port,
    kubeConfig: proxied,
    partition() {
      partitioned = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    heal() {
      partitioned = false;
    },
    close: async () => {
      partitioned = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The running test cluster's state (only when global-setup started it, not in reuse mode). */
export function clusterState(): ClusterState | undefined {
  const dir = process.env.CLOSEDPAW_TEST_CLUSTER_DIR;
  if (!dir) return undefined;
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ClusterState;
}

/** Compacts etcd up to its current revision through its JSON gateway; returns that revision. */
export async function compactEtcd(etcdUrl: string): Promise<number> {
  const range = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
  });
  if (!range.ok) throw new Error(`etcd range: HTTP ${range.status}`);
  const revision = String(((await range.json()) as { header: { revision: string } }).header.revision);
  const compaction = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!compaction.ok)
    throw new Error(`etcd compaction: HTTP ${compaction.status} ${await compaction.text()}`);
  return Number(revision);
}

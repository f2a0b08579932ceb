/**
 * What the operator spends per task besides API calls, measured in-process with the operator's own code:
 * screening a prompt (memoised per spec digest, so paid once per new spec), signing the gateway token
 * (EdDSA through jose/WebCrypto), and the durable-audit barrier before a pod (one fdatasync'd group
 * commit; concurrent reconciles should share it).
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, loadKeyring, openAuditSink } from '../../operator/src/audit/index.ts';
import { AuditGuard } from '../../operator/src/audit-guard.ts';
import { generateGatewayKey, issueTaskToken } from '../../operator/src/gateway/tokens.ts';
import { createLogger } from '../../operator/src/logger.ts';
import { specDigest } from '../../operator/src/policy/digest.ts';
import { screenTask } from '../../operator/src/policy/task-screening.ts';
import { percentile } from './report.ts';

const spec = (prompt: string) =>
  ({
    prompt,
    model: 'llama3.2:3b',
    tools: [],
    runtimeClassName: 'gvisor',
    timeoutSeconds: 600,
    resources: { cpu: '1', memory: '512Mi', ephemeralStorage: '1Gi' },
  }) as unknown as Parameters<typeof screenTask>[0];

async function timed(n: number, fn: (i: number) => unknown): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn(i);
    samples.push(performance.now() - start);
  }
  return percentile(samples, 50);
}

export interface TaskCosts {
  screen_bench_prompt_ms: number;
  screen_4kib_prompt_ms: number;
  spec_digest_ms: number;
  sign_token_ms: number;
  audit_flush_ms: number;
  /** Eight reconciles appending and flushing at once: how long until all eight are durable. */
  audit_flush_8_concurrent_ms: number;
  /** fdatasyncs those eight flushes took at most: 1 means they shared one group commit. */
  audit_commits_for_8_flushes: number;
}

export async function measureTaskCosts(): Promise<TaskCosts> {
  const long = 'Please refactor the build scripts and summarise the changes. '.repeat(70).slice(0, 4096);
  screenTask(spec('warm-up')); // first call loads the model
  const screenShort = await timed(200, (i) => screenTask(spec(`Benchmark task single-${i}.`)));
  const screenLong = await timed(50, (i) => screenTask(spec(`${i} ${long}`)));
  const digest = await timed(500, (i) => specDigest(spec(`Benchmark task single-${i}.`)));

  const key = await generateGatewayKey();
  const identity = (i: number) => ({ namespace: 'bench', name: `t-${i}`, uid: `uid-${i}-0000-0000` });
  const tokenSpec = {
    model: 'llama3.2:3b',
    budget: { modelCalls: 20, tokens: 50_000, bytes: 4_000_000 },
    timeoutSeconds: 600,
  };
  const sign = await timed(300, (i) => issueTaskToken(key, identity(i), tokenSpec));

  const dir = await mkdtemp(join(tmpdir(), 'closedpaw-bench-audit-'));
  const logger = createLogger('silent');
  const keysDir = join(dir, 'keys');
  await generateKey(keysDir);
  const guard = new AuditGuard({
    open: async (extra) =>
      await openAuditSink({
        logPath: join(dir, 'audit.log'),
        keyring: await loadKeyring(keysDir),
        logger,
        ...extra,
      }),
    logger,
  });
  await guard.start();
  const admitted = (i: number) => ({
    type: 'task.admitted' as const,
    actor: { kind: 'system' as const, name: 'closedpaw-operator' },
    task: { namespace: 'bench', name: `t-${i}`, uid: `uid-${i}` },
    runtimeClass: 'gvisor',
  });
  const flush = await timed(100, async (i) => {
    guard.append(admitted(i));
    await guard.flush();
  });
  const datasyncs = await countDatasyncs(dir);
  let commits = 0;
  const concurrent = await timed(50, async (round) => {
    const before = datasyncs();
    await Promise.all(
      Array.from({ length: 8 }, async (_, j) => {
        guard.append(admitted(round * 8 + j));
        await guard.flush();
      }),
    );
    commits = Math.max(commits, datasyncs() - before);
  });
  await guard.close();
  await rm(dir, { recursive: true, force: true });
  return {
    screen_bench_prompt_ms: screenShort,
    screen_4kib_prompt_ms: screenLong,
    spec_digest_ms: digest,
    sign_token_ms: sign,
    audit_flush_ms: flush,
    audit_flush_8_concurrent_ms: concurrent,
    audit_commits_for_8_flushes: commits,
  };
}

/** Counts fdatasync calls on every FileHandle (one per group commit or checkpoint). */
async function countDatasyncs(dir: string): Promise<() => number> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const original = proto.datasync;
  let count = 0;
  proto.datasync = function (this: unknown) {
    count++;
    return original.call(this);
  };
  return () => count;
}

// Audit store benchmark: append throughput through the real sink (group commit + fdatasync), then full
// verification (secret keys) and public verification (public keys only) of the resulting
// 1,000,000-event log. Prints one JSON object per line on stdout.
// Run: node test/bench/audit.bench.ts [records]
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  type AuditEventInput,
  generateKey,
  loadKeyring,
  openAuditSink,
  PublicKeyring,
  publicJwks,
  type VerifyOptions,
  verifyLog,
} from '../../operator/src/audit/index.ts';

const RECORDS = Number(process.argv[2] ?? 1_000_000);
const APPEND_SAMPLE = Math.min(200_000, RECORDS);
const BURST = 500; // events enqueued per macrotask, like a busy reconcile loop
const HIGH_WATER = 50_000;

function event(i: number): AuditEventInput {
  const task = {
    namespace: `team-${i % 17}`,
    name: `fix-issue-${i}`,
    uid: `0b6f2c9e-4d1a-4c7e-9a51-${String(i).padStart(12, '0')}`,
  };
  const user = { kind: 'user' as const, name: `user${i % 50}@example.com` };
  switch (i % 5) {
    case 0:
      return { type: 'task.admitted', actor: user, task, runtimeClass: 'gvisor' };
    case 1:
      return {
        type: 'task.risk_rated',
        task,
        level: 'medium',
        score: i % 100,
        reasons: ['writes to repository', 'network egress'],
      };
    case 2:
      return {
        type: 'approval.decided',
        task,
        approvalId: `apr-${i}`,
        decidedBy: user,
        decision: 'approved',
      };
    case 3:
      return {
        type: 'pod.created',
        task,
        pod: { namespace: task.namespace, name: `${task.name}-run` },
        runtimeClass: 'gvisor',
      };
    default:
      return { type: 'task.result_recorded', task, digest: `sha256:${'ab'.repeat(32)}`, sizeBytes: 4096 + i };
  }
}

async function appendMany(
  sink: Awaited<ReturnType<typeof openAuditSink>>,
  from: number,
  to: number,
): Promise<void> {
  for (let i = from; i < to; i += BURST) {
    for (let j = i; j < Math.min(to, i + BURST); j++) sink.append(event(j));
    if (sink.stats.pending > HIGH_WATER) await sink.flush();
    else await nextTurn();
  }
  await sink.flush();
}

/** Seconds one verification of the whole log takes; throws unless it verifies every event. */
async function timedVerify(opts: VerifyOptions): Promise<number> {
  const t = performance.now();
  const report = await verifyLog(opts);
  const seconds = (performance.now() - t) / 1000;
  if (!report.ok || report.records !== RECORDS) throw new Error(`verify failed: ${JSON.stringify(report)}`);
  return seconds;
}

function emit(metric: string, value: number, unit: string): void {
  process.stdout.write(`${JSON.stringify({ metric, value: Number(value.toFixed(2)), unit })}\n`);
}

const dir = await mkdtemp(join(tmpdir(), 'closedpaw-audit-bench-'));
try {
  await generateKey(join(dir, 'keys'), { kid: 'bench' });
  const keyring = await loadKeyring(join(dir, 'keys'));
  const loc = { logPath: join(dir, 'audit.log'), keyring, checkpointDir: join(dir, 'published') };
  const sink = await openAuditSink(loc);

  const t = performance.now();
  await appendMany(sink, 0, APPEND_SAMPLE);
  emit('audit_append_events_per_s', APPEND_SAMPLE / ((performance.now() - t) / 1000), 'events/s');
  await appendMany(sink, APPEND_SAMPLE, RECORDS);
  await sink.close();

  const { size } = await stat(loc.logPath);
  process.stderr.write(`# audit log: ${RECORDS} events, ${size} bytes\n`);
  const full = await timedVerify(loc);
  emit('audit_verify_mb_per_s', size / 1e6 / full, 'MB/s');
  emit(RECORDS === 1_000_000 ? 'audit_verify_1m_records_s' : `audit_verify_${RECORDS}_records_s`, full, 's');
  const pub = await timedVerify({ ...loc, keyring: PublicKeyring.fromJwks(publicJwks(keyring)) });
  emit('audit_verify_public_mb_per_s', size / 1e6 / pub, 'MB/s');
} finally {
  await rm(dir, { recursive: true, force: true });
}

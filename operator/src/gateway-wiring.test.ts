import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { AuditEventInput } from './audit/index.ts';
import { openAuditSink } from './audit/index.ts';
import { type Fixture, fixture, flip, frames } from './audit/testkit.ts';
import type { RecordedSpending } from './gateway/usage-replay.ts';
import { restoreGatewayUsage } from './gateway-wiring.ts';
import { createLogger } from './logger.ts';

const task = { namespace: 'team-a', name: 'thrifty', uid: 'uid-1' };
const call = (requestBytes: number, verdict: 'allowed' | 'refused' = 'allowed'): AuditEventInput => ({
  type: 'model.call',
  task,
  model: 'llama3.2:3b',
  endpoint: '/api/chat',
  verdict,
  promptTokens: 20,
  completionTokens: 5,
  requestBytes,
  responseBytes: 300,
});

let f: Fixture;
before(async () => {
  f = await fixture();
  const sink = await openAuditSink({
    logPath: f.logPath,
    keyring: f.keyring,
    checkpointDir: f.checkpointDir,
  });
  sink.append(call(100));
  sink.append(call(50, 'refused'));
  sink.append(call(200));
  await sink.close();
});
after(() => f.cleanup());

const logger = createLogger('silent');

test('the gateway gets back what the sealed log says each task spent', async () => {
  let restored: RecordedSpending[] | undefined;
  const restoreUsage = (spending: Iterable<RecordedSpending>) => {
    restored = [...spending];
  };
  await restoreGatewayUsage({ restoreUsage }, f, logger);
  assert.deepEqual(restored, [{ task, usage: { modelCalls: 2, tokens: 50, bytes: 900 } }]);
});

test('a log that does not verify fails the open: the gateway gets nothing and stays closed', async () => {
  const log = await readFile(f.logPath);
  const first = frames(log)[0]!;
  await writeFile(f.logPath, flip(log, first.offset + Math.floor(first.len / 2)));
  let called = false;
  const restoreUsage = () => {
    called = true;
  };
  await assert.rejects(
    restoreGatewayUsage({ restoreUsage }, f, logger),
    /the audit log does not verify \(.+\), so the tasks' spent budgets cannot be read back/,
  );
  assert.equal(called, false);
});

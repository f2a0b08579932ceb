import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { frameResult, parseResultFrame, sha256Hex } from './result-frame.ts';

test('a framed result of any bytes survives a log with noise around it', () => {
  const result = randomBytes(20_000);
  const parsed = parseResultFrame(`starting\nwarning: x\n${frameResult(result)}trailing line\n`);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.ok && parsed.result, result);
  assert.equal(parsed.ok && parsed.sha256, sha256Hex(result));
});

test('the last frame wins', () => {
  const parsed = parseResultFrame(frameResult('first') + frameResult('second'));
  assert.equal(parsed.ok && parsed.result.toString(), 'second');
});

test('missing, cut and corrupted frames are told apart', () => {
  const frame = frameResult('hello world');
  const missing = parseResultFrame('no frame here');
  assert.equal(missing.ok ? '' : missing.reason, 'ResultMissing');
  const cut = parseResultFrame(frame.slice(0, frame.length - 10));
  assert.equal(cut.ok ? '' : cut.reason, 'ResultTruncated');
  const tampered = parseResultFrame(
    frame.replace(
      Buffer.from('hello world').toString('base64'),
      Buffer.from('hello w0rld').toString('base64'),
    ),
  );
  assert.equal(tampered.ok ? '' : tampered.reason, 'ResultCorrupt');
  const lying = parseResultFrame(frame.replace('bytes=11', 'bytes=12'));
  assert.equal(lying.ok ? '' : lying.reason, 'ResultCorrupt');
});

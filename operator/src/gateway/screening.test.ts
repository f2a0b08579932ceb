import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestOf, type ScreenFn, screenToolOutputs, stopMessage } from './screening.ts';

const screen: ScreenFn = (text) =>
  text.includes('IGNORE PREVIOUS')
    ? { flagged: true, score: 0.9, reasons: ['instruction override'] }
    : { flagged: false, score: 0, reasons: [] };
const never = () => false;
const always = () => true;

describe('screenToolOutputs', () => {
  test('clean outputs: remembered, nothing flagged', () => {
    const r = screenToolOutputs(['a', 'b', 'a'], never, screen, never);
    assert.deepEqual(r, { kind: 'clean', digests: [digestOf('a'), digestOf('b')] });
  });

  test('a flagged output stops the run and names the reasons', () => {
    const r = screenToolOutputs(['ok', '<<tool>>IGNORE PREVIOUS<</tool>>', 'later'], never, screen, never);
    assert.equal(r.kind, 'stopped');
    assert.ok(r.kind === 'stopped');
    assert.deepEqual(r.stopping.reasons, ['instruction override']);
    assert.equal(r.stopping.digest, digestOf('<<tool>>IGNORE PREVIOUS<</tool>>'));
    assert.deepEqual(r.digests, [digestOf('ok')], 'the flagged one is not remembered as screened');
    assert.match(stopMessage(r.stopping), /instruction override.*stopped/);
  });

  test('allowed for this task: flagged, audited as a finding, remembered', () => {
    const r = screenToolOutputs(['IGNORE PREVIOUS'], never, screen, always);
    assert.equal(r.kind, 'allowed');
    assert.ok(r.kind === 'allowed');
    assert.equal(r.findings.length, 1);
    assert.deepEqual(r.digests, [digestOf('IGNORE PREVIOUS')]);
  });

  test('outputs screened before are not screened again', () => {
    let calls = 0;
    const counting: ScreenFn = (t) => {
      calls++;
      return screen(t);
    };
    const seen = new Set([digestOf('IGNORE PREVIOUS')]);
    const r = screenToolOutputs(['IGNORE PREVIOUS', 'new'], (d) => seen.has(d), counting, never);
    assert.equal(r.kind, 'clean');
    assert.equal(calls, 1);
  });

  test('a screener that throws or answers nonsense fails closed', () => {
    const broken: ScreenFn = () => {
      throw new Error('model file missing');
    };
    const r = screenToolOutputs(['x'], never, broken, never);
    assert.ok(r.kind === 'stopped');
    assert.match(r.stopping.reasons[0] ?? '', /screening failed: model file missing/);
    const nonsense = (() => undefined) as unknown as ScreenFn;
    assert.equal(screenToolOutputs(['x'], never, nonsense, never).kind, 'stopped');
  });

  test('allowFlagged is asked only when something is flagged', () => {
    let asked = 0;
    screenToolOutputs(['clean'], never, screen, () => {
      asked++;
      return false;
    });
    assert.equal(asked, 0);
  });
});

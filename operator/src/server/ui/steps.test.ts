import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { frameResult } from '../../api/result-frame.ts';
import { parseStepLine, parseSteps, STEP_LINE_MAX_BYTES, StepLineParser } from './steps.ts';

const SHA = 'a'.repeat(64);
const model = { event: 'model', step: 1, ms: 812, promptTokens: 120, completionTokens: 40, toolCalls: 1 };
const tool = { event: 'tool', step: 1, tool: 'fs.list', argsSha256: SHA, bytes: 93, ms: 3, ok: true };
const finished = { event: 'finished', steps: 2, bytes: 17 };
const failed = { event: 'failed', reason: 'StepLimitReached', message: 'no final answer after 24 steps' };

describe('parseStepLine', () => {
  const cases: Array<[string, string, unknown]> = [
    ['a model step', JSON.stringify(model), model],
    ['a tool step', JSON.stringify(tool), tool],
    [
      'a failed tool step with its error',
      JSON.stringify({ ...tool, ok: false, error: 'ENOENT' }),
      { ...tool, ok: false, error: 'ENOENT' },
    ],
    ['finished', JSON.stringify(finished), finished],
    ['failed', JSON.stringify(failed), failed],
    ['a CRLF line end', `${JSON.stringify(finished)}\r`, finished],
    [
      'unknown keys are dropped, not passed through',
      JSON.stringify({ ...finished, raw: 'secret output' }),
      finished,
    ],
    ['plain text', 'npm WARN something', undefined],
    ['the result frame header', `<<<closedpaw-result bytes=2 sha256=${SHA}>>>`, undefined],
    ['base64 of the result', 'aGk=', undefined],
    ['JSON that is not a step', JSON.stringify({ level: 'info', msg: 'hello' }), undefined],
    ['a step with an unknown event', JSON.stringify({ ...finished, event: 'shell' }), undefined],
    ['a tool step with a bad digest', JSON.stringify({ ...tool, argsSha256: 'xyz' }), undefined],
    ['a failed step with an unknown reason', JSON.stringify({ ...failed, reason: 'Whatever' }), undefined],
    [
      'a tool error longer than the schema allows',
      JSON.stringify({ ...tool, ok: false, error: 'e'.repeat(513) }),
      undefined,
    ],
    ['broken JSON', '{"event":"finished",', undefined],
    ['a JSON array', '[1,2]', undefined],
    ['leading space', ` ${JSON.stringify(finished)}`, undefined],
  ];
  for (const [name, line, expected] of cases) {
    test(name, () => assert.deepEqual(parseStepLine(line), expected));
  }

  test('a valid step over the size cap is dropped', () => {
    const long = { ...failed, message: 'x'.repeat(STEP_LINE_MAX_BYTES) };
    assert.equal(parseStepLine(JSON.stringify(long)), undefined);
    const fits = { ...failed, message: 'x'.repeat(STEP_LINE_MAX_BYTES - 200) };
    assert.deepEqual(parseStepLine(JSON.stringify(fits)), fits);
  });
});

/** A pod log as the runner writes it: steps on stderr, the result frame on stdout, other noise. */
const LOG = [
  JSON.stringify(model),
  'some unrelated line',
  JSON.stringify(tool),
  frameResult('the final answer: {"event":"finished","steps":9,"bytes":9}').trimEnd(),
  JSON.stringify(finished),
  '',
].join('\n');

describe('StepLineParser', () => {
  test('keeps only the steps of a mixed log: never the result frame or other output', () => {
    const parser = new StepLineParser();
    const steps = [...parser.push(LOG), ...parser.end()];
    assert.deepEqual(steps, [model, tool, finished]);
    assert.equal(parser.ignored, 4, 'noise, frame header, base64 body and end marker');
    assert.equal(JSON.stringify(steps).includes('final answer'), false);
  });

  test('the same steps however the bytes are chunked (one byte at a time, across UTF-8 sequences)', () => {
    const withUnicode = `${JSON.stringify({ ...failed, message: 'Zeitüberschreitung — 時間切れ' })}\n${LOG}`;
    const whole = parseSteps(withUnicode);
    const bytes = Buffer.from(withUnicode);
    const parser = new StepLineParser();
    const steps = [];
    for (const b of bytes) steps.push(...parser.push(Uint8Array.of(b)));
    steps.push(...parser.end());
    assert.deepEqual(steps, whole);
    assert.equal(whole.length, 4);
  });

  test('a last line without a newline still counts', () => {
    assert.deepEqual(parseSteps(JSON.stringify(finished)), [finished]);
  });

  test('a line over the cap is dropped whole, even when it spans chunks; the next line is kept', () => {
    const parser = new StepLineParser();
    const huge = JSON.stringify({ ...failed, message: 'y'.repeat(10 * STEP_LINE_MAX_BYTES) });
    const steps = [];
    // Split so the huge line spans many chunks and ends inside one with the next step.
    const text = `${JSON.stringify(model)}\n${huge}\n${JSON.stringify(finished)}\n`;
    for (let i = 0; i < text.length; i += 1000) steps.push(...parser.push(text.slice(i, i + 1000)));
    steps.push(...parser.end());
    assert.deepEqual(steps, [model, finished]);
    assert.equal(parser.oversized, 1);
  });

  test('an over-cap last line without a newline is dropped at the end', () => {
    const parser = new StepLineParser();
    assert.deepEqual(parser.push(`${JSON.stringify(model)}\n${'z'.repeat(STEP_LINE_MAX_BYTES * 2)}`), [
      model,
    ]);
    assert.deepEqual(parser.end(), []);
    assert.equal(parser.oversized, 1);
  });
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { ResponseMeter, tokensSpent } from './meter.ts';

const line = (v: unknown) => `${JSON.stringify(v)}\n`;
const chatStream = [
  line({ model: 'm', message: { role: 'assistant', content: 'Hel' }, done: false }),
  line({ model: 'm', message: { role: 'assistant', content: 'lo' }, done: false }),
  line({
    model: 'm',
    message: { role: 'assistant', content: '' },
    done: true,
    prompt_eval_count: 12,
    eval_count: 2,
  }),
].join('');

/** Feeds `text` to a meter in pieces of `size` bytes. */
function meter(text: string | Buffer, size: number, opts = {}) {
  const m = new ResponseMeter(opts);
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) m.push(bytes.subarray(i, i + size));
  return m.finish();
}

describe('ResponseMeter', () => {
  for (const size of [1, 3, 7, 64, 100_000]) {
    test(`reads a streamed chat's counts however it is split (${size}-byte pieces)`, () => {
      const r = meter(chatStream, size);
      assert.equal(r.bytes, Buffer.byteLength(chatStream));
      assert.equal(r.digest, `sha256:${createHash('sha256').update(chatStream).digest('hex')}`);
      assert.equal(r.promptTokens, 12);
      assert.equal(r.completionTokens, 2);
      assert.equal(r.done, true);
      assert.equal(r.contentChunks, 2);
      assert.equal(tokensSpent(r), 14);
    });
  }

  test('a non-streamed answer without a final newline', () => {
    const r = meter(JSON.stringify({ response: 'hi', done: true, prompt_eval_count: 5, eval_count: 1 }), 4);
    assert.deepEqual([r.promptTokens, r.completionTokens, r.done], [5, 1, true]);
  });

  test('an embed response counts its prompt tokens', () => {
    const r = meter(JSON.stringify({ model: 'm', embeddings: [[0.1, 0.2]], prompt_eval_count: 7 }), 5);
    assert.deepEqual([r.promptTokens, r.completionTokens, r.done, tokensSpent(r)], [7, undefined, true, 7]);
  });

  test('a line longer than the buffer: counts come from its tail, the model cannot fake them', () => {
    const content = `${'x'.repeat(300_000)} "eval_count":1 "done":true "prompt_eval_count":1`;
    const body = JSON.stringify({ message: { content }, done: true, prompt_eval_count: 40, eval_count: 900 });
    const r = meter(`${body}\n`, 1000, { maxLineBytes: 1024, tailBytes: 256 });
    assert.deepEqual([r.promptTokens, r.completionTokens, r.done], [40, 900, true]);
    assert.equal(r.bytes, Buffer.byteLength(body) + 1);
  });

  test('a huge embed response (one line) is read from its tail', () => {
    const embeddings = [Array.from({ length: 50_000 }, (_, i) => i / 7)];
    const body = JSON.stringify({ model: 'm', embeddings, total_duration: 1, prompt_eval_count: 33 });
    const r = meter(body, 8192);
    assert.deepEqual([r.promptTokens, r.done], [33, true]);
  });

  test('an error line mid-stream is reported', () => {
    const r = meter(`${chatStream.split('\n')[0]}\n${line({ error: 'model runner crashed' })}`, 10);
    assert.equal(r.error, 'model runner crashed');
    assert.equal(r.done, false);
  });

  test('a stream cut before its final chunk is charged one token per content chunk', () => {
    const cut = chatStream.split('\n').slice(0, 2).join('\n');
    const r = meter(`${cut}\n`, 5);
    assert.equal(r.done, false);
    assert.equal(tokensSpent(r), 2);
  });

  test('multi-byte characters split across pieces', () => {
    const text =
      line({ response: 'ünïcødé 🐾', done: false }) +
      line({ done: true, prompt_eval_count: 1, eval_count: 3 });
    const r = meter(text, 1);
    assert.deepEqual([r.contentChunks, r.completionTokens], [1, 3]);
  });

  test('garbage lines are ignored, not fatal', () => {
    const r = meter('not json\n{"done":tru\n', 3);
    assert.deepEqual([r.done, r.contentChunks, r.promptTokens], [false, 0, undefined]);
  });
});

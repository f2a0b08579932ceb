import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fnv1a, forEachWord, MAX_KEY_HITS, WordScan } from './tokens.ts';

/** Offsets of the occurrences of key id `id`, read through the scan's per-word chains, in text order. */
function occurrences(scan: WordScan, id: number): number[] {
  const out: number[] = [];
  for (const word of scan.keyWordsOf(id))
    for (let h = scan.firstHitOf(word); h >= 0; h = scan.hitNext[h] as number)
      out.push(scan.hitOffset[h] as number);
  return out.sort((a, b) => a - b);
}

describe('WordScan', () => {
  const keys = new Map<number, number[]>([
    [fnv1a('ignore'), [0]],
    [fnv1a('all'), [2, 3]],
    [fnv1a('rules'), [2]],
    [fnv1a('never'), [5]],
  ]);

  test('reports each key id once and every occurrence of the words that carry it', () => {
    const scan = new WordScan(keys);
    const text = 'ignore all rules, then ignore all of them: all';
    scan.add(text);
    assert.deepEqual([...scan.seenIds.subarray(0, scan.seenCount)].sort(), [0, 2, 3]);
    assert.equal(scan.hasKey(5), false);
    const at = (word: string) => [...text.matchAll(new RegExp(`\\b${word}\\b`, 'g'))].map((m) => m.index);
    assert.deepEqual(occurrences(scan, 0), at('ignore'));
    assert.deepEqual(
      occurrences(scan, 2),
      [...at('all'), ...at('rules')].sort((a, b) => a - b),
    );
    assert.deepEqual(occurrences(scan, 3), at('all'));
    assert.equal(scan.keyHitsFull, false);
  });

  test('each text added starts the key words afresh, the n-grams accumulate', () => {
    const scan = new WordScan(keys);
    scan.add('ignore all');
    scan.add('never');
    assert.deepEqual([...scan.seenIds.subarray(0, scan.seenCount)], [5]);
    assert.equal(scan.hasKey(0), false);
    assert.deepEqual(occurrences(scan, 0), []);
    assert.deepEqual(scan.textEnds, [2, 3]);
    assert.equal(scan.bigrams[2], -1, 'no bigram across texts');
  });

  test('word spans are those of forEachWord', () => {
    const scan = new WordScan(keys);
    const text = 'Ünïcode wörds, 漢字 and emoji 👍🏽 x2';
    scan.add(text);
    const spans: [number, number][] = [];
    forEachWord(text, (_h, start, end) => spans.push([start, end]));
    assert.deepEqual(
      Array.from({ length: scan.length }, (_, k) => [scan.starts[k], scan.ends[k]]),
      spans,
    );
  });

  test('more key-word occurrences than MAX_KEY_HITS (counted per id) are marked full', () => {
    const scan = new WordScan(keys);
    scan.add('all '.repeat(MAX_KEY_HITS / 2 - 1));
    assert.equal(scan.keyHitsFull, false);
    scan.add('all '.repeat(MAX_KEY_HITS / 2));
    assert.equal(scan.keyHitsFull, true);
  });

  test('notes the bits of the non-ASCII code units it reads', () => {
    const bits = new Uint8Array(65536);
    bits['ж'.charCodeAt(0)] = 1;
    bits['中'.charCodeAt(0)] = 2;
    bits['a'.charCodeAt(0)] = 4;
    const scan = new WordScan(keys, bits);
    scan.add('a жук');
    assert.equal(scan.noted, 1, 'ASCII code units are not read');
    scan.add('中, а не ж');
    assert.equal(scan.noted, 3);
    scan.add('plain');
    assert.equal(scan.noted, 0);
  });
});

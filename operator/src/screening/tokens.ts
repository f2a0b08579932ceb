/**
 * One linear pass over the normalised text that does everything per word: hashed word n-grams for the linear
 * model (unigrams and bigrams, FNV-1a into HASH_BITS buckets; each Han/kana character is a word of its own),
 * and a lookup of every word in the "key word" index that decides which pattern rules and decoders need to
 * run at all. A hand-written loop instead of a regex: no allocation per word.
 */
export const HASH_BITS = 18;
export const DIM = 1 << HASH_BITS;
const MASK = DIM - 1;
/** Only the first MAX_TOKEN_CHARS characters of a word are hashed. */
const MAX_TOKEN_CHARS = 40;

const OTHER = 2;
const WORD = 1;
const SINGLE = 3;
/** Character classes of the BMP, filled lazily: 0 unknown, WORD, OTHER, SINGLE (Han/kana). */
const CLASS = new Uint8Array(65536);
for (let c = 0; c < 128; c++)
  CLASS[c] = (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) ? WORD : OTHER;
const SINGLE_RE = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]$/u;
const WORD_RE = /^[\p{L}\p{N}\p{M}]$/u;

/** Class of the BMP character c at text[i], computed once per character and cached. */
function bmpClass(text: string, i: number, c: number): number {
  const known = CLASS[c] ?? 0;
  if (known !== 0) return known;
  const computed = classOf(text[i] ?? '');
  CLASS[c] = computed;
  return computed;
}

function classOf(ch: string): number {
  if (SINGLE_RE.test(ch)) return SINGLE;
  return WORD_RE.test(ch) ? WORD : OTHER;
}

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const n = Math.min(s.length, MAX_TOKEN_CHARS);
  for (let i = 0; i < n; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Receives every word: its full hash and span. */
export type WordSink = (hash: number, start: number, end: number) => void;

/** Calls `sink` for each word of `text` (see the module comment for what a word is). */
export function forEachWord(text: string, sink: WordSink): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const start = i;
    let c = text.charCodeAt(i);
    let width = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
    let k = width === 1 ? bmpClass(text, i, c) : classOf(text.slice(i, i + 2));
    if (k === OTHER) {
      i += width;
      continue;
    }
    let h = 0x811c9dc5;
    if (k === SINGLE) {
      for (let j = 0; j < width; j++) h = Math.imul(h ^ text.charCodeAt(i + j), 0x01000193);
      i += width;
      sink(h >>> 0, start, i);
      continue;
    }
    let len = 0;
    while (k === WORD) {
      for (let j = 0; j < width; j++) {
        if (len < MAX_TOKEN_CHARS) h = Math.imul(h ^ text.charCodeAt(i + j), 0x01000193);
        len++;
      }
      i += width;
      if (i >= n) break;
      c = text.charCodeAt(i);
      width = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      k = width === 1 ? bmpClass(text, i, c) : classOf(text.slice(i, i + 2));
    }
    sink(h >>> 0, start, i);
  }
}

/** Words per scoring window: the n-gram part of the score is the best window of this many words. */
export const WINDOW_WORDS = 40;
/**
 * The n-gram part never lowers the log-odds by more than this: ordinary wording can explain away a weak
 * signal, not a strong one (hidden characters, an explicit override).
 */
export const NGRAM_FLOOR = -2.5;

/**
 * Collects, over one or more texts (a text and its decoded blobs), the n-gram buckets in word order
 * (`unigrams[k]`, `bigrams[k]` for word k; bigram -1 at a text's first word; `textEnds` marks where each text
 * ends) and the ids attached to key words that occur (see `keyIds`). Reused between calls (reset()).
 */
export class WordScan {
  unigrams = new Int32Array(1024);
  bigrams = new Int32Array(1024);
  /** Character span of word k in its text: [starts[k], ends[k]). */
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  length = 0;
  readonly textEnds: number[] = [];
  readonly keysSeen = new Set<number>();
  /** (key id, character offset of the word) pairs of the last text added, flat. */
  readonly keyHits: number[] = [];
  private readonly keys: KeyTable;

  /** keyIds: word hash (fnv1a of the lower-case word) -> ids to report when that word occurs. */
  constructor(keyIds: ReadonlyMap<number, readonly number[]>) {
    this.keys = new KeyTable(keyIds);
  }

  reset(): void {
    this.length = 0;
    this.textEnds.length = 0;
    this.keysSeen.clear();
    this.keyHits.length = 0;
  }

  private push(uni: number, bi: number, start: number, end: number): void {
    if (this.length === this.unigrams.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.unigrams = grow(this.unigrams);
      this.bigrams = grow(this.bigrams);
      this.starts = grow(this.starts);
      this.ends = grow(this.ends);
    }
    this.unigrams[this.length] = uni;
    this.bigrams[this.length] = bi;
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.length++;
  }

  /** Adds the words of `text`; `keysSeen` then holds the key ids of this text only. */
  add(text: string): void {
    this.keysSeen.clear();
    this.keyHits.length = 0;
    const { keys, keysSeen, keyHits } = this;
    let prevHash = 0;
    let first = true;
    const n = text.length;
    let i = 0;
    // Same word rules as forEachWord, inlined: this loop is the hot path of screening.
    while (i < n) {
      let c = text.charCodeAt(i);
      let width = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
      let k = width === 1 ? bmpClass(text, i, c) : classOf(text.slice(i, i + 2));
      if (k === OTHER) {
        i += width;
        continue;
      }
      const start = i;
      let h = 0x811c9dc5;
      if (k === SINGLE) {
        for (let j = 0; j < width; j++) h = Math.imul(h ^ text.charCodeAt(i + j), 0x01000193);
        i += width;
      } else {
        let len = 0;
        while (k === WORD) {
          for (let j = 0; j < width; j++) {
            if (len < MAX_TOKEN_CHARS) h = Math.imul(h ^ text.charCodeAt(i + j), 0x01000193);
            len++;
          }
          i += width;
          if (i >= n) break;
          c = text.charCodeAt(i);
          width = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? 2 : 1;
          k = width === 1 ? bmpClass(text, i, c) : classOf(text.slice(i, i + 2));
        }
      }
      h >>>= 0;
      keys.report(h, keysSeen, keyHits, start);
      this.push(h & MASK, first ? -1 : mix(prevHash, h) & MASK, start, i);
      first = false;
      prevHash = h;
    }
    this.textEnds.push(this.length);
  }
}

export interface WindowScore {
  /** Sum of the weights in the best window. */
  sum: number;
  /** Word positions [start, end) of the best window, and where its text starts. */
  start: number;
  end: number;
  textStart: number;
}

/**
 * The best window of WINDOW_WORDS consecutive words (or a whole shorter text): the largest sum of unigram and
 * bigram weights. Windows never span two texts. An empty scan scores 0.
 */
export function bestWindow(
  unigrams: ArrayLike<number>,
  bigrams: ArrayLike<number>,
  textEnds: ArrayLike<number>,
  weights: ArrayLike<number>,
  window = WINDOW_WORDS,
): WindowScore {
  const best: WindowScore = { sum: Number.NEGATIVE_INFINITY, start: 0, end: 0, textStart: 0 };
  let textStart = 0;
  for (let t = 0; t < textEnds.length; t++) {
    const textEnd = textEnds[t] as number;
    let sum = 0;
    for (let k = textStart; k < textEnd; k++) {
      sum +=
        (weights[unigrams[k] as number] as number) +
        (k > textStart ? (weights[bigrams[k] as number] as number) : 0);
      const drop = k - window;
      if (drop >= textStart) {
        sum -= weights[unigrams[drop] as number] as number;
        if (drop > textStart) sum -= weights[bigrams[drop] as number] as number;
      }
      if ((k - textStart + 1 >= window || k === textEnd - 1) && sum > best.sum) {
        best.sum = sum;
        best.start = Math.max(textStart, k - window + 1);
        best.end = k + 1;
        best.textStart = textStart;
      }
    }
    textStart = textEnd;
  }
  if (best.sum === Number.NEGATIVE_INFINITY) best.sum = 0;
  return best;
}

/** Key-word occurrences kept per text (pairs); past this, anchored rules fall back to one full scan. */
export const MAX_KEY_HITS = 8192;

/** Open-addressing hash table from word hash to key ids (faster than a Map for 32-bit hash keys). */
class KeyTable {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  private readonly used: Uint8Array;
  private readonly start: Int32Array;
  private readonly count: Int32Array;
  private readonly ids: Int32Array;

  constructor(entries: ReadonlyMap<number, readonly number[]>) {
    let size = 16;
    while (size < entries.size * 4) size *= 2;
    this.mask = size - 1;
    this.hashes = new Int32Array(size);
    this.used = new Uint8Array(size);
    this.start = new Int32Array(size);
    this.count = new Int32Array(size);
    const flat: number[] = [];
    for (const [hash, ids] of entries) {
      let slot = this.slotOf(hash);
      while (this.used[slot]) slot = (slot + 1) & this.mask;
      this.used[slot] = 1;
      this.hashes[slot] = hash | 0;
      this.start[slot] = flat.length;
      this.count[slot] = ids.length;
      flat.push(...ids);
    }
    this.ids = Int32Array.from(flat);
  }

  private slotOf(hash: number): number {
    return (hash ^ (hash >>> 15)) & this.mask;
  }

  /** If word `hash` is a key word: adds its ids to `seen` and (id, offset) pairs to `hits`. */
  report(hash: number, seen: Set<number>, hits: number[], offset: number): void {
    const h = hash | 0;
    for (let slot = this.slotOf(hash); this.used[slot]; slot = (slot + 1) & this.mask) {
      if (this.hashes[slot] !== h) continue;
      const start = this.start[slot] ?? 0;
      const end = start + (this.count[slot] ?? 0);
      for (let i = start; i < end; i++) {
        const id = this.ids[i] ?? -1;
        seen.add(id);
        if (hits.length < MAX_KEY_HITS) hits.push(id, offset);
      }
      return;
    }
  }
}

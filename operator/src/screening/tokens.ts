/**
 * One linear pass over the normalised text that does everything per word: hashed word n-grams for the linear
 * model (unigrams and bigrams, FNV-1a into HASH_BITS buckets; each Han/kana character is a word of its own),
 * and a lookup of every word in the "key word" index that decides which pattern rules and decoders need to
 * run at all (where each key word occurs is kept, chained per word, for the anchored rules). A hand-written
 * loop instead of a regex: no allocation per word; ASCII characters take a table lookup, only others a call.
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
 * Key-word occurrences, counted per id (a word with three ids counts three times), from which on anchored rules
 * fall back to one full scan of the text (see WordScan.keyHitsFull); also the occurrences kept per text.
 */
export const MAX_KEY_HITS = 4096;

/** Word class (low two bits) and width in code units (above) of each ASCII character. */
const ASCII_INFO = Uint8Array.from(CLASS.subarray(0, 128), (k) => k | 4);

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
  /** Key ids of the last text added, each once, in order of first occurrence: seenIds[0 .. seenCount). */
  readonly seenIds: Int32Array;
  seenCount = 0;
  /**
   * Occurrences of key words in the last text added: occurrence h is at character offset hitOffset[h]; those of
   * one key word are chained in text order from firstHitOf(word) through hitNext (-1 ends). Words are the
   * key-word table's slots; keyWordsOf(id) lists the words that carry an id.
   */
  readonly hitOffset = new Int32Array(MAX_KEY_HITS);
  readonly hitNext = new Int32Array(MAX_KEY_HITS);
  hitCount = 0;
  /** MAX_KEY_HITS key-word occurrences or more (counted per id) in the last text added. */
  keyHitsFull = false;
  /** The bits of `unitBits` of every non-ASCII code unit of the last text added, or-ed together. */
  noted = 0;
  private idHits = 0;
  private readonly seen: Uint8Array;
  private readonly wordSeen: Uint8Array;
  private readonly seenWords: Int32Array;
  private seenWordCount = 0;
  private readonly firstHits: Int32Array;
  private readonly lastHits: Int32Array;
  private readonly wordsOfId: Int32Array[];
  private readonly keys: KeyTable;
  private readonly unitBits: Uint8Array;

  /**
   * keyIds: word hash (fnv1a of the lower-case word) -> ids to report when that word occurs; unitBits: bits to
   * note for each code unit (see `noted`; only non-ASCII ones are read).
   */
  constructor(keyIds: ReadonlyMap<number, readonly number[]>, unitBits = new Uint8Array(65536)) {
    this.keys = new KeyTable(keyIds);
    this.unitBits = unitBits;
    let ids = 0;
    for (const list of keyIds.values()) for (const id of list) ids = Math.max(ids, id + 1);
    this.seen = new Uint8Array(ids);
    this.seenIds = new Int32Array(ids);
    const slots = this.keys.size;
    this.wordSeen = new Uint8Array(slots);
    this.seenWords = new Int32Array(slots);
    this.firstHits = new Int32Array(slots);
    this.lastHits = new Int32Array(slots);
    const words: number[][] = Array.from({ length: ids }, () => []);
    for (let slot = 0; slot < slots; slot++)
      for (const id of this.keys.idsIn(slot)) (words[id] as number[]).push(slot);
    this.wordsOfId = words.map((list) => Int32Array.from(list));
  }

  /** Whether key id `id` occurs in the last text added. */
  hasKey(id: number): boolean {
    return this.seen[id] === 1;
  }

  /** The key words (slots) that carry id `id`. */
  keyWordsOf(id: number): Int32Array {
    return this.wordsOfId[id] as Int32Array;
  }

  /** The first kept occurrence of key word `word` (a slot) in the last text added, or -1. */
  firstHitOf(word: number): number {
    return this.wordSeen[word] === 1 ? (this.firstHits[word] as number) : -1;
  }

  reset(): void {
    this.length = 0;
    this.textEnds.length = 0;
    this.clearKeys();
  }

  private clearKeys(): void {
    for (let j = 0; j < this.seenCount; j++) this.seen[this.seenIds[j] as number] = 0;
    for (let j = 0; j < this.seenWordCount; j++) this.wordSeen[this.seenWords[j] as number] = 0;
    this.seenCount = 0;
    this.seenWordCount = 0;
    this.hitCount = 0;
    this.idHits = 0;
    this.keyHitsFull = false;
  }

  private grow(): void {
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

  /** Adds the words of `text`; the key ids and hits then describe this text only. */
  add(text: string): void {
    this.clearKeys();
    this.noted = 0;
    let prevHash = 0;
    let first = true;
    const n = text.length;
    let i = 0;
    // Same word rules as forEachWord, inlined with an ASCII fast path: this loop is the hot path of screening.
    while (i < n) {
      let c = text.charCodeAt(i);
      let info = c < 0x80 ? (ASCII_INFO[c] as number) : this.infoAt(text, i, c, n);
      if ((info & 3) === OTHER) {
        i += info >> 2;
        continue;
      }
      const start = i;
      let h = 0x811c9dc5;
      if ((info & 3) === SINGLE) {
        h = Math.imul(h ^ c, 0x01000193);
        if (info >> 2 === 2) h = Math.imul(h ^ text.charCodeAt(i + 1), 0x01000193);
        i += info >> 2;
      } else {
        let len = 0;
        for (;;) {
          if (len < MAX_TOKEN_CHARS) h = Math.imul(h ^ c, 0x01000193);
          len++;
          if (info >> 2 === 2) {
            if (len < MAX_TOKEN_CHARS) h = Math.imul(h ^ text.charCodeAt(i + 1), 0x01000193);
            len++;
            i += 2;
          } else i++;
          if (i >= n) break;
          c = text.charCodeAt(i);
          info = c < 0x80 ? (ASCII_INFO[c] as number) : this.infoAt(text, i, c, n);
          if ((info & 3) !== WORD) break;
        }
      }
      h >>>= 0;
      const entry = this.keys.find(h);
      if (entry >= 0) this.report(entry, start);
      const k = this.length;
      if (k === this.unigrams.length) this.grow();
      this.unigrams[k] = h & MASK;
      this.bigrams[k] = first ? -1 : mix(prevHash, h) & MASK;
      this.starts[k] = start;
      this.ends[k] = i;
      this.length = k + 1;
      first = false;
      prevHash = h;
    }
    this.textEnds.push(this.length);
  }

  /** Class and width (see ASCII_INFO) of the character at text[i], whose first code unit c is not ASCII. */
  private infoAt(text: string, i: number, c: number, n: number): number {
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      this.noted |= (this.unitBits[c] as number) | (this.unitBits[text.charCodeAt(i + 1)] as number);
      return classOf(text.slice(i, i + 2)) | 8;
    }
    this.noted |= this.unitBits[c] as number;
    return bmpClass(text, i, c) | 4;
  }

  /** Key word `word` (a slot) at `offset`: marks it and its ids seen and keeps the occurrence while there is room. */
  private report(word: number, offset: number): void {
    this.idHits += this.keys.count[word] as number;
    if (this.idHits >= MAX_KEY_HITS) this.keyHitsFull = true;
    const hit = this.hitCount < MAX_KEY_HITS ? this.hitCount++ : -1;
    if (hit >= 0) {
      this.hitOffset[hit] = offset;
      this.hitNext[hit] = -1;
    }
    if (this.wordSeen[word] === 1) {
      if (hit >= 0) {
        this.hitNext[this.lastHits[word] as number] = hit;
        this.lastHits[word] = hit;
      }
      return;
    }
    this.wordSeen[word] = 1;
    this.seenWords[this.seenWordCount++] = word;
    this.firstHits[word] = hit;
    this.lastHits[word] = hit;
    const { ids, start, count } = this.keys;
    const from = start[word] as number;
    const to = from + (count[word] as number);
    for (let j = from; j < to; j++) {
      const id = ids[j] as number;
      if (this.seen[id] === 0) {
        this.seen[id] = 1;
        this.seenIds[this.seenCount++] = id;
      }
    }
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

/** Open-addressing hash table from word hash to key ids (faster than a Map for 32-bit hash keys). */
class KeyTable {
  private readonly mask: number;
  private readonly hashes: Int32Array;
  private readonly used: Uint8Array;
  /** The ids of the key word in slot s: ids[start[s] .. start[s] + count[s]). */
  readonly start: Int32Array;
  readonly count: Int32Array;
  readonly ids: Int32Array;

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

  /** The number of slots. */
  get size(): number {
    return this.mask + 1;
  }

  /** The ids of the key word in `slot` (none for an empty slot). */
  idsIn(slot: number): Int32Array {
    const from = this.start[slot] as number;
    return this.used[slot] === 1
      ? this.ids.subarray(from, from + (this.count[slot] as number))
      : new Int32Array(0);
  }

  /** The slot of word `hash` if it is a key word, else -1. */
  find(hash: number): number {
    const h = hash | 0;
    for (let slot = this.slotOf(hash); this.used[slot] === 1; slot = (slot + 1) & this.mask)
      if (this.hashes[slot] === h) return slot;
    return -1;
  }
}

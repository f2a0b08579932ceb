import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IS_CONFUSABLE } from './confusables.ts';
import {
  AMPERSAND,
  CONFUSABLE,
  ESCAPES,
  type Facts,
  factsOf,
  HEX_PAIRS,
  HIDDEN,
  LEETSPEAK,
  LONG_RUN,
  NON_ASCII,
  PERCENT_ESCAPES,
  SPACED_LETTERS,
  WHITESPACE,
} from './facts.ts';
import { collapseWhitespace, HIDDEN_RE } from './normalize.ts';

/** What factsOf must answer, written the plain way: one regex or loop per fact. */
function reference(s: string): Facts {
  let flags = 0;
  const set = (flag: number, on: boolean) => {
    if (on) flags |= flag;
  };
  const units = Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
  set(
    NON_ASCII,
    units.some((c) => c >= 0x80),
  );
  set(AMPERSAND, s.includes('&'));
  set(PERCENT_ESCAPES, (s.match(/%[0-9a-fA-F]{2}/g) ?? []).length >= 3);
  set(
    WHITESPACE,
    /[\t\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]| [ \n]|\n[ \n\t\r]/.test(s),
  );
  let singles = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== ' ' || s[i + 1] === ' ' || s[i + 1] === '\n') continue;
    if (s[i + 2] === ' ') set(SPACED_LETTERS, ++singles >= 3);
    else singles = 0;
  }
  set(LEETSPEAK, /(?=[A-Za-z][0-9+\-/$][A-Za-z])/.test(s));
  set(ESCAPES, /\\[xu]/.test(s));
  const longRuns = [...s.matchAll(/[A-Za-z0-9+/_-]{16,}/g)].map((m) => m.index);
  set(LONG_RUN, longRuns.length > 0);
  set(HEX_PAIRS, /[0-9a-fA-F]{2}(?:[ :,][0-9a-fA-F]{2}){7}/.test(s));
  const hidden = [0xad, 0x34f, 0x61c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180e, 0x3164, 0xfeff, 0xffa0, 0xdb40];
  const hiddenRanges: [number, number][] = [
    [0x200b, 0x200f],
    [0x202a, 0x202e],
    [0x2060, 0x206f],
    [0xfe00, 0xfe0f],
  ];
  set(
    HIDDEN,
    units.some((c) => hidden.includes(c) || hiddenRanges.some(([from, to]) => c >= from && c <= to)),
  );
  set(
    CONFUSABLE,
    /[\u0131\u0180-\u058f\u1d00-\u1dbf\u2100-\u214f\u2c60-\u2c7f\ua720-\ua7ff\uab30-\uab6f]/.test(s),
  );
  return {
    flags,
    longRuns,
    lines: 1 + (s.match(/\n/g) ?? []).length,
    codePunctuation: (s.match(/[{};=()]/g) ?? []).length,
  };
}

/** Deterministic random strings over an alphabet that hits every fact. */
function* randomTexts(count: number): Generator<string> {
  const alphabet = [
    'a',
    'B',
    'f',
    '7',
    '0',
    ' ',
    ' ',
    ' ',
    '\n',
    '\t',
    '\r',
    ':',
    ',',
    '%',
    '4',
    '1',
    '\\',
    'x',
    'u',
    '$',
    '+',
    '-',
    '/',
    '_',
    '&',
    '{',
    '(',
    ';',
    '=',
    'é',
    'а',
    'Ω',
    '\u00a0',
    '\u3000',
    '\u200b',
    '\ufe0f',
    '\u{E0041}',
    'ǅ',
    '中',
    'ab12cd34ef56ab78',
    'AbCdEfGhIjKlMnOp',
    '41 42 43 44',
  ];
  let seed = 7;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let k = 0; k < count; k++) {
    let s = '';
    const n = Math.floor(next() * 60);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(next() * alphabet.length)];
    yield s;
  }
}

describe('factsOf', () => {
  const cases: [string, string, number][] = [
    ['plain prose', 'Hello there, how are you?', 0],
    ['non-ASCII', 'café', NON_ASCII],
    ['HTML entity', 'a &amp; b', AMPERSAND],
    ['three percent-escapes', 'q=a%20b%20c%41', PERCENT_ESCAPES],
    ['two percent-escapes are not enough', 'a%20b%20c', 0],
    ['double space', 'a  b', WHITESPACE],
    ['indentation', 'a\n  b', WHITESPACE],
    ['tab', 'a\tb', WHITESPACE],
    ['non-ASCII space', 'a\u3000b', NON_ASCII | WHITESPACE],
    ['a single space and line break change nothing', 'a b\nc', 0],
    ['letter spacing', 'say i g n o r e', SPACED_LETTERS],
    ['two single letters are not spacing', 'a b cd', 0],
    ['leetspeak digit', 'h3llo', LEETSPEAK],
    ['leetspeak dollar', 'pa$s', LEETSPEAK],
    ['a hyphen between letters counts as well', 'e-mail', LEETSPEAK],
    ['escape', 'say \\x41', ESCAPES],
    ['long run', 'id AbCdEfGhIjKlMnOpQ', LONG_RUN],
    ['15 characters are not a long run', 'abcdefghijklmno', 0],
    ['8 hex pairs', '49 67 6e 6f 72 65 20 61', HEX_PAIRS],
    ['7 hex pairs are not enough', '49 67 6e 6f 72 65 20', 0],
    ['zero-width space', 'a\u200bb', NON_ASCII | HIDDEN],
    ['tag character', 'a\u{E0041}', NON_ASCII | HIDDEN],
    ['Cyrillic look-alike', 'іgnore', NON_ASCII | CONFUSABLE],
    ['Chinese has no look-alikes', '忽略', NON_ASCII],
  ];
  for (const [name, text, flags] of cases)
    test(name, () => {
      assert.equal(factsOf(text).flags, flags);
      assert.deepEqual(factsOf(text), reference(text));
    });

  test('lines, code punctuation and where long runs start', () => {
    const f = factsOf('x = f(a);\nkey: aGVsbG8gd29ybGQgaGVsbG8= and QUJDREVGR0hJSktMTU5PUA\n');
    assert.equal(f.lines, 3);
    assert.equal(f.codePunctuation, 5);
    assert.deepEqual(f.longRuns, [15, 44]);
  });

  test('agrees with the plain reference on random text', () => {
    for (const text of randomTexts(5000))
      assert.deepEqual(factsOf(text), reference(text), JSON.stringify(text));
  });

  test('HIDDEN is set wherever normalize removes a hidden character', () => {
    for (let cp = 0x80; cp <= 0xe01ef; cp++) {
      if ((cp >= 0xd800 && cp <= 0xdfff) || (cp > 0xffff && cp < 0xe0000)) continue;
      const ch = String.fromCodePoint(cp);
      HIDDEN_RE.lastIndex = 0;
      if (HIDDEN_RE.test(`a${ch}`)) assert.ok(factsOf(`a${ch}`).flags & HIDDEN, cp.toString(16));
    }
  });

  test('CONFUSABLE is set for every letter that is or lower-cases to a look-alike', () => {
    for (let cp = 0x80; cp <= 0x1ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const lower = ch.toLowerCase();
      let folds = false;
      for (let i = 0; i < lower.length; i++) if (IS_CONFUSABLE[lower.charCodeAt(i)]) folds = true;
      if (folds) assert.ok(factsOf(ch).flags & CONFUSABLE, cp.toString(16));
    }
  });

  test('without WHITESPACE, collapsing whitespace only trims', () => {
    for (const text of randomTexts(5000))
      if (!(factsOf(text).flags & WHITESPACE)) assert.equal(collapseWhitespace(text), text.trim());
  });
});

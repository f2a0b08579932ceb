/**
 * One hand-written pass over a text that answers, at once, the questions that decide which (more expensive)
 * normalisation steps and decoders are needed at all. Replaces a dozen regex scans per text.
 */
export const NON_ASCII = 1;
/** Has '&' (HTML entities possible). */
export const AMPERSAND = 2;
/** Has at least MIN_PERCENT_ESCAPES percent-escapes (%XX). */
export const PERCENT_ESCAPES = 4;
/** Has whitespace that collapsing would change (tabs, CR, double spaces, indentation, non-ASCII spaces). */
export const WHITESPACE = 8;
/** Has three single-character words in a row ("i g n o r e"). */
export const SPACED_LETTERS = 16;
/** Has a digit, '+', '-', '/' or '$' between two ASCII letters ("h3llo"; see factsOf). */
export const LEETSPEAK = 32;
/** Has a backslash escape \x or \u. */
export const ESCAPES = 64;
/** Has a run of at least 16 base64/hex characters (an encoded blob is possible). */
export const LONG_RUN = 128;
/** Has 8 hex pairs in a row, one space, ':' or ',' between each two ("49 67 6e 6f 72 65 20 61"). */
export const HEX_PAIRS = 256;
/** Has a code unit that normalize.ts removes as hidden (zero-width, BiDi, variation selector, tag character). */
export const HIDDEN = 512;
/**
 * Has a letter that is, or lower-cases to, a look-alike of a Latin letter (confusables.ts) or may: any of
 * U+0131, U+0180..U+058F (Latin Extended-B to Armenian), U+1D00..U+1DBF (small capitals), U+2100..U+214F and
 * the Latin Extended-C, -D and -E blocks. A test checks that this covers every such letter.
 */
export const CONFUSABLE = 1024;

/**
 * The code units HIDDEN looks for: every one that normalize.ts's HIDDEN_RE can match (0xDB40 is the high
 * surrogate of every tag character and supplementary variation selector), and a few more.
 */
export const HIDDEN_RANGES: readonly (readonly [number, number])[] = [
  [0xad, 0xad],
  [0x34f, 0x34f],
  [0x61c, 0x61c],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180e, 0x180e],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2060, 0x206f],
  [0x3164, 0x3164],
  [0xdb40, 0xdb40],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
];

/** The code units CONFUSABLE looks for. */
export const CONFUSABLE_RANGES: readonly (readonly [number, number])[] = [
  [0x131, 0x131],
  [0x180, 0x58f],
  [0x1d00, 0x1dbf],
  [0x2100, 0x214f],
  [0x2c60, 0x2c7f],
  [0xa720, 0xa7ff],
  [0xab30, 0xab6f],
];

export const MIN_RUN = 16;
/** Separators between hex pairs, in a row, that HEX_PAIRS needs (8 pairs). */
const MIN_HEX_SEPARATORS = 7;

export const MIN_PERCENT_ESCAPES = 3;

export interface Facts {
  flags: number;
  /** Where each run of at least 16 base64/hex characters (A-Z a-z 0-9 + / - _) starts, in order. */
  longRuns: readonly number[];
  lines: number;
  /** Count of { } ; = ( ) characters. */
  codePunctuation: number;
}

/*
 * factsOf reads every code unit through one table lookup (KIND: its class and the flags it sets by itself) and
 * the classes of the last three code units through a second (WINDOW: what they show together), and updates
 * its counters with bit arithmetic: no branch depends on whether a character is a letter, a space or a
 * digit, so the CPU rarely mispredicts one at word boundaries. Rare characters ('%' and '\') are looked at
 * afterwards, found by native searches.
 */
// Classes (4 bits); 0 is any other character.
const HEX_LETTER = 1; // a-f A-F
const LETTER = 2; // other ASCII letters
const DIGIT = 3;
const SIGN = 4; // + - /
const UNDERSCORE = 5;
const DOLLAR = 6;
const SPACE = 7;
const NL = 8;
const TAB_CR = 9; // \t \r
const COLON_COMMA = 10;
/** Where the class sits in a KIND entry; other KIND bits, above the DIRECT flags. */
const CLASS_SHIFT = 16;
const RUN_BIT = 12; // a base64/hex run character: A-Z a-z 0-9 + / - _
const NL_BIT = 13;
const CODE_BIT = 14; // { } ; = ( )
const DIRECT = NON_ASCII | AMPERSAND | WHITESPACE | HIDDEN | CONFUSABLE;
/** The bit of SPACED_LETTERS. */
const SPACED_BIT = 4;
/** WINDOW bits above the flags it sets directly (LEETSPEAK, WHITESPACE). */
const ONE_MORE_SINGLE = 12; // ' ', one character, ' ': one more single-character word
const NO_SINGLE = 13; // ' ', one character, something else: the count starts again
const HEX_HEAD = 14; // two hex digits and a separator
const HEX_TAIL = 15; // a separator and two hex digits

const KIND = new Int32Array(65536);
{
  const classes: [number, string][] = [
    [HEX_LETTER, 'abcdefABCDEF'],
    [LETTER, 'ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ'],
    [DIGIT, '0123456789'],
    [SIGN, '+-/'],
    [UNDERSCORE, '_'],
    [DOLLAR, '$'],
    [SPACE, ' '],
    [NL, '\n'],
    [TAB_CR, '\t\r'],
    [COLON_COMMA, ':,'],
  ];
  for (const [cls, chars] of classes) for (const ch of chars) KIND[ch.charCodeAt(0)] = cls << CLASS_SHIFT;
  const set = (bit: number, chars: string) => {
    for (const ch of chars) KIND[ch.charCodeAt(0)] = (KIND[ch.charCodeAt(0)] as number) | (1 << bit);
  };
  set(RUN_BIT, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/-_');
  set(NL_BIT, '\n');
  set(CODE_BIT, '{};=()');
  for (const c of [9, 11, 12, 13]) KIND[c] = (KIND[c] as number) | WHITESPACE;
  KIND[38] = (KIND[38] as number) | AMPERSAND;
  // Non-ASCII: whitespace that collapsing changes (as `\s` in a regex), what normalize.ts removes as hidden, and
  // possible look-alikes of Latin letters.
  KIND.fill(NON_ASCII, 128);
  for (const c of [0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff])
    KIND[c] = (KIND[c] as number) | WHITESPACE;
  for (let c = 0x2000; c <= 0x200a; c++) KIND[c] = (KIND[c] as number) | WHITESPACE;
  for (const [from, to] of HIDDEN_RANGES)
    for (let c = from; c <= to; c++) KIND[c] = (KIND[c] as number) | HIDDEN;
  for (const [from, to] of CONFUSABLE_RANGES)
    for (let c = from; c <= to; c++) KIND[c] = (KIND[c] as number) | CONFUSABLE;
}

/** What three code units in a row show, by their classes: WINDOW[(c2 << 8) | (c1 << 4) | c0], c0 the last. */
const WINDOW = new Int32Array(4096);
{
  const letter = (c: number) => c === HEX_LETTER || c === LETTER;
  const hex = (c: number) => c === HEX_LETTER || c === DIGIT;
  const sep = (c: number) => c === SPACE || c === COLON_COMMA;
  for (let c2 = 0; c2 < 16; c2++)
    for (let c1 = 0; c1 < 16; c1++)
      for (let c0 = 0; c0 < 16; c0++) {
        let w = 0;
        if (letter(c2) && (c1 === DIGIT || c1 === SIGN || c1 === DOLLAR) && letter(c0)) w |= LEETSPEAK;
        if (
          (c1 === SPACE && (c0 === SPACE || c0 === NL)) ||
          (c1 === NL && (c0 === SPACE || c0 === NL || c0 === TAB_CR))
        )
          w |= WHITESPACE;
        if (c2 === SPACE && c1 !== SPACE && c1 !== NL) w |= 1 << (c0 === SPACE ? ONE_MORE_SINGLE : NO_SINGLE);
        if (hex(c2) && hex(c1) && sep(c0)) w |= 1 << HEX_HEAD;
        if (sep(c2) && hex(c1) && hex(c0)) w |= 1 << HEX_TAIL;
        WINDOW[(c2 << 8) | (c1 << 4) | c0] = w;
      }
}

const NONE: readonly number[] = [];

/**
 * The facts of a text. What sets each flag: see the constants; "between" means the characters right before
 * and after. Leetspeak: a digit, '+', '-', '/' or '$' between two ASCII letters. Whitespace: a tab, vertical
 * tab, form feed or CR, a space before a space or a line break, a line break before a space, line break, tab
 * or CR, or non-ASCII whitespace. Letter spacing: three times a space, one character other than a space or
 * line break, and a space, counting from one such space to the next until a space is followed by a character
 * and no space after it. Hex pairs: see HEX_PAIRS.
 */
export function factsOf(s: string): Facts {
  let flags = 0;
  let lines = 1;
  let code = 0;
  let singles = 0;
  let heads = 0;
  let chain = 0;
  let lastSeparator = -4;
  let run = 0;
  let window = 0;
  const n = s.length;
  let longRuns: number[] | undefined;
  for (let i = 0; i < n; i++) {
    const k = KIND[s.charCodeAt(i)] as number;
    window = ((window << 4) | (k >> CLASS_SHIFT)) & 0xfff;
    const w = WINDOW[window] as number;
    flags |= (k & DIRECT) | (w & (LEETSPEAK | WHITESPACE));
    lines += (k >> NL_BIT) & 1;
    code += (k >> CODE_BIT) & 1;
    run = (run + 1) & (0 - ((k >> RUN_BIT) & 1));
    if (run === MIN_RUN) {
      longRuns ??= [];
      longRuns.push(i + 1 - MIN_RUN);
    }
    // Single-character words in a row: one more, or the count starts again (never both).
    singles = (singles + ((w >> ONE_MORE_SINGLE) & 1)) & (((w >> NO_SINGLE) & 1) - 1);
    flags |= ((2 - singles) >>> 31) << SPACED_BIT;
    heads = (heads << 1) | ((w >> HEX_HEAD) & 1);
    if ((w >> HEX_TAIL) & (heads >> 2) & 1) {
      // A separator between two hex pairs (two characters back): count how many came in a row, one every three.
      chain = lastSeparator === i - 5 ? chain + 1 : 1;
      lastSeparator = i - 2;
      if (chain >= MIN_HEX_SEPARATORS) flags |= HEX_PAIRS;
    }
  }
  if (longRuns) flags |= LONG_RUN;
  if (hasEscapes(s, '%', isHexPair, MIN_PERCENT_ESCAPES)) flags |= PERCENT_ESCAPES;
  if (hasEscapes(s, '\\', isEscapeLetter, 1)) flags |= ESCAPES;
  return { flags, longRuns: longRuns ?? NONE, lines, codePunctuation: code };
}

const isHexDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isHexPair = (s: string, i: number) =>
  isHexDigit(s.charCodeAt(i + 1)) && isHexDigit(s.charCodeAt(i + 2));
const isEscapeLetter = (s: string, i: number) => s.charCodeAt(i + 1) === 120 || s.charCodeAt(i + 1) === 117;

/** Whether at least `atLeast` occurrences of `ch` in `s` are followed by what `followedBy` accepts. */
function hasEscapes(
  s: string,
  ch: string,
  followedBy: (s: string, i: number) => boolean,
  atLeast: number,
): boolean {
  let k = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1))
    if (followedBy(s, i) && ++k >= atLeast) return true;
  return false;
}

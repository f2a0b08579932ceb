/**
 * One hand-written pass over a text that answers, at once, the questions that decide which (more expensive)
 * normalisation steps and decoders are needed at all. Replaces a dozen regex scans per text.
 */
export const NON_ASCII = 1;
/** Has '&' (HTML entities possible). */
export const AMPERSAND = 2;
/** Has at least MIN_PERCENT_ESCAPES percent-escapes (%XX). */
export const PERCENT_ESCAPES = 4;
/** Has whitespace that collapsing would change (tabs, CR, double spaces, spaces around line breaks). */
export const WHITESPACE = 8;
/** Has three single-character words in a row ("i g n o r e"). */
export const SPACED_LETTERS = 16;
/** Has a digit or '$' between two letters ("h3llo"). */
export const LEETSPEAK = 32;
/** Has a backslash escape \x or \u. */
export const ESCAPES = 64;
/** Has a run of at least 16 base64/hex characters (an encoded blob is possible). */
export const LONG_RUN = 128;
/** Has at least 6 space/colon/comma-separated hex pairs ("49 67 6e ..."). */
export const HEX_PAIRS = 256;

const MIN_RUN = 16;
const MIN_HEX_PAIRS = 6;

export const MIN_PERCENT_ESCAPES = 3;

export interface Facts {
  flags: number;
  lines: number;
  /** Count of { } ; = ( ) characters. */
  codePunctuation: number;
}

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
const isLetter = (c: number) => (c | 0x20) >= 97 && (c | 0x20) <= 122;
const isSpace = (c: number) => c === 32 || c === 10 || c === 9 || c === 13;

export function factsOf(s: string): Facts {
  let flags = 0;
  let lines = 1;
  let code = 0;
  let percents = 0;
  let singles = 0;
  let hexPairs = 0;
  let runStart = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) continue; // letters: the common case, nothing to note
    if ((c >= 48 && c <= 57) || c === 43 || c === 47 || c === 45 || c === 95) {
      // digits and + / - _ continue a base64 run
      if (c <= 57 && i > 0 && isLetter(s.charCodeAt(i - 1)) && isLetter(s.charCodeAt(i + 1)))
        flags |= LEETSPEAK;
      continue;
    }
    if (i - runStart >= MIN_RUN) flags |= LONG_RUN;
    runStart = i + 1;
    if (c >= 128) {
      flags |= NON_ASCII | WHITESPACE;
      continue;
    }
    if (
      (c === 32 || c === 58 || c === 44) &&
      isHex(s.charCodeAt(i - 1)) &&
      isHex(s.charCodeAt(i - 2)) &&
      isHex(s.charCodeAt(i + 1)) &&
      isHex(s.charCodeAt(i + 2))
    ) {
      if (++hexPairs >= MIN_HEX_PAIRS) flags |= HEX_PAIRS;
    }
    switch (c) {
      case 32: {
        const next = s.charCodeAt(i + 1);
        if (next === 32 || next === 10) flags |= WHITESPACE;
        // " x " : a one-character word follows this space.
        else if (s.charCodeAt(i + 2) === 32 && next !== 10) {
          if (++singles >= 3) flags |= SPACED_LETTERS;
        } else singles = 0;
        break;
      }
      case 10:
        lines++;
        if (isSpace(s.charCodeAt(i + 1))) flags |= WHITESPACE;
        break;
      case 9:
      case 11:
      case 12:
      case 13:
        flags |= WHITESPACE;
        break;
      case 38:
        flags |= AMPERSAND;
        break;
      case 37:
        if (isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2)) && ++percents >= MIN_PERCENT_ESCAPES)
          flags |= PERCENT_ESCAPES;
        break;
      case 92: {
        const next = s.charCodeAt(i + 1);
        if (next === 120 || next === 117) flags |= ESCAPES;
        break;
      }
      case 123:
      case 125:
      case 59:
      case 61:
      case 40:
      case 41:
        code++;
        break;
      case 36:
        if (i > 0 && isLetter(s.charCodeAt(i - 1)) && isLetter(s.charCodeAt(i + 1))) flags |= LEETSPEAK;
        break;
    }
  }
  if (n - runStart >= MIN_RUN) flags |= LONG_RUN;
  return { flags, lines, codePunctuation: code };
}

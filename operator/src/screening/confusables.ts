/**
 * Lower-case look-alikes of Latin letters (Cyrillic, Greek, Armenian, small capitals, IPA) that NFKC leaves
 * alone. Applied after NFKC + toLowerCase, and only to words that mix scripts or that become a trigger word
 * (see normalize.ts), so genuine Russian or Greek text is not mangled.
 */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  // Cyrillic
  ['а', 'a'],
  ['в', 'b'],
  ['е', 'e'],
  ['ё', 'e'],
  ['к', 'k'],
  ['м', 'm'],
  ['н', 'h'],
  ['о', 'o'],
  ['р', 'p'],
  ['с', 'c'],
  ['т', 't'],
  ['у', 'y'],
  ['х', 'x'],
  ['ѕ', 's'],
  ['і', 'i'],
  ['ї', 'i'],
  ['ј', 'j'],
  ['һ', 'h'],
  ['ԁ', 'd'],
  ['ԛ', 'q'],
  ['ԝ', 'w'],
  ['ӏ', 'l'],
  ['ɡ', 'g'],
  ['ь', 'b'],
  ['ԍ', 'g'],
  ['ү', 'y'],
  // Greek
  ['α', 'a'],
  ['β', 'b'],
  ['ε', 'e'],
  ['η', 'n'],
  ['ι', 'i'],
  ['κ', 'k'],
  ['ν', 'v'],
  ['ο', 'o'],
  ['ρ', 'p'],
  ['τ', 't'],
  ['υ', 'u'],
  ['χ', 'x'],
  ['γ', 'y'],
  ['ω', 'w'],
  ['ϲ', 'c'],
  ['ϳ', 'j'],
  // Armenian
  ['օ', 'o'],
  ['ս', 'u'],
  ['հ', 'h'],
  ['ո', 'n'],
  ['ց', 'g'],
  ['զ', 'q'],
  // Latin extensions, small capitals, IPA
  ['ı', 'i'],
  ['ȷ', 'j'],
  ['ɩ', 'i'],
  ['ɑ', 'a'],
  ['ɒ', 'a'],
  ['ɛ', 'e'],
  ['ɔ', 'c'],
  ['ʀ', 'r'],
  ['ʟ', 'l'],
  ['ᴀ', 'a'],
  ['ʙ', 'b'],
  ['ᴄ', 'c'],
  ['ᴅ', 'd'],
  ['ᴇ', 'e'],
  ['ɢ', 'g'],
  ['ʜ', 'h'],
  ['ɪ', 'i'],
  ['ᴊ', 'j'],
  ['ᴋ', 'k'],
  ['ᴍ', 'm'],
  ['ɴ', 'n'],
  ['ᴏ', 'o'],
  ['ᴘ', 'p'],
  ['ꜱ', 's'],
  ['ᴛ', 't'],
  ['ᴜ', 'u'],
  ['ᴠ', 'v'],
  ['ᴡ', 'w'],
  ['ʏ', 'y'],
  ['ᴢ', 'z'],
  ['ɾ', 'r'],
  ['ʋ', 'u'],
  ['ɯ', 'w'],
];

const MAP = new Map<string, string>(PAIRS);
/** BMP code units that have a fold (all entries are single BMP characters). */
export const IS_CONFUSABLE = new Uint8Array(65536);
for (const [from] of PAIRS) IS_CONFUSABLE[from.charCodeAt(0)] = 1;

/** Matches any character that has a Latin look-alike fold. */
export const CONFUSABLE_RE = new RegExp(`[${PAIRS.map(([from]) => from).join('')}]`, 'u');

export function foldConfusables(word: string): { text: string; folded: number } {
  let out = '';
  let folded = 0;
  for (const ch of word) {
    const to = MAP.get(ch);
    if (to === undefined) out += ch;
    else {
      out += to;
      folded++;
    }
  }
  return { text: out, folded };
}

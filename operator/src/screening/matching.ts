/**
 * Runs the pattern rules (rules.ts) on a normalised text while running as few as possible. The word scan
 * (tokens.ts) has already told which key words occur, where, and which scripts the text holds. A rule runs
 * only if its key words (and `also` words) occur, its script occurs and one of the strings it `needs` occurs;
 * an anchored rule is tried (sticky) only where its first words occur, in text order, and run once over the
 * whole text when there are too many of them. Every skip is exact: the regex could not have matched.
 */
import type { Hints } from './decode.ts';
import { REVERSED_HINT_WORDS, ROT13_HINT_WORDS } from './decode.ts';
import { RULES, type Rule, SCRIPTS, type Script } from './rules.ts';
import { fnv1a, WordScan } from './tokens.ts';

/** Key ids: 2i for a word of rule i's `keys`, 2i+1 for a word of its `also`; then one per decoder hint word. */
const ROT13_BASE = 2 * RULES.length;
const REVERSED_BASE = ROT13_BASE + ROT13_HINT_WORDS.length;
/** Distinct hint words a text needs before its lines are tried as ROT13 / reversed text. */
const MIN_HINT_WORDS = 3;
/** More occurrences than this and an anchored rule is run once over the whole text instead. */
const MAX_ANCHOR_TRIES = 64;

/** Word hash -> key ids (see above). */
function keyIndex(): Map<number, number[]> {
  const index = new Map<number, number[]>();
  const put = (word: string, id: number) => {
    const h = fnv1a(word);
    const ids = index.get(h) ?? [];
    if (!ids.includes(id)) ids.push(id);
    index.set(h, ids);
  };
  RULES.forEach((rule, i) => {
    for (const key of rule.keys ?? []) put(key, 2 * i);
    for (const key of rule.also ?? []) put(key, 2 * i + 1);
  });
  for (const [i, w] of [...new Set(ROT13_HINT_WORDS)].entries()) put(w, ROT13_BASE + i);
  for (const [i, w] of [...new Set(REVERSED_HINT_WORDS)].entries()) put(w, REVERSED_BASE + i);
  return index;
}

const KEY_INDEX = keyIndex();

/** Bit i for the code units of script i (rules.ts SCRIPTS). */
const SCRIPT_BIT = Object.fromEntries(Object.keys(SCRIPTS).map((name, i) => [name, 1 << i])) as Record<
  Script,
  number
>;
const SCRIPT_UNITS = new Uint8Array(65536);
for (const [name, ranges] of Object.entries(SCRIPTS) as [Script, readonly (readonly [number, number])[]][])
  for (const [from, to] of ranges)
    for (let c = from; c <= to; c++) SCRIPT_UNITS[c] = (SCRIPT_UNITS[c] as number) | SCRIPT_BIT[name];

/** What decides whether rule i runs on a text (see Rule), in one shape for all rules. */
interface Gate {
  keyed: boolean;
  also: boolean;
  nonAscii: boolean;
  /** SCRIPT_BIT of the rule's script, 0 = any text. */
  script: number;
  /** Rule.needs, [] = none. */
  needs: readonly string[];
}
const GATES: readonly Gate[] = RULES.map((r) => ({
  keyed: r.keys !== undefined,
  also: r.also !== undefined,
  nonAscii: r.nonAscii === true,
  script: r.script ? SCRIPT_BIT[r.script] : 0,
  needs: r.needs ?? [],
}));

/** Sticky twins of the anchored rules' regexes, tried at each occurrence of a first word. */
const STICKY = RULES.map((r) => (r.anchored ? new RegExp(r.re.source, `${r.re.flags}y`) : undefined));
/** execRule's cursors, one per key word that carries an id (at most one per distinct word hash). */
const HEADS = new Int32Array(
  Math.max(0, ...RULES.map((r) => new Set((r.keys ?? []).map((key) => fnv1a(key))).size)),
);

/** A word scan that reports the rules' key words and notes the scripts of the text (see matchRules). */
export function newWordScan(): WordScan {
  return new WordScan(KEY_INDEX, SCRIPT_UNITS);
}

/**
 * Calls `onMatch` with each rule (index into RULES) that matches `text`, in rule order, and its first
 * match. `scan` must have just added `text`. `ungated`: run every rule over the whole text (to check gates).
 */
export function matchRules(
  text: string,
  nonAscii: boolean,
  scan: WordScan,
  ungated: boolean,
  onMatch: (rule: number, match: RegExpExecArray) => void,
): void {
  for (let i = 0; i < RULES.length; i++) {
    const gate = GATES[i] as Gate;
    if (gate.nonAscii && !nonAscii) continue;
    if (!ungated) {
      if (gate.keyed && !(scan.hasKey(2 * i) && (!gate.also || scan.hasKey(2 * i + 1)))) continue;
      if (gate.script !== 0 && (scan.noted & gate.script) === 0) continue;
      if (gate.needs.length > 0 && !hasAnyOf(text, gate.needs)) continue;
    }
    const m = ungated ? (RULES[i] as Rule).re.exec(text) : execRule(i, text, scan);
    if (m) onMatch(i, m);
  }
}

/** How many distinct ROT13 / reversed hint words the scanned text has (0 below MIN_HINT_WORDS). */
export function hintsOf(scan: WordScan): Hints {
  let rot13 = 0;
  let reversed = 0;
  for (let j = 0; j < scan.seenCount; j++) {
    const id = scan.seenIds[j] as number;
    if (id >= REVERSED_BASE) reversed++;
    else if (id >= ROT13_BASE) rot13++;
  }
  return {
    rot13: rot13 >= MIN_HINT_WORDS ? rot13 : 0,
    reversed: reversed >= MIN_HINT_WORDS ? reversed : 0,
  };
}

/** Runs rule i: anchored rules only at the offsets of their first words, others over the whole text. */
function execRule(i: number, text: string, scan: WordScan): RegExpExecArray | null {
  const rule = RULES[i] as Rule;
  const sticky = STICKY[i];
  if (!sticky || scan.keyHitsFull) return rule.re.exec(text);
  // Each first word's occurrences are chained in text order; merged, they are tried in text order, so the
  // first sticky match is the leftmost match, as a full run of the regex would find.
  const words = scan.keyWordsOf(2 * i);
  let k = 0;
  for (let j = 0; j < words.length; j++) {
    const hit = scan.firstHitOf(words[j] as number);
    if (hit >= 0) HEADS[k++] = hit;
  }
  for (let tries = 1; ; tries++) {
    let at = -1;
    let offset = text.length + 1;
    for (let j = 0; j < k; j++) {
      const hit = HEADS[j] as number;
      if (hit >= 0 && (scan.hitOffset[hit] as number) < offset) {
        offset = scan.hitOffset[hit] as number;
        at = j;
      }
    }
    if (at < 0) return null;
    if (tries > MAX_ANCHOR_TRIES) return rule.re.exec(text);
    sticky.lastIndex = offset;
    const m = sticky.exec(text);
    if (m) return m;
    HEADS[at] = scan.hitNext[HEADS[at] as number] as number;
  }
}

/** Whether `text` contains one of `parts`. */
function hasAnyOf(text: string, parts: readonly string[]): boolean {
  for (let i = 0; i < parts.length; i++) if (text.indexOf(parts[i] as string) !== -1) return true;
  return false;
}

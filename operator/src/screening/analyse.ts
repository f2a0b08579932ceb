/**
 * Turns a text into the model's inputs: hashed n-gram buckets and named signals (rule hits, hidden
 * characters, obfuscation, decoded blobs), each signal with the human-readable reason it would give.
 * Decoded blobs are normalised and analysed again, up to MAX_DEPTH levels and MAX_DECODED_CHARS in total.
 */
import type { EncodingMethod, Hints } from './decode.ts';
import { findBlobs, REVERSED_HINT_WORDS, ROT13_HINT_WORDS } from './decode.ts';
import { ESCAPES, HEX_PAIRS, LONG_RUN } from './facts.ts';
import type { Normalized } from './normalize.ts';
import { normalize } from './normalize.ts';
import { RULES } from './rules.ts';
import { fnv1a, MAX_KEY_HITS, WordScan } from './tokens.ts';

export const MAX_DEPTH = 4;
export const MAX_DECODED_CHARS = 64 * 1024;
const SNIPPET_CHARS = 80;

/** Signals that are not pattern rules, with their priors (log-odds before training). */
export const SIGNAL_PRIORS: Readonly<Record<string, number>> = {
  'hidden.zero-width': 1,
  'hidden.bidi': 1,
  'hidden.tags': 2,
  'hidden.variation-selectors': 1.5,
  'obfuscation.homoglyphs': 0.5,
  'obfuscation.leetspeak': 0.3,
  'obfuscation.letter-spacing': 0.3,
  'obfuscation.html-entities': 0.3,
  'encoded.base64': 0.2,
  'encoded.hex': 0.2,
  'encoded.url-encoding': 0,
  'encoded.rot13': 0.5,
  'encoded.reversed': 0.5,
  'encoded.unicode-tags': 1,
  'encoded.rule-hit': 1.5,
};

export interface Analysis {
  /** Word-ordered n-gram buckets of the text and its decoded blobs (valid until the scan is reused). */
  words: Pick<WordScan, 'unigrams' | 'bigrams' | 'starts' | 'ends' | 'length' | 'textEnds'>;
  /** Signal id -> reason (first occurrence wins; '' = no reason to show). Rule signals are `rule:<id>`. */
  signals: Map<string, string>;
  /** Normalised texts that were read (the text first, then decoded blobs): for explanations. */
  texts: string[];
}

const RULE_PRIORS = new Map(RULES.map((r) => [`rule:${r.id}`, r.prior]));
/** Key ids: 2i for a word of rule i's `keys`, 2i+1 for a word of its `also`; then one per decoder hint word. */
const ROT13_BASE = 2 * RULES.length;
const REVERSED_BASE = ROT13_BASE + ROT13_HINT_WORDS.length;
/** Distinct hint words a text needs before its lines are tried as ROT13 / reversed text. */
const MIN_HINT_WORDS = 3;

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
/** Sticky twins of the anchored rules' regexes, tried at each occurrence of a first word. */
const STICKY = RULES.map((r) => (r.anchored ? new RegExp(r.re.source, `${r.re.flags}y`) : undefined));
/** More occurrences than this and an anchored rule is run once over the whole text instead. */
const MAX_ANCHOR_TRIES = 64;

export function newWordScan(): WordScan {
  return new WordScan(KEY_INDEX);
}

export function priorOf(signal: string): number {
  return RULE_PRIORS.get(signal) ?? SIGNAL_PRIORS[signal] ?? 0;
}

export interface AnalyseOptions {
  /** Run every rule on every text, ignoring the key-word gate (to check the gate). */
  ungated?: boolean;
}

export function analyse(text: string, scan = newWordScan(), options: AnalyseOptions = {}): Analysis {
  scan.reset();
  const state: Analysis = { words: scan, signals: new Map(), texts: [] };
  const budget = { decoded: 0 };
  visit(text, [], 0, { state, scan, budget, ungated: options.ungated === true });
  state.signals.set(`shape.len.${Math.min(14, Math.floor(Math.log2(text.length + 1)))}`, '');
  return state;
}

interface Context {
  state: Analysis;
  scan: WordScan;
  budget: { decoded: number };
  ungated: boolean;
}

function visit(raw: string, path: EncodingMethod[], depth: number, ctx: Context): void {
  const { state, scan } = ctx;
  const n = normalize(raw);
  state.texts.push(n.text);
  scan.add(n.text);
  const where = path.length === 0 ? '' : ` in ${path.join(' → ')}`;
  const seen = scan.keysSeen;
  const scripts = new Map<RegExp, boolean>();
  for (const i of ctx.ungated ? ALL_RULES : candidateRules(seen)) {
    const rule = RULES[i] as (typeof RULES)[number];
    if (rule.nonAscii && !n.nonAscii) continue;
    if (rule.script && !ctx.ungated) {
      let present = scripts.get(rule.script);
      if (present === undefined) {
        present = rule.script.test(n.text);
        scripts.set(rule.script, present);
      }
      if (!present) continue;
    }
    const m = ctx.ungated ? rule.re.exec(n.text) : execRule(i, n.text, scan.keyHits);
    if (!m) continue;
    const signal = `rule:${rule.id}`;
    if (!state.signals.has(signal))
      state.signals.set(signal, `${rule.family}${where}: "${snippet(m[0])}" (${rule.lang})`);
    if (depth > 0 && !state.signals.has('encoded.rule-hit'))
      state.signals.set('encoded.rule-hit', `instructions hidden${where}`);
  }
  hiddenSignals(n, where, state.signals);
  if (depth === 0) shapeSignals(n, state.signals);
  if (depth >= MAX_DEPTH) return;
  let rot13 = 0;
  let reversed = 0;
  for (const id of seen) {
    if (id >= REVERSED_BASE) reversed++;
    else if (id >= ROT13_BASE) rot13++;
  }
  const hints: Hints = {
    rot13: rot13 >= MIN_HINT_WORDS ? rot13 : 0,
    reversed: reversed >= MIN_HINT_WORDS ? reversed : 0,
  };
  const f = n.facts.flags;
  const present = {
    longRuns: (f & LONG_RUN) !== 0,
    hexPairs: (f & HEX_PAIRS) !== 0,
    escapes: (f & ESCAPES) !== 0,
  };
  const blobs = findBlobs(n.clean, n.text, hints, present);
  if (n.tagPayload) blobs.unshift({ method: 'unicode-tags', text: n.tagPayload });
  for (const blob of blobs) {
    if (ctx.budget.decoded + blob.text.length > MAX_DECODED_CHARS) break;
    ctx.budget.decoded += blob.text.length;
    const signal = `encoded.${blob.method}`;
    if (!state.signals.has(signal))
      state.signals.set(
        signal,
        `encoded text (${[...path, blob.method].join(' → ')}): "${snippet(blob.text)}"`,
      );
    visit(blob.text, [...path, blob.method], depth + 1, ctx);
  }
}

const ALL_RULES = RULES.map((_, i) => i);
const UNKEYED_RULES = ALL_RULES.filter((i) => !RULES[i]?.keys);

/** Rules to try on a text: those without keys, and those whose key words (and `also` words) occur. */
function candidateRules(seen: ReadonlySet<number>): number[] {
  const out = [...UNKEYED_RULES];
  for (const id of seen) {
    if (id >= 2 * RULES.length || id % 2 === 1) continue;
    const i = id / 2;
    if (!RULES[i]?.also || seen.has(id + 1)) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

/** Runs rule i: anchored rules only at the offsets of their first words, others over the whole text. */
function execRule(i: number, text: string, keyHits: readonly number[]): RegExpExecArray | null {
  const rule = RULES[i] as (typeof RULES)[number];
  const sticky = STICKY[i];
  if (!sticky || keyHits.length >= MAX_KEY_HITS) return rule.re.exec(text);
  const id = 2 * i;
  let tries = 0;
  for (let h = 0; h < keyHits.length; h += 2) {
    if (keyHits[h] !== id) continue;
    if (++tries > MAX_ANCHOR_TRIES) return rule.re.exec(text);
    sticky.lastIndex = keyHits[h + 1] as number;
    const m = sticky.exec(text);
    if (m) return m;
  }
  return null;
}

function hiddenSignals(n: Normalized, where: string, signals: Map<string, string>): void {
  const set = (signal: string, reason: string) => {
    if (!signals.has(signal)) signals.set(signal, `${reason}${where}`);
  };
  const h = n.hidden;
  if (h.zeroWidth >= 3) set('hidden.zero-width', `hidden characters: ${h.zeroWidth} zero-width chars`);
  if (h.bidi >= 1) set('hidden.bidi', `hidden characters: ${h.bidi} BiDi control chars`);
  if (h.tags >= 1) set('hidden.tags', `hidden characters: ${h.tags} Unicode tag chars`);
  if (h.variationSelectors >= 4)
    set('hidden.variation-selectors', `hidden characters: ${h.variationSelectors} variation selectors`);
  if (n.confusables >= 2)
    set('obfuscation.homoglyphs', `look-alike letters: ${n.confusables} folded to Latin`);
  if (n.leetWords >= 2) set('obfuscation.leetspeak', `leetspeak: ${n.leetWords} words restored`);
  if (n.spacedRuns >= 1) set('obfuscation.letter-spacing', `letter-spaced text: ${n.spacedRuns} runs joined`);
  if (n.entities >= 8) set('obfuscation.html-entities', `HTML entities: ${n.entities} decoded`);
  if (n.urlEscapes >= 8) set('encoded.url-encoding', `URL-encoded text: ${n.urlEscapes} escapes decoded`);
}

/**
 * Where instructions sit: a request normally opens a text; an imperative sentence, a question or a
 * "you" deep inside a text (past its first fifth and first line) is how injected instructions look.
 */
const LATER_IMPERATIVE_RE =
  /(?:[.!?:;>\]}*"'-]\s|\n)(?:[^a-z\n]{0,3})(?:please |now |then |also |first,? |instead,? |and )?(?:write|tell|give|list|summari[sz]e|translate|explain|describe|provide|send|print|say|output|answer|respond|reply|include|add|create|generate|forward|delete|ignore|forget|repeat|show|make sure|remember|ensure|execute|run|visit|click|open|post|email|insert|append|replace|change|update|disregard|identify|find|calculate|compose|draft|share|reveal|do not|don't|never|stop|begin|start|act|pretend|imagine|focus|convert|name|rewrite|recommend)\b/g;

function shapeSignals(n: Normalized, signals: Map<string, string>): void {
  const text = n.text;
  if (n.facts.lines >= 3 && n.facts.codePunctuation >= n.clean.length * 0.025) signals.set('shape.code', '');
  const from = Math.max(text.indexOf('\n') + 1, Math.floor(text.length * 0.2));
  if (from <= 0 || from >= text.length - 10) return;
  LATER_IMPERATIVE_RE.lastIndex = from;
  if (LATER_IMPERATIVE_RE.test(text)) signals.set('shape.imperative-later', '');
  if (hasQuestionFrom(text, from)) signals.set('shape.question-later', '');
}

/** A question mark ending a sentence (followed by a space, a line end or the end) at or after `from`. */
function hasQuestionFrom(text: string, from: number): boolean {
  for (let i = text.indexOf('?', from); i !== -1; i = text.indexOf('?', i + 1)) {
    const next = text.charCodeAt(i + 1);
    if (Number.isNaN(next) || next === 32 || next === 10 || next === 34 || next === 39) return true;
  }
  return false;
}

export function snippet(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length <= SNIPPET_CHARS ? flat : `${flat.slice(0, SNIPPET_CHARS - 1)}…`;
}

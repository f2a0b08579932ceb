/**
 * Turns a text into the model's inputs: hashed n-gram buckets and named signals (rule hits, hidden
 * characters, obfuscation, decoded blobs), each signal with the human-readable reason it would give.
 * Decoded blobs are normalised and analysed again, up to MAX_DEPTH levels and MAX_DECODED_CHARS in total.
 */
import type { EncodingMethod } from './decode.ts';
import { findBlobs } from './decode.ts';
import { ESCAPES, HEX_PAIRS } from './facts.ts';
import { hintsOf, matchRules, newWordScan } from './matching.ts';
import type { Normalized } from './normalize.ts';
import { normalize } from './normalize.ts';
import { RULES, type Rule } from './rules.ts';
import type { WordScan } from './tokens.ts';

export { newWordScan };

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

/** The signal of rule i. */
const RULE_SIGNALS = RULES.map((r) => `rule:${r.id}`);
const RULE_PRIORS = new Map(RULES.map((r, i) => [RULE_SIGNALS[i] as string, r.prior]));
/** The signal of a text's length: shape.len.N for about 2^N characters. */
const LENGTH_SIGNALS = Array.from({ length: 15 }, (_, i) => `shape.len.${i}`);

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
  state.signals.set(LENGTH_SIGNALS[Math.min(14, Math.floor(Math.log2(text.length + 1)))] as string, '');
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
  matchRules(n.text, n.nonAscii, scan, ctx.ungated, (i, m) => {
    const signal = RULE_SIGNALS[i] as string;
    const rule = RULES[i] as Rule;
    if (!state.signals.has(signal))
      state.signals.set(signal, `${rule.family}${where}: "${snippet(m[0])}" (${rule.lang})`);
    if (depth > 0 && !state.signals.has('encoded.rule-hit'))
      state.signals.set('encoded.rule-hit', `instructions hidden${where}`);
  });
  hiddenSignals(n, where, state.signals);
  if (depth === 0) shapeSignals(n, state.signals);
  if (depth >= MAX_DEPTH) return;
  const hints = hintsOf(scan);
  const f = n.facts.flags;
  const present = {
    longRuns: n.facts.longRuns,
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

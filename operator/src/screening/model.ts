/**
 * The linear model: log-odds = bias + weights of the n-gram buckets present + weights of the signals fired.
 * Weights come from model.json (written by hack/screening/train.ts); a signal the file does not name keeps
 * its prior. Token weights are stored sparsely as delta-coded bucket indices and int8 levels, and kept in
 * memory as those levels (one byte per bucket, 256 KiB) times one scale.
 */
import type { Analysis } from './analyse.ts';
import { priorOf } from './analyse.ts';
import modelFile from './model.json' with { type: 'json' };
import { bestWindow, DIM, HASH_BITS, NGRAM_FLOOR, type WindowScore } from './tokens.ts';

export interface ModelFile {
  format: string;
  hashBits: number;
  bias: number;
  threshold: number;
  signals: Record<string, number>;
  tokenScale: number;
  tokenIndex: number[];
  tokenWeight: number[];
  trainedOn?: unknown;
}

export const MODEL_FORMAT = 'closedpaw-screening-model/1';

export interface Model {
  bias: number;
  threshold: number;
  /** Each n-gram bucket's weight as an int8 level: the weight is level × tokenScale. */
  tokenLevels: Int8Array;
  tokenScale: number;
  signals: Map<string, number>;
}

export const tokenWeight = (model: Model, bucket: number): number =>
  (model.tokenLevels[bucket] ?? 0) * model.tokenScale;

export function loadModel(file: ModelFile): Model {
  if (file.format !== MODEL_FORMAT) throw new Error(`screening model: unknown format ${file.format}`);
  if (file.hashBits !== HASH_BITS)
    throw new Error(`screening model: hashBits ${file.hashBits}, code expects ${HASH_BITS}`);
  if (file.tokenIndex.length !== file.tokenWeight.length)
    throw new Error('screening model: token arrays differ in length');
  const tokenLevels = new Int8Array(DIM);
  let index = 0;
  for (let i = 0; i < file.tokenIndex.length; i++) {
    index += file.tokenIndex[i] ?? 0;
    if (index < 0 || index >= DIM) throw new Error(`screening model: token index ${index} out of range`);
    const level = file.tokenWeight[i] ?? 0;
    if (!Number.isInteger(level) || level < -128 || level > 127)
      throw new Error(`screening model: token level ${level} is not an int8`);
    tokenLevels[index] = level;
  }
  return {
    bias: file.bias,
    threshold: file.threshold,
    tokenLevels,
    tokenScale: file.tokenScale,
    signals: new Map(Object.entries(file.signals)),
  };
}

export const MODEL: Model = loadModel(modelFile as ModelFile);

export function signalWeight(model: Model, signal: string): number {
  return model.signals.get(signal) ?? priorOf(signal);
}

export interface Scored {
  logit: number;
  /** The n-gram part: the best window's weight sum. */
  window: WindowScore;
}

export function scoreAnalysis(model: Model, a: Analysis): Scored {
  const w = a.words;
  // bestWindow reads no further than the last text end (w.length): the scan's buffers go in as they are.
  // Summed as integer levels, scaled once.
  const levels = bestWindow(w.unigrams, w.bigrams, w.textEnds, model.tokenLevels);
  const window = { ...levels, sum: levels.sum * model.tokenScale };
  let logit = model.bias + Math.max(NGRAM_FLOOR, window.sum);
  for (const signal of a.signals.keys()) logit += signalWeight(model, signal);
  return { logit, window };
}

export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The n-grams of the best window that pushed the score up most, as quoted words (for the reason). */
export function topNgrams(model: Model, a: Analysis, window: WindowScore, k: number): string[] {
  const w = a.words;
  let textIndex = 0;
  while (textIndex < w.textEnds.length && (w.textEnds[textIndex] as number) <= window.start) textIndex++;
  const text = a.texts[textIndex] ?? '';
  // The k heaviest distinct buckets, heaviest first; of equal weights the one met first (unigram, then the
  // bigram ending at a word) comes first. Only those k are cut out of the text.
  const buckets: number[] = [];
  const top: { weight: number; start: number; end: number }[] = [];
  const consider = (bucket: number, start: number, end: number) => {
    const weight = tokenWeight(model, bucket);
    if (!(weight > 0) || buckets.includes(bucket)) return;
    buckets.push(bucket);
    let at = top.length;
    while (at > 0 && (top[at - 1] as { weight: number }).weight < weight) at--;
    if (at < k) top.splice(at, 0, { weight, start, end });
    if (top.length > k) top.pop();
  };
  for (let p = window.start; p < window.end; p++) {
    consider(w.unigrams[p] ?? 0, w.starts[p] ?? 0, w.ends[p] ?? 0);
    if (p > window.textStart) consider(w.bigrams[p] ?? 0, w.starts[p - 1] ?? 0, w.ends[p] ?? 0);
  }
  return top.map((x) => text.slice(x.start, x.end));
}

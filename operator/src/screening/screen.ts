/**
 * screen(): is this text trying to instruct the model? Pure, synchronous, linear in the text's length: every
 * character is read. A text longer than CHUNK_CHARS is read as chunks that overlap by CHUNK_OVERLAP_CHARS (so
 * an injection across a chunk boundary is whole in one of them); the verdict is the worst chunk's.
 */
import { analyse, newWordScan } from './analyse.ts';
import { MODEL, type Model, scoreAnalysis, sigmoid, signalWeight, topNgrams } from './model.ts';
import { findSecrets } from './secrets.ts';
import type { ScreenOptions, ScreenResult } from './types.ts';

export const CHUNK_CHARS = 64 * 1024;
export const CHUNK_OVERLAP_CHARS = 4 * 1024;
export const MAX_REASONS = 8;
export const MAX_REASON_CHARS = 200;
/** Token n-grams must add at least this much log-odds before the classifier is named as a reason. */
const CLASSIFIER_REASON_LOGIT = 1;

export const DEFAULT_THRESHOLD = MODEL.threshold;

const scan = newWordScan();

export function screen(text: string, options: ScreenOptions = {}): ScreenResult {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1))
    throw new RangeError(`screen: threshold must be a number in [0, 1], got ${String(threshold)}`);
  const input = typeof text === 'string' ? text : String(text ?? '');
  const result = screenChunks(input, threshold);
  if (options.where !== 'model_output') return result;
  const secrets = findSecrets(input);
  if (secrets.found.length === 0) return result;
  return {
    flagged: true,
    score: Math.max(result.score, 0.99),
    reasons: [`secret-shaped strings: ${secrets.found.join(', ')}`, ...result.reasons]
      .slice(0, MAX_REASONS)
      .map(clip),
  };
}

export function screenWith(model: Model, text: string, threshold: number): ScreenResult {
  const a = analyse(text, scan);
  const { logit, window } = scoreAnalysis(model, a);
  // The reported score is rounded; the flag compares that same number, so callers see consistent results.
  const score = Math.round(sigmoid(logit) * 1e4) / 1e4;
  const ranked: { weight: number; reason: string }[] = [];
  for (const [signal, reason] of a.signals) {
    const weight = signalWeight(model, signal);
    if (reason && weight > 0) ranked.push({ weight, reason });
  }
  if (window.sum >= CLASSIFIER_REASON_LOGIT) {
    const words = topNgrams(model, a, window, 4).map((w) => `"${w}"`);
    ranked.push({
      weight: window.sum,
      reason: `classifier: wording typical of injections (${words.join(', ')})`,
    });
  }
  ranked.sort((x, y) => y.weight - x.weight);
  return {
    flagged: score >= threshold,
    score,
    reasons: ranked.slice(0, MAX_REASONS).map((r) => clip(r.reason)),
  };
}

/** The worst verdict over overlapping chunks of the text; a flag in a long text says where it was found. */
function screenChunks(text: string, threshold: number): ScreenResult {
  if (text.length <= CHUNK_CHARS) return screenWith(MODEL, text, threshold);
  let worst: ScreenResult | undefined;
  let worstStart = 0;
  for (const start of chunkStarts(text.length)) {
    const result = screenWith(MODEL, text.slice(start, start + CHUNK_CHARS), threshold);
    if (!worst || result.score > worst.score) {
      worst = result;
      worstStart = start;
    }
  }
  if (!worst?.flagged) return worst!;
  const end = Math.min(text.length, worstStart + CHUNK_CHARS);
  const where = `found in characters ${worstStart}–${end} of ${text.length}`;
  return { ...worst, reasons: [...worst.reasons.slice(0, MAX_REASONS - 1), where] };
}

/** Where each chunk starts: every CHUNK_CHARS − CHUNK_OVERLAP_CHARS, the last one ending at the text's end. */
export function chunkStarts(length: number): number[] {
  if (length <= CHUNK_CHARS) return [0];
  const starts: number[] = [];
  const step = CHUNK_CHARS - CHUNK_OVERLAP_CHARS;
  for (let start = 0; start + CHUNK_CHARS < length; start += step) starts.push(start);
  starts.push(length - CHUNK_CHARS);
  return starts;
}

function clip(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS - 1)}…`;
}
